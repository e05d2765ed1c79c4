"""Boilerplate wording, learned as patterns in the languages of the news we read.

Nothing here names a site. Each pattern is a kind of line or box that news pages put around
their articles, written the ways publishers write it in English, German, French, Spanish,
Italian, Portuguese, Dutch, the Nordic languages, Polish, Czech, Turkish and Russian:
- read-also phrasings that open a box or a line pointing at other articles ("Mehr zum Thema",
  "Lire aussi", "Leer más", "Читайте также", "Czytaj więcej");
- consent walls (cookie and consent wording next to accept / refuse controls);
- lines that are credits, bylines, date stamps, reading times, media durations, ad labels,
  newsletter, subscription and comment prompts.
A line is only dropped when the whole line is such a thing (short, anchored patterns), so a
sentence of the article that merely contains one of the words stays.
"""

from __future__ import annotations

import re

# Phrases that open a box or a line pointing at other articles. Each begins with a literal word
# (the set of first words rules out almost every text before a regular expression runs).
_READ_ALSO_PHRASES = (
    # English
    "read (?:more|also|next)",
    "also read",
    "see also",
    "more on this(?: story| topic)?",
    "more from",
    "related(?: (?:articles?|stories|coverage|content|news))?",
    "recommended(?: for you)?",
    "you (?:may|might) also like",
    "further reading",
    "don't miss",
    "dont miss",
    "most (?:read|popular)",
    "trending",
    "more(?: \\w+){0,2} stories",  # "More stories", "More Great WIRED Stories"
    # German
    "mehr (?:zum thema|dazu|zu(?:m)? \\w+|lesen)",
    "lesen sie (?:auch|mehr|hier)",
    "auch interessant",
    "das könnte sie (?:auch )?interessieren",
    "weitere (?:artikel|meldungen|nachrichten|themen)",
    "ähnliche(?: artikel)?",
    "passend dazu",
    "siehe auch",
    "zum thema",
    "weiterlesen",
    "empfehlungen",
    # French
    "à (?:lire|voir) (?:aussi|également)",
    "lire (?:aussi|également|la suite)",
    "voir aussi",
    "sur le même sujet",
    "pour aller plus loin",
    "notre sélection",
    # Spanish, Italian, Portuguese
    "leer más",
    "lea también",
    "lee también",
    "te puede interesar",
    "también te puede interesar",
    "noticia relacionada",
    "noticias relacionadas",
    "más información",
    "ver también",
    "leggi anche",
    "potrebbe interessarti",
    "articoli correlati",
    "leia (?:também|mais)",
    "veja também",
    "saiba mais",
    # Dutch, Nordic
    "lees (?:ook|meer)",
    "meer over",
    "les (?:også|mer)",
    "læs (?:også|mere)",
    "läs (?:också|mer)",
    "se også",
    # Polish, Czech, Turkish, Russian
    "czytaj (?:więcej|też|także|również)",
    "zobacz (?:też|także)",
    "przeczytaj (?:też|także)",
    "čtěte (?:také|též)",
    "přečtěte si (?:také|též)",
    "související",
    "ilgili haberler?",
    "bunlar da ilginizi çekebilir",
    "читайте (?:также|тоже|ещё|еще)",
    "смотрите также",
    "по теме",
    "ещё по теме",
    "еще по теме",
)
_READ_ALSO = "(?:" + "|".join(p.replace(" ", "\\ ") for p in _READ_ALSO_PHRASES) + ")"
_FIRST_WORDS = frozenset(re.match(r"[\w']+", p).group(0) for p in _READ_ALSO_PHRASES)  # type: ignore[union-attr]
_READ_ALSO_START = re.compile(rf"^\W{{0,3}}{_READ_ALSO}(?:\s*[:»>|–—-]|\s*$)", re.I | re.X)
# a read-also phrase followed by a teaser headline: capitalised, no full stop inside, short
_CAPITAL = "(?-i:[A-ZÀ-ÞА-ЯĄĆĘŁŃÓŚŹŻČŘŠŽ])"
_READ_ALSO_TEASER = re.compile(
    rf"^\W{{0,3}}{_READ_ALSO}\s*[:»>|–—-]?\s+[\"'„«“]?{_CAPITAL}[^.!?]{{3,160}}[!?]?$", re.I | re.X
)

# Both are lower case and run on lower-cased text (with re.I an expression cannot skip ahead to
# its possible first letters, and runs several times slower).
CONSENT_WORD = re.compile(
    r"cookie|consent|einwillig|zustimm|consentement|consentimiento|consenso|toestemming|samtykke|zgod|souhlas|согласи|куки"
)
_CONSENT_CONTEXT = re.compile(
    r"accept|akzeptier|accepter|aceptar|accett|aceitar|accepteren|godta|acceptera|akceptuj|přijm|принять|согла[сш]ен"
    r"|privacy|datenschutz|confidentialit|privacidad|riservatezza|privacidade|prywatno|soukrom|конфиденциальн"
    r"|partner|partenaires|socios|tracking|personali[sz]|reject|ablehnen|refuser|rechazar|настро|einstellungen|param[eè]tres|preferences"
)


