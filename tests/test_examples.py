"""Rule examples (DESIGN.md "Rule examples"): texts a rule must and must not match, checked by
`newswatch check`, `run` and `match --rules`, with one line naming the rule, the example and why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.rules.examples import example_problems
from newswatch.app import load_checked_rules
from newswatch.core.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
QUERY = 'deorbit* AND (ISS OR "International Space Station")'


def test_the_design_example_passes() -> None:
    examples = {
        "match": ["NASA picked SpaceX to deorbit the ISS in 2030."],
        "no_match": ["The missile was destroyed before it could deorbit."],
    }
    assert example_problems(QUERY, examples) == []


def test_a_match_example_that_fails_says_which_required_part_found_nothing() -> None:
    [(field, why)] = example_problems(QUERY, {"match": ["NASA plans to deorbit the station."]})
    assert field == "examples.match[0]"
    assert why == 'the rule does not match it: none of (ISS OR "International Space Station") was found'
    [(_, why)] = example_problems(QUERY, {"match": ["", "ISS news"]})[1:]
    assert why == "the rule does not match it: deorbit* found nothing"


def test_a_match_example_excluded_by_a_not_names_the_word_found() -> None:
    [(field, why)] = example_problems("ISS NOT rumour*", {"match": ["ISS: Rumours of a leak"]})
    assert field == "examples.match[0]"
    assert why == "the rule does not match it: NOT rumour* excludes it ('Rumours' found)"


def test_a_no_match_example_that_matches_says_on_what() -> None:
    [(field, why)] = example_problems(QUERY, {"no_match": ["ok", "Deorbiting the ISS"]})
    assert field == "examples.no_match[1]"
    assert why == "the rule matches it (on 'Deorbiting', 'ISS')"


def test_an_example_can_give_title_and_text_apart() -> None:
    examples = {"match": [{"title": "ISS leak", "text": "a leak"}], "no_match": [{"text": "ISS leak"}]}
    assert example_problems("title:ISS AND leak", examples) == []


def _rules_file(tmp_path: Path, examples: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(
        f"rules:\n  - name: iss-deorbit\n    query: '{QUERY}'\n    examples:\n{examples}", encoding="utf-8"
    )
    return path


def test_loading_refuses_rules_whose_examples_fail(tmp_path: Path) -> None:
    path = _rules_file(
        tmp_path, "      match: ['NASA picked SpaceX to deorbit the ISS in 2030.', 'nothing']\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_checked_rules(path)
    assert str(caught.value) == (
        f"{path}: rules[0] 'iss-deorbit': field 'examples.match[1]': the rule does not match it: "
        'deorbit* found nothing; none of (ISS OR "International Space Station") was found'
    )


def test_loading_refuses_unknown_example_keys(tmp_path: Path) -> None:
    path = _rules_file(tmp_path, "      must: ['x']\n")
    with pytest.raises(ConfigError, match="examples.must"):
        load_checked_rules(path)


def test_check_command_refuses_a_failing_example_in_one_line(config_dir: Path) -> None:
    rules = config_dir / "rules.yaml"
    text = rules.read_text(encoding="utf-8")
    assert "NASA picked SpaceX to deorbit the ISS in 2030." in text  # the bundled rule's example
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    command = [sys.executable, "-m", "newswatch", "--config", str(config_dir), "check"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    rules.write_text(text.replace("SpaceX to deorbit the ISS", "SpaceX to leave the ISS"), encoding="utf-8")
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "rules[1] 'iss-deorbit'" in line and "field 'examples.match[0]'" in line
    assert "the rule does not match it: none of (deorbit* OR " in line
    assert "Traceback" not in done.stderr
