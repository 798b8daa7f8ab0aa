"""PDF and video attachments are stored without what could identify the person who sent
them: no document information, XMP, ID, embedded files, scripts or EXIF in a PDF's photos, and
the sender's name nowhere in its bytes; no location, device, XMP or filming time in an MP4 or
QuickTime video. A file that cannot be read is refused with a message and nothing is stored."""

from __future__ import annotations

import io

import pikepdf
import pytest
from PIL import Image
from sqlmodel import select

from intake.models import Attachment, Report
from intake.uploads import _clean_pdf
from tests.support.files import has_exif, jpeg_with_gps
from tests.support.mail import receiver
from tests.support.pdfs import (
    AUTHOR,
    encrypted_pdf,
    every_text_in,
    pdf_with_jpeg,
    pdf_with_metadata,
)
from tests.support.videos import (
    DEVICE,
    FILMED_AT,
    FRAMES,
    LOCATION,
    XMP,
    box,
    boxes,
    mp4_with_metadata,
)
from tests.test_email import count as count_email
from tests.test_email import plain_message, refused, reports, send
from tests.test_intake_web import count, post_report

REFUSED = "无法作为 PDF 打开"


def assert_clean(data: bytes, pages: int) -> None:
    assert AUTHOR.encode() not in data
    assert AUTHOR.encode("utf-16-be") not in data
    assert AUTHOR.encode() not in every_text_in(data)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == pages
        assert "/Info" not in pdf.trailer
        assert "/Metadata" not in pdf.Root
        assert "/OpenAction" not in pdf.Root
        assert "/AF" not in pdf.Root
        assert "/XFA" not in pdf.Root.get("/AcroForm", pikepdf.Dictionary())
        names = pdf.Root.get("/Names", pikepdf.Dictionary())
        assert "/EmbeddedFiles" not in names and "/JavaScript" not in names
        assert not pdf.attachments
        assert not pdf.is_encrypted
        for page in pdf.pages:
            assert "/AA" not in page.obj
            for annot in page.obj.get("/Annots", []):
                assert "/T" not in annot and "/M" not in annot
        assert not any(isinstance(obj, pikepdf.Dictionary) and "/JS" in obj
                       for obj in pdf.objects)


def test_pdf_from_the_web_form_is_stored_without_metadata(client, db, app):
    original = pdf_with_metadata(pages=3)
    response = post_report(client, attachments=[(io.BytesIO(original), "线索材料.pdf")])
    assert response.status_code == 302, response.get_data(as_text=True)
    attachment = db.exec(select(Attachment)).one()
    stored = (app.config["UPLOAD_DIR"] / attachment.stored_name).read_bytes()
    assert stored.startswith(b"%PDF-")
    assert attachment.content_type == "application/pdf"
    assert attachment.stored_name.endswith(".pdf") and "线索" not in attachment.stored_name
    assert attachment.original_name == "线索材料.pdf"
    assert attachment.size == len(stored)
    assert_clean(stored, pages=3)
    with pikepdf.open(io.BytesIO(stored)) as pdf:  # the comment itself stays
        assert str(pdf.pages[0].obj.Annots[0].Contents) == "车牌号见第二页"


@pytest.mark.parametrize("data", [
    encrypted_pdf(),
    b"%PDF-1.7\n" + bytes(range(256)) * 40,
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n",
], ids=["password", "garbage", "no-pages"])
def test_unreadable_pdf_is_refused_and_stores_nothing(client, db, app, data):
    response = post_report(client, attachments=[(io.BytesIO(data), "材料.pdf")])
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert REFUSED in html and "材料.pdf" in html
    assert count(db, Report) == 0 and count(db, Attachment) == 0
    upload_dir = app.config["UPLOAD_DIR"]
    assert not upload_dir.exists() or not any(upload_dir.iterdir())


def test_unreadable_pdf_message_in_english_when_chosen(client, db):
    client.get("/lang/en")
    response = post_report(client, attachments=[(io.BytesIO(encrypted_pdf()), "a.pdf")])
    assert response.status_code == 400
    assert "could not be opened as a PDF" in response.get_data(as_text=True)


