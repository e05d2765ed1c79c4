"""The words of an alert or a digest: title and body, in Markdown, HTML or plain text.

Contract:
- Title: the matched rules and the article title (`[roscosmos, iss-deorbit] Roscosmos …`);
  a digest's title counts its stories.
- Body: source, publication time, the article URL, the snippet with the matched words
  highlighted, the rules, and "also reported by" (other articles of the same story).
- Format per destination: the subscriber's `format:` if set, else the format the Apprise
  service prefers (HTML for email, text for webhooks); the body is handed to Apprise
  declared in that format, so Apprise never has to convert it.
- Templates: the built-in ones live in `alerts/delivery/templates/` (`alert.md.j2`, `digest.html.j2`, …).
  `settings.templates: DIR` replaces any of them by a file of the same name; a subscriber's
  `template: FILE` replaces the body of both its alerts and its digests (the context always has
  `alerts`, a list, so one loop serves both). A template may `{% set title = "…" %}`.
- Safety: templates run in Jinja2's `ImmutableSandboxedEnvironment` (no attribute access to
  internals, no mutation, no imports), HTML is autoescaped. A template that fails — syntax error,
  sandbox violation, unknown variable — raises `TemplateProblem` naming the file; the dispatcher
  then sends the built-in rendering and keeps the error visible in the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup, escape

if TYPE_CHECKING:
    from newswatch.core.config import Config

FORMATS = ("markdown", "html", "text")
_EXTENSION = {"markdown": "md", "html": "html", "text": "txt"}
BUILTIN_TEMPLATES = Path(__file__).parent / "templates"
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
MAX_TITLE = 250


class TemplateProblem(Exception):
    """A user template that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Sighting:
    """Another article of the same story ("also reported by")."""

    source: str
    title: str
    url: str


@dataclass(frozen=True)
class AlertItem:
    """Everything a template may show about one alerted story."""

    id: int
    title: str
    url: str
    source: str
    published_at: datetime | None
    rules: list[str]
    snippet: str = ""
    hits: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    also_reported_by: list[Sighting] = field(default_factory=list)
    created_at: datetime | None = None


@dataclass(frozen=True)
class Rendered:
    """A message ready for Apprise."""

    title: str
    body: str
    format: str
    template_error: str | None = None


def choose_format(subscriber_format: str | None, service_formats: object) -> str:
    """Return the body format: the subscriber's choice, else the service's preferred one."""
    if subscriber_format in FORMATS:
        return subscriber_format
    preferred = service_formats[0] if isinstance(service_formats, (tuple, list)) else service_formats
    value = str(getattr(preferred, "value", preferred) or "text").lower()
    return value if value in FORMATS else "text"


def alert_title(item: AlertItem) -> str:
    """Return `[rule, rule] Article title`, cut to a length every service accepts."""
    title = f"[{', '.join(item.rules)}] {item.title or item.url}"
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"


def digest_title(items: Sequence[AlertItem]) -> str:
    """Return `newswatch digest: N stories (rules…)`."""
    rules: list[str] = []
    for item in items:
        rules.extend(r for r in item.rules if r not in rules)
    count = len(items)
    title = f"newswatch digest: {count} {'story' if count == 1 else 'stories'} ({', '.join(rules)})"
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"


def group_for_digest(items: Sequence[AlertItem]) -> list[dict]:
    """Return the stories grouped by their first rule: newest first inside a group, and the
    group holding the newest story first."""

    def newest(item: AlertItem) -> datetime:
        return item.published_at or item.created_at or datetime.min.replace(tzinfo=UTC)

    groups: dict[str, list[AlertItem]] = {}
    for item in sorted(items, key=newest, reverse=True):
        groups.setdefault(item.rules[0] if item.rules else "other", []).append(item)
    return [{"rule": rule, "alerts": members} for rule, members in groups.items()]


# ---------------------------------------------------------------------------- rendering


