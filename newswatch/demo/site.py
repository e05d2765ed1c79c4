"""A local news site for the demo and the tests: a real HTTP server on 127.0.0.1.

    site = NewsSite().start()          # bundled articles; port chosen by the OS
    site.url                           # http://127.0.0.1:PORT
    site.publish(article)              # new articles appear over time
    site.behave("/feed.xml", statuses=[429, 200], retry_after="1")
    site.hits("/feed.xml")             # what the crawler actually fetched
    site.stop()

Pages (links are absolute, built from the request's Host header, so the site also works
behind a proxy under another name):

    /robots.txt              disallows /private/
    /feed.xml                RSS 2.0        /atom.xml   Atom 1.0
    /rss1.xml                RSS 1.0 (RDF)  /rss091.xml RSS 0.91 (no dates)
    /partner/feed.xml        the same articles, links with utm_* / fbclid and a #fragment
    /news-sitemap.xml        Google News sitemap
    /sitemap.xml             sitemap index → /sitemaps/latest.xml, /sitemaps/archive.xml
    /news/ (and /)           listing: `article.teaser h2 a` (plus nav and "most read" links)
    /articles/SLUG.html      article pages with header, nav, "also read" sidebar, newsletter
                             box, comments and footer around the article
    /redirect/SLUG           301 → the article
    /private/SLUG.html       an article under the robots.txt-disallowed path
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

import hashlib
import html
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qsl, urlsplit

DEFAULT_ROBOTS = "User-agent: *\nDisallow: /private/\n"
SITE_NAME = "Orbital Desk"
HUGE_PAGE_BYTES = 6 * 1024 * 1024
PRIVATE_TARGET = "http://10.255.255.1/internal/secret"
METADATA_TARGET = "http://169.254.169.254/latest/meta-data/"
TRACKING_SUFFIX = "?utm_source=partner&utm_medium=rss&utm_campaign=space&fbclid=IwAR0demo#comments"


@dataclass
class DemoArticle:
    """One article of the demo site; `raw_html` (bytes) replaces the generated page."""

    slug: str
    title: str
    paragraphs: list[str]
    published: datetime
    summary: str = ""
    author: str = ""
    section: str = "Space"
    language: str = "en"
    related: list[str] = field(default_factory=list)
    charset: str = "utf-8"
    declare_charset: str = "both"  # "header", "meta", "both" or "none"
    updated: datetime | None = None
    directory: str = "articles"
    raw_html: bytes | None = None
    canonical: str | None = None  # path or URL for rel=canonical (default: the page itself)

    @property
    def path(self) -> str:
        return f"/{self.directory}/{self.slug}.html"

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def bundled_articles(now: datetime | None = None) -> list[DemoArticle]:
    """Return the synthetic articles shipped with the package, dated relative to `now`."""
    import yaml

    now = now or datetime.now(UTC)
    data = yaml.safe_load(resources.files("newswatch.demo").joinpath("articles.yaml").read_text("utf-8"))
    articles = []
    for item in data["articles"]:
        articles.append(
            DemoArticle(
                slug=item["slug"],
                title=item["title"],
                paragraphs=list(item["paragraphs"]),
                published=(now - timedelta(hours=float(item["hours_ago"]))).replace(microsecond=0),
                summary=item.get("summary", ""),
                author=item.get("author", ""),
                section=item.get("section", "Space"),
                language=item.get("language", "en"),
                related=list(item.get("related") or []),
                charset=item.get("charset", "utf-8"),
                declare_charset=item.get("declare_charset", "both"),
            )
        )
    return articles


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


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


class NewsSite:
    """The fixture news site; thread-safe; start() it, use `.url`, stop() it."""

    def __init__(
        self,
        articles: Iterable[DemoArticle] | None = None,
        *,
        name: str = SITE_NAME,
        host: str = "127.0.0.1",
        port: int = 0,
        robots: str = DEFAULT_ROBOTS,
        page_padding: int = 0,
    ) -> None:
        self.name = name
        self.robots = robots
        self.page_padding = page_padding
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._articles: dict[str, DemoArticle] = {}
        self._pages: dict[str, tuple[bytes, str]] = {}
        self._behaviours: dict[str, Behaviour] = {}
        self.requests: list[RequestRecord] = []
        self._server: ThreadingHTTPServer | None = None
        self._internal: ThreadingHTTPServer | None = None
        self.internal_hits = 0
        for article in bundled_articles() if articles is None else articles:
            self._articles[article.path] = article

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> NewsSite:
        """Start serving in background threads; return self."""
        handler = type("Handler", (_Handler,), {"site": self})
        self._server = ThreadingHTTPServer((self._host, self._port), handler)
        self._server.daemon_threads = True
        internal = type("InternalHandler", (_InternalHandler,), {"site": self})
        self._internal = ThreadingHTTPServer((self._host, 0), internal)
        self._internal.daemon_threads = True
        for server in (self._server, self._internal):
            # A short poll interval: stop() waits for the serving loop to notice.
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="news-site", daemon=True
            ).start()
        return self

    def stop(self) -> None:
        for server in (self._server, self._internal):
            if server is not None:
                server.shutdown()
                server.server_close()
        self._server = self._internal = None

    def __enter__(self) -> NewsSite:
        return self.start() if self._server is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the site first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def internal_url(self) -> str:
        """A second server on another loopback port (what /redirect-other-port points at)."""
        assert self._internal is not None, "start() the site first"
        return f"http://{self._host}:{self._internal.server_address[1]}/internal/admin"

    # ------------------------------------------------------------------ content

    def publish(self, *articles: DemoArticle) -> list[str]:
        """Add (or replace) articles; return their URLs. Feeds and sitemaps change at once."""
        with self._lock:
            for article in articles:
                self._articles[article.path] = article
        return [self.url + a.path for a in articles]

    def unpublish(self, slug: str) -> None:
        with self._lock:
            self._articles = {p: a for p, a in self._articles.items() if a.slug != slug}

    @property
    def articles(self) -> list[DemoArticle]:
        """The published articles, newest first."""
        with self._lock:
            items = list(self._articles.values())
        return sorted(items, key=lambda a: a.published, reverse=True)

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

    def render(self, path: str, base: str) -> tuple[int, bytes, str, dict[str, str]] | None:
        """Return (status, body, content type, extra headers) for `path`, or None for 404."""
        with self._lock:
            page = self._pages.get(path)
            article = self._articles.get(path)
        if page is not None:
            return 200, page[0], page[1], {}
        if article is not None:
            return self._article_response(article, base)
        articles = self.articles
        visible = [a for a in articles if a.directory == "articles"]
        routes = {
            "/robots.txt": lambda: (self.robots.encode(), "text/plain; charset=utf-8"),
            "/feed.xml": lambda: (self.rss2(visible, base), "application/rss+xml; charset=utf-8"),
            "/atom.xml": lambda: (self.atom(visible, base), "application/atom+xml; charset=utf-8"),
            "/rss1.xml": lambda: (self.rss1(visible, base), "application/rdf+xml; charset=utf-8"),
            "/rss091.xml": lambda: (self.rss091(visible, base), "application/rss+xml; charset=utf-8"),
            "/partner/feed.xml": lambda: (
                self.rss2(visible, base, link_suffix=TRACKING_SUFFIX),
                "application/rss+xml; charset=utf-8",
            ),
            "/news-sitemap.xml": lambda: (self.news_sitemap(visible, base), "application/xml"),
            "/sitemap.xml": lambda: (self.sitemap_index(visible, base), "application/xml"),
            "/sitemaps/latest.xml": lambda: (
                self.news_sitemap(visible[: len(visible) // 2 or 1], base),
                "application/xml",
            ),
            "/sitemaps/archive.xml": lambda: (
                self.news_sitemap(visible[len(visible) // 2 or 1 :], base),
                "application/xml",
            ),
            "/": lambda: (self.listing(visible, base), "text/html; charset=utf-8"),
            "/news/": lambda: (self.listing(visible, base), "text/html; charset=utf-8"),
            "/bomb.xml": lambda: (BOMB_FEED, "application/rss+xml"),
            "/malformed.xml": lambda: (self.malformed(visible, base), "application/rss+xml; charset=utf-8"),
            "/hostile/feed.xml": lambda: (self.hostile_feed(base), "application/rss+xml; charset=utf-8"),
            "/huge.html": lambda: (self.huge_page(), "text/html; charset=utf-8"),
        }
        if path in routes:
            body, content_type = routes[path]()
            headers = {}
            if path not in ("/robots.txt", "/huge.html"):
                headers = self._validators(body, visible)
            return 200, body, content_type, headers
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

    def _validators(self, body: bytes, articles: list[DemoArticle]) -> dict[str, str]:
        headers = {"ETag": '"' + hashlib.sha1(body).hexdigest()[:20] + '"'}
        if articles:
            newest = max((a.updated or a.published) for a in articles)
            headers["Last-Modified"] = _http_date(newest)
        return headers

    def _article_response(self, article: DemoArticle, base: str) -> tuple[int, bytes, str, dict[str, str]]:
        if article.raw_html is not None:
            body = article.raw_html
        else:
            body = self.article_page(article, base).encode(article.charset, errors="xmlcharrefreplace")
        content_type = "text/html"
        if article.declare_charset in ("header", "both"):
            content_type += f"; charset={article.charset}"
        return 200, body, content_type, self._validators(body, [article])

    def article_page(self, article: DemoArticle, base: str) -> str:
        """Return the article's HTML page: the story inside real-looking boilerplate."""
        url = f"{base}{article.path}"
        if article.canonical:
            url = article.canonical if "://" in article.canonical else f"{base}{article.canonical}"
        meta_charset = (
            f'<meta charset="{article.charset}">' if article.declare_charset in ("meta", "both") else ""
        )
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": article.title,
            "datePublished": article.published.isoformat(),
            "dateModified": (article.updated or article.published).isoformat(),
            "author": [{"@type": "Person", "name": article.author}] if article.author else [],
            "publisher": {"@type": "Organization", "name": self.name},
            "inLanguage": article.language,
            "mainEntityOfPage": url,
            "description": article.summary,
        }
        body = "\n".join(f"<p>{_esc(p)}</p>" for p in article.paragraphs)
        related = "\n".join(
            f'<li><a href="{base}/articles/related-{i}.html">{_esc(title)}</a></li>'
            for i, title in enumerate(article.related or ["More space news from the desk"])
        )
        padding = ""
        if self.page_padding:
            chunk = "var trackingConfig={id:'OD-123',events:['view','scroll','click'],debug:false};"
            padding = f"<script>{chunk * (self.page_padding // len(chunk) + 1)}</script>"
        return f"""<!DOCTYPE html>
<html lang="{article.language}">
<head>
{meta_charset}
<title>{_esc(article.title)} | {_esc(self.name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{_esc(article.summary)}">
<link rel="canonical" href="{url}">
<meta property="og:type" content="article">
<meta property="og:title" content="{_esc(article.title)}">
<meta property="og:url" content="{url}">
<meta property="og:site_name" content="{_esc(self.name)}">
<meta property="article:published_time" content="{article.published.isoformat()}">
<meta name="author" content="{_esc(article.author)}">
<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>
<style>body{{font-family:serif}} .sidebar{{float:right;width:30%}} .ticker{{background:#c00;color:#fff}}</style>
{padding}
</head>
<body>
<header class="site-header">
  <a class="logo" href="{base}/">{_esc(self.name)}</a>
  <nav class="main-nav"><ul>
    <li><a href="{base}/news/">Latest</a></li><li><a href="{base}/news/">Launches</a></li>
    <li><a href="{base}/news/">ISS</a></li><li><a href="{base}/news/">Roscosmos</a></li>
    <li><a href="{base}/news/">Policy</a></li><li><a href="{base}/news/">Science</a></li>
  </ul></nav>
  <div class="ticker">Live: ISS deorbit planning briefing at 14:00 UTC — follow our Roscosmos coverage</div>
</header>
<div class="page">
<main>
<article class="story">
  <p class="section"><a href="{base}/news/">{_esc(article.section)}</a></p>
  <h1>{_esc(article.title)}</h1>
  <p class="byline">By <span class="author">{_esc(article.author)}</span> ·
    <time datetime="{article.published.isoformat()}">{article.published:%d %B %Y, %H:%M} UTC</time></p>
  <div class="article-body">
{body}
  </div>
  <div class="share">Share: <a href="#">X</a> <a href="#">Facebook</a> <a href="#">Telegram</a></div>
</article>
<aside class="newsletter">
  <h3>The Orbit newsletter</h3>
  <p>Roscosmos, ISS and deorbit news in your inbox every morning. Sign up now.</p>
  <form><input type="email" placeholder="you@example.org"><button>Subscribe</button></form>
</aside>
<section class="comments">
  <h3>3 comments</h3>
  <div class="comment"><b>orbit_fan</b> Still waiting for the ISS deorbit schedule from Roscosmos.</div>
  <div class="comment"><b>kosmonavt</b> Роскосмос опять переносит сроки.</div>
  <div class="comment"><b>LEOwatcher</b> Great coverage as always.</div>
</section>
</main>
<aside class="sidebar">
  <h3>Also read</h3>
  <ul class="also-read">
{related}
  </ul>
  <h3>Most read</h3>
  <ol class="most-read">
    <li><a href="{base}/articles/most-read-1.html">Roscosmos chief meets NASA administrator</a></li>
    <li><a href="{base}/articles/most-read-2.html">How the ISS will be deorbited, step by step</a></li>
  </ol>
  <div class="ad">Advertisement: Book your stratospheric balloon flight today</div>
</aside>
</div>
<footer class="site-footer">
  <p>© {_esc(self.name)} · <a href="{base}/about">About</a> · <a href="{base}/contact">Contact</a> ·
  <a href="{base}/privacy">Privacy</a> · Independent space policy journalism since 2009</p>
</footer>
</body>
</html>
"""

    def listing(self, articles: list[DemoArticle], base: str) -> bytes:
        teasers = "\n".join(
            f'<article class="teaser"><h2><a href="{base}{a.path}">{_esc(a.title)}</a></h2>'
            f"<p>{_esc(a.summary)}</p></article>"
            for a in articles
        )
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Latest news | {_esc(self.name)}</title></head>
<body>
<header><nav><a href="{base}/">Home</a> <a href="{base}/about">About</a> <a href="{base}/private/admin.html">Staff</a></nav></header>
<main><h1>Latest news</h1>
{teasers}
</main>
<aside class="most-read"><h3>Most read</h3>
<a href="{base}/articles/most-read-1.html">Roscosmos chief meets NASA administrator</a></aside>
<footer><a href="{base}/privacy">Privacy</a></footer>
</body></html>
"""
        return page.encode("utf-8")

    def rss2(self, articles: list[DemoArticle], base: str, link_suffix: str = "") -> bytes:
        items = []
        for a in articles:
            link = f"{base}{a.path}{link_suffix}"
            items.append(
                f"""<item>
  <title>{_esc(a.title)}</title>
  <link>{_esc(link)}</link>
  <guid isPermaLink="false">{_esc(self.name)}-{_esc(a.slug)}</guid>
  <pubDate>{_http_date(a.published)}</pubDate>
  <dc:creator>{_esc(a.author)}</dc:creator>
  <category>{_esc(a.section)}</category>
  <description>{_esc(a.summary)}</description>