def test_pdf_by_email_is_stored_without_metadata(app, db):
    msg = plain_message()
    msg.add_attachment(pdf_with_metadata(pages=2), maintype="application", subtype="pdf",
                       filename="材料.pdf")
    with receiver(app) as address:
        send(address, msg)
    [report] = reports(db)
    [attachment] = db.exec(select(Attachment).where(Attachment.report_id == report.id)).all()
    db.rollback()
    assert attachment.content_type == "application/pdf"
    assert_clean((app.config["UPLOAD_DIR"] / attachment.stored_name).read_bytes(), pages=2)


def test_encrypted_pdf_by_email_is_refused_and_nothing_stored(app, db):
    msg = plain_message()
    msg.add_attachment(encrypted_pdf(), maintype="application", subtype="pdf",
                       filename="材料.pdf")
    with receiver(app) as address:
        code, text = refused(address, msg)
    assert code == 550 and "attachments" in text
    assert count_email(db) == 0 and count_email(db, Attachment) == 0
    upload_dir = app.config["UPLOAD_DIR"]
    assert not upload_dir.exists() or not any(upload_dir.iterdir())


def test_links_and_form_fields_are_kept():
    pdf = pikepdf.new()
    pdf.add_blank_page()
    link = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=pikepdf.Array([0, 0, 9, 9]),
        A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://x.example/"))))
    field = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Tx,
        T=pikepdf.String("plate"), Rect=pikepdf.Array([0, 20, 99, 40]),
        AA=pikepdf.Dictionary(K=pikepdf.Dictionary(S=pikepdf.Name.JavaScript,
                                                   JS=pikepdf.String("1;")))))
    pdf.pages[0].obj.Annots = pikepdf.Array([link, field])
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([field]))
    buffer = io.BytesIO()
    pdf.save(buffer)
    with pikepdf.open(io.BytesIO(_clean_pdf(buffer.getvalue()))) as clean:
        link, field = clean.pages[0].obj.Annots
        assert str(link.A.URI) == "https://x.example/"
        assert str(field.T) == "plate" and "/AA" not in field


def test_photo_inside_a_pdf_loses_its_exif_but_not_its_pixels(client, db, app):
    photo = jpeg_with_gps((64, 48))
    assert has_exif(photo)
    response = post_report(client, attachments=[(io.BytesIO(pdf_with_jpeg(photo, (64, 48))),
                                                 "scan.pdf")])
    assert response.status_code == 302
    attachment = db.exec(select(Attachment)).one()
    stored = (app.config["UPLOAD_DIR"] / attachment.stored_name).read_bytes()
    assert b"TestCam" not in stored
    with pikepdf.open(io.BytesIO(stored)) as pdf:
        jpeg = pdf.pages[0].Resources.XObject.Im0.read_raw_bytes()
    assert not has_exif(jpeg)
    with Image.open(io.BytesIO(jpeg)) as shown, Image.open(io.BytesIO(photo)) as sent:
        assert shown.size == (64, 48)
        assert shown.convert("RGB").tobytes() == sent.convert("RGB").tobytes()


# ---------------------------------------------------------------------------------------
# Videos: location, device and XMP boxes blanked, times zeroed, the pictures untouched.


def assert_video_clean(original: bytes, stored: bytes) -> None:
    assert len(stored) == len(original)  # no box moved: the chunk offsets still hold
    for secret in (LOCATION, DEVICE, XMP, b"com.apple.quicktime"):
        assert secret not in stored
    top = boxes(stored)
    assert [kind for kind, _, _ in top] == [b"ftyp", b"moov", b"free", b"mdat"]
    _, mdat_start, mdat_end = top[3]
    assert stored[mdat_start:mdat_end] == FRAMES
    _, moov_start, moov_end = top[1]
    inside = boxes(stored, moov_start, moov_end)
    assert [kind for kind, _, _ in inside] == [b"mvhd", b"trak", b"free", b"free"]
    kind, start, end = inside[1]
    assert [k for k, _, _ in boxes(stored, start, end)] == [b"tkhd", b"mdia", b"free"]
    assert FILMED_AT.to_bytes(4, "big") not in stored and FILMED_AT.to_bytes(8, "big") not in stored


