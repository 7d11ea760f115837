"""`reg export` files of Uninstall keys (regedit version 5 UTF-16, or REGEDIT4).

Each Uninstall subkey with a DisplayName becomes one APP record, the same record the hive
collector makes (banscan.collect.windows.uninstall.app_record), with the full key as `key`;
parsing is banscan.collect.windows.regfile's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

from banscan.collect.base import ErrorSink
from banscan.collect.windows.regfile import HEADERS, records_from_regfile
from banscan.inputs.base import read_capped
from banscan.models import InventoryRecord

_HEADERS = HEADERS
MAX_BYTES = 256 * 1024 * 1024


class RegFileReader:
    name: ClassVar[str] = "reg"

    def sniff(self, head: bytes, filename: str) -> int:
        for enc, bom in (("utf-16-le", b"\xff\xfe"), ("utf-8", b"\xef\xbb\xbf"), ("latin-1", b"")):
            if bom and not head.startswith(bom):
                continue
            text = head[len(bom) : len(bom) + 200].decode(enc, errors="ignore").lstrip()
            if text.startswith(_HEADERS):
                return 95
        return 0

    def read(
        self, stream: BinaryIO, filename: str, errors: ErrorSink, default_host: str
    ) -> Iterator[InventoryRecord]:
        data = read_capped(stream, filename, errors, MAX_BYTES)
        if data is None:
            return
        yield from records_from_regfile(filename, data, default_host, errors)


READERS = [RegFileReader()]
