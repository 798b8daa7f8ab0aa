"""GeoReport v2 wire formats: JSON and XML with the spec's element names.

Lists become a container element whose children take the singular name (services/service,
service_requests/request, errors/error, attributes/attribute, values/value,
endpoints/endpoint, formats/format). Booleans are ``true``/``false``; None is an empty
element in XML and null in JSON.
"""

from __future__ import annotations

import json
import re

# Builds response XML only; never parses input.
import xml.etree.ElementTree as ET  # nosec B405
from typing import Any

from flask import Response

ITEM_TAGS = {
    "services": "service", "service_requests": "request", "errors": "error",
    "attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format",
}
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# Characters XML 1.0 forbids even as references (stored text is already free of C0 controls).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_INVALID.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            sub = ET.SubElement(element, key)
            if isinstance(child, list):
                tag = ITEM_TAGS.get(key, "item")
                for entry in child:
                    _fill(ET.SubElement(sub, tag), entry)
            else:
                _fill(sub, child)
    else:
        element.text = _scalar(value)


def to_xml(root: str, payload: Any) -> bytes:
    element = ET.Element(root)
    if isinstance(payload, list):
        tag = ITEM_TAGS[root]
        for entry in payload:
            _fill(ET.SubElement(element, tag), entry)
    else:
        _fill(element, payload)
    body = ET.tostring(element, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode("utf-8")


def render(fmt: str, root: str, payload: Any, status: int = 200) -> Response:
    """`payload` in `fmt` (json|xml); `root` names the XML document element."""
    if fmt == "xml":
        body = to_xml(root, payload)
    else:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        fmt = "json"
    return Response(body, status=status, content_type=CONTENT_TYPES[fmt])


def render_errors(fmt: str, code: int, description: str) -> Response:
    return render(fmt, "errors", [{"code": code, "description": description}], status=code)
