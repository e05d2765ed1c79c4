"""Building many long-lived objects at once (a rules file of 100,000 rules, its compilation).

CPython's cyclic garbage collector runs every few hundred allocations and, as the objects
survive, walks ever more of them: loading 100,000 rules spent most of its time there (the
YAML nodes of 10,000 rules compose in 0.18 s, of 100,000 in 4 s instead of 0.7 s). What these
steps build is trees and lists that hold no reference cycles worth collecting, so the collector
is paused while they run and resumed afterwards (a nested pause leaves it to the outer one).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (reference counting goes on).

    After a block that built much (`PROMOTE_AFTER` allocations), what it built is counted among
    the oldest objects straight away: resumed as it was, the collector's next run would walk all
    of it once as young objects (0.4 s after a compile of 100,000 rules) only to find it alive.
    That move (a freeze and an unfreeze, each a splice of the collector's lists) is skipped
    where objects were frozen on purpose before (`keep_for_good`), as an unfreeze would let them
    go too; asking that walks the frozen objects, hence only after a big block."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_count()[0] > PROMOTE_AFTER and gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


# Allocations in a paused block past which what it built is counted as old at once (a compile
# of 10,000 rules makes ~500,000; an article's matches a few thousand).
PROMOTE_AFTER = 100_000


# Allocations between two collections of the youngest generation, once the rules are kept for
# good: matching an article a few hundred rules hit makes a few thousand short-lived containers
# (its matches and their hits), which at CPython's default of 700 were walked by several
# collections each time (~10% of such an article's time, bench/bench_matcher.py).
YOUNG_THRESHOLD = 10_000


def keep_for_good() -> None:
    """Tell the collector that everything built so far lives as long as the process (compiled
    rules in the service or `newswatch match`): it stops walking those objects in each of its
    collections, which otherwise cost the matching of every article a share of their size. It
    also collects the youngest objects less often (`YOUNG_THRESHOLD`)."""
    gc.freeze()
    young, *older = gc.get_threshold()
    if 0 < young < YOUNG_THRESHOLD:  # 0: the collector was turned off on purpose
        gc.set_threshold(YOUNG_THRESHOLD, *older)
