"""S3's XML bodies: built from nested (tag, value) data, and the few request bodies S3
clients send (CompleteMultipartUpload, Delete) parsed safely."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from starlette.responses import Response

from overcast.object_store.s3.errors import S3Error

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
Node = tuple[str, Any]  # (tag, text | list of nodes)


def _render(node: Node) -> str:
    tag, value = node
    if isinstance(value, list):
        inner = "".join(_render(n) for n in value)
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{tag}>{inner}</{tag}>"


def document(
    root: str, children: Iterable[Node], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    inner = "".join(_render(n) for n in children)
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{inner}</{root}>'
    return Response(body, status_code=status, media_type="application/xml", headers=headers)


def iso(ts: str | float) -> str:
    when = dt.datetime.fromtimestamp(float(ts), dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse(raw: bytes) -> ElementTree.Element:
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise S3Error("MalformedXML", "The XML you provided was not well-formed.", 400)
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError:
        raise S3Error("MalformedXML", "The XML you provided was not well-formed.", 400) from None
    for element in root.iter():  # drop namespaces: clients send them or not
        element.tag = element.tag.rsplit("}", 1)[-1]
    return root