class Renderer:
    """Renders alerts and digests with the built-in templates, the `settings.templates` folder
    and per-subscriber template files (all sandboxed)."""

    def __init__(self, templates_dir: Path | None = None, config_dir: Path | None = None) -> None:
        self.templates_dir = templates_dir
        self.config_dir = config_dir

    def render_alert(
        self,
        item: AlertItem,
        fmt: str,
        *,
        subscriber: str = "",
        template: str | None = None,
        tz: str = "UTC",
    ) -> Rendered:
        """Return one alert's message; a failing user template falls back to the built-in one."""
        context = {
            "kind": "alert",
            "alert": item,
            "alerts": [item],
            "groups": [{"rule": item.rules[0] if item.rules else "other", "alerts": [item]}],
            "subscriber": subscriber,
            "format": fmt,
            "tz": tz,
            "digest": None,
        }
        return self._render("alert", fmt, context, alert_title(item), template)

    def render_digest(
        self,
        items: Sequence[AlertItem],
        fmt: str,
        *,
        subscriber: str = "",
        due_at: datetime | None = None,
        template: str | None = None,
        tz: str = "UTC",
    ) -> Rendered:
        """Return one digest message listing `items` (grouped, newest first)."""
        groups = group_for_digest(items)
        ordered = [item for group in groups for item in group["alerts"]]
        context = {
            "kind": "digest",
            "alert": ordered[0] if ordered else None,
            "alerts": ordered,
            "groups": groups,
            "subscriber": subscriber,
            "format": fmt,
            "tz": tz,
            "digest": {"due_at": due_at, "count": len(ordered)},
        }
        return self._render("digest", fmt, context, digest_title(ordered), template)

    def _render(self, kind: str, fmt: str, context: dict, title: str, template: str | None) -> Rendered:
        name = f"{kind}.{_EXTENSION[fmt]}.j2"
        user_file = self._user_template(template)
        if user_file is None and self.templates_dir and (self.templates_dir / name).is_file():
            user_file = self.templates_dir / name
        if user_file is not None:
            try:
                return render_template_file(user_file, fmt, context, title)
            except TemplateProblem as exc:
                fallback = _render_builtin(name, fmt, context, title)
                return Rendered(fallback.title, fallback.body, fmt, template_error=str(exc))
        return _render_builtin(name, fmt, context, title)

    def _user_template(self, template: str | None) -> Path | None:
        if not template:
            return None
        path = Path(template)
        if not path.is_absolute() and self.config_dir is not None:
            path = self.config_dir / path
        return path


