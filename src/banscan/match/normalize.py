"""Normalisation shared by the catalog index and observed values.

Inventories spell the same product many ways: "Kaspersky® Endpoint Security 11 for
Windows", "KASPERSKY ENDPOINT SECURITY FOR WINDOWS (x64)", "Антивирус Касперского". Both sides
go through the same functions, so a catalog entry written once matches all of them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii

_MARKS = re.compile(r"[®™©℗]")
_PUNCT = re.compile(r"[^\w]+")
# Version numbers, years and build/arch noise inside product names.
_NOISE = re.compile(
    r"""\b(?:
        v?\d+(?:[._]\d+)*[a-z]?      # 11, 21.3, 12.5.0.539, v10, 2019, 11a
      | x64 | x86 | x86_64 | amd64 | arm64 | 64\s?bit | 32\s?bit
      | mr\d+ | sp\d+ | cf\d+
    )\b""",
    re.VERBOSE,
)
_SPACE = re.compile(r"\s+")
_TOKEN_SUFFIXES = (
    ".exe",
    ".sys",
    ".service",
    ".ko",
    ".ko.xz",
    ".ko.gz",
    ".ko.zst",
    ".kext",
    ".plist",
    ".app",
)


def fold(text: str) -> str:
    """NFKC + transliteration to ASCII (Cyrillic → Latin) + case folding."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = anyascii(text)
    return text.casefold()


@lru_cache(maxsize=65536)
def norm_name(text: str) -> str:
    """A product or company name reduced to its words: no case, marks, punctuation or versions."""
    text = _MARKS.sub(" ", unicodedata.normalize("NFKC", text))
    text = fold(text)
    text = _PUNCT.sub(" ", text).replace("_", " ")
    text = _NOISE.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


@lru_cache(maxsize=65536)
def norm_token(text: str) -> str:
    """A process, service, driver or module name: no case, no path, no type suffix."""
    text = fold(text.strip())
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in _TOKEN_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    return text


# Windows folders as inventories and detection rules write them: environment variables, a
# wildcard drive ("?:\Program Files"), or the system drive.
_WIN_VARS = (
    (re.compile(r"^%programfiles\s*\(x86\)%", re.I), "c:/program files (x86)"),
    (re.compile(r"^%programfiles%", re.I), "c:/program files"),
    (re.compile(r"^%(?:programdata|allusersprofile)%", re.I), "c:/programdata"),
    (re.compile(r"^%(?:systemroot|windir)%", re.I), "c:/windows"),
    (re.compile(r"^%systemdrive%", re.I), "c:"),
    (re.compile(r"^[?*]:", re.I), "c:"),
    (re.compile(r"^/(?=program files|programdata/|windows/)", re.I), "c:/"),
)


@lru_cache(maxsize=65536)
def norm_path(text: str) -> str:
    """A path compared across OSes: forward slashes, folded case, no trailing slash, Windows
    folder variables spelled out."""
    text = fold(text.strip()).replace("\\", "/")
    for rx, folder in _WIN_VARS:
        text = rx.sub(folder, text, count=1)
    text = re.sub(r"/+", "/", text)
    return text.rstrip("/") or "/"


def norm_id(text: str) -> str:
    """Identifiers such as bundle ids, package names, extension ids: trimmed and case-folded."""
    return fold(text.strip())


# Legal-form words dropped from organisation names (after transliteration to Latin).
LEGAL_FORMS = frozenset(
    [
        "ao",
        "zao",
        "oao",
        "pao",
        "ooo",
        "jsc",
        "cjsc",
        "ojsc",
        "pjsc",
        "inc",
        "incorporated",
        "ltd",
        "limited",
        "llc",
        "gmbh",
        "ag",
        "sa",
        "co",
        "corp",
        "corporation",
        "plc",
        "company",
    ]
)
# The same forms as written in Cyrillic, for matchers that see names untransliterated (SQL).
LEGAL_FORMS_CYRILLIC = ("ао", "зао", "оао", "пао", "ооо")


@lru_cache(maxsize=65536)
def norm_org(text: str) -> str:
    """An organisation name without legal-form words, so 'AO Kaspersky Lab' = 'Kaspersky Lab JSC'."""
    words = [w for w in norm_name(text).split() if w not in LEGAL_FORMS]
    return " ".join(words)
