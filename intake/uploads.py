"""Attachments: type checked by content, images re-encoded without EXIF/GPS, random names.

Files live in UPLOAD_DIR (outside static) and are only ever served to authorised staff.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from intake.sanitize import clean_text

Image.MAX_IMAGE_PIXELS = 40_000_000  # refuse decompression bombs


class UploadError(ValueError):
    """An upload was refused; the message is for the person who sent it."""


@dataclass(frozen=True)
class IncomingFile:
    filename: str
    data: bytes


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    original_name: str
    content_type: str
    size: int
    sha256: str
    path: Path


IMAGE_FORMATS = {"JPEG": ("image/jpeg", "JPEG", ".jpg"), "PNG": ("image/png", "PNG", ".png"),
                 "WEBP": ("image/jpeg", "JPEG", ".jpg"), "GIF": ("image/png", "PNG", ".png"),
                 "BMP": ("image/png", "PNG", ".png")}


def sniff(data: bytes) -> str | None:
    """The content type by magic bytes, for the non-image types we accept."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if len(data) > 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None


def _reencode_image(data: bytes) -> tuple[bytes, str, str] | None:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format
            if fmt not in IMAGE_FORMATS:
                return None
            content_type, out_format, ext = IMAGE_FORMATS[fmt]
            image = ImageOps.exif_transpose(image)
            if out_format == "JPEG":
                image = image.convert("RGB")
            elif image.mode not in ("RGB", "RGBA", "L", "LA"):
                image = image.convert("RGBA")
            clean = Image.new(image.mode, image.size)
            clean.paste(image)
            buffer = io.BytesIO()
            clean.save(buffer, format=out_format, **({"quality": 88} if out_format == "JPEG" else {}))
            return buffer.getvalue(), content_type, ext
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def prepare(files: list[IncomingFile], *, max_files: int, max_bytes: int) -> list[tuple[bytes, str, str, str]]:
    """Check every file before anything is written: (data, content_type, ext, original name).

    :raise UploadError: too many, too large, empty, or not a photo, video or PDF by content.
    """
    files = [f for f in files if f.filename or f.data]
    if len(files) > max_files:
        raise UploadError(_l("最多上传 %(n)d 个附件。", n=max_files))
    prepared = []
    for incoming in files:
        name = clean_text(incoming.filename, multiline=False)[:120] or "file"
        if not incoming.data:
            raise UploadError(_l("附件“%(name)s”是空文件。", name=name))
        if len(incoming.data) > max_bytes:
            raise UploadError(_l("附件“%(name)s”超过 %(mb)d MB 的上限。", name=name,
                                 mb=max_bytes // (1024 * 1024)))
        image = _reencode_image(incoming.data)
        if image is not None:
            data, content_type, ext = image
        else:
            content_type = sniff(incoming.data)
            if content_type is None:
                raise UploadError(_l("附件“%(name)s”不是可接受的照片、视频或 PDF 文件。", name=name))
            data = incoming.data
            ext = {"application/pdf": ".pdf", "video/mp4": ".mp4", "video/quicktime": ".mov",
                   "video/webm": ".webm"}[content_type]
        prepared.append((data, content_type, ext, name))
    return prepared


def store(prepared: list[tuple[bytes, str, str, str]], upload_dir: Path) -> list[StoredFile]:
    """Write checked files under random names; the caller deletes them if its transaction fails."""
    upload_dir.mkdir(parents=True, exist_ok=True)
    stored = []
    for data, content_type, ext, name in prepared:
        stored_name = secrets.token_hex(16) + ext
        path = upload_dir / stored_name
        path.write_bytes(data)
        path.chmod(0o600)
        stored.append(StoredFile(stored_name, name, content_type, len(data),
                                 hashlib.sha256(data).hexdigest(), path))
    return stored


def discard(stored: list[StoredFile]) -> None:
    for item in stored:
        item.path.unlink(missing_ok=True)
