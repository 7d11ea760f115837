"""What the server sends besides its answers: no API docs from a CDN (Swagger UI only with
--api-docs, from files this server serves itself), and Strict-Transport-Security on every
response to an HTTPS request, whether TLS ends in the server (--ssl-certfile) or in a proxy
it trusts (--proxy-headers), never over plain HTTP."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from banscan.server.app import create_app
from banscan.server.security import HSTS
from banscan.server.state import ServerSettings
from chromium import CHROMIUM, needs_chromium, playwright

from .conftest import ENROLL_SECRET, free_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

HSTS_HEADER = "strict-transport-security"


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(sqlite_url: str) -> Iterator[MakeClient]:
    """A client of a new app on one database: `make_client(base_url, **settings)`."""
    made: list[tuple[TestClient, FastAPI]] = []

    def make(base_url: str = "https://testserver", **settings: Any) -> TestClient:
        app = create_app(sqlite_url, enroll_secret=ENROLL_SECRET, settings=ServerSettings(**settings))
        client = TestClient(app, base_url=base_url)
        made.append((client, app))
        return client

    yield make
    for client, app in made:
        client.close()
        app.state.banscan.db.dispose()


class Assets(HTMLParser):
    """Every script, stylesheet and icon a page loads, and whether any script is inline."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            if a.get("src"):
                self.urls.append(str(a["src"]))
            else:
                self.inline_scripts += 1
        elif tag == "link" and a.get("href"):
            self.urls.append(str(a["href"]))
        elif tag in ("img", "iframe") and a.get("src"):
            self.urls.append(str(a["src"]))


def same_origin(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//")


# ---------------------------------------------------------------- API docs


def test_default_app_serves_no_docs_but_the_openapi_description(make_client: MakeClient) -> None:
    client = make_client()
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect", "/docs/swagger-ui-bundle.js"):
        assert client.get(path).status_code == 404, path
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.1")
    assert "/api/v1/report" in spec.json()["paths"]


def test_api_docs_load_only_same_origin_files(make_client: MakeClient) -> None:
    client = make_client(api_docs=True)
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "cdn" not in page.text.lower() and "http" not in page.text.lower()
    assets = Assets()
    assets.feed(page.text)
    assert assets.inline_scripts == 0  # the CSP allows no inline script
    assert len(assets.urls) >= 3 and all(same_origin(u) for u in assets.urls), assets.urls
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    for url in assets.urls:
        r = client.get(url)
        assert r.status_code == 200 and len(r.content) > 100, url
    bundle = client.get("/docs/swagger-ui-bundle.js")
    assert (
        bundle.headers["content-type"].startswith("text/javascript") and b"SwaggerUIBundle" in bundle.content
    )
    # Swagger UI 5 (OpenAPI 3.1, which FastAPI writes), not the 4.x that cannot show it
    assert re.search(rb'"5\.\d+\.\d+"', bundle.content)
    assert client.get("/docs/nothing.js").status_code == 404
    assert client.get("/docs/..%2Fapp.py").status_code == 404
    assert client.get("/openapi.json").status_code == 200
    assert "/docs" not in client.get("/openapi.json").json()["paths"]


@needs_chromium
def test_api_docs_render_in_a_browser_without_leaving_the_server(tmp_path: Path) -> None:
    """Swagger UI draws the API (OpenAPI 3.1) under the page's CSP, asking nothing of any other host."""
    sync_api = playwright()
    with serving(tmp_path, "--api-docs") as url:
        origin = urlsplit(url).netloc
        requests: list[str] = []
        problems: list[str] = []
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_page()
                page.on("request", lambda r: requests.append(r.url))
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.goto(url + "/docs")
                page.wait_for_selector('[data-path="/api/v1/report"]', timeout=20_000)
                assert "banscan fleet server" in page.inner_text("#swagger-ui")
            finally:
                browser.close()
    assert requests and all(urlsplit(r).netloc == origin for r in requests if not r.startswith("data:"))
    assert not problems, problems


# ---------------------------------------------------------------- HSTS


def test_hsts_on_every_https_response_and_never_on_http(make_client: MakeClient) -> None:
    https = make_client()
    for r in (
        https.get("/healthz"),
        https.get("/openapi.json"),
        https.get("/login"),
        https.get("/no-such-page"),
        https.get("/api/v1/hosts"),  # 401
        https.post("/api/v1/enroll", content=b"x" * (2 * 1024 * 1024)),  # 413 from the size limit
    ):
        assert r.headers.get(HSTS_HEADER) == HSTS == "max-age=31536000; includeSubDomains", r.request.url
    plain = make_client("http://testserver")
    for r in (plain.get("/healthz"), plain.get("/login"), plain.get("/no-such-page")):
        assert HSTS_HEADER not in r.headers
    off = make_client(hsts=False)
    assert HSTS_HEADER not in off.get("/healthz").headers


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return certfile, keyfile


class serving:
    """`banscan serve` on a free loopback port with extra options, for the length of a `with`."""

    def __init__(
        self, workdir: Path, *options: str, scheme: str = "http", verify: bool | ssl.SSLContext = True
    ) -> None:
        self.workdir, self.options, self.scheme, self.verify = workdir, options, scheme, verify
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        port = free_port()
        db = f"sqlite:///{self.workdir / f'serve-{port}.db'}"
        cmd = [
            sys.executable,
            "-m",
            "banscan",
            "serve",
            "--db",
            db,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        cmd += ["--log-level", "warning", *self.options]
        env = {
            k: v for k, v in os.environ.items() if k not in ("FORWARDED_ALLOW_IPS", "BANSCAN_ENROLL_SECRET")
        }
        log = (self.workdir / f"serve-{port}.log").open("wb")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, env=env)
        url = f"{self.scheme}://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(url + "/healthz", timeout=1, verify=self.verify).status_code == 200:
                    return url
            except httpx.TransportError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"server did not start: {(self.workdir / f'serve-{port}.log').read_text()}")

    def __exit__(self, *_: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def test_serve_with_tls_sends_hsts(tmp_path: Path) -> None:
    certfile, keyfile = _self_signed(tmp_path)
    options = ("--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile))
    trust = ssl.create_default_context(cafile=str(certfile))
    with serving(tmp_path, *options, scheme="https", verify=trust) as url:
        for path in ("/healthz", "/login", "/no-such-page"):
            r = httpx.get(url + path, verify=trust, timeout=10)
            assert r.headers.get(HSTS_HEADER) == HSTS, path


def test_serve_behind_a_tls_proxy_sends_hsts_for_https_requests_only(tmp_path: Path) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    with serving(tmp_path, "--proxy-headers") as url:
        assert httpx.get(url + "/healthz", headers=forwarded, timeout=10).headers.get(HSTS_HEADER) == HSTS
        assert HSTS_HEADER not in httpx.get(url + "/healthz", timeout=10).headers  # plain http
        r = httpx.get(url + "/healthz", headers={"X-Forwarded-Proto": "http"}, timeout=10)
        assert HSTS_HEADER not in r.headers
    with serving(tmp_path) as url:  # without --proxy-headers a client cannot claim https
        assert HSTS_HEADER not in httpx.get(url + "/healthz", headers=forwarded, timeout=10).headers
