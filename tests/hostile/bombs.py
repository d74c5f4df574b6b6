"""Compression bombs that are small on disk and cheap to build.

Deflating gigabytes of zeros takes seconds; instead one 1 MiB block of zeros is compressed after
a sync flush (byte-aligned, window already all zeros), so every further block compresses to the
*same bytes* and the stream is that block repeated. The result is a valid deflate stream (and,
for gzip, a valid member with the true CRC-32 and length) of ``size`` bytes of zeros after
`prefix`, about 1 KiB per MiB on disk.
"""

from __future__ import annotations

import functools
import struct
import zlib

BLOCK = 1 << 20
ZEROS = bytes(BLOCK)


def _repeating_deflate(prefix: bytes, zero_blocks: int, wbits: int) -> tuple[bytes, int]:
    """(compressed stream without trailer, CRC-32 of the uncompressed data) for `prefix` + zeros."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = c.compress(prefix) + c.compress(ZEROS) + c.flush(zlib.Z_SYNC_FLUSH)
    second = c.compress(ZEROS) + c.flush(zlib.Z_SYNC_FLUSH)
    third = c.compress(ZEROS) + c.flush(zlib.Z_SYNC_FLUSH)
    assert second == third, "zero blocks must compress identically after a sync flush"
    tail = c.flush(zlib.Z_FINISH)
    body = head + second * (zero_blocks - 1) + tail
    crc = zlib.crc32(prefix)
    for _ in range(zero_blocks):
        crc = zlib.crc32(ZEROS, crc)
    return body, crc


@functools.lru_cache(maxsize=8)
def gzip_zeros(size: int, prefix: bytes = b"") -> bytes:
    """A gzip member holding `prefix` followed by `size` zero bytes (`size` a multiple of 1 MiB)."""
    blocks = size // BLOCK
    raw, crc = _repeating_deflate(prefix, blocks, -15)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    total = len(prefix) + blocks * BLOCK
    return header + raw + struct.pack("<II", crc & 0xFFFFFFFF, total & 0xFFFFFFFF)


@functools.lru_cache(maxsize=8)
def raw_deflate_zeros(size: int, prefix: bytes = b"") -> bytes:
    """A raw deflate stream (DICOM Deflated Explicit VR LE) of `prefix` + `size` zero bytes."""
    raw, _ = _repeating_deflate(prefix, size // BLOCK, -15)
    return raw
