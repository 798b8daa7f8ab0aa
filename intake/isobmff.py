"""Metadata blanked out of MP4 and QuickTime files (ISO base media file format) in place.

Phones write where and with what a video was filmed into metadata boxes: `udta` (©xyz
location, ©mak/©mod device, ©swr software), `meta` (Apple's com.apple.quicktime.location
keys), and `uuid` boxes (XMP). Each such box under the file, `moov` or a `trak` becomes a
`free` box of the same size with zeroed content, and the creation and modification times
in `mvhd`, `tkhd` and `mdhd` are zeroed. No box changes size, so the chunk offsets that
point into `mdat` stay valid and the video plays as before; the pictures and sound are
untouched. Not covered: timed-metadata tracks whose samples live in `mdat` (GoPro GPMF,
Google CAMM telemetry) and WebM files.
"""

from __future__ import annotations

import struct

BLANKED = {b"udta", b"meta", b"uuid"}
CONTAINERS = {b"moov", b"trak", b"mdia"}
TIMED = {b"mvhd", b"tkhd", b"mdhd"}  # full boxes that start with creation/modification time


class MalformedMedia(ValueError):
    """The box structure does not add up: a damaged or crafted file."""


def _boxes(data: bytearray, start: int, end: int):
    """(type, box start, payload start, box end) of each box between start and end."""
    pos = start
    while pos < end:
        if end - pos < 8:
            raise MalformedMedia(f"truncated box header at {pos}")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                raise MalformedMedia(f"truncated large box header at {pos}")
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos  # the last box runs to the end of its parent
        if size < header or pos + size > end:
            raise MalformedMedia(f"box {kind!r} at {pos} has impossible size {size}")
        yield kind, pos, pos + header, pos + size
        pos += size


def _blank(data: bytearray, box: int, payload: int, box_end: int) -> None:
    data[box + 4:box + 8] = b"free"
    data[payload:box_end] = bytes(box_end - payload)


def _zero_times(data: bytearray, payload: int, box_end: int) -> None:
    width = 8 if data[payload] == 1 else 4  # version 1: 64-bit times
    fields = payload + 4  # after version and flags
    if fields + 2 * width > box_end:
        raise MalformedMedia("header box too short for its times")
    data[fields:fields + 2 * width] = bytes(2 * width)


def _clean(data: bytearray, start: int, end: int) -> None:
    for kind, box, payload, box_end in _boxes(data, start, end):
        if kind in BLANKED:
            _blank(data, box, payload, box_end)
        elif kind in TIMED:
            _zero_times(data, payload, box_end)
        elif kind in CONTAINERS:
            _clean(data, payload, box_end)


def strip_metadata(data: bytes) -> bytes:
    """The file with its metadata boxes blanked, same length.

    :raise MalformedMedia: the boxes do not parse (nothing is returned half-cleaned).
    """
    cleaned = bytearray(data)
    _clean(cleaned, 0, len(cleaned))
    return bytes(cleaned)
