"""The demo publisher: a small local news site on 127.0.0.1 for `newswatch demo`.

    site = DemoSite().start()          # bundled articles; port chosen by the OS
    site.url                           # http://127.0.0.1:PORT
    site.publish(article)              # new articles appear in the feeds at once
    site.stop()

Pages (links are absolute, built from the request's Host header):

    /robots.txt              disallows /private/
    /feed.xml                RSS 2.0
    /partner/feed.xml        the same articles, links with utm_* / fbclid and a #fragment
    /articles/SLUG.html      article pages with header, nav, "also read" sidebar, newsletter
                             box, comments and footer around the article

Feeds and articles send ETag and Last-Modified and answer a matching conditional GET with 304.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import string
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import urlsplit

DEFAULT_ROBOTS = "User-agent: *\nDisallow: /private/\n"
SITE_NAME = "Orbital Desk"
TRACKING_SUFFIX = "?utm_source=partner&utm_medium=rss&utm_campaign=space&fbclid=IwAR0demo#comments"

Rendered = tuple[int, bytes, str, dict[str, str]]  # status, body, content type, extra headers


@dataclass
class DemoArticle:
    """One article of the demo site."""

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

    @property
    def path(self) -> str:
        return f"/articles/{self.slug}.html"

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


@functools.cache
def _article_template() -> string.Template:
    """The article page (article.html): the story inside real-looking boilerplate."""
    return string.Template(resources.files("newswatch.demo").joinpath("article.html").read_text("utf-8"))


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def esc(text: str) -> str:
    return html.escape(text, quote=True)


class DemoHandler(BaseHTTPRequestHandler):
    """Answers GET from the site's render(), with 304 for a matching conditional GET."""

    site: DemoSite
    protocol_version = "HTTP/1.1"
    server_version = "OrbitalDesk/1.0"

    def log_message(self, format: str, *args) -> None:
        return

    def do_GET(self) -> None:  # the name http.server calls
        target = urlsplit(self.path)  # also absolute-form targets (the site behind a proxy)
        host = self.headers.get("Host") or target.netloc or f"127.0.0.1:{self.site.port}"
        self.answer(target.path or "/", target.query, f"http://{host}")

    def answer(self, path: str, query: str, base: str) -> None:
        rendered = self.site.render(path, base)
        if rendered is None:
            return self.reply(404, b"not found\n", "text/plain", {})
        status, body, content_type, headers = rendered
        if status == 200 and self._not_modified(headers):
            return self.reply(304, b"", None, headers)
        return self.reply(status, body, content_type, headers)

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

    def reply(self, status: int, body: bytes, content_type: str | None, headers: dict[str, str]) -> None:
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


