"""One record per page: redirects, canonical query order, tracking parameters.

Sites that behave like real ones: links without the trailing slash the
server redirects to, pages reached by several redirect chains, the same
query in another order, links tagged with ``utm_*`` and click ids.
"""

from __future__ import annotations

from collections import Counter

import pytest

from scrapejobs.crawler import Crawler
from scrapejobs.crawler.urls import TRACKING_PARAMETERS, QueryRules, normalise
from tests.crawl_sites import ScriptedSite, links, page, redirect, serve
from tests.crawling import crawl

PAGES = 20


def slash_site() -> ScriptedSite:
    """``/`` and /p1/../p20/: links come with and without the slash each page 301s to."""
    site = ScriptedSite()
    names = [f"/p{n}" for n in range(1, PAGES + 1)]
    both = [form for name in names for form in (name, f"{name}/")]
    site.routes["/"] = links(*both)
    for name in names:
        site.routes[name] = redirect(f"{name}/", status=301)
        site.routes[f"{name}/"] = links(*both, title=name)
    return site


@pytest.mark.parametrize("concurrency", [1, 8])
async def test_links_that_redirect_are_recorded_once_per_page(
    crawler: Crawler, concurrency: int
) -> None:
    async with serve(slash_site()) as site:
        result = await crawl(
            crawler,
            site.origin,
            respectRobots=False,
            maxPages=PAGES + 1,
            maxConcurrentRequests=concurrency,
        )
        requests = Counter(site.paths())
    finals = [p.final_url for p in result.pages]
    assert len(finals) == len(set(finals)) == PAGES + 1
    assert sorted(finals) == sorted([site.url("/"), *(site.url(f"/p{n}/") for n in range(1, 21))])
    # Each page fetched once: a redirect to a page fetched (or being fetched) stops there.
    assert {path: n for path, n in requests.items() if n > 1} == {}


async def test_a_page_behind_three_redirect_chains_is_stored_once(
    crawler: Crawler, site: ScriptedSite
) -> None:
    site.routes["/"] = links("/a", "/b", "/final")
    site.routes["/a"] = redirect("/final")
    site.routes["/b"] = redirect("/c")
    site.routes["/c"] = redirect("/final?utm_source=chain")
    site.routes["/final"] = page(title="final")
    result = await crawl(crawler, site.origin, respectRobots=False, maxConcurrentRequests=1)
    assert [p.final_url for p in result.pages].count(site.url("/final")) == 1
    assert len(result.pages) == 2
    assert site.count("/final") == 1


async def test_duplicates_give_their_place_in_max_pages_back(
    crawler: Crawler, site: ScriptedSite
) -> None:
    """maxPages counts pages: a redirect to a page already stored does not spend one."""
    site.routes["/"] = links("/x", "/y", "/z", "/one/")
    for name in ("/x", "/y", "/z"):
        site.routes[name] = redirect("/one/")
    site.routes["/one/"] = links("/two", "/three")
    site.routes["/two"] = page()
    site.routes["/three"] = page()
    result = await crawl(
        crawler, site.origin, respectRobots=False, maxPages=4, maxConcurrentRequests=1
    )
    assert sorted(p.final_url.removeprefix(site.origin) for p in result.pages) == [
        "/",
        "/one/",
        "/three",
        "/two",
    ]


async def test_query_order_does_not_make_another_page(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/"] = links("/s?b=2&a=1", "/s?a=1&b=2", "/s?a=1&b=2&")
    site.routes["/s"] = page()
    result = await crawl(crawler, site.origin, respectRobots=False)
    assert site.count("/s") == 1
    assert sorted(p.url for p in result.pages) == [site.url("/"), site.url("/s?a=1&b=2")]


async def test_tracking_parameters_are_dropped(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/"] = links(
        "/t?id=1&utm_source=news&utm_medium=mail",
        "/t?fbclid=abc&id=1",
        "/t?gclid=x&id=1",
        "/only?utm_campaign=spring",
    )
    site.routes["/t"] = page()
    site.routes["/only"] = page()
    result = await crawl(crawler, site.origin, respectRobots=False)
    assert sorted(p.url for p in result.pages) == [
        site.url("/"),
        site.url("/only"),
        site.url("/t?id=1"),
    ]
    assert [hit.query for hit in site.hits if hit.path == "/t"] == ["id=1"]


async def test_a_job_chooses_which_parameters_to_drop(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/"] = links("/t?id=1&utm_source=a", "/t?id=1&utm_source=b", "/t?id=1&sid=9")
    site.routes["/t"] = page()
    kept = await crawl(crawler, site.origin, respectRobots=False, dropQueryParameters=[])
    assert site.count("/t") == 3
    assert len(kept.pages) == 4
    site.hits.clear()
    own = await crawl(crawler, site.origin, respectRobots=False, dropQueryParameters=["sid"])
    assert sorted(p.url.removeprefix(site.origin) for p in own.pages) == [
        "/",
        "/t?id=1",
        "/t?id=1&utm_source=a",
        "/t?id=1&utm_source=b",
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://e.com/p?b=2&a=1", "http://e.com/p?a=1&b=2"),
        ("http://e.com/p?a=1&&b=2&", "http://e.com/p?a=1&b=2"),
        ("http://e.com/p?utm_source=x", "http://e.com/p"),
        ("http://e.com/p?UTM_Medium=x&q=1", "http://e.com/p?q=1"),
        ("http://e.com/p?utm=1", "http://e.com/p?utm=1"),  # not a utm_ parameter
        ("http://e.com/p?q=a%20b", "http://e.com/p?q=a+b"),
        ("http://e.com/p?msclkid=1&_ga=2&mc_eid=3&x=y", "http://e.com/p?x=y"),
    ],
)
def test_canonical_queries(url: str, expected: str) -> None:
    assert normalise(url) == (expected, "http://e.com")


def test_query_rules_take_names_and_prefixes() -> None:
    rules = QueryRules(["session*", "ref"])
    assert normalise("http://e.com/?sessionid=1&ref=2&utm_source=3", rules) == (
        "http://e.com/?utm_source=3",
        "http://e.com",
    )
    assert "utm_*" in TRACKING_PARAMETERS
