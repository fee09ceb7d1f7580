"""YAML read with the line of every key, so that an error can name where to look.

PyYAML's composer gives nodes with their marks; this builds the plain Python value from them
(safe types only: mappings, sequences, scalars resolved by PyYAML's safe rules) and records,
for every path into the value, the 1-based line where it is written::

    lines[("inputs", 3, "type")] == 17

A mapping key's path points at the key's own line; a missing key is reported at its parent's.
"""

from __future__ import annotations

from typing import Any

import yaml

Path = tuple[str | int, ...]


class YamlError(ValueError):
    """Not YAML, or YAML this file format does not take; ``line`` is 1-based (0: unknown)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load(text: str) -> tuple[Any, dict[Path, int]]:
    """The document's value and the line of each path in it."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        # The context (where the construct the parser was reading began) names the key the
        # mistake belongs to; the problem mark is where the parser gave up, often a line on.
        mark = exc.context_mark or exc.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise YamlError(line, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlError(0, f"not valid YAML: {exc}") from None
    lines: dict[Path, int] = {}
    if node is None:
        return None, lines
    return _value(node, (), lines), lines


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of ``path``, or of its nearest ancestor written in the file (0: none)."""
    for cut in range(len(path), -1, -1):
        line = lines.get(tuple(path[:cut]))
        if line:
            return line
    return 0


_SCALARS = yaml.SafeLoader(b"")


def _value(node: yaml.Node, path: Path, lines: dict[Path, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _value(key_node, (*path, "<key>"), {})
            if not isinstance(key, str | int | float | bool) or key is None:
                raise YamlError(key_node.start_mark.line + 1, "a key must be a plain scalar")
            if key in out:
                raise YamlError(key_node.start_mark.line + 1, f"key {key!r} appears twice")
            child = (*path, str(key))
            lines[child] = key_node.start_mark.line + 1
            out[key] = _value(value_node, child, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_value(item, (*path, i), lines) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.ScalarNode):
        try:
            return _SCALARS.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise YamlError(node.start_mark.line + 1, f"bad value: {exc}") from None
    raise YamlError(node.start_mark.line + 1, "anchors and tags are not supported here")