class DemoSite:
    """The demo news site; thread-safe; start() it, use `.url`, publish(), stop() it."""

    handler: type[DemoHandler] = DemoHandler
    unvalidated = frozenset({"/robots.txt"})  # routes answered without ETag / Last-Modified

    def __init__(
        self,
        articles: Iterable[DemoArticle] | None = None,
        *,
        name: str = SITE_NAME,
        host: str = "127.0.0.1",
        port: int = 0,
        robots: str = DEFAULT_ROBOTS,
    ) -> None:
        self.name = name
        self.robots = robots
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._articles: dict[str, DemoArticle] = {}
        self._server: ThreadingHTTPServer | None = None
        self._store(bundled_articles() if articles is None else articles)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> DemoSite:
        """Start serving in a background thread; return self."""
        self._server = self._serve(self.handler, self._port)
        return self

    def _serve(self, handler: type[BaseHTTPRequestHandler], port: int) -> ThreadingHTTPServer:
        bound = type(handler.__name__, (handler,), {"site": self})
        server = ThreadingHTTPServer((self._host, port), bound)
        server.daemon_threads = True
        # A short poll interval: stop() waits for the serving loop to notice.
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="news-site", daemon=True
        ).start()
        return server

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._server = None

    def __enter__(self) -> DemoSite:
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

    # ------------------------------------------------------------------ content

    def publish(self, *articles: DemoArticle) -> list[str]:
        """Add (or replace) articles; return their URLs. The feeds change at once."""
        self._store(articles)
        return [self.url + a.path for a in articles]

    def _store(self, articles: Iterable[DemoArticle]) -> None:
        with self._lock:
            for article in articles:
                self._articles[article.path] = article

    @property
    def articles(self) -> list[DemoArticle]:
        """The published articles, newest first."""
        with self._lock:
            items = list(self._articles.values())
        return sorted(items, key=lambda a: a.published, reverse=True)

    def feed_articles(self) -> list[DemoArticle]:
        """The articles the feeds list, newest first."""
        return self.articles

    # ------------------------------------------------------------------ rendering

    def routes(self, articles: list[DemoArticle], base: str) -> dict[str, Callable[[], tuple[bytes, str]]]:
        """Path → a function returning (body, content type), for the pages other than articles."""
        rss = "application/rss+xml; charset=utf-8"
        return {
            "/robots.txt": lambda: (self.robots.encode(), "text/plain; charset=utf-8"),
            "/feed.xml": lambda: (self.rss2(articles, base), rss),
            "/partner/feed.xml": lambda: (self.rss2(articles, base, link_suffix=TRACKING_SUFFIX), rss),
        }

    def render(self, path: str, base: str) -> Rendered | None:
        """Return (status, body, content type, extra headers) for `path`, or None for 404."""
        with self._lock:
            article = self._articles.get(path)
        if article is not None:
            return self._article_response(article, base)
        visible = self.feed_articles()
        route = self.routes(visible, base).get(path)
        if route is None:
            return None
        body, content_type = route()
        headers = {} if path in self.unvalidated else self._validators(body, visible)
        return 200, body, content_type, headers

    def _validators(self, body: bytes, articles: list[DemoArticle]) -> dict[str, str]:
        headers = {"ETag": '"' + hashlib.sha1(body).hexdigest()[:20] + '"'}
        if articles:
            headers["Last-Modified"] = http_date(max(a.published for a in articles))
        return headers

    def _article_response(self, article: DemoArticle, base: str) -> Rendered:
        body = self.article_body(article, base)
        content_type = "text/html"
        if article.declare_charset in ("header", "both"):
            content_type += f"; charset={article.charset}"
        return 200, body, content_type, self._validators(body, [article])

    def article_body(self, article: DemoArticle, base: str) -> bytes:
        return self.article_page(article, base).encode(article.charset, errors="xmlcharrefreplace")

    def canonical_url(self, article: DemoArticle, base: str) -> str:
        return f"{base}{article.path}"

    def article_page(self, article: DemoArticle, base: str) -> str:
        """Return the article's HTML page: the story inside real-looking boilerplate."""
        url = self.canonical_url(article, base)
        meta_charset = (
            f'<meta charset="{article.charset}">' if article.declare_charset in ("meta", "both") else ""
        )
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": article.title,
            "datePublished": article.published.isoformat(),
            "dateModified": article.published.isoformat(),
            "author": [{"@type": "Person", "name": article.author}] if article.author else [],
            "publisher": {"@type": "Organization", "name": self.name},
            "inLanguage": article.language,
            "mainEntityOfPage": url,
            "description": article.summary,
        }
        body = "\n".join(f"<p>{esc(p)}</p>" for p in article.paragraphs)
        related = "\n".join(
            f'<li><a href="{base}/articles/related-{i}.html">{esc(title)}</a></li>'
            for i, title in enumerate(article.related or ["More space news from the desk"])
        )
        return _article_template().substitute(
            language=article.language,
            meta_charset=meta_charset,
            title=esc(article.title),
            site_name=esc(self.name),
            summary=esc(article.summary),
            url=url,
            published=article.published.isoformat(),
            published_human=f"{article.published:%d %B %Y, %H:%M}",
            author=esc(article.author),
            section=esc(article.section),
            ld=json.dumps(ld, ensure_ascii=False),
            base=base,
            body=body,
            related=related,
        )

    def rss2(self, articles: list[DemoArticle], base: str, link_suffix: str = "") -> bytes:
        items = []
        for a in articles:
            link = f"{base}{a.path}{link_suffix}"
            items.append(
                f"""<item>
  <title>{esc(a.title)}</title>
  <link>{esc(link)}</link>
  <guid isPermaLink="false">{esc(self.name)}-{esc(a.slug)}</guid>
  <pubDate>{http_date(a.published)}</pubDate>
  <dc:creator>{esc(a.author)}</dc:creator>
  <category>{esc(a.section)}</category>
  <description>{esc(a.summary)}</description>
</item>"""
            )
        return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>{esc(self.name)}</title>
<link>{base}/</link>
<description>Space policy news</description>
<language>en</language>
{"".join(items)}
</channel>
</rss>
""".encode()


if __name__ == "__main__":  # python -m newswatch.demo.site: serve the demo site until Ctrl-C
    import sys
    import time

    demo = DemoSite(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765).start()
    print(f"serving {demo.url} (feeds: /feed.xml /partner/feed.xml); Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        demo.stop()
