"""The fixture news site for the tests and benchmarks: the demo publisher
(newswatch/demo/site.py) plus every feed format, sitemaps, a listing, scripted misbehaviour,
a request log and hostile endpoints. A real HTTP server on 127.0.0.1.

    site = NewsSite().start()          # bundled articles; port chosen by the OS
    site.publish(article)              # new articles appear over time
    site.behave("/feed.xml", statuses=[429, 200], retry_after="1")
    site.hits("/feed.xml")             # what the crawler actually fetched
    site.most_at_once("/feed.xml")     # the most requests to it answered at the same moment
    site.stop()

Tests get a started one from the `site` fixture (tests/conftest.py). Pages beyond the demo's
/robots.txt, /feed.xml, /partner/feed.xml and /articles/SLUG.html:

    /atom.xml                Atom 1.0       /rss1.xml   RSS 1.0 (RDF)
    /rss091.xml              RSS 0.91 (no dates)
    /news-sitemap.xml        Google News sitemap
    /sitemap.xml             sitemap index → /sitemaps/latest.xml, /sitemaps/archive.xml
    /news/ (and /)           listing: `article.teaser h2 a` (plus nav and "most read" links)
    /redirect/SLUG           301 → the article
    /private/SLUG.html       an article under the robots.txt-disallowed path (directory="private")
    /huge.html               a page bigger than 5 MB
    /bomb.xml                an RSS feed with an entity-expansion ("billion laughs") DTD
    /malformed.xml           an RSS feed that breaks off in the middle
    /redirect-private        302 → http://10.255.255.1/… (a private address)
    /redirect-metadata       302 → http://169.254.169.254/… (link-local cloud metadata)
    /redirect-other-port     302 → a second server on another loopback port (`internal_url`)
    /hostile/feed.xml        RSS whose items lead to the hostile pages above

Feeds, sitemaps, listings and articles send ETag and Last-Modified and answer a matching
conditional GET with 304. `behave(path, …)` makes any path answer with given statuses first
(429 with Retry-After, 500, …), slowly, or with a redirect.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

from fixture_feeds import BOMB_FEED, FeedFormats

from newswatch.demo.site import DemoArticle, DemoHandler, DemoSite, Rendered

PRIVATE_TARGET = "http://10.255.255.1/internal/secret"
METADATA_TARGET = "http://169.254.169.254/latest/meta-data/"


@dataclass
class FixtureArticle(DemoArticle):
    """A demo article that can also live elsewhere on the site, carry its own HTML, or point
    rel=canonical at another page."""

    directory: str = "articles"
    raw_html: bytes | None = None  # served instead of the generated page
    canonical: str | None = None  # path or URL for rel=canonical (default: the page itself)

    @property
    def path(self) -> str:
        return f"/{self.directory}/{self.slug}.html"


def fixture_article(article: DemoArticle) -> FixtureArticle:
    """Return `article` as a FixtureArticle (the same object if it is one)."""
    if isinstance(article, FixtureArticle):
        return article
    return FixtureArticle(**{f.name: getattr(article, f.name) for f in fields(DemoArticle)})


def syndicated_copy(article: DemoArticle, slug: str, lead: str, *, hours_later: float = 1.0) -> DemoArticle:
    """Return the same story as another outlet runs it: a new lead paragraph, the rest kept."""
    return replace(
        article,
        slug=slug,
        paragraphs=[lead, *article.paragraphs[1:], "This report was distributed by a news agency."],
        published=article.published + timedelta(hours=hours_later),
    )


@dataclass
class Behaviour:
    """How one path misbehaves: `statuses` are answered first, one per request, in order."""

    statuses: list[int] = field(default_factory=list)
    retry_after: str | None = None
    delay: float = 0.0
    redirect: str | None = None
    redirect_status: int = 302


@dataclass
class RequestRecord:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int
    at: float


class _Handler(DemoHandler):
    """The demo handler with scripted behaviours first and every answer logged."""

    site: NewsSite

    def answer(self, path: str, query: str, base: str) -> None:
        self.site._enter(path)
        try:
            self._answer(path, query, base)
        finally:
            self.site._leave(path)

    def _answer(self, path: str, query: str, base: str) -> None:
        self.logged_as = (path, query)
        status, behaviour = self.site._take_behaviour(path)
        if behaviour and behaviour.delay:
            time.sleep(behaviour.delay)
        if status is not None:
            headers = {}
            if behaviour and behaviour.retry_after is not None and status in (429, 503):
                headers["Retry-After"] = behaviour.retry_after
            if behaviour and behaviour.redirect and 300 <= status < 400:
                headers["Location"] = behaviour.redirect
            return self.reply(status, f"status {status}\n".encode(), "text/plain", headers)
        if behaviour and behaviour.redirect:
            return self.reply(behaviour.redirect_status, b"", "text/plain", {"Location": behaviour.redirect})
        return super().answer(path, query, base)

    def reply(self, status: int, body: bytes, content_type: str | None, headers: dict[str, str]) -> None:
        path, query = self.logged_as
        self.site._record(
            RequestRecord("GET", path, query, dict(self.headers.items()), status, time.monotonic())
        )
        super().reply(status, body, content_type, headers)


class _InternalHandler(BaseHTTPRequestHandler):
    """An "internal service" on another port: a redirect must never reach it unguarded."""

    site: NewsSite
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:
        return

    def do_GET(self) -> None:  # the name http.server calls
        with self.site._lock:
            self.site.internal_hits += 1
        body = b"<html><body><h1>Internal admin</h1><p>secret configuration</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class NewsSite(FeedFormats, DemoSite):
    """The fixture news site; thread-safe; start() it, use `.url`, stop() it."""

    handler = _Handler
    unvalidated = frozenset({"/robots.txt", "/huge.html"})

    def __init__(
        self, articles: Iterable[DemoArticle] | None = None, *, page_padding: int = 0, **kwargs
    ) -> None:
        self.page_padding = page_padding
        self._pages: dict[str, tuple[bytes, str]] = {}
        self._behaviours: dict[str, Behaviour] = {}
        self.requests: list[RequestRecord] = []
        self._in_flight: dict[str, int] = {}
        self._most_in_flight: dict[str, int] = {}
        self._internal = None
        self.internal_hits = 0
        super().__init__(articles, **kwargs)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> NewsSite:
        super().start()
        self._internal = self._serve(_InternalHandler, 0)
        return self

    def stop(self) -> None:
        if self._internal is not None:
            self._internal.shutdown()
            self._internal.server_close()
        self._internal = None
        super().stop()

    @property
    def internal_url(self) -> str:
        """A second server on another loopback port (what /redirect-other-port points at)."""
        assert self._internal is not None, "start() the site first"
        return f"http://{self._host}:{self._internal.server_address[1]}/internal/admin"

    # ------------------------------------------------------------------ content

    def _store(self, articles: Iterable[DemoArticle]) -> None:
        super()._store([fixture_article(a) for a in articles])

    def feed_articles(self) -> list[DemoArticle]:
        return [a for a in self.articles if getattr(a, "directory", "articles") == "articles"]

    def article_url(self, slug: str) -> str:
        for article in self.articles:
            if article.slug == slug:
                return self.url + article.path
        raise KeyError(slug)

    def add_page(self, path: str, body: bytes, content_type: str = "text/html; charset=utf-8") -> str:
        """Serve `body` at `path` (outside the feeds); return its URL."""
        with self._lock:
            self._pages[path] = (body, content_type)
        return self.url + path

    def behave(self, path: str, **kwargs) -> None:
        """Make `path` misbehave: statuses=[429, 500], retry_after="1", delay=2.0, redirect=URL."""
        with self._lock:
            self._behaviours[path] = Behaviour(**kwargs)

    # ------------------------------------------------------------------ the request log

    def hits(self, path: str) -> int:
        """Return how many requests reached `path` (query string ignored)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def statuses(self, path: str) -> list[int]:
        with self._lock:
            return [r.status for r in self.requests if r.path == path]

    def answering(self, path: str) -> int:
        """Return how many requests to `path` are being answered now (e.g. held by a delay)."""
        with self._lock:
            return self._in_flight.get(path, 0)

    def most_at_once(self, path: str) -> int:
        """Return the most requests to `path` that were being answered at the same moment."""
        with self._lock:
            return self._most_in_flight.get(path, 0)

    def _enter(self, path: str) -> None:
        with self._lock:
            now = self._in_flight[path] = self._in_flight.get(path, 0) + 1
            self._most_in_flight[path] = max(now, self._most_in_flight.get(path, 0))

    def _leave(self, path: str) -> None:
        with self._lock:
            self._in_flight[path] -= 1

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.internal_hits = 0

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def _take_behaviour(self, path: str) -> tuple[int | None, Behaviour | None]:
        with self._lock:
            behaviour = self._behaviours.get(path)
            if behaviour is None:
                return None, None
            status = behaviour.statuses.pop(0) if behaviour.statuses else None
            return status, behaviour

    # ------------------------------------------------------------------ rendering

    def routes(self, articles: list[DemoArticle], base: str):
        rss, xml, page = "application/rss+xml; charset=utf-8", "application/xml", "text/html; charset=utf-8"
        half = len(articles) // 2 or 1
        return {
            **super().routes(articles, base),
            "/atom.xml": lambda: (self.atom(articles, base), "application/atom+xml; charset=utf-8"),
            "/rss1.xml": lambda: (self.rss1(articles, base), "application/rdf+xml; charset=utf-8"),
            "/rss091.xml": lambda: (self.rss091(articles, base), rss),
            "/news-sitemap.xml": lambda: (self.news_sitemap(articles, base), xml),
            "/sitemap.xml": lambda: (self.sitemap_index(articles, base), xml),
            "/sitemaps/latest.xml": lambda: (self.news_sitemap(articles[:half], base), xml),
            "/sitemaps/archive.xml": lambda: (self.news_sitemap(articles[half:], base), xml),
            "/": lambda: (self.listing(articles, base), page),
            "/news/": lambda: (self.listing(articles, base), page),
            "/bomb.xml": lambda: (BOMB_FEED, "application/rss+xml"),
            "/malformed.xml": lambda: (self.malformed(articles, base), rss),
            "/hostile/feed.xml": lambda: (self.hostile_feed(base), rss),
            "/huge.html": lambda: (self.huge_page(), page),
        }

    def render(self, path: str, base: str) -> Rendered | None:
        with self._lock:
            page = self._pages.get(path)
        if page is not None:
            return 200, page[0], page[1], {}
        rendered = super().render(path, base)
        if rendered is not None:
            return rendered
        if path.startswith("/redirect/"):
            slug = path.removeprefix("/redirect/")
            return 301, b"", "text/plain", {"Location": f"{base}/articles/{slug}.html"}
        redirects = {
            "/redirect-private": PRIVATE_TARGET,
            "/redirect-metadata": METADATA_TARGET,
            "/redirect-other-port": self.internal_url,
        }
        if path in redirects:
            return 302, b"", "text/plain", {"Location": redirects[path]}
        return None

    def article_body(self, article: DemoArticle, base: str) -> bytes:
        raw = getattr(article, "raw_html", None)
        return raw if raw is not None else super().article_body(article, base)

    def canonical_url(self, article: DemoArticle, base: str) -> str:
        canonical = getattr(article, "canonical", None)
        if canonical:
            return canonical if "://" in canonical else f"{base}{canonical}"
        return super().canonical_url(article, base)

    def article_page(self, article: DemoArticle, base: str) -> str:
        page = super().article_page(article, base)
        if not self.page_padding:
            return page
        chunk = "var trackingConfig={id:'OD-123',events:['view','scroll','click'],debug:false};"
        padding = f"<script>{chunk * (self.page_padding // len(chunk) + 1)}</script>"
        return page.replace("\n</head>", f"\n{padding}\n</head>", 1)