@pytest.mark.parametrize(("brand", "version", "content_type", "ext"), [
    (b"isom", 0, "video/mp4", ".mp4"), (b"qt  ", 1, "video/quicktime", ".mov")])
def test_video_from_the_web_form_is_stored_without_location_or_device(client, db, app, brand,
                                                                      version, content_type, ext):
    original = mp4_with_metadata(brand=brand, version=version)
    assert LOCATION in original and DEVICE in original
    response = post_report(client, attachments=[(io.BytesIO(original), f"现场视频{ext}")])
    assert response.status_code == 302, response.get_data(as_text=True)
    attachment = db.exec(select(Attachment)).one()
    stored = (app.config["UPLOAD_DIR"] / attachment.stored_name).read_bytes()
    assert (attachment.content_type, attachment.stored_name[-4:]) == (content_type, ext)
    assert_video_clean(original, stored)


@pytest.mark.parametrize("data", [
    box(b"ftyp", b"isom\x00\x00\x02\x00isom") + b"\x00\x00\xff\xffmoov" + bytes(64),
    box(b"ftyp", b"isom\x00\x00\x02\x00isom") + box(b"moov", b"\x00\x00\x00\x04mvhd"),
    box(b"ftyp", b"isom\x00\x00\x02\x00isom") + b"\x00\x00\x00",
], ids=["box-past-the-end", "box-smaller-than-its-header", "truncated-header"])
def test_damaged_video_is_refused_and_stores_nothing(client, db, app, data):
    response = post_report(client, attachments=[(io.BytesIO(data), "视频.mp4")])
    assert response.status_code == 400
    assert "无法作为视频读取" in response.get_data(as_text=True)
    assert count(db, Report) == 0 and count(db, Attachment) == 0


def test_video_by_email_is_stored_without_location(app, db):
    original = mp4_with_metadata()
    msg = plain_message()
    msg.add_attachment(original, maintype="video", subtype="mp4", filename="clip.mp4")
    with receiver(app) as address:
        send(address, msg)
    [report] = reports(db)
    attachment = db.exec(select(Attachment).where(Attachment.report_id == report.id)).one()
    assert_video_clean(original, (app.config["UPLOAD_DIR"] / attachment.stored_name).read_bytes())


def test_pdf_file_attachment_comment_with_a_popup_loses_its_embedded_file():
    """A file attachment comment as Acrobat makes it has a popup (its note window), whose
    /Parent points back at the comment. The cleaner drops the comment from the page's
    /Annots but keeps the popup, so the comment, its file specification and the embedded
    file are still reachable and written into the "cleaned" PDF."""
    import io

    import pikepdf

    from intake.uploads import IncomingFile, prepare
    from tests.support.pdfs import AUTHOR, every_text_in

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    spec = pikepdf.AttachedFileSpec(pdf, f"private notes of {AUTHOR}".encode(),
                                    mime_type="text/plain", filename="notes.txt")
    comment = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.FileAttachment,
        Rect=pikepdf.Array([50, 700, 70, 720]), FS=spec.obj, Contents=pikepdf.String("附件")))
    popup = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Popup,
        Rect=pikepdf.Array([80, 600, 280, 700]), Parent=comment))
    comment.Popup = popup
    pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([comment, popup]))
    buffer = io.BytesIO()
    pdf.save(buffer, compress_streams=False)

    [(data, content_type, _ext, _name)] = prepare([IncomingFile("证据.pdf", buffer.getvalue())],
                                                   max_files=5, max_bytes=10 * 1024 * 1024)
    assert content_type == "application/pdf"
    assert AUTHOR.encode() not in every_text_in(data)