_FIRST_WORD = re.compile(r"\W{0,3}([\w']+)")


def may_start_read_also(text: str) -> bool:
    """Return whether `text` opens with the first word of a read-also phrase (the cheap test
    starts_read_also begins with)."""
    first = _FIRST_WORD.match(text)
    return first is not None and first.group(1).lower() in _FIRST_WORDS


def starts_read_also(text: str) -> bool:
    """Return whether `text` opens with a read-also phrase ("Lesen Sie auch:", "Lire aussi")."""
    if not may_start_read_also(text):
        return False
    return bool(_READ_ALSO_START.match(text) or _READ_ALSO_TEASER.match(text))


# Lower-case stems of CONSENT_WORD, for a quick `in` test before the expression runs.
CONSENT_STEMS = (
    "cookie",
    "consent",
    "einwillig",
    "zustimm",
    "consentimiento",
    "consenso",
    "toestemming",
    "samtykke",
    "zgod",
    "souhlas",
    "согласи",
    "куки",
)


def mentions_consent(text: str) -> bool:
    """Return whether `text` holds a consent word (a cheap test: plain substring searches)."""
    lower = text.lower()
    return any(stem in lower for stem in CONSENT_STEMS)


def is_consent_text(text: str) -> bool:
    """Return whether `text` reads like a consent wall: consent wording plus what it is about."""
    lower = text.lower()
    return CONSENT_WORD.search(lower) is not None and len(set(_CONSENT_CONTEXT.findall(lower))) >= 2


_LINE = re.compile(
    r"""^(?:
        (?:sign\ up|subscribe|register)\b.{0,80}\b(?:newsletter|updates|alerts|email)
      | subscribe\ to\ (?:our|the)\b
      | (?:read|see)\ (?:more|also)\b\s*[:»>-]
      | (?:also\ read|related|recommended|more\ from|more\ on\ this)\s*[:»>-]
      | (?:most\ read|most\ popular|trending|related\ (?:stories|articles|coverage)|more\ stories)\b[^.!?]{0,40}$
      | (?:copyright|©)\s*(?:©\s*)?\d{4}
      | this\ copy\ is\ for\ your\ personal,?\ non-commercial\ use
      | follow\b.{0,80}\b(?:on|at)\b.{0,60}(?:twitter|facebook|instagram|linkedin|youtube|tiktok|https?://)
      | (?:reach|contact|email)\ the\ (?:reporter|author|writer)s?\ (?:on|at|via)\b
      | write\ to\ [^.]{1,60}\ at\ \S+@\S+$
      | email\ [^.@]{1,60}\ at\ \S+@\S+
      | \(?(?:additional\ )?(?:reporting|writing|editing)\ by\b
      | [-•]?\ ?(?:published|updated|posted|last\ updated)(?:\ on|\ at|:)?\ .{0,30}\d.{0,30}$
      | filed\ under\b
      | (?:don'?t\ miss|popular\ on\ \w+|editors?'?\ picks?)\b[^.!?]{0,40}$
      | (?:\d+\ min(?:ute)?s?\ read|reading\ time|tempo\ de\ leitura|lesezeit|temps\ de\ lecture)\b.{0,20}$
      | if\ you\ (?:enjoyed|liked|value|appreciate)\ (?:this|our)\ (?:article|story|journalism|reporting)
      | share\ (?:this|on)\b.{0,40}$
      | (?:order\ reprints|print\ article|share\ this\ article)$
      | advertisement$
      | an\ error\ has\ occurred
      | this\ article\ has\ been\ sent\ to
      | \d*\ ?comments?$
      | (?:leave\ a\ (?:comment|reply)|tell\ us\ what\ you\ think|join\ the\ (?:conversation|discussion))
      # date stamps, other languages
      | [-•]?\ ?(?:stand|aktualisiert|veröffentlicht|erstellt|publié|mis\ à\ jour|actualizado|publicado|aggiornato|pubblicato
                 |oppdatert|publisert|opdateret|uppdaterad|zaktualizowano|aktualizováno|güncelleme|обновлено|опубликовано)
        (?:\ am|\ le|\ el|\ il|\ on|\ at|:)?\ .{0,30}\d.{0,30}$
      # "Published by <name> - Category:" and a label left without its links ("Tags:")
      | (?:published|posted|written|publicado|postado|escrito|veröffentlicht|geschrieben|publié|écrit|pubblicato|scritto)
        \ (?:by|por|von|par|da):?\ [^.!?]{1,100}$
      | (?:tags?|categor[a-zíé]*|schlagw[öo]rter|stichw[öo]rter|étiquettes|etiquetas|palavras-chave|тег[аи]?)\s*:$
      # credits of pictures and wires, reading and media times, ad labels
      | (?:quelle|foto|fotos|bild|bilder|photo|photos|image|credit|crédit|crédito|source|fonte|фото|zdjęcie|kuva)\s*:\s*\S.{0,80}$
      | (?:mit|with|avec|con|met)\ (?:agenturmaterial|material\ (?:von|der)|files\ from|informaci[oó]n\ de|agences?\b).{0,80}$
      | \d{1,2}:\d{2}\s*min\.?\b.{0,60}$
      | (?:anzeige|werbung|publicité|passer\ la\ publicité|publicidad|pubblicità|reklama|реклама|annonse|annonce)$
      # subscription, support and rating prompts
      | (?:unabhängiger\ )?journalismus\ braucht\b.{0,80}$
      | (?:wie\ hat\ ihnen\ (?:dieser|der)\ (?:artikel|beitrag)\ gefallen|durchschnittliche\ bewertung|bewerten\ sie\ diesen\ artikel).{0,30}$
      | if\ you\ (?:buy|purchase|click)\ (?:something|a\ product|through).{0,120}\b(?:commission|share|earn)\b.{0,80}$
      | (?:\w+:\s*)?(?:comentários|comentarios|kommentare|commentaires|comments|commenti)\b.{0,160}\b(?:moderad|moderier|modér|moderat).{0,160}$
      | more\ [^.:]{1,40}:\s*https?://\S+(?:\s+and\s+https?://\S+)?$
    )""",
    re.I | re.X,
)
# Lines known by how they end, after at most N characters of anything (a name, a title, a
# label): ".{0,N}<ending>" at the start of the line. The ending is searched for, and must start
# within N characters — the same lines, without trying N starting points one by one (as five
# alternatives of _LINE they cost ~25 µs per line). Each has a plain test first that every such
# line passes: the lower-cased line ends with one of `ends`, or holds one of `holds`.
_LINE_ENDINGS = tuple(
    (ends, holds, limit, re.compile(ending, re.I | re.X))
    for ends, holds, limit, ending in (
        (("reserved", "reserved."), (), 60, r"\ball\ rights\ reserved\.?$"),
        (
            (),
            ("contributed",),
            120,
            r"\bcontributed\ (?:reporting\ )?to\ this\ (?:report|story|article)\.?\)?$",
        ),
        # media durations: "Video | 3:45 min"
        (("min", "min."), (), 250, r"(?:\|\s*)?\d{1,2}:\d{2}\s*min\.?$"),
        # subscription prompts
        (
            (),
            ("kostenlos testen", "abonn", "suscr", "подпиш", "подпис"),
            60,
            r"\b(?:kostenlos\ testen|jetzt\ abonnieren|abonnieren\ sie|abonnez-vous|suscr[ií]bete|подпишитесь|подписывайтесь)\b.{0,60}$",
        ),
        # pointer lines: "… finden Sie in unserem Liveblog:"
        (
            (":",),
            (),
            120,
            r"\b(?:in\ unserem|im|in\ our|dans\ notre|en\ nuestro|nel\ nostro)\ (?:live-?blog|live-?ticker|ticker|newsletter|dossier|podcast)\b.{0,20}:$",
        ),
    )
)


