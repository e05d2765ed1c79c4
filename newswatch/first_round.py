"""The first round of polls after a start, in one log line: how many sources are ok and why
the others fail, so a new user whose sources all fail hears it within the first minute
instead of reading one warning per poll."""

from __future__ import annotations

import logging

from crawler.records import CrawlSummary
from newswatch.core.config import Config

log = logging.getLogger("newswatch.service")

SHOWN = 5  # failing sources named in the line


class FirstRound:
    """Collects each enabled source's first poll; says how they went once all have reported."""

    def __init__(self) -> None:
        self._summaries: dict[str, CrawlSummary] | None = {}

    def note(self, summary: CrawlSummary, config: Config, interface: str | None = None) -> None:
        if self._summaries is None:
            return
        self._summaries[summary.source] = summary
        wanted = {s.name for s in config.sources if s.enabled}
        if not wanted <= self._summaries.keys():
            return
        failing = {name: s for name, s in self._summaries.items() if name in wanted and not s.ok}
        self._summaries = None
        reasons = "; ".join(
            f"{name}: {_first_line(s.error_messages)}" for name, s in sorted(failing.items())[:SHOWN]
        )
        more = f" and {len(failing) - SHOWN} more" if len(failing) > SHOWN else ""
        text = f"first round of polls: {len(wanted) - len(failing)} of {len(wanted)} sources ok"
        if failing:
            text += f", {len(failing)} failing ({reasons}{more})"
        where = f"{interface}/ and `newswatch status` show" if interface else "`newswatch status` shows"
        log.log(logging.WARNING if failing else logging.INFO, "%s; %s every source's health", text, where)


def _first_line(messages: list[str]) -> str:
    text = messages[0] if messages else "no article could be stored"
    return text.removeprefix("discovery: ").splitlines()[0][:200]
