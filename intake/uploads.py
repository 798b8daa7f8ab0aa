"""Attachments: type checked by content, images re-encoded without EXIF/GPS, PDFs rewritten
without their metadata, embedded files or scripts, MP4/QuickTime videos with their metadata
boxes blanked (intake.isobmff), random names.

WebM videos are stored as sent: no maintained library here rewrites Matroska metadata
without ffmpeg (phones write their location into MP4/QuickTime, which is cleaned).

Files live in UPLOAD_DIR (outside static) and are only ever served to authorised staff.
"""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from intake.isobmff import MalformedMedia, strip_metadata
from intake.sanitize import clean_text

log = logging.getLogger(__name__)

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
                 "BMP": ("image/png", "PNG", ".png"), "AVIF": ("image/jpeg", "JPEG", ".jpg"),
                 "MPO": ("image/jpeg", "JPEG", ".jpg")}


# ISO base media brands of still pictures (HEIF/HEIC, AVIF): their EXIF sits in an item
# inside `mdat`, which the video metadata stripping does not reach.
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1",
                         b"mif2", b"msf1", b"avif", b"avis", b"miaf"})


def is_heif_image(data: bytes) -> bool:
    """An HEIF-family picture (HEIC, AVIF...) by its major or compatible brands."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return False
    size = int.from_bytes(data[0:4], "big")
    brands = [data[8:12]] + [data[i:i + 4] for i in range(16, min(size, len(data), 256), 4)]
    return any(brand in HEIF_BRANDS for brand in brands)


def sniff(data: bytes) -> str | None:
    """The content type by magic bytes, for the non-image types we accept."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if len(data) > 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        if is_heif_image(data):
            return None  # a still picture in an ISO container, not a video
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


# Keys dropped from every dictionary of a PDF: XMP packets (document, pages, images, fonts),
# the private data of the program that made it (Illustrator keeps a whole copy there),
# actions run on open, close, print or page view, and associated or embedded files (/EF of
# any file specification, however it is reached).
PDF_DROPPED_KEYS = ("/Metadata", "/PieceInfo", "/AA", "/AF", "/OpenAction", "/EF")
# Actions that run code, start programs or send data; links (/URI, /GoTo) stay.
PDF_DROPPED_ACTIONS = {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToE"}


def _pdf_dictionaries(pdf: pikepdf.Pdf):
    """Every dictionary in the file, direct or indirect, each once."""
    seen: set[tuple[int, int]] = set()
    todo: list = [pdf.trailer]
    while todo:
        obj = todo.pop()
        if not isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream, pikepdf.Array)):
            continue  # numbers, strings, names and null hold nothing
        if obj.is_indirect:
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
        if isinstance(obj, pikepdf.Array):
            todo.extend(obj)
        else:
            yield obj
            todo.extend(obj[key] for key in list(obj.keys()))


# JPEG segments kept inside a PDF's images: JFIF (APP0), the colour profile (APP2), Adobe's
# colour transform (APP14). EXIF and XMP (APP1), Photoshop/IPTC (APP13), the other
# application segments and comments go.
JPEG_KEPT_APPS = {0xE0, 0xE2, 0xEE}


def _strip_jpeg(data: bytes) -> bytes:
    """The JPEG without EXIF, XMP, IPTC or comments, the image data untouched; as it was
    if it cannot be parsed."""
    if not data.startswith(b"\xff\xd8"):
        return data
    out, pos = [data[:2]], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: the image data follows
            out.append(data[pos:])
            return b"".join(out)
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE) or marker in JPEG_KEPT_APPS:
            out.append(data[pos:end])
        pos = end
    return data


def _is_jpeg_image(obj) -> bool:
    if not isinstance(obj, pikepdf.Stream) or obj.get("/Subtype") != pikepdf.Name.Image:
        return False
    filters = obj.get("/Filter")
    filters = list(filters) if isinstance(filters, pikepdf.Array) else [filters]
    return filters == [pikepdf.Name.DCTDecode]


def _annotation_of(obj, subtype: pikepdf.Name) -> bool:
    return isinstance(obj, pikepdf.Dictionary) and obj.get("/Subtype") == subtype


def _is_dropped_action(obj) -> bool:
    return isinstance(obj, pikepdf.Dictionary) and (
        "/JS" in obj or str(obj.get("/S", "")) in PDF_DROPPED_ACTIONS)


