"""Reading YAML config files (newswatch/core/yaml_files.py): what a document means is what
PyYAML's SafeLoader says, whichever way it is built; duplicate keys are one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from newswatch.core.errors import ConfigError
from newswatch.core.yaml_files import read_yaml

DOCUMENTS = [
    "rules:\n  - name: iss\n    query: 'ISS OR \"space station\"'\n    enabled: false\n",
    "a: 1\nb: 2.5\nc: ~\nd: yes\ne: 2024-08-05\nf: '2024-08-05'\ng: [x, 'y', 3]\nh: {i: j}\n",
    "block: |\n  two\n  lines\nfolded: >\n  one\n  line\nempty:\nlist:\n  -\n  - ''\n",
    "base: &base {every: 10m, kind: feed}\nsources:\n  - <<: *base\n    name: one\n",
    "1: numeric key\nfalse: boolean key\n",
    "- top\n- level\n- [nested, [deeper]]\n",
    'plain: Роскосмос\nquoted: "МКС \\u2014 ISS"\n',
    "",
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_documents_mean_what_the_safe_loader_says(tmp_path: Path, document: str) -> None:
    path = tmp_path / "file.yaml"
    path.write_text(document, encoding="utf-8")
    assert read_yaml(path) == yaml.safe_load(document)


@pytest.mark.parametrize(
    ("document", "where"),
    [("a: 1\nb: 2\na: 3\n", "file.yaml:3: "), ("rules:\n  - name: x\n    name: y\n", "file.yaml:3: ")],
)
def test_a_duplicate_key_is_one_error_with_its_line(tmp_path: Path, document: str, where: str) -> None:
    path = tmp_path / "file.yaml"
    path.write_text(document, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        read_yaml(path)
    assert where in str(error.value) and "duplicate key" in str(error.value), str(error.value)
