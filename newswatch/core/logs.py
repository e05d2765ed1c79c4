"""Logging set-up: human text or one JSON object per line (`--log-format json`).

Log calls pass context as `extra={"source": …, "url": …}`; both formats show it. Every
record goes through `redact_text`, so a secret that slips into a message is masked.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from newswatch.core.redact import redact_text

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Mask `value` in every log line from now on (passwords and tokens from the config)."""
    if value and len(value) >= 3:
        _secrets.add(value)


def redact(text: str) -> str:
    """Return `text` as it may be stored, shown or sent: every registered secret masked and
    every URL in its display form (newswatch.core.redact)."""
    return redact_text(text, _secrets)


def _context(record: logging.LogRecord) -> dict:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
        context = " ".join(f"{k}={v}" for k, v in _context(record).items())
        line = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if context:
            line += f"  [{context}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact_text(line, _secrets)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            {
                k: v if isinstance(v, (int, float, bool, type(None))) else str(v)
                for k, v in _context(record).items()
            }
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact_text(json.dumps(entry, ensure_ascii=False), _secrets)


def setup_logging(level: str = "INFO", fmt: str = "text", stream=None) -> None:
    """Route all logging (ours, Scrapy's, APScheduler's) through one handler on stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries that are chatty at INFO.
    for noisy in (
        "scrapy",
        "trafilatura",
        "htmldate",
        "courlan",
        "charset_normalizer",
        "alembic",
        "filelock",
        "asyncio",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # APScheduler warns on every skipped overlapping run: for us that is the intended behaviour.
    logging.getLogger("apscheduler").setLevel(max(logging.ERROR, root.level))
