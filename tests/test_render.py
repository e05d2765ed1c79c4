"""Alert content: title and body per format, highlighted snippets, user templates in a sandbox
that never executes code."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.delivery.render import (
    AlertItem,
    Renderer,
    Sighting,
    TemplateProblem,
    check_template_file,
    choose_format,
    render_template_file,
)

ITEM = AlertItem(
    id=7,
    title="Roscosmos <script>alert(1)</script> weighs ISS deorbit",
    url="https://tass.com/science/123?utm=x&ref=y",
    source="tass-en",
    published_at=datetime(2026, 3, 4, 5, 6, tzinfo=UTC),
    rules=["roscosmos", "iss-deorbit"],
    snippet="… **Roscosmos** said it may **deorbit** the <b>station</b> …",
    also_reported_by=[Sighting("nasa-news", "NASA on ISS deorbit", "https://nasa.gov/iss")],
)
LATER = AlertItem(
    id=8,
    title="Artemis II crew named",
    url="https://nasa.gov/artemis",
    source="nasa-news",
    published_at=datetime(2026, 3, 5, 9, 0, tzinfo=UTC),
    rules=["artemis"],
    snippet="**Artemis** II",
)


def test_title_lists_rules_then_article_title() -> None:
    rendered = Renderer().render_alert(ITEM, "text")
    assert rendered.title.startswith("[roscosmos, iss-deorbit] Roscosmos")


@pytest.mark.parametrize("fmt", ["markdown", "html", "text"])
def test_body_has_source_time_url_snippet_rules_and_sightings(fmt: str) -> None:
    body = Renderer().render_alert(ITEM, fmt).body
    assert "tass-en" in body
    assert "2026-03-04 05:06 UTC" in body
    assert "tass.com/science/123" in body
    assert "roscosmos, iss-deorbit" in body
    assert "nasa-news" in body and "nasa.gov/iss" in body


def test_html_highlights_hits_and_escapes_the_rest() -> None:
    body = Renderer().render_alert(ITEM, "html").body
    assert "<b>Roscosmos</b>" in body and "<b>deorbit</b>" in body
    assert "&lt;b&gt;station&lt;/b&gt;" in body  # markup from the page is text, not HTML
    assert "<script>" not in body and "&lt;script&gt;" in body


def test_plain_text_marks_hits_with_quotation_marks_not_markdown() -> None:
    body = Renderer().render_alert(ITEM, "text").body
    assert "«Roscosmos»" in body and "«deorbit»" in body
    assert "**" not in body


def test_markdown_keeps_bold_hits_and_escapes_page_markup() -> None:
    body = Renderer().render_alert(ITEM, "markdown").body
    assert "**Roscosmos**" in body and "**deorbit**" in body
    assert r"\<b\>station" in body


def test_daily_digest_times_are_shown_in_its_time_zone() -> None:
    body = Renderer().render_alert(ITEM, "text", tz="Europe/Moscow").body
    assert "2026-03-04 08:06 Europe/Moscow" in body


def test_digest_groups_stories_with_the_newest_first() -> None:
    rendered = Renderer().render_digest([ITEM, LATER], "text")
    assert rendered.title == "newswatch digest: 2 stories (artemis, roscosmos, iss-deorbit)"
    body = rendered.body
    assert body.index("== artemis ==") < body.index("== roscosmos ==")
    assert body.index("Artemis II crew named") < body.index("weighs ISS deorbit")


def test_format_follows_the_subscriber_then_the_service() -> None:
    assert choose_format("html", ("text",)) == "html"
    assert choose_format(None, ("html", "text")) == "html"
    assert choose_format(None, "markdown") == "markdown"
    assert choose_format(None, None) == "text"


def test_subscriber_template_renders_alerts_and_can_set_the_title(tmp_path: Path) -> None:
    template = tmp_path / "short.j2"
    template.write_text(
        '{% set title = "NEWS: " ~ alert.title %}'
        "{% for a in alerts %}{{ a.source }} | {{ a.url }} | {{ a.snippet | highlight }}\n{% endfor %}",
        encoding="utf-8",
    )
    renderer = Renderer(config_dir=tmp_path)
    rendered = renderer.render_alert(ITEM, "text", template="short.j2")
    assert rendered.template_error is None
    assert rendered.title.startswith("NEWS: Roscosmos")
    assert rendered.body.startswith("tass-en | https://tass.com/science/123")
    digest = renderer.render_digest([ITEM, LATER], "text", template="short.j2")
    assert digest.body.count("\n") == 2


def test_templates_folder_replaces_a_builtin_template(tmp_path: Path) -> None:
    (tmp_path / "alert.txt.j2").write_text("custom {{ alert.source }}", encoding="utf-8")
    renderer = Renderer(templates_dir=tmp_path)
    assert renderer.render_alert(ITEM, "text").body == "custom tass-en\n"
    assert "tass-en" in renderer.render_alert(ITEM, "html").body  # other formats stay built-in


def test_user_html_template_is_autoescaped(tmp_path: Path) -> None:
    template = tmp_path / "mine.html.j2"
    template.write_text("<h1>{{ alert.title }}</h1>", encoding="utf-8")
    rendered = Renderer().render_alert(ITEM, "html", template=str(template))
    assert "<h1>Roscosmos &lt;script&gt;" in rendered.body


ATTACKS = {
    "class walk": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "globals of a function": "{{ alert.__init__.__globals__['os'].system('touch PWNED') }}",
    "cycler globals": "{{ cycler.__init__.__globals__.os.popen('touch PWNED').read() }}",
    "mutation": "{{ alert.rules.append('x') }}",
    "format string": "{{ '{0.__class__}'.format(alert) }}",
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_template_fails_safely_with_a_clear_error(tmp_path: Path, monkeypatch, name: str) -> None:
    monkeypatch.chdir(tmp_path)
    template = tmp_path / "evil.j2"
    template.write_text(ATTACKS[name], encoding="utf-8")
    with pytest.raises(TemplateProblem) as problem:
        check_template_file(template)
    assert str(template) in str(problem.value)
    # In delivery the built-in rendering goes out instead, and the problem is reported.
    rendered = Renderer().render_alert(ITEM, "text", template=str(template))
    assert "tass-en" in rendered.body and rendered.template_error
    assert not (tmp_path / "PWNED").exists()
    assert ITEM.rules == ["roscosmos", "iss-deorbit"]


def test_template_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    template = tmp_path / "broken.j2"
    template.write_text("line one\n{% for a in alerts %}\n{{ a.title }\n", encoding="utf-8")
    with pytest.raises(TemplateProblem, match=r"broken\.j2, line 3: syntax error"):
        check_template_file(template)


def test_unknown_variable_in_template_is_an_error_not_silence(tmp_path: Path) -> None:
    template = tmp_path / "typo.j2"
    template.write_text("{{ alert.titel }}", encoding="utf-8")
    with pytest.raises(TemplateProblem, match="titel"):
        render_template_file(template, "text", {"alert": ITEM}, "t")


def test_user_templates_cannot_include_files(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("SECRET", encoding="utf-8")
    template = tmp_path / "inc.j2"
    template.write_text('{% include "secret.txt" %}', encoding="utf-8")
    with pytest.raises(TemplateProblem, match="cannot include or import"):
        check_template_file(template)


def test_snippets_of_the_same_passage_merge_with_every_hit_in_bold() -> None:
    from alerts.delivery.ledger import merge_snippets

    merged = merge_snippets(
        [
            "**Roscosmos** said the ISS will deorbit.",
            "Roscosmos said the **ISS** will **deorbit**.",
            "Other **passage**.",
        ]
    )
    assert merged == ["**Roscosmos** said the **ISS** will **deorbit**.", "Other **passage**."]


def test_overlapping_windows_of_one_passage_show_once_with_one_ellipsis() -> None:
    from alerts.delivery.ledger import join_snippets, merge_snippets

    first = "… the spacecraft that will guide the **International Space Station** to a controlled reentry …"
    second = "… that will guide the International **Space Station** to a controlled reentry has passed its review …"
    merged = merge_snippets([first, second, "… an unrelated **deorbit** passage here …"])
    assert len(merged) == 2
    assert "**International Space Station**" in merged[0] and "**deorbit**" in merged[1]
    joined = join_snippets(merged)
    assert "… …" not in joined and joined.count("…") == 3


def test_errors_keep_the_cause_not_the_whole_exception_chain() -> None:
    from alerts.delivery.channels import condense_cause

    chain = (
        "Socket Exception: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: /x "
        "(Caused by NewConnectionError(\"HTTPConnection(host='127.0.0.1', port=9): Failed to establish a new "
        'connection: [Errno 111] Connection refused"))'
    )
    assert condense_cause(chain) == "[Errno 111] Connection refused"
    assert condense_cause("Socket Exception: ... Read timed out. (read timeout=1.0)") == "Read timed out"
