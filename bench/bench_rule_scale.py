"""Rule sets of 1,000, 10,000 and 100,000 rules: loading, compiling, memory and matching.

Each size runs in a process of its own (its peak memory is then its own), for the typical mix
(10% of the rules from the corpus' words) and the heavy one (all of them): the rules file is
written as a user would keep it, then loaded and checked as `newswatch match --rules` does
(`load_checked_rules`: YAML, validation, every query parsed), compiled, and used to decide 200
articles twice. Printed: seconds for each step, peak memory (max RSS of the process, interpreter
and libraries included), articles/s (CPU time) on the first pass and on the second, when the
matcher has learned the bodies' chunks. Targets (issue "Matching under real load"): 10,000 rules
loaded and compiled in under 1 s; 100,000 in under 10 s and under 1 GB; the cost per article
must not grow with the rules that do not match.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import workloads
from bench.bench_matcher import SEED, make_articles, make_rules

SIZES = (1_000, 10_000, 100_000)
ARTICLES = 200


def _one(size: int, share: float, folder: str) -> dict:
    """Run in the child: write, load, compile, match; return the figures."""
    import yaml

    from alerts.rules.compiled import compile_rules
    from newswatch.app import load_checked_rules
    from newswatch.core.bulk import keep_for_good

    bodies = workloads.load_bodies()
    rng = random.Random(SEED)
    rules, vocabulary = make_rules(bodies, rng, share, count=size)
    articles = make_articles(bodies, rng, vocabulary)[:ARTICLES]
    path = Path(folder) / f"rules-{size}-{share}.yaml"
    path.write_text(yaml.safe_dump({"rules": rules}, allow_unicode=True), encoding="utf-8")
    del rules
    started = time.perf_counter()
    loaded = load_checked_rules(path)
    load = time.perf_counter() - started
    started = time.perf_counter()
    compiled = compile_rules(loaded)
    compile_seconds = time.perf_counter() - started
    keep_for_good()  # as the service and `newswatch match` do once the rules are compiled
    started = time.process_time()
    matched = sum(len(compiled.match_names(title, text)) for title, text in articles)
    first_pass = time.process_time() - started
    # Again: the matcher has learned the chunks of these bodies (news repeats its vocabulary).
    started = time.process_time()
    sum(len(compiled.match_names(title, text)) for title, text in articles)
    second_pass = time.process_time() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "load": load,
        "compile": compile_seconds,
        "peak_mib": peak,
        "rate": len(articles) / first_pass,
        "warm": len(articles) / second_pass,
        "matched": matched / len(articles),
    }


def _env_with_this_folder() -> dict[str, str]:
    """The environment for the child, which imports `bench` from the working directory (an
    extraction pool in this process sets PYTHONSAFEPATH, which would leave it out)."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONSAFEPATH"}


def main() -> None:
    if workloads.load_bodies() is None:
        print("skipped: the real-world pages in ../shared are absent")
        return
    print(
        f"{'rules':>8} {'mix':<8} {'load+check':>10} {'compile':>8} {'peak RSS':>9} {'decide':>14} {'matches':>8}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for share, mix in ((0.1, "typical"), (1.0, "heavy")):
            for size in SIZES:
                code = (
                    "import json, sys\n"
                    "from bench.bench_rule_scale import _one\n"
                    f"print(json.dumps(_one({size}, {share}, {folder!r})))\n"
                )
                result = subprocess.run(
                    [sys.executable, "-c", code],
                    capture_output=True,
                    text=True,
                    timeout=900,
                    cwd=Path(__file__).resolve().parent.parent,
                )
                if result.returncode:
                    print(f"{size:>8,} {mix:<8} failed: {result.stderr.strip()[-300:]}")
                    continue
                row = json.loads(result.stdout.strip().splitlines()[-1])
                print(
                    f"{size:>8,} {mix:<8} {row['load']:>9.2f}s {row['compile']:>7.2f}s {row['peak_mib']:>7.0f}MiB"
                    f" {row['rate']:>8,.0f} art/s {row['warm']:>8,.0f} art/s {row['matched']:>8.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