</item>"""
            )
        return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>{_esc(self.name)}</title>
<link>{base}/</link>
<description>Space policy news</description>
<language>en</language>
{"".join(items)}
</channel>
</rss>
""".encode()

    def atom(self, articles: list[DemoArticle], base: str) -> bytes:
        updated = max((a.updated or a.published for a in articles), default=datetime(2024, 1, 1, tzinfo=UTC))
        entries = "".join(
            f"""<entry>
  <title>{_esc(a.title)}</title>
  <link rel="alternate" type="text/html" href="{base}{a.path}"/>
  <id>tag:orbital-desk,2024:{_esc(a.slug)}</id>
  <published>{a.published.isoformat()}</published>
  <updated>{(a.updated or a.published).isoformat()}</updated>
  <author><name>{_esc(a.author)}</name></author>
  <summary>{_esc(a.summary)}</summary>
</entry>
"""
            for a in articles
        )
        return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>{_esc(self.name)}</title>
<id>{base}/</id>
<link rel="self" href="{base}/atom.xml"/>
<updated>{updated.isoformat()}</updated>
{entries}</feed>
""".encode()

    def rss1(self, articles: list[DemoArticle], base: str) -> bytes:
        seq = "".join(f'<rdf:li rdf:resource="{base}{a.path}"/>' for a in articles)
        items = "".join(
            f"""<item rdf:about="{base}{a.path}">
  <title>{_esc(a.title)}</title><link>{base}{a.path}</link>
  <description>{_esc(a.summary)}</description><dc:date>{a.published.isoformat()}</dc:date>
  <dc:creator>{_esc(a.author)}</dc:creator>