def _clean_pdf(data: bytes) -> bytes | None:
    """The PDF rewritten without what can identify its author or act on its reader.

    Removed: the document information dictionary (Author, Creator, Producer, dates), the
    document ID, every XMP /Metadata stream, /PieceInfo, EXIF/XMP/IPTC segments of JPEG
    images (the pixels are not re-encoded), embedded and associated files
    (file attachment annotations too), document-level JavaScript, /OpenAction, /AA and
    any JavaScript, Launch, SubmitForm, ImportData or GoToE action, and the author (/T) of
    comments. The file is written anew, unencrypted, so nothing old stays in its bytes.
    None if it cannot be opened (damaged, or encrypted with a password) or has no page.
    """
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if len(pdf.pages) == 0:
                return None
            for key in ("/Info", "/ID"):
                if key in pdf.trailer:
                    del pdf.trailer[key]
            names = pdf.Root.get("/Names")
            if isinstance(names, pikepdf.Dictionary):
                for key in ("/EmbeddedFiles", "/JavaScript"):
                    if key in names:
                        del names[key]
            if "/Collection" in pdf.Root:  # a portfolio: its files were just removed
                del pdf.Root["/Collection"]
            acroform = pdf.Root.get("/AcroForm")
            if isinstance(acroform, pikepdf.Dictionary) and "/XFA" in acroform:
                del acroform["/XFA"]  # XFA packets carry scripts and the authoring tool's data
            for page in pdf.pages:
                annots = page.obj.get("/Annots")
                if not isinstance(annots, pikepdf.Array):
                    continue
                attached = {a.objgen for a in annots
                            if _annotation_of(a, pikepdf.Name.FileAttachment) and a.is_indirect}
                # A comment's popup (its note window) points back at it through /Parent.
                kept = [a for a in annots
                        if not _annotation_of(a, pikepdf.Name.FileAttachment)
                        and not (_annotation_of(a, pikepdf.Name.Popup)
                                 and isinstance(a.get("/Parent"), pikepdf.Dictionary)
                                 and a.Parent.objgen in attached)]
                if len(kept) != len(annots):
                    page.obj["/Annots"] = pikepdf.Array(kept)
                for annot in kept:
                    if not isinstance(annot, pikepdf.Dictionary):
                        continue
                    # A comment's /T is its author; a form field's (widget's) is its name.
                    if "/T" in annot and annot.get("/Subtype") != pikepdf.Name.Widget:
                        del annot["/T"]
                    for key in ("/M", "/CreationDate"):  # when it was annotated
                        if key in annot:
                            del annot[key]
            for obj in list(_pdf_dictionaries(pdf)):
                for key in PDF_DROPPED_KEYS:
                    if key in obj:
                        del obj[key]
                for key in ("/A", "/Next"):
                    if key in obj and _is_dropped_action(obj[key]):
                        del obj[key]
                chain = obj.get("/Next")
                if isinstance(chain, pikepdf.Array):
                    obj["/Next"] = pikepdf.Array([a for a in chain if not _is_dropped_action(a)])
            for obj in pdf.objects:
                if _is_jpeg_image(obj):
                    raw = obj.read_raw_bytes()
                    stripped = _strip_jpeg(raw)
                    if stripped != raw:
                        obj.write(stripped, filter=obj.Filter, decode_parms=obj.get("/DecodeParms"))
            out = io.BytesIO()
            pdf.save(out, linearize=False, encryption=False, fix_metadata_version=False)
            return out.getvalue()
    except Exception:  # hostile or odd input: whatever the parser trips on, refuse the file
        log.info("PDF upload refused: pikepdf could not rewrite it", exc_info=True)
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
            if content_type is None and is_heif_image(incoming.data):
                raise UploadError(_l("附件“%(name)s”是 HEIC/HEIF 格式的照片，暂不能接收。请在手机上转为 JPG"
                                     "（或把相机格式设为“兼容性最佳”）后重新上传。", name=name))
            if content_type is None:
                raise UploadError(_l("附件“%(name)s”不是可接受的照片、视频或 PDF 文件。", name=name))
            data = incoming.data
            if content_type == "application/pdf":
                data = _clean_pdf(data)
                if data is None:
                    raise UploadError(_l("附件“%(name)s”无法作为 PDF 打开（文件已损坏或设有密码），"
                                         "请去掉密码后重新上传。", name=name))
            elif content_type in ("video/mp4", "video/quicktime"):
                try:
                    data = strip_metadata(data)
                except MalformedMedia:
                    log.info("video upload refused: its boxes do not parse", exc_info=True)
                    raise UploadError(_l("附件“%(name)s”无法作为视频读取（文件已损坏），请重新导出后上传。",
                                         name=name)) from None
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
