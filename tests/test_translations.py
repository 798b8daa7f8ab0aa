"""The English catalog is complete, keeps its placeholders, and the public pages render in English.

Simplified Chinese is the source language (the msgids); English is the only translation.
Checklist items and the campaign's notice are data from the official document and stay Chinese,
so the page check leaves out the elements that show them.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.conftest import csrf_from

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "app" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")

PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]")
HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{4,}")


def _catalog():
    with PO.open("rb") as handle:
        return read_po(handle)


def _messages():
    return [m for m in _catalog() if m.id]


def _strings(value) -> list[str]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def test_catalog_has_no_empty_translation():
    empty = [m.id for m in _messages() if not all(_strings(m.string))]
    assert not empty, f"{len(empty)} msgids without an English msgstr, e.g. {empty[:5]}"


def test_catalog_has_no_fuzzy_entry():
    fuzzy = [m.id for m in _messages() if m.fuzzy]
    assert not fuzzy, f"{len(fuzzy)} fuzzy entries, e.g. {fuzzy[:5]}"


def test_translations_keep_the_placeholders():
    wrong = []
    for message in _messages():
        wanted = {p for msgid in _strings(message.id) for p in PLACEHOLDER.findall(msgid)}
        for msgstr in _strings(message.string):
            if set(PLACEHOLDER.findall(msgstr or "")) != wanted:
                wrong.append((message.id, msgstr))
    assert not wrong, wrong


def test_translations_are_english():
    """A msgstr that still contains a run of Chinese was copied, not translated.

    Deliberate exceptions: the command words citizens type in SMS and e-mail (查询, 满意,
    基本满意, 不满意), which the English text quotes and explains, and short examples such as
    the plate number 青A·12345.
    """
    commands = re.compile("基本满意|不满意|满意|查询")
    chinese = [(m.id, m.string) for m in _messages()
               for s in _strings(m.string) if s and HAN_RUN.search(commands.sub(" ", s))]
    assert not chinese, chinese


def test_catalog_covers_every_message_in_the_code():
    """Strings added to templates or code after the last `make extract-messages` fail here."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    skipped = {".venv", "instance", "tests", "bench", "node_modules"}

    def keep_dir(dirname: str) -> bool:
        return dirname not in skipped and not dirname.startswith((".", "_"))

    known = {m.id if isinstance(m.id, str) else m.id[0] for m in _messages()}
    missing = set()
    for _, _, message, _, _ in extract_from_dir(
            str(ROOT), method_map, options_map,
            keywords={"_": None, "gettext": None, "ngettext": (1, 2), "_l": None,
                      "lazy_gettext": None},
            directory_filter=lambda path: keep_dir(Path(path).name)):
        msgid = message if isinstance(message, str) else message[0]
        if msgid and msgid not in known:
            missing.add(msgid)
    assert not missing, (f"{len(missing)} msgids missing from the English catalog; run "
                         f"`make extract-messages` and translate them: {sorted(missing)[:10]}")


def test_compiled_catalog_is_current():
    if not MO.exists():
        pytest.fail("messages.mo is missing: run `make translations`")
    assert MO.stat().st_mtime >= PO.stat().st_mtime, \
        "messages.mo is older than messages.po: run `make translations`"


class _VisibleText(HTMLParser):
    """Text and user-facing attributes, minus the elements that show campaign data."""

    DATA_IDS = re.compile(r"^item-\d+$")
    DATA_CLASSES = {"checklist", "notice-text", "summary", "category", "items", "doc-code"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}
    ATTRS = ("placeholder", "aria-label", "title", "alt")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []   # one entry per open element: is it (inside) data?
        self.title: list[str] = []
        self.chunks: list[str] = []
        self.in_title = False

    def _excluded(self) -> bool:
        return bool(self.stack) and self.stack[-1]

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        classes = set((values.get("class") or "").split())
        data = self._excluded() or bool(classes & self.DATA_CLASSES) or \
            bool(self.DATA_IDS.match(values.get("id") or ""))
        if not data:
            self.chunks.extend(values[a] for a in self.ATTRS if values.get(a))
            if tag in ("button", "input") and values.get("type") in ("submit", "button"):
                self.chunks.append(values.get("value") or "")
        if tag == "title":
            self.in_title = True
        if tag not in self.VOID:
            self.stack.append(data)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if self.in_title:
            self.title.append(data)
        elif not self._excluded():
            self.chunks.append(data)


def _untranslated(html: str) -> list[str]:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    # The title is "<page> · <campaign short title>"; the campaign title is data.
    page_title = "".join(parser.title).split(" · ")[0]
    return HAN_RUN.findall(page_title) + HAN_RUN.findall(" ".join(parser.chunks))


@pytest.mark.parametrize("path", ["/report", "/track", "/checklist", "/login"])
def test_public_pages_render_in_english(client, path):
    response = client.get(f"{path}?lang=en")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'lang="en"' in html
    assert _untranslated(html) == []


def test_track_error_is_english(client):
    page = client.get("/track?lang=en").get_data(as_text=True)
    response = client.post("/track?lang=en", data={
        "csrf_token": csrf_from(page), "tracking_no": "XNJT-20230101-9999",
        "receipt_code": "AAAA-BBBB-CCCC-DDDD"})
    html = response.get_data(as_text=True)
    assert "not correct" in html
    assert _untranslated(html) == []


def test_report_validation_errors_are_english(client):
    page = client.get("/report?lang=en").get_data(as_text=True)
    response = client.post("/report?lang=en", data={"csrf_token": csrf_from(page)})
    html = response.get_data(as_text=True)
    assert "Please describe the problem." in html
    assert _untranslated(html) == []


def test_checklist_keeps_the_official_wording_in_english(client):
    html = client.get("/checklist?lang=en").get_data(as_text=True)
    assert "Checklist of problems" in html
    assert 'id="item-36"' in html and "违规设定对非法营运行为的最低处罚数额" in html