</item>
"""
            for a in articles
        )
        return f"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="{base}/rss1.xml"><title>{_esc(self.name)}</title><link>{base}/</link>
<description>Space policy news</description><items><rdf:Seq>{seq}</rdf:Seq></items></channel>
{items}</rdf:RDF>
""".encode()

    def rss091(self, articles: list[DemoArticle], base: str) -> bytes:
        items = "".join(
            f"<item><title>{_esc(a.title)}</title><link>{base}{a.path}</link>"
            f"<description>{_esc(a.summary)}</description></item>\n"
            for a in articles
        )
        return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="0.91"><channel><title>{_esc(self.name)}</title><link>{base}/</link>
<description>Space policy news</description><language>en</language>
{items}</channel></rss>
""".encode("iso-8859-1", errors="xmlcharrefreplace")

    def news_sitemap(self, articles: list[DemoArticle], base: str) -> bytes:
        urls = "".join(
            f"""<url><loc>{base}{a.path}</loc><lastmod>{(a.updated or a.published).isoformat()}</lastmod>
<news:news><news:publication><news:name>{_esc(self.name)}</news:name><news:language>{a.language}</news:language></news:publication>
<news:publication_date>{a.published.isoformat()}</news:publication_date><news:title>{_esc(a.title)}</news:title></news:news></url>
"""
            for a in articles
        )
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{urls}</urlset>
""".encode()

    def sitemap_index(self, articles: list[DemoArticle], base: str) -> bytes:
        half = len(articles) // 2 or 1
        latest, archive = articles[:half], articles[half:]

        def newest(items: list[DemoArticle]) -> str:
            return max((a.published for a in items), default=datetime(2020, 1, 1, tzinfo=UTC)).isoformat()

        # The archive is listed first: the crawler must order children by lastmod itself.
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{base}/sitemaps/archive.xml</loc><lastmod>{newest(archive)}</lastmod></sitemap>
<sitemap><loc>{base}/sitemaps/latest.xml</loc><lastmod>{newest(latest)}</lastmod></sitemap>
</sitemapindex>
""".encode()

    def malformed(self, articles: list[DemoArticle], base: str) -> bytes:
        good = self.rss2(articles[:2], base).decode()
        cut = good.index("</channel>")
        return (good[:cut] + "<item><title>Broken & unfinished <b>item</title><description>cut off").encode()

    def hostile_feed(self, base: str) -> bytes:
        entries = [
            ("A page bigger than the size limit", f"{base}/huge.html"),
            ("Redirect to a cloud metadata address", f"{base}/redirect-metadata"),
            ("A page robots.txt disallows", f"{base}/private/staff-only.html"),
        ]
        entries += [(a.title, f"{base}{a.path}") for a in self.articles if a.directory == "articles"][:2]
        items = "".join(f"<item><title>{_esc(t)}</title><link>{_esc(u)}</link></item>\n" for t, u in entries)
        return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Hostile</title><link>{base}/</link>
{items}</channel></rss>
""".encode()

    def huge_page(self) -> bytes:
        paragraph = b"<p>" + b"Filler text that only makes the page enormous. " * 40 + b"</p>\n"
        count = HUGE_PAGE_BYTES // len(paragraph) + 1
        return b"<html><body>" + paragraph * count + b"</body></html>"


