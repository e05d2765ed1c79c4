"""Reading one YAML config file safely: a safe loader, duplicate keys refused, aliases that
expand past a bound refused, and every syntax error as one line with its line and column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from newswatch.core.bulk import collector_paused
from newswatch.core.errors import ConfigError

# LibYAML's parser where PyYAML was built with it: a rules file of 10,000 rules loads in a
# tenth of the pure-Python parser's time. Both give nodes with line and column marks.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """A SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: merged keys may be overridden
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    """Return the parsed YAML document at `path`; syntax errors become one-line ConfigErrors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read ({exc.strerror})") from None
    with collector_paused():
        return _parse(text, path)


def _parse(text: str, path: Path) -> Any:
    loader = _UniqueKeyLoader(text)  # a SafeLoader subclass
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        # An alias needs an anchor (`&name`): a document without '&' cannot expand.
        expanded, written = _expanded_size(node) if "&" in text else (0, 0)
        if expanded > max(MAX_YAML_NODES, ALIAS_GROWTH * written):
            raise ConfigError(
                str(path),
                f"YAML aliases expand {written:,} values to more than {max(MAX_YAML_NODES, ALIAS_GROWTH * written):,} "
                "(an alias bomb?); refused",
            )
        if "&" not in text:  # no alias, so every node is written once: the quick construction
            try:
                return _construct_plain(node, loader)
            except (_NotPlain, RecursionError):
                pass  # merge keys, other tags, absurd nesting: PyYAML's own construction says
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = f", column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(str(path), f"YAML syntax error: {problem}{column}", line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"YAML syntax error: {exc}") from None
    finally:
        loader.dispose()


_STR, _SEQ, _MAP = (f"tag:yaml.org,2002:{name}" for name in ("str", "seq", "map"))
_SCALARS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("bool", "int", "float", "null", "timestamp"))


class _NotPlain(Exception):
    """The document holds something the quick construction leaves to PyYAML."""


def _construct_plain(node: yaml.Node, loader: _UniqueKeyLoader) -> Any:
    """Build the document from LibYAML's nodes as SafeLoader would (duplicate keys refused the
    same way), without PyYAML's per-node Python machinery: a file of 10,000 rules is mostly
    mappings of strings, and building them was most of its loading time."""
    tag = node.tag
    if tag == _STR:
        return node.value
    if tag == _MAP:
        built: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag != _STR:
                raise _NotPlain
            key = key_node.value
            if key in built:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            built[key] = _construct_plain(value_node, loader)
        return built
    if tag == _SEQ:
        return [_construct_plain(child, loader) for child in node.value]
    if tag in _SCALARS:
        return loader.construct_object(node)
    raise _NotPlain


# Aliases that make a document much bigger than it is written are an attack (a "billion
# laughs" of nested anchors), not a configuration: past MAX_YAML_NODES values, a document may
# expand to at most ALIAS_GROWTH times the values written in it.
MAX_YAML_NODES = 200_000
ALIAS_GROWTH = 4


def _expanded_size(root: yaml.Node) -> tuple[float, int]:
    """Return how many values the document holds once every alias is expanded, and how many
    distinct values are written, counted without expanding (an alias is the same node object
    again): sizes are memoised per node; a node that contains itself counts as unbounded."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if children_done:
            in_progress.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            continue
        if key in in_progress:
            return float("inf"), len(sizes)  # recursive anchor
        in_progress.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in in_progress:
                return float("inf"), len(sizes)
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)], len(sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
