"""Block signatures: each one on a response it names, and none on ordinary pages."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from scrapejobs.blocks import BODY_BYTES, PAGE_BYTES, SIGNATURES, detect


def page(title: str, body: str = "") -> bytes:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>".encode()


BLOCKED = [
    ("cloudflare challenge", 403, {"cf-mitigated": "challenge"}, (), b""),
    (
        "cloudflare challenge",
        503,
        {},
        (),
        page("Just a moment...", "<script>window._cf_chl_opt={}</script>"),
    ),
    ("cloudflare challenge", 200, {}, (), page("Just a moment...")),
    ("cloudflare block", 403, {}, (), page("Attention Required! | Cloudflare")),
    ("cloudflare block", 403, {}, (), page("x", "<h1>Sorry, you have been blocked</h1>")),
    ("aws waf", 202, {"x-amzn-waf-action": "challenge"}, (), b""),
    ("aws waf", 405, {"x-amzn-waf-action": "captcha"}, (), b""),
    ("akamai block", 403, {}, (), page("Access Denied", "Reference&#32;&#35;18&#46;2f")),
    ("imperva block", 200, {}, (), page("x", "Request unsuccessful. Incapsula incident ID: 1-2")),
    ("imperva challenge", 200, {}, (), page("Pardon Our Interruption")),
    (
        "datadome captcha",
        403,
        {},
        (),
        page("x", '<iframe src="https://geo.captcha-delivery.com/c">'),
    ),
    ("datadome block", 403, {"x-datadome": "protected"}, (), b""),
    ("datadome block", 403, {}, ("datadome",), b""),
    ("perimeterx captcha", 403, {}, (), page("x", '<div id="px-captcha"></div>')),
    ("sucuri block", 403, {"x-sucuri-block": "1"}, (), b""),
    ("sucuri block", 403, {}, (), page("Sucuri WebSite Firewall - Access Denied")),
    ("bot check", 200, {}, (), page("Verify you are human")),
    ("bot check", 200, {}, (), page("Robot Check")),
    ("captcha", 429, {}, (), page("Slow down", '<div class="g-recaptcha"></div>')),
    ("captcha", 403, {}, (), page("x", "<div class='cf-turnstile'></div>")),
]


@pytest.mark.parametrize(("name", "status", "headers", "cookies", "body"), BLOCKED)
def test_each_signature_names_its_block(
    name: str, status: int, headers: dict[str, str], cookies: tuple[str, ...], body: bytes
) -> None:
    assert detect(status, CIMultiDict(headers), cookies, body) == name


ORDINARY = [
    # Vendors' scripts and cookies on ordinary pages.
    (
        200,
        {"server": "cloudflare"},
        ("__cf_bm", "cf_clearance"),
        page("Shop", '<script src="/cdn-cgi/challenge-platform/scripts/jsd/main.js"></script>'),
    ),
    (200, {"x-datadome": "protected"}, ("datadome",), page("Shop")),
    (200, {}, ("_px3", "_pxhd"), page("Shop")),
    # A contact form with a captcha, and a page about captchas.
    (200, {}, (), page("Contact us", '<form><div class="g-recaptcha"></div></form>')),
    (200, {}, (), page("How CAPTCHAs work", "Are you a robot? This post explains captcha.")),
    # Plain refusals and outages.
    (403, {}, (), page("403 Forbidden", "<h1>Forbidden</h1>")),
    (503, {"retry-after": "30"}, (), page("Service Unavailable")),
    (404, {}, (), page("Access denied to nothing: not found")),
]


@pytest.mark.parametrize(("status", "headers", "cookies", "body"), ORDINARY)
def test_ordinary_responses_are_not_blocks(
    status: int, headers: dict[str, str], cookies: tuple[str, ...], body: bytes
) -> None:
    assert detect(status, CIMultiDict(headers), cookies, body) is None


def test_only_the_start_of_a_body_is_searched() -> None:
    """16 KiB of an error's body, 4 KiB of a page's."""
    block = page("x", "<h1>Sorry, you have been blocked</h1>")
    assert detect(403, CIMultiDict(), (), b" " * (BODY_BYTES - len(block)) + block)
    assert detect(403, CIMultiDict(), (), b" " * BODY_BYTES + block) is None
    interstitial = page("Just a moment...")
    assert detect(200, CIMultiDict(), (), b" " * (PAGE_BYTES - 100) + interstitial)
    assert detect(200, CIMultiDict(), (), b" " * PAGE_BYTES + interstitial) is None


def test_every_signature_has_a_case() -> None:
    assert {signature.name for signature in SIGNATURES} == {case[0] for case in BLOCKED}


def test_every_body_signature_has_needles_its_cases_contain() -> None:
    """A body signature's regex runs only where one of its literals is: each case of it
    must contain one, or the signature could never match."""
    for signature in SIGNATURES:
        if signature.where == "body":
            assert signature.needles, signature.name
            assert all(needle == needle.lower() for needle in signature.needles)
    for name, _, _, _, body in BLOCKED:
        [signature] = {s for s in SIGNATURES if s.name == name and s.where == "body"} or [None]
        if signature is not None and body:
            assert any(n.encode() in body.lower() for n in signature.needles), name