BOMB_FEED = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>http://127.0.0.1/articles/bomb.html</link></item>
</channel></rss>
"""


class _Handler(BaseHTTPRequestHandler):
    site: NewsSite
    protocol_version = "HTTP/1.1"
    server_version = "OrbitalDesk/1.0"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet
        return

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        target = urlsplit(self.path)  # also absolute-form targets (the site behind a proxy)
        path, query = target.path or "/", target.query
        host = self.headers.get("Host") or target.netloc or f"127.0.0.1:{self.site.port}"
        base = f"http://{host}"
        status, behaviour = self.site._take_behaviour(path)
        if behaviour and behaviour.delay:
            time.sleep(behaviour.delay)
        if status is not None:
            headers = {}
            if behaviour and behaviour.retry_after is not None and status in (429, 503):
                headers["Retry-After"] = behaviour.retry_after
            if behaviour and behaviour.redirect and 300 <= status < 400:
                headers["Location"] = behaviour.redirect
            return self._send(path, query, status, f"status {status}\n".encode(), "text/plain", headers)
        if behaviour and behaviour.redirect:
            return self._send(
                path, query, behaviour.redirect_status, b"", "text/plain", {"Location": behaviour.redirect}
            )
        rendered = self.site.render(path, base)
        if rendered is None:
            return self._send(path, query, 404, b"not found\n", "text/plain", {})
        status, body, content_type, headers = rendered
        if status == 200 and self._not_modified(headers):
            return self._send(path, query, 304, b"", None, headers)
        return self._send(path, query, status, body, content_type, headers)

    def _not_modified(self, headers: dict[str, str]) -> bool:
        etag = headers.get("ETag")
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return etag is not None and etag in [t.strip() for t in if_none_match.split(",")]
        since = self.headers.get("If-Modified-Since")
        if since and headers.get("Last-Modified"):
            try:
                return parsedate_to_datetime(headers["Last-Modified"]) <= parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
        return False

    def _send(
        self, path: str, query: str, status: int, body: bytes, content_type: str | None, headers
    ) -> None:
        self.site._record(
            RequestRecord(
                "GET", path, query, {k: v for k, v in self.headers.items()}, status, time.monotonic()
            )
        )
        try:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)) if status != 304 else "0")
            self.end_headers()
            if status != 304 and body:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class _InternalHandler(BaseHTTPRequestHandler):
    """An "internal service" on another port: a redirect must never reach it unguarded."""

    site: NewsSite
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        return

    def do_GET(self) -> None:  # noqa: N802
        with self.site._lock:
            self.site.internal_hits += 1
        body = b"<html><body><h1>Internal admin</h1><p>secret configuration</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def query_params(record: RequestRecord) -> dict[str, str]:
    return dict(parse_qsl(record.query, keep_blank_values=True))


if __name__ == "__main__":  # python -m newswatch.demo.site: serve the demo site until Ctrl-C
    import sys

    demo = NewsSite(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765).start()
    print(f"serving {demo.url} (feeds: /feed.xml /atom.xml /news-sitemap.xml /news/); Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        demo.stop()
