"""PDFs for upload tests, made on the fly with pikepdf."""

from __future__ import annotations

import io

import pikepdf

AUTHOR = "Zhang Weiming"  # the whistleblower's name, planted everywhere a PDF can hide it


def pdf_with_metadata(pages: int = 3) -> bytes:
    """A PDF whose info dictionary, XMP packet, embedded file, open action, page action and
    comment all carry AUTHOR."""
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(595, 842))
    pdf.docinfo["/Author"] = AUTHOR
    pdf.docinfo["/Creator"] = f"Microsoft Word - {AUTHOR} draft.docx"
    pdf.docinfo["/Producer"] = "Acrobat PDFMaker 23"
    pdf.docinfo["/Title"] = "西宁市交通执法问题线索"
    pdf.docinfo["/CreationDate"] = "D:20230620153000+08'00'"
    with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
        xmp["dc:creator"] = [AUTHOR]
        xmp["xmp:CreatorTool"] = f"{AUTHOR}'s laptop"
    pdf.attachments["notes.txt"] = pikepdf.AttachedFileSpec(
        pdf, f"private notes of {AUTHOR}".encode(), mime_type="text/plain")
    pdf.Root.OpenAction = pikepdf.Dictionary(
        Type=pikepdf.Name.Action, S=pikepdf.Name.JavaScript,
        JS=pikepdf.String(f"app.alert('{AUTHOR}');"))
    pdf.Root.Names.JavaScript = pikepdf.Dictionary(Names=pikepdf.Array([
        pikepdf.String("init"),
        pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript,
                                             JS=pikepdf.String("this.submitForm('x');")))]))
    page = pdf.pages[0].obj
    page.AA = pikepdf.Dictionary(O=pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.launchURL('http://x.example');")))
    page.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text,
        Rect=pikepdf.Array([50, 700, 70, 720]), T=pikepdf.String(AUTHOR),
        M=pikepdf.String("D:20230620153000+08'00'"),
        Contents=pikepdf.String("车牌号见第二页")))]))
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array(), XFA=pdf.make_stream(
        f"<xdp:xdp><config><creator>{AUTHOR}</creator></config></xdp:xdp>".encode()))
    buffer = io.BytesIO()
    pdf.save(buffer, compress_streams=False)
    data = buffer.getvalue()
    assert AUTHOR.encode() in data
    return data


def encrypted_pdf() -> bytes:
    """A PDF that opens only with its user password."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    buffer = io.BytesIO()
    pdf.save(buffer, encryption=pikepdf.Encryption(owner="owner-pw", user="user-pw"))
    return buffer.getvalue()


def every_text_in(data: bytes) -> bytes:
    """The raw bytes followed by every stream decoded, to search for a planted string."""
    chunks = [data]
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream):
                try:
                    chunks.append(obj.read_bytes())
                except pikepdf.PdfError:
                    chunks.append(obj.read_raw_bytes())
    return b"\n".join(chunks)


def pdf_with_jpeg(jpeg: bytes, size: tuple[int, int]) -> bytes:
    """A one-page PDF showing the JPEG as it is (DCTDecode), EXIF and all, as img2pdf does."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=size)
    image = pdf.make_stream(jpeg, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                            Width=size[0], Height=size[1], ColorSpace=pikepdf.Name.DeviceRGB,
                            BitsPerComponent=8, Filter=pikepdf.Name.DCTDecode)
    page = pdf.pages[0]
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.Contents = pdf.make_stream(f"q {size[0]} 0 0 {size[1]} 0 0 cm /Im0 Do Q".encode())
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()
