"""Files for upload tests, made on the fly."""

from __future__ import annotations

import io

from PIL import Image


def jpeg_with_gps(size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG carrying EXIF with a camera model and GPS position."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x0110] = "TestCam 3000"  # Model
    gps = {1: "N", 2: (36.0, 37.0, 0.0), 3: "E", 4: (101.0, 46.0, 0.0)}
    exif[0x8825] = gps
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def has_exif(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        return bool(image.getexif()) or "exif" in image.info


def avif_with_gps(size: tuple[int, int] = (64, 48)) -> bytes:
    """An AVIF picture carrying the same EXIF (an HEIF-family file: `ftyp` like a video)."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x0110] = "TestCam 3000"
    exif[0x8825] = {1: "N", 2: (36.0, 37.0, 0.0), 3: "E", 4: (101.0, 46.0, 0.0)}
    buffer = io.BytesIO()
    image.save(buffer, format="AVIF", exif=exif)
    return buffer.getvalue()


def heic_like() -> bytes:
    """The start of an HEIC photo (brand heic/mif1) that Pillow cannot open here."""
    ftyp = b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic"
    return (len(ftyp) + 4).to_bytes(4, "big") + ftyp + b"\x00\x00\x00\x08mdat" * 4
