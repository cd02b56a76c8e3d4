"""Block detection: responses that are anti-bot challenges or WAF blocks, as data.

Pure domain code. A response is *blocked* (``errorType`` ``blocked``,
pattern ``access_denied``) when one of :data:`SIGNATURES` matches it: a
header, a cookie set, or the start of the body, each signature limited to the
statuses it is seen with (the first 16 KiB of an error's body, the first
4 KiB of any other). Signatures name a challenge or a block page, never
a vendor alone: Cloudflare, DataDome and PerimeterX set their cookies and
scripts on ordinary pages too, and a contact form with a reCAPTCHA is not a
block. So a generic captcha widget counts only on a 403, 429 or 503, and a
200 page only when it *is* an interstitial ("Just a moment...", "Pardon Our
Interruption", "Verify you are human").

Add a signature by adding a row (and a case to ``tests/unit/test_blocks.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["BODY_BYTES", "PAGE_BYTES", "SIGNATURES", "Signature", "detect"]

BODY_BYTES = 16_384
"""How much of an error response's body is searched (a 403's block page)."""
PAGE_BYTES = 4_096
"""How much of any other body is searched: an interstitial served as a page says
so in its head, and every crawled page is searched (about 0.03 ms a page)."""

BLOCK_STATUSES = frozenset({403, 429, 503})


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    """What it is (``cloudflare challenge``): shown in the failure's message."""
    where: Literal["header", "cookie", "body"]
    pattern: str
    """A case-insensitive regex: over the header's value (``key``), the cookie's
    name, or the start of the body."""
    key: str = ""
    """The header's name (``where="header"``)."""
    statuses: frozenset[int] | None = None
    """The statuses it counts with; None: any."""
    needles: tuple[str, ...] = ()
    """A body signature's literals, one of which any match contains (lower case):
    the regex runs only where one is found, so an ordinary page costs a few
    substring searches, not a dozen regular expressions."""
    regex: re.Pattern[bytes] = field(init=False, repr=False, compare=False)
    _needles: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern.encode(), re.IGNORECASE))
        object.__setattr__(self, "_needles", tuple(needle.encode() for needle in self.needles))

    def matches(
        self, status: int, headers: Mapping[str, str], cookies: Iterable[str], lowered: bytes
    ) -> bool:
        """``lowered``: the start of the body (:func:`detect`), in lower case."""
        if self.statuses is not None and status not in self.statuses:
            return False
        if self.where == "header":
            value = headers.get(self.key)
            return value is not None and self._search(value)
        if self.where == "cookie":
            return any(self.regex.fullmatch(_bytes(name)) for name in cookies)
        if not any(needle in lowered for needle in self._needles):
            return False
        return self.regex.search(lowered) is not None

    def _search(self, text: str) -> bool:
        return self.regex.search(_bytes(text)) is not None


def _bytes(text: str) -> bytes:
    return text.encode("latin-1", "replace")


def _title(words: str) -> str:
    return rf"<title[^>]*>[^<]{{0,80}}(?:{words})[^<]{{0,80}}</title>"


CF_CHALLENGE = r"window\._cf_chl_opt|<title>just a moment\.\.\.</title>"
CF_BLOCK = r"attention required! \| cloudflare|sorry, you have been blocked"
AKAMAI = r"<title>access denied</title>[\s\S]{0,2000}reference&#32;&#35;"
DATADOME = r"geo\.captcha-delivery\.com|ct\.captcha-delivery\.com"
PERIMETERX = r"id=[\"']px-captcha[\"']|access to this page has been denied"
BOT_CHECK = r"verify you are (?:a )?human|are you a (?:robot|human)|robot check|human verification"
CAPTCHA = r"class=[\"'](?:g-recaptcha|h-captcha|cf-turnstile)[\"']"
IMPERVA = r"incapsula incident id|_incapsula_resource"
DISTIL = _title("pardon our interruption")
SUCURI = r"sucuri website firewall - access denied"
BOT_CHECK_WORDS = ("verify you are", "are you a", "robot check", "human verification")
CAPTCHAS = ("g-recaptcha", "h-captcha", "cf-turnstile")
ON_403 = frozenset({403})

SIGNATURES: tuple[Signature, ...] = (
    # Cloudflare: the managed challenge ("Just a moment...") and the WAF block page.
    Signature("cloudflare challenge", "header", "challenge", key="cf-mitigated"),
    Signature(
        "cloudflare challenge", "body", CF_CHALLENGE, needles=("_cf_chl_opt", "just a moment")
    ),
    Signature("cloudflare block", "body", CF_BLOCK, needles=("attention required", "been blocked")),
    # AWS WAF: a challenge (202) or a captcha (405) says so in a header.
    Signature("aws waf", "header", r"captcha|challenge", key="x-amzn-waf-action"),
    # Akamai: its "Access Denied" page with a reference number.
    Signature("akamai block", "body", AKAMAI, statuses=ON_403, needles=("access denied",)),
    # Imperva / Incapsula, and Distil (now Imperva).
    Signature("imperva block", "body", IMPERVA, needles=("incapsula",)),
    Signature("imperva challenge", "body", DISTIL, needles=("pardon our interruption",)),
    # DataDome: its captcha frame; its header or cookie on a 403.
    Signature("datadome captcha", "body", DATADOME, needles=("captcha-delivery",)),
    Signature("datadome block", "header", r".", key="x-datadome", statuses=ON_403),
    Signature("datadome block", "cookie", r"datadome", statuses=ON_403),
    # PerimeterX / HUMAN: its captcha and its block page.
    Signature("perimeterx captcha", "body", PERIMETERX, needles=("px-captcha", "been denied")),
    # Sucuri's firewall.
    Signature("sucuri block", "header", r".", key="x-sucuri-block"),
    Signature("sucuri block", "body", SUCURI, needles=("sucuri",)),
    # Any vendor: a page titled as a bot check, or a captcha where access was refused.
    Signature("bot check", "body", _title(BOT_CHECK), needles=BOT_CHECK_WORDS),
    Signature("captcha", "body", CAPTCHA, statuses=BLOCK_STATUSES, needles=CAPTCHAS),
)


def detect(
    status: int,
    headers: Mapping[str, str],
    cookies: Iterable[str] = (),
    body: bytes = b"",
) -> str | None:
    """The name of the first signature that matches the response, or None.

    ``headers`` should be case-insensitive (aiohttp's are); ``cookies`` are the
    names of the cookies it sets.

    >>> detect(403, {"cf-mitigated": "challenge"})
    'cloudflare challenge'
    >>> detect(200, {}, body=b"<html><head><title>Shop</title></head></html>") is None
    True
    """
    cookies = tuple(cookies)
    lowered = body[: BODY_BYTES if status >= 400 else PAGE_BYTES].lower()
    for signature in SIGNATURES:
        if signature.matches(status, headers, cookies, lowered):
            return signature.name
    return None
