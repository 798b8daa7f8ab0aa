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
