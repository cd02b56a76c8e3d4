"""HTML pages: what a page record keeps of them, parsed once with selectolax (lexbor).

Title, visible text (body text without scripts and styles, white space
collapsed, capped; the title too), the hrefs of all ``a[href]`` (the page's outgoing
links), and ``<base href>``. NUL characters are dropped: PostgreSQL refuses
them in text.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

__all__ = ["Document", "decode", "is_html", "parse_html"]

MAX_TEXT_CHARS = 100_000
MAX_TITLE_CHARS = 1_000
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
INVISIBLE_TAGS = ["script", "style", "noscript", "template"]
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HTML_START = re.compile(rb"\s*(<!--.*?-->\s*)*<(!doctype html|html|head|body)", re.I | re.S)


@dataclass(frozen=True, slots=True)
class Document:
    title: str | None
    text: str
    hrefs: list[str]
    base: str | None


def is_html(content_type: str | None, body: bytes) -> bool:
    """Whether a response is an HTML page (by Content-Type; sniffed when there is none)."""
    if content_type is None:
        return _HTML_START.match(body[:1024]) is not None
    return content_type.partition(";")[0].strip().lower() in HTML_TYPES


def decode(body: bytes, charset: str | None) -> str:
    """The text of an HTML body: the header's charset, else ``<meta charset>``, else UTF-8."""
    if charset is None:
        if body.isascii():  # reads the same in any ASCII-compatible charset
            return body.decode("ascii")
        found = _META_CHARSET.search(body, 0, 2048)
        charset = found.group(1).decode("ascii") if found else None
    if charset is not None:
        try:
            codecs.lookup(charset)
        except LookupError:
            charset = None
    return body.decode(charset or "utf-8", errors="replace")


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


def parse_html(html: str) -> Document:
    """Title, visible text, link hrefs and base href of an HTML page."""
    tree = LexborHTMLParser(html)
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
    return Document(_clean(title) if title is not None else None, _clean(text), hrefs, base)