def render_template_file(path: Path, fmt: str, context: dict, default_title: str) -> Rendered:
    """Return the message rendered by the user template at `path`, or raise TemplateProblem."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateProblem(f"template {path}: cannot read ({exc})") from None
    env = _environment(fmt, None)
    try:
        template = env.from_string(source)
        module = template.make_module(context)
        body = str(module)
        title = str(getattr(module, "title", "") or default_title)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template {path}, line {exc.lineno}: syntax error: {exc.message}") from None
    except SecurityError as exc:
        raise TemplateProblem(f"template {path}: refused by the sandbox: {exc}") from None
    except TemplateNotFound as exc:
        raise TemplateProblem(
            f"template {path}: user templates cannot include or import other files ({exc.name!r})"
        ) from None
    except TemplateError as exc:
        raise TemplateProblem(f"template {path}: {exc.message or exc}") from None
    except Exception as exc:  # noqa: BLE001 - a user template must never take the dispatcher down
        raise TemplateProblem(f"template {path}: {type(exc).__name__}: {exc}") from None
    return Rendered(_one_line(title), _tidy(body, fmt), fmt)


def check_template_file(path: Path, fmt: str = "text") -> None:
    """Raise TemplateProblem unless the template at `path` renders a sample alert and digest."""
    sample = AlertItem(
        id=1,
        title="Sample article",
        url="https://example.org/news/sample",
        source="example",
        published_at=datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
        rules=["sample-rule"],
        snippet="a **sample** snippet",
        hits={"sample-rule": {"text": ["sample"]}},
        also_reported_by=[Sighting("other", "Same story", "https://example.com/same")],
    )
    for kind in ("alert", "digest"):
        render_template_file(path, fmt, _sample_context(kind, sample, fmt), "sample")


def _sample_context(kind: str, item: AlertItem, fmt: str) -> dict:
    return {
        "kind": kind,
        "alert": item,
        "alerts": [item],
        "groups": [{"rule": item.rules[0], "alerts": [item]}],
        "subscriber": "sample",
        "format": fmt,
        "tz": "UTC",
        "digest": {"due_at": item.published_at, "count": 1} if kind == "digest" else None,
    }


def _render_builtin(name: str, fmt: str, context: dict, title: str) -> Rendered:
    template = _environment(fmt, str(BUILTIN_TEMPLATES)).get_template(name)
    module = template.make_module(context)
    return Rendered(_one_line(str(getattr(module, "title", "") or title)), _tidy(str(module), fmt), fmt)


@lru_cache(maxsize=16)
def _environment(fmt: str, folder: str | None) -> ImmutableSandboxedEnvironment:
    loader: BaseLoader = ChoiceLoader([FileSystemLoader(folder)]) if folder else _NoLoader()
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        autoescape=fmt == "html",
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["highlight"] = _highlighter(fmt)
    env.filters["when"] = format_time
    env.filters["md"] = markdown_escape
    return env


class _NoLoader(BaseLoader):
    """User templates may not include or import other files."""

    def get_source(self, environment, template):
        raise TemplateNotFound(template)


def _highlighter(fmt: str):
    def highlight(snippet: str) -> str | Markup:
        """Return the snippet with its hits marked in this format: bold in HTML and Markdown,
        «in quotation marks» in plain text."""
        if fmt == "html":
            parts = _BOLD.split(str(snippet))
            return Markup("").join(
                Markup("<b>{}</b>").format(part) if i % 2 else escape(part) for i, part in enumerate(parts)
            )
        if fmt == "markdown":
            parts = _BOLD.split(str(snippet))
            return "".join(
                f"**{markdown_escape(part)}**" if i % 2 else markdown_escape(part)
                for i, part in enumerate(parts)
            )
        # Plain text (webhooks, MQTT, the terminal): quotation marks read as text, Markdown does not.
        parts = _BOLD.split(str(snippet))
        return "".join(f"«{part}»" if i % 2 else part for i, part in enumerate(parts))

    return highlight


def format_time(value: datetime | None, tz: str = "UTC") -> str:
    """Return `2026-01-02 10:00 UTC` (in `tz`), or `unknown`."""
    if value is None:
        return "unknown"
    try:
        zone = ZoneInfo(tz)
    except Exception:  # noqa: BLE001 - an odd zone must not stop an alert
        zone, tz = ZoneInfo("UTC"), "UTC"
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M ") + ("UTC" if tz == "UTC" else tz)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def markdown_escape(text: str) -> str:
    """Return `text` with Markdown's active characters escaped (for titles, not snippets)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def _tidy(body: str, fmt: str) -> str:
    """Return the body without runs of blank lines (templates' loops leave some)."""
    return re.sub(r"\n{3,}", "\n\n", body.strip()) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_notice(subject: str, message: str, fmt: str) -> Rendered:
    """Return a plain service notice (a source-health alarm) in the destination's format."""
    if fmt == "html":
        body = "".join(f"<p>{markupsafe_escape(line)}</p>" for line in message.splitlines() if line.strip())
    elif fmt == "markdown":
        body = "\n\n".join(markdown_escape(line) for line in message.splitlines() if line.strip())
    else:
        body = message
    return Rendered(title=subject, body=body, format=fmt)


def markupsafe_escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def templates_problems(config: Config) -> list[str]:
    """Return one line per user template that cannot render (checked with a sample alert)."""
    problems = []
    paths: list[tuple[Path, str]] = []
    for subscriber in config.subscribers:
        if subscriber.template:
            path = Path(subscriber.template)
            path = path if path.is_absolute() else config.directory / path
            fmt = subscriber.format or ("html" if path.name.endswith((".html", ".html.j2")) else "markdown")
            paths.append((path, fmt))
    if config.settings.templates:
        folder = config.directory / config.settings.templates
        for fmt in FORMATS:
            ext = _EXTENSION[fmt]
            for kind in ("alert", "digest"):
                if (folder / f"{kind}.{ext}.j2").is_file():
                    paths.append((folder / f"{kind}.{ext}.j2", fmt))
    for path, fmt in paths:
        try:
            check_template_file(path, fmt)
        except TemplateProblem as exc:
            problems.append(str(exc))
    return problems
