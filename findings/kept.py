"""Kept uploads (issue 31, criterion 9): a user's uploaded prediction files saved for themselves.

The store keeps each task file of an upload as one `uploads` row: its checked rows written as a
CS224N prediction file (by `analysis`, which reads them back and checks them again on load),
packed here as zlib + base64 text so that export and import carry it unchanged. The caps bound
one upload, one user and the whole deployment, in characters of that packed text.
"""
from __future__ import annotations

import base64
import binascii
import zlib
from dataclasses import dataclass

MB = 1_000_000
# A packed file never unpacks to more than this: a CS224N dev file is about 0.9 MB (Quora) and
# analysis refuses any over 10 MiB, so a row that would unpack larger (a crafted import) is refused
# before it takes the memory.
MAX_UNPACKED = 16 * 2**20


@dataclass(frozen=True)
class KeptFile:
    """One task file of an upload: what it was called, its checked rows as a CS224N file, how many."""

    task: str
    file_name: str
    body: bytes
    n_rows: int


@dataclass(frozen=True)
class UploadCaps:
    """How much may be kept (minibert.settings: MINIBERT_KEPT_UPLOAD_MB and the four after it)."""

    upload_bytes: int = 2 * MB        # one upload, all its files, packed
    upload_rows: int = 50_000         # one upload (the three CS224N dev sets hold 22,178)
    per_user: int = 5                 # uploads one user keeps
    user_bytes: int = 10 * MB         # all of one user's, packed
    total_bytes: int = 500 * MB       # the whole deployment's, packed


def pack(body: bytes) -> str:
    return base64.b64encode(zlib.compress(body, 9)).decode("ascii")


def unpack(text: object) -> bytes:
    """The file `pack` packed; ValueError (with the reason) for anything else."""
    if not isinstance(text, str):
        raise ValueError("not text")
    try:
        packed = base64.b64decode(text.encode("ascii"), validate=True)
        inflate = zlib.decompressobj()
        body = inflate.decompress(packed, MAX_UNPACKED)
    except (binascii.Error, UnicodeEncodeError, zlib.error) as e:
        raise ValueError(f"not packed predictions ({e})") from None
    if inflate.unconsumed_tail:
        raise ValueError(f"unpacks to more than {MAX_UNPACKED // 2**20} MiB")
    if not inflate.eof:
        raise ValueError("cut short")
    return body


def megabytes(n: int) -> str:
    """A size for a message: 0.5 MB, or 44 kB under a tenth of a megabyte."""
    return f"{n / MB:.1f} MB" if n >= MB // 10 else f"{max(1, round(n / 1000))} kB"
