"""Text decoded the way browsers decode it: BOM, then header, then meta, then detection.

Each case is a page whose bytes and labels disagree the way real sites' do.
"""

from __future__ import annotations

import pytest

from scrapejobs.crawler import Crawler
from tests.crawl_sites import ScriptedSite, content
from tests.crawling import crawl

QUOTED = "\u201cCr\u00e8me\u201d"  # “Crème”: its quotes are windows-1252 bytes 0x93 / 0x94
BOM = b"\xef\xbb\xbf"


def html(title: str, body: str = "", head: str = "") -> str:
    return f"<html><head>{head}<title>{title}</title></head><body><p>{body}</p></body></html>"


CASES = [
    pytest.param(
        "text/html; charset=ISO-8859-1",
        html(QUOTED, QUOTED).encode("cp1252"),
        QUOTED,
        id="latin-1-label-on-windows-1252-bytes",
    ),
    pytest.param(
        "text/html; charset=x-unknown-charset",
        html("Привет", "мир", head='<meta charset="windows-1251">').encode("cp1251"),
        "Привет",
        id="unknown-header-then-meta",
    ),
    pytest.param(
        "text/html; charset=iso-8859-1",
        BOM + html("Crème", "brûlée").encode("utf-8"),
        "Crème",
        id="utf-8-bom-beats-a-latin-1-header",
    ),
    pytest.param(
        "text/html",
        "\ufeff".encode("utf-16-le") + html("Ünïcödé", "wide").encode("utf-16-le"),
        "Ünïcödé",
        id="utf-16le-bom",
    ),
    pytest.param(
        "text/html",
        BOM + html("plain", "text").encode("utf-8"),
        "plain",
        id="lone-utf-8-bom",
    ),
    pytest.param(
        "text/html",
        html("Crème", "brûlée").encode("cp1252"),
        "Crème",
        id="unlabelled-windows-1252",
    ),
    pytest.param(
        "text/html",
        html(
            "Crème",
            "brûlée",
            head='<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">',
        ).encode("cp1252"),
        "Crème",
        id="http-equiv-content-type",
    ),
]


@pytest.mark.parametrize(("content_type", "body", "title"), CASES)
async def test_pages_are_decoded_as_browsers_do(
    crawler: Crawler, site: ScriptedSite, content_type: str, body: bytes, title: str
) -> None:
    site.routes["/"] = content(body, content_type)
    [record] = (await crawl(crawler, site.origin, respectRobots=False, depth=0)).pages
    assert record.title == title
    assert record.text is not None
    assert "\ufffd" not in record.text and "\ufeff" not in record.text
    assert not any("\x80" <= ch <= "\x9f" for ch in record.text), "C1 controls: a wrong decoder"


async def test_a_robots_txt_with_a_byte_order_mark_is_obeyed(
    crawler: Crawler, site: ScriptedSite
) -> None:
    robots = BOM + b"User-agent: *\nDisallow: /private\n"
    site.routes["/robots.txt"] = content(robots, "text/plain")
    site.routes["/"] = content(b'<a href="/private/x">x</a><a href="/ok">ok</a>', "text/html")
    site.routes["/ok"] = content(b"<title>ok</title>", "text/html")
    result = await crawl(crawler, site.origin)
    assert "/private/x" not in site.paths()
    assert {p.url for p in result.pages} == {site.url("/"), site.url("/ok")}
