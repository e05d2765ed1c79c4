"""The fixture site's other documents (tests/fixture_site.py mixes them into NewsSite): Atom,
RSS 1.0 and RSS 0.91 feeds, news sitemaps and a sitemap index, the listing page, and the
hostile documents (a malformed feed, a feed of hostile links, a huge page, an XML bomb)."""

from __future__ import annotations

from datetime import UTC, datetime

from newswatch.demo.site import DemoArticle, esc

HUGE_PAGE_BYTES = 6 * 1024 * 1024


class FeedFormats:
    """Renderers for a site with `name`, `articles`, `feed_articles()` and `rss2()`."""

    name: str
    articles: list[DemoArticle]

    def listing(self, articles: list[DemoArticle], base: str) -> bytes:
        teasers = "\n".join(
            f'<article class="teaser"><h2><a href="{base}{a.path}">{esc(a.title)}</a></h2>'
            f"<p>{esc(a.summary)}</p></article>"
            for a in articles
        )
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Latest news | {esc(self.name)}</title></head>
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

    def atom(self, articles: list[DemoArticle], base: str) -> bytes:
        updated = max((a.published for a in articles), default=datetime(2024, 1, 1, tzinfo=UTC))
        entries = "".join(
            f"""<entry>
  <title>{esc(a.title)}</title>
  <link rel="alternate" type="text/html" href="{base}{a.path}"/>
  <id>tag:orbital-desk,2024:{esc(a.slug)}</id>
  <published>{a.published.isoformat()}</published>
  <updated>{a.published.isoformat()}</updated>
  <author><name>{esc(a.author)}</name></author>
  <summary>{esc(a.summary)}</summary>
</entry>
"""
            for a in articles
        )
        return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>{esc(self.name)}</title>
<id>{base}/</id>
<link rel="self" href="{base}/atom.xml"/>
<updated>{updated.isoformat()}</updated>
{entries}</feed>
""".encode()

    def rss1(self, articles: list[DemoArticle], base: str) -> bytes:
        seq = "".join(f'<rdf:li rdf:resource="{base}{a.path}"/>' for a in articles)
        items = "".join(
            f"""<item rdf:about="{base}{a.path}">
  <title>{esc(a.title)}</title><link>{base}{a.path}</link>
  <description>{esc(a.summary)}</description><dc:date>{a.published.isoformat()}</dc:date>
  <dc:creator>{esc(a.author)}</dc:creator>
</item>
"""
            for a in articles
        )
        return f"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="{base}/rss1.xml"><title>{esc(self.name)}</title><link>{base}/</link>
<description>Space policy news</description><items><rdf:Seq>{seq}</rdf:Seq></items></channel>
{items}</rdf:RDF>
""".encode()

    def rss091(self, articles: list[DemoArticle], base: str) -> bytes:
        items = "".join(
            f"<item><title>{esc(a.title)}</title><link>{base}{a.path}</link>"
            f"<description>{esc(a.summary)}</description></item>\n"
            for a in articles
        )
        return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="0.91"><channel><title>{esc(self.name)}</title><link>{base}/</link>
<description>Space policy news</description><language>en</language>
{items}</channel></rss>
""".encode("iso-8859-1", errors="xmlcharrefreplace")

    def news_sitemap(self, articles: list[DemoArticle], base: str) -> bytes:
        urls = "".join(
            f"""<url><loc>{base}{a.path}</loc><lastmod>{a.published.isoformat()}</lastmod>
<news:news><news:publication><news:name>{esc(self.name)}</news:name><news:language>{a.language}</news:language></news:publication>
<news:publication_date>{a.published.isoformat()}</news:publication_date><news:title>{esc(a.title)}</news:title></news:news></url>
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

    # ------------------------------------------------------------------ hostile documents

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
        entries += [(a.title, f"{base}{a.path}") for a in self.feed_articles()][:2]
        items = "".join(f"<item><title>{esc(t)}</title><link>{esc(u)}</link></item>\n" for t, u in entries)
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
