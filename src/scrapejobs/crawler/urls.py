"""URLs of a crawl: the start URL of a job, normalisation, and link resolution.

A normalised URL is what the crawler fetches and de-duplicates on: http or
https only, scheme and host lower-cased, IDNA and percent-encoding applied,
default port (:80, :443) dropped, dot segments resolved, fragment dropped,
user info dropped (``/a?`` is ``/a``). The query loses its tracking
parameters (:data:`TRACKING_PARAMETERS`, or the job's
``config.dropQueryParameters``) and what is left is put in canonical order
with w3lib's ``canonicalize_url``, as Scrapy does (``?b=2&a=1`` is
``?a=1&b=2``). Two spellings of one page normalise to the same string. Each
normalised URL comes with its origin (``scheme://host[:port]``), which the
same-host rule compares.

Every link of every page goes through :class:`LinkResolver`, so it caches:
hrefs that do not depend on the page (``http://...``, ``/path``) are cached
per origin, relative ones per base directory.
"""

from __future__ import annotations

from collections.abc import Iterable

from w3lib.url import canonicalize_url
from yarl import URL

__all__ = [
    "TRACKING_PARAMETERS",
    "InvalidStartUrl",
    "LinkResolver",
    "Normal",
    "QueryRules",
    "normalise",
    "origin_of",
    "start_url",
]

Normal = tuple[str, str]
"""A normalised URL and its origin."""

DEFAULT_PORTS = {"http": 80, "https": 443}
_CACHE_LIMIT = 200_000


TRACKING_PARAMETERS: tuple[str, ...] = (
    "utm_*",
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "ttclid",
    "igshid",
    "li_fat_id",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "_ga",
    "_gl",
)
"""Query parameters that only say where a visitor came from; ``name*`` is a prefix."""


class InvalidStartUrl(ValueError):
    """The job names no URL the crawler can fetch."""


class QueryRules:
    """Which query parameters a crawl drops (names compared lower-cased)."""

    def __init__(self, dropped: Iterable[str] = TRACKING_PARAMETERS) -> None:
        names = [name.lower() for name in dropped]
        self._exact = frozenset(name for name in names if not name.endswith("*"))
        self._prefixes = tuple(name[:-1] for name in names if name.endswith("*"))

    def _kept(self, pair: str) -> bool:
        name = pair.partition("=")[0].lower()
        return bool(pair) and name not in self._exact and not name.startswith(self._prefixes)

    def url(self, base: str, query: str) -> str:
        """``base?query`` without the dropped parameters, the rest in canonical order."""
        kept = "&".join(pair for pair in query.split("&") if self._kept(pair))
        return canonicalize_url(f"{base}?{kept}") if kept else base


DEFAULT_QUERY_RULES = QueryRules()


def _normal(url: URL, rules: QueryRules = DEFAULT_QUERY_RULES) -> Normal | None:
    scheme = url.scheme
    default_port = DEFAULT_PORTS.get(scheme)
    host = url.raw_host
    if default_port is None or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    port = url.explicit_port
    if port is not None and port != default_port:
        host = f"{host}:{port}"
    origin = f"{scheme}://{host}"
    path = url.raw_path or "/"
    query = url.raw_query_string
    return (rules.url(origin + path, query) if query else origin + path), origin


def normalise(url: str, rules: QueryRules = DEFAULT_QUERY_RULES) -> Normal | None:
    """The normalised form of an absolute URL and its origin, or None if not http(s).

    >>> normalise("HTTP://Example.COM:80/a/../b?q=1&utm_source=mail&a=2#top")
    ('http://example.com/b?a=2&q=1', 'http://example.com')
    >>> normalise("mailto:someone@example.com") is None
    True
    """
    try:
        return _normal(URL(url.strip()), rules)
    except (ValueError, TypeError):
        return None


def origin_of(url: str) -> str:
    """The origin of a normalised URL."""
    end = url.find("/", url.find("//") + 2)
    return url if end < 0 else url[:end]


def start_url(domain: str, start: str | None, rules: QueryRules = DEFAULT_QUERY_RULES) -> Normal:
    """Where a crawl starts: ``startUrl``, else the origin of ``domain``.

    A domain without a scheme is crawled over https; an origin keeps its own.
    """
    if start:
        candidate = start
    elif "://" in domain:
        candidate = domain.rstrip("/") + "/"
    else:
        candidate = f"https://{domain}/"
    if any(ch.isspace() for ch in candidate.strip()):
        raise InvalidStartUrl(f"invalid URL {candidate!r}: white space")
    normal = normalise(candidate, rules)
    if normal is None:
        raise InvalidStartUrl(f"invalid URL {candidate!r}: not an http(s) URL with a host")
    return normal


_SKIPPED_SCHEMES = ("mailto:", "javascript:", "tel:", "data:")
_MISSING = object()


class LinkResolver:
    """Resolves the hrefs of a crawl's pages to normalised URLs, with a cache.

    The cache key is what the result depends on: nothing but the href for
    absolute URLs, the origin for ``/path`` and ``//host/path``, the base's
    directory for relative paths, the whole base otherwise.
    """

    def __init__(self, rules: QueryRules = DEFAULT_QUERY_RULES) -> None:
        self._rules = rules
        self._cache: dict[tuple[str, str], Normal | None] = {}
        self._bases: dict[str, tuple[URL, str, str] | None] = {}

    def resolve(self, base: str, href: str) -> Normal | None:
        """The normalised URL an ``href`` on a page with (normalised) base URL ``base`` points to.

        None for links that lead nowhere fetchable: other schemes
        (``mailto:``, ``javascript:``, ``tel:``, ``data:``, ...), fragments of
        the page itself, and hrefs that do not parse.
        """
        found = self.resolve_all(base, [href])
        return found[0] if found else None

    def resolve_all(self, base: str, hrefs: list[str]) -> list[Normal]:
        """The normalised URLs of ``hrefs`` found on a page with base URL ``base``."""
        parsed = self._base(base)
        if parsed is None:
            return []
        base_url, origin, directory = parsed
        cache = self._cache
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        found: list[Normal] = []
        for href in hrefs:
            first = href[:1]
            if first == "/":
                key = (origin, href)
            elif first == "#":
                continue
            elif href.startswith(("http://", "https://")):
                key = ("", href)
            elif first.isalnum() or first == ".":
                key = (directory, href)
            else:  # "", "?query", leading white space...
                key = (base, href)
            normal = cache.get(key, _MISSING)
            if normal is _MISSING:
                normal = cache[key] = _join(base_url, href, self._rules)
            if normal is not None:
                found.append(normal)  # type: ignore[arg-type]
        return found

    def _base(self, base: str) -> tuple[URL, str, str] | None:
        try:
            return self._bases[base]
        except KeyError:
            pass
        if len(self._bases) >= _CACHE_LIMIT:
            self._bases.clear()
        try:
            url = URL(base, encoded=True)  # normalised, so encoded already
        except (ValueError, TypeError):
            parsed = None
        else:
            normal = _normal(url, self._rules)
            if normal is None:
                parsed = None
            else:
                path = url.raw_path or "/"
                parsed = (url, normal[1], normal[1] + path[: path.rfind("/") + 1])
        self._bases[base] = parsed
        return parsed


def _join(base: URL, href: str, rules: QueryRules) -> Normal | None:
    href = href.strip()
    if href.startswith("#") or href[:11].lower().startswith(_SKIPPED_SCHEMES):
        return None
    try:
        return _normal(base.join(URL(href)), rules)
    except (ValueError, TypeError):
        return None
