"""URL normalisation (crawler/urls.py): one spelling per article, whatever the feed wrote."""

from __future__ import annotations

import pytest

from crawler.urls import is_tracking_parameter, normalise_url, same_site, try_normalise, url_variants


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("HTTP://Example.COM/News/A.html", "http://example.com/News/A.html"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com/a?", "https://example.com/a"),
        ("https://example.com/a?id=", "https://example.com/a?id="),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("https://example.com/a%7eb", "https://example.com/a~b"),
        ("https://example.com/статья", "https://example.com/%D1%81%D1%82%D0%B0%D1%82%D1%8C%D1%8F"),
        ("https://пример.рф/a", "https://xn--e1afmkfd.xn--p1ai/a"),
        ("http://[::1]:8080/a", "http://[::1]:8080/a"),
    ],
)
def test_spellings_of_one_url_normalise_alike(given: str, normal: str) -> None:
    assert normalise_url(given) == normal
    assert normalise_url(normal) == normal  # the spider relies on it: a normal URL stays as it is


@pytest.mark.parametrize(
    "tracking",
    [
        "utm_source=rss",
        "UTM_Medium=social",
        "utm_campaign=x&utm_term=y&utm_content=z",
        "fbclid=IwAR0abc",
        "gclid=Cj0KCQ",
        "mc_cid=1a2b&mc_eid=3c4d",
        "yclid=123",
        "msclkid=abc",
        "_ga=2.1.2.3",
        "igshid=xyz",
        "hsa_cam=1",
        "pk_campaign=news",
    ],
)
def test_tracking_parameters_are_removed(tracking: str) -> None:
    url = f"https://news.example.org/story?id=42&{tracking}"
    assert normalise_url(url) == "https://news.example.org/story?id=42"


def test_content_parameters_are_kept() -> None:
    assert normalise_url("https://news.example.org/story?page=2&id=42") == (
        "https://news.example.org/story?id=42&page=2"
    )
    assert not is_tracking_parameter("page")
    assert not is_tracking_parameter("id")


def test_relative_links_resolve_against_the_page() -> None:
    assert normalise_url("../b.html?utm_source=x", "https://example.org/news/2024/a.html") == (
        "https://example.org/news/b.html"
    )


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "ftp://example.org/a", "file:///etc/passwd", "javascript:alert(1)", "mailto:a@b", "http://"],
)
def test_non_http_urls_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_url(bad)
    assert try_normalise(bad) is None


def test_variants_keep_the_original_and_the_normal_spelling() -> None:
    raw = "https://Example.org/a?utm_source=x#top"
    assert url_variants(raw, "https://example.org/a") == [raw, "https://example.org/a"]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://www.nasa.gov/a", "https://nasa.gov/b", True),
        ("https://m.example.org/a", "https://www.example.org/a", True),
        ("https://blogs.nasa.gov/a", "https://www.nasa.gov/b", True),
        ("https://evil.example.com/a", "https://nasa.gov/a", False),
        ("https://nasa.gov.evil.com/a", "https://nasa.gov/a", False),
    ],
)
def test_canonical_urls_must_stay_on_the_same_site(a: str, b: str, same: bool) -> None:
    assert same_site(a, b) is same