def _has_line_ending(line: str) -> bool:
    """Return whether the line is boilerplate by one of _LINE_ENDINGS."""
    lower = line.lower()
    for ends, holds, limit, ending in _LINE_ENDINGS:
        if lower.endswith(ends) if ends else any(word in lower for word in holds):
            found = ending.search(line)
            if found is not None and found.start() <= limit:
                return True
    return False


# Bylines alone on a line: "Von Karim Natour", "By Jane Doe and John Roe", "Par Marie Dupont"
_NAME = rf"{_CAPITAL}[\w.'’-]+"
_BYLINE = re.compile(
    rf"^(?:by|von|par|por|di|da|av|af|door|od|от|автор:?)\s+{_NAME}(?:\s+{_NAME}){{0,3}}"
    rf"(?:\s*(?:,|and|und|et|y|e|og|och|en|&)\s*{_NAME}(?:\s+{_NAME}){{0,3}})*"
    r"(?:\s*[,|]\s*[\w ./-]{1,40})?$",
    re.I,
)


# A line that is only a date and a time ("sexta-feira, 22 de outubro de 2010 às 20:13")
_DATE_STAMP = re.compile(
    r"^(?=.*\b(?:19|20)\d{2}\b)(?=.*\b\d{1,2}(?::|h)\d{2}\b)(?!.*:\s+[^\W\d]{2})\W*(?:\w+\W+){0,9}\w*\W*$"
)
_BULLET = "-–•·* "


def is_boilerplate_line(line: str) -> bool:
    """Return whether the whole line is boilerplate (see the module docstring). A list item is
    judged without its bullet; a line without a letter or digit ("___") is boilerplate too."""
    line = line.lstrip(_BULLET)
    if not any(c.isalnum() for c in line):
        return True
    if len(line) <= 80 and _DATE_STAMP.match(line):
        return True
    return bool(_LINE.match(line) or _has_line_ending(line) or _BYLINE.match(line) or starts_read_also(line))
