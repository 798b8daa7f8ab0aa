"""Small MP4/QuickTime files built box by box, with the metadata phones write into them."""

from __future__ import annotations

import struct

LOCATION = b"+36.6171+101.7782/"  # ISO 6709, as Android and iOS write it
DEVICE = b"Xiaomi 13 Pro"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description photoshop:City="Xining"/>'
FRAMES = bytes(range(256)) * 64  # stands for the coded pictures in mdat
FILMED_AT = 3_784_000_000  # seconds since 1904, as mvhd counts (2023-11-28)
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")


def box(kind: bytes, payload: bytes = b"", *, large: bool = False) -> bytes:
    if large:
        return struct.pack(">I4sQ", 1, kind, len(payload) + 16) + payload
    return struct.pack(">I4s", len(payload) + 8, kind) + payload


def full_box(kind: bytes, version: int, payload: bytes) -> bytes:
    return box(kind, bytes([version, 0, 0, 0]) + payload)


def _times(version: int) -> bytes:
    fmt = ">QQ" if version == 1 else ">II"
    return struct.pack(fmt, FILMED_AT, FILMED_AT + 5)


def mp4_with_metadata(*, brand: bytes = b"isom", version: int = 0) -> bytes:
    """ftyp, moov (mvhd, a trak with tkhd/mdia/mdhd and its own udta, udta with location
    and device, Apple-style meta), an XMP uuid box, then mdat."""
    location = box(b"\xa9xyz", struct.pack(">HH", len(LOCATION), 0) + LOCATION)
    device = box(b"\xa9mod", struct.pack(">HH", len(DEVICE), 0) + DEVICE)
    trak = box(b"trak", full_box(b"tkhd", version, _times(version) + bytes(80))
               + box(b"mdia", full_box(b"mdhd", version, _times(version) + bytes(8))
                     + box(b"hdlr", bytes(24) + b"VideoHandler\x00"))
               + box(b"udta", location))
    moov = box(b"moov", full_box(b"mvhd", version, _times(version) + bytes(88)) + trak
               + box(b"udta", location + device)
               + full_box(b"meta", 0, box(b"keys", b"com.apple.quicktime.location.ISO6709")
                          + box(b"ilst", LOCATION)))
    return (box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand)
            + moov + box(b"uuid", XMP_UUID + XMP) + box(b"mdat", FRAMES, large=True))


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """(type, payload start, end) of the boxes at one level, read independently of the app."""
    end = len(data) if end is None else end
    found, pos = [], start
    while pos < end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        found.append((kind, pos + header, pos + size))
        pos += size
    return found
