"""Functions the pool tests run in worker processes (importable there by name)."""

from __future__ import annotations

import os
import time


def negate_each(items: list) -> list:
    """A batch function: -item for each item; an item "boom" fails alone; "crash" kills the
    worker; each call records its batch size in the result (item, size)."""
    outcomes: list = []
    for item in items:
        if item == "crash":
            os._exit(3)
        if item == "boom":
            outcomes.append(ValueError("boom"))
        else:
            time.sleep(0.02)
            outcomes.append((-item, len(items)))
    return outcomes
