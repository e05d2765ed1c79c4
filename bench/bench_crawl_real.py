"""Crawl benchmark on real HTML: the shared real news pages (../shared/realworld), each served
under several URLs by the fixture sites, fetched, extracted and stored end to end.

The generated pages of bench_crawl are light to extract (~2 ms); real pages (WSJ, NYT,
Wired, blogs: 50-500 KB of markup) cost ~10 ms each, so this is the figure to quote for a
real deployment. Skipped when ../shared is absent.
"""

from __future__ import annotations

from bench import bench_crawl


def main() -> None:
    if not bench_crawl.REAL_PAGES.is_dir():
        print(f"skipped: {bench_crawl.REAL_PAGES} is absent (the shared real pages)")
        return
    bench_crawl.main(real=True)


if __name__ == "__main__":
    main()
