"""The `console://` Apprise target: alerts printed to the service's terminal.

Apprise lets an application add its own URL schemes with the `@notify` decorator; the
default config uses `console://` so that a fresh `make run` shows alerts without any account.
`console://` writes to stdout; `console://stderr` writes to stderr.
"""

from __future__ import annotations

import sys
import threading

_lock = threading.Lock()
_registered = False


def register_console_plugin() -> None:
    """Register the console:// scheme with Apprise (idempotent)."""
    global _registered
    with _lock:
        if _registered:
            return
        from apprise.decorators import notify

        @notify(on="console", name="Terminal output")
        def _print_to_console(body: str, title: str, notify_type: str, meta: dict, *args, **kwargs) -> bool:
            stream = sys.stderr if (meta.get("host") or "").lower() == "stderr" else sys.stdout
            rule = "─" * 72
            text = f"\n{rule}\n{title}\n{rule}\n{body}\n" if title else f"\n{body}\n"
            with _lock_print:
                stream.write(text)
                stream.flush()
            return True

        _registered = True


_lock_print = threading.Lock()
register_console_plugin()
