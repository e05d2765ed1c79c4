"""What surrounds an article on today's news pages, in several languages: consent walls,
read-also boxes, boilerplate lines, and paragraphs the page also uses as teasers
(crawler/extraction/boilerplate.py, cleaning.py, lines.py; fixture pages in tests/data/extract)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.extract import extract_article
from crawler.extraction.boilerplate import is_boilerplate_line, is_consent_text, starts_read_also
from crawler.extraction.lines import filter_lines

DATA = Path(__file__).parent / "data" / "extract"


def page(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_consent_wall_before_the_article_is_not_text() -> None:
    text = extract_article(page("consent-wall-before-article.html")).text
    assert text.startswith("Das neue Forschungsmodul hat in der Nacht zum Dienstag")
    assert "langsam genähert" in text
    for consent in ("Cookies", "Alle akzeptieren", "Einwilligung", "Datenschutzerklärung"):
        assert consent not in text


def test_mehr_zum_thema_box_inside_the_body_is_not_text() -> None:
    text = extract_article(page("mehr-zum-thema-box-in-body.html")).text
    assert "sicher in der Steppe von Kasachstan gelandet" in text
    assert "Die nächste Besatzung soll im Herbst starten" in text, "the article goes on after the box"
    assert "Mehr zum Thema" not in text
    assert "Roscosmos" not in text and "eigenen Station starten" not in text, "the box's teaser stays out"


def test_paragraphs_also_used_as_teasers_stay_in_the_text() -> None:
    # The lead is the teaser of this very article in "Top stories" (a link to itself); another
    # paragraph is the teaser text of a related article. Both are the article's own paragraphs.
    url = "https://orbital.example/news/cargo-ship-docks"
    text = extract_article(page("paragraphs-also-teasers.html"), url=url).text
    assert text.startswith("The uncrewed cargo ship docked with the station on Monday")
    assert "The station's orbit will be raised next week" in text
    assert "New solar array unfolds" not in text and "Where station waste ends up" not in text


def test_a_line_that_only_links_elsewhere_still_goes() -> None:
    import lxml.html

    from crawler.extraction.lines import link_texts

    tree = lxml.html.fromstring(
        '<html><body><div><a href="/other">Roscosmos delays its next crew launch</a></div>'
        "<p>The deorbit vehicle arrives in 2029.</p></body></html>"
    )
    links = link_texts(tree, ("https://orbital.example/news/x",))
    text = "Roscosmos delays its next crew launch\nThe deorbit vehicle arrives in 2029."
    assert filter_lines(text, links=links) == "The deorbit vehicle arrives in 2029."


@pytest.mark.parametrize(
    "line",
    [
        "Mehr zum Thema",
        "Lesen Sie auch: Roscosmos plant eine eigene Station",
        "Lire aussi",
        "À lire aussi La station spatiale va être désorbitée",
        "Leer más",
        "Lea también: La NASA elige a SpaceX",
        "Читайте также",
        "Czytaj więcej",
        "Von Karim Natour",
        "By Jane Doe and John Roe",
        "Stand: 22.04.2024, 06:00 Uhr",
        "Publié le 22/11/2024 à 10h32",
        "Quelle: AFP",
        "Foto: Дмитрий Азаров, Коммерсантъ",
        "05.09.2024 | 2:03 min",
        "Mit Agenturmaterial.",
        "2 Wochen kostenlos testen",
        "Passer la publicité",
        "Aktuelle Meldungen zur Lage finden Sie jederzeit in unserem Liveblog:",
        "- Publicado por: Clarissa Borba - Categoria:",
        "Posted by Jane Doe | Space desk",
        "Veröffentlicht von Karim Natour",
        "- Tags:",
        "Schlagwörter:",
    ],
)
def test_boilerplate_lines_in_many_languages(line: str) -> None:
    assert is_boilerplate_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "Mehr Menschen als je zuvor verfolgten den Start am Bildschirm.",
        "Von der Leyen sagte am Montag, die EU werde ihr eigenes Programm starten.",
        "By 2030 the station will be steered into the Pacific Ocean.",
        "Related Party Transactions were reviewed by the board in May.",
        "Read more about the deorbit plan in the agency's report.",
        "Lire le rapport prend du temps, mais il en vaut la peine.",
        "The report was published on Monday after 14 months of review, officials said.",
        "Written by hand, the letter reached NASA.",
        "Tags: the agency's catalogue lists them by mission.",
    ],
)
def test_sentences_that_start_like_boilerplate_stay(line: str) -> None:
    assert not is_boilerplate_line(line)


def test_read_also_phrases_and_consent_wording() -> None:
    assert starts_read_also("Ähnliche:") and starts_read_also("смотрите также")
    assert not starts_read_also("Ähnlich wie 2019 startete die Rakete pünktlich.")
    assert is_consent_text("Nous utilisons des cookies. Accepter / Refuser. Politique de confidentialité.")
    assert not is_consent_text("The cookie jar on the station was a gift from the crew's families.")


def test_menus_above_the_headline_go_and_a_description_that_repeats_it_is_no_lead() -> None:
    # A municipal news page: sidebar widget titles that are links, then the headline, whose
    # meta description only repeats it (it must not come back as the lead), a byline with its
    # label, the article.
    html = (
        "<html><head><title>Atendimento Domiciliar registra arrombamento em veículos</title>"
        '<meta name="description" content="Atendimento Domiciliar registra arrombamento em veículos">'
        '</head><body><div class="side"><h3><a href="/c">Categorias</a></h3><h3><a href="/t">Tags</a></h3>'
        '<h3><a href="/a">Arquivos</a></h3></div><article>'
        "<h1>Atendimento Domiciliar registra arrombamento em veículos</h1>"
        "<p>- Publicado por: Clarissa Borba - Categoria:</p><p>- Tags:</p>"
        "<p>A equipe do Serviço de Atendimento Domiciliar registrou nesta manhã o arrombamento de "
        "dois dos cinco automóveis da unidade. Os veículos estavam sem as baterias.</p>"
        "<p>Os pacientes agendados para o período da manhã estão sendo reagendados, e a Secretaria "
        "de Saúde prevê o atendimento normalizado a partir da tarde de hoje.</p>"
        "</article></body></html>"
    )
    text = extract_article(html.encode(), url="https://cidade.example/news/sad").text
    assert text.startswith("A equipe do Serviço de Atendimento Domiciliar"), text
    assert "registra arrombamento em veículos" not in text
    assert "Publicado por" not in text and "Tags:" not in text and "Categorias" not in text


def test_a_teaser_list_under_a_read_also_heading_is_not_text() -> None:
    text = extract_article(page("teaser-list-after-heading.html")).text
    assert text.startswith("Two astronauts spent six hours outside the station")
    assert text.endswith("working normally within an hour of its installation.")
    assert "More Great Orbital Stories" not in text
    for teaser in ("lost for twenty years", "cargo fares", "best antennas"):
        assert teaser not in text


def test_a_card_of_links_inside_a_sentence_is_not_text_and_the_name_stays() -> None:
    text = extract_article(page("link-card-inside-sentence.html")).text
    assert text.startswith(
        "State Gov. Jane Roe (R) is defending the deal that brings a commercial launch site to the coast."
    )
    assert "Jane Marie Roe" not in text and "Governor signs the budget" not in text
    assert "the first launch is planned for 2027" in text


def test_a_paragraph_of_links_is_not_a_card() -> None:
    import lxml.html

    from crawler.extraction.cleaning import drop_link_cards

    html = (
        '<html><body><p><span><a href="/a">Launch schedule</a> <a href="/b">Crew roster</a> '
        '<a href="/c">Mission patches</a></span></p></body></html>'
    )
    tree = lxml.html.fromstring(html)
    drop_link_cards(tree)
    assert tree.text_content() == "Launch schedule Crew roster Mission patches"
