"""HTML pages: decoded as browsers do, parsed once with selectolax (lexbor).

Decoding (:func:`decode`) follows the WHATWG order with w3lib's
``html_to_unicode`` (the decoder Scrapy uses): a byte-order mark, then the
Content-Type header's charset, then ``<meta charset>`` / ``http-equiv``, then
detection; labels are read as browsers read them (``ISO-8859-1`` and
``ASCII`` as windows-1252, ...), and the BOM never reaches the text.
Detection is browsers' default for Western pages: valid UTF-8 is UTF-8, any
other bytes are windows-1252.

A page record keeps the title, the visible text (body text without scripts
and styles, white space collapsed, capped; the title too), the hrefs of all
``a[href]`` (the page's outgoing links), ``<base href>`` and a
``<meta http-equiv="refresh">`` target. NUL characters are dropped:
PostgreSQL refuses them in text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser
from w3lib.encoding import html_to_unicode
from w3lib.html import get_meta_refresh

__all__ = ["Document", "decode", "is_html", "parse_html"]

MAX_TEXT_CHARS = 100_000
MAX_TITLE_CHARS = 1_000
MAX_REFRESH_DELAY = 100.0
"""A ``<meta http-equiv="refresh">`` waiting longer is not a redirect (Scrapy's default)."""
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
INVISIBLE_TAGS = ["script", "style", "noscript", "template"]
_HTML_START = re.compile(rb"\s*(<!--.*?-->\s*)*<(!doctype html|html|head|body)", re.I | re.S)


@dataclass(frozen=True, slots=True)
class Document:
    title: str | None
    text: str
    hrefs: list[str]
    base: str | None
    refresh: str | None = None
    """The absolute URL a ``<meta http-equiv="refresh">`` sends the browser to."""


def is_html(content_type: str | None, body: bytes) -> bool:
    """Whether a response is an HTML page (by Content-Type; sniffed when there is none)."""
    if content_type is None:
        return _HTML_START.match(body[:1024]) is not None
    return content_type.partition(";")[0].strip().lower() in HTML_TYPES


def _detect(body: bytes) -> str:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def decode(body: bytes, content_type: str | None) -> str:
    """The text of an HTML body with its ``Content-Type`` header, decoded as browsers do.

    >>> decode("\u201cCrème\u201d".encode("cp1252"), "text/html; charset=ISO-8859-1")
    '“Crème”'
    >>> decode(b"\\xef\\xbb\\xbfplain", "text/html; charset=iso-8859-1")
    'plain'
    """
    if body.isascii() and b"\x00" not in body:
        # Reads the same in every label a browser accepts but UTF-16, which has NULs.
        return body.decode("ascii")
    return html_to_unicode(content_type, body, auto_detect_fun=_detect)[1]


# What str.split() splits on in ASCII text, besides a single space.
_ASCII_WHITESPACE_RUNS = ("\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "  ")


def _clean(text: str) -> str:
    return text.replace("\x00", "") if "\x00" in text else text


def _collapse(text: str) -> str:
    """White space runs as single spaces, ends stripped (``" ".join(text.split())``)."""
    # ASCII text with no white space but single spaces is collapsed already:
    # skip splitting it into thousands of words. One-character searches are
    # memchr-fast, so the double space is looked for last.
    if text.isascii() and not any(odd in text for odd in _ASCII_WHITESPACE_RUNS):
        return text.strip()
    return " ".join(text.split())


def _refresh(tree: LexborHTMLParser, html: str, url: str) -> str | None:
    """The target of a meta refresh, read with w3lib (only for pages that have one)."""
    if "efresh" not in html and "EFRESH" not in html:  # (r|R)efresh: most pages, fast
        return None
    for node in tree.tags("meta"):
        if (node.attrs.get("http-equiv") or "").strip().lower() == "refresh":
            break
    else:
        return None
    delay, target = get_meta_refresh(html, url)
    return target if delay is not None and delay <= MAX_REFRESH_DELAY and target else None


def parse_html(html: str, url: str = "") -> Document:
    """Title, visible text, link hrefs, base href and refresh target of the page at ``url``."""
    tree = LexborHTMLParser(html)
    refresh = _refresh(tree, html, url)
    hrefs = [href for node in tree.tags("a") if (href := node.attrs.get("href")) is not None]
    titles = tree.tags("title")
    title = _collapse(titles[0].text())[:MAX_TITLE_CHARS] if titles else None
    base = next((href for node in tree.tags("base") if (href := node.attrs.get("href"))), None)
    body = tree.body
    text = ""
    if body is not None:
        tree.strip_tags(INVISIBLE_TAGS)
        # Stripped fragments, whitespace-only ones skipped: mostly collapsed already.
        raw = body.text(separator=" ", strip=True, skip_empty=True)
        if len(raw) > 4 * MAX_TEXT_CHARS:  # do not split megabytes to keep 100 kB
            raw = raw[: 4 * MAX_TEXT_CHARS]
        text = _collapse(raw)[:MAX_TEXT_CHARS]
    title = _clean(title) if title is not None else None
    return Document(title, _clean(text), hrefs, base, refresh)
