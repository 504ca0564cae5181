"""Apply an OpenAPI Overlay (1.0, plus the `copy` action of 1.1) to a parsed OpenAPI document.

    from openapi_overlay import apply_overlay
    result = apply_overlay(document, overlay)     # a new document; the inputs are left unchanged

Actions run in order. Each `target` is a JSONPath (RFC 9535) over the document as the previous actions left
it, and must select at least one node: an action that selects nothing raises `OverlayError` naming it, so
an upstream change that moves or deletes what an action edits stops the build instead of silently giving a
different document.

- `update` on an object merges recursively: objects merge key by key, any other value (scalar or array)
  replaces the one of the same name. `update` on an array appends the value as one new item.
- `remove: true` deletes the selected nodes from their parents.
- `copy` (Overlay 1.1) names a JSONPath that must select exactly one node; its value is merged into each
  target as `update` would merge it.

The JSONPath subset: `$`, `.name`, `.*`, and bracketed selectors separated by commas: `'name'` or `"name"`,
an integer index (negative counts from the end), `*`, and a filter `?@ == value`, `?@.name == value` or
`?@['name'] != value` (parentheses allowed) comparing to a string, number, `true`, `false` or `null`,
or `?@.name` testing that a member exists.
Anything else is rejected when the overlay is applied, never misread.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["OverlayError", "apply_overlay", "select"]

SUPPORTED_VERSIONS = ("1.0.", "1.1.")


class OverlayError(Exception):
    """The overlay is malformed, or one of its actions cannot be applied."""


@dataclass(frozen=True)
class Node:
    """A selected value, with the container and key that hold it (both None for the root)."""

    parent: dict[str, Any] | list[Any] | None
    key: str | int | None
    value: Any


# One step of a path: given a node, yield the selected children.
Step = Callable[[Node], Iterator[Node]]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")
_INTEGER = re.compile(r"-?\d+")
_LITERAL = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null""")
_FILTER = re.compile(
    r"""\?\s*\(?\s*@(?:\.(?P<dot>[A-Za-z_][A-Za-z0-9_]*)|\[\s*(?P<quoted>'[^']*'|"[^"]*")\s*\])?"""
    r"""(?:\s*(?P<op>==|!=)\s*(?P<literal>""" + _LITERAL.pattern + r"""))?\s*\)?"""
)
_MISSING = object()


def _unquote(text: str) -> str:
    """The value of a single- or double-quoted JSONPath string."""
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _literal(text: str) -> Any:
    """The value of a filter's comparison literal."""
    if text[0] in "'\"":
        return _unquote(text)
    if text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text]
    return float(text) if "." in text else int(text)


def _children(node: Node) -> Iterator[Node]:
    """Every member of an object or item of an array, in document order."""
    if isinstance(node.value, dict):
        for key, value in node.value.items():
            yield Node(node.value, key, value)
    elif isinstance(node.value, list):
        for index, value in enumerate(node.value):
            yield Node(node.value, index, value)


def _name_step(name: str) -> Step:
    def step(node: Node) -> Iterator[Node]:
        if isinstance(node.value, dict) and name in node.value:
            yield Node(node.value, name, node.value[name])

    return step


def _index_step(index: int) -> Step:
    def step(node: Node) -> Iterator[Node]:
        if isinstance(node.value, list) and -len(node.value) <= index < len(node.value):
            position = index % len(node.value)
            yield Node(node.value, position, node.value[position])

    return step


def _filter_step(member: str | None, equal: bool, literal: Any) -> Step:
    """A filter comparing each child (or its member) to `literal`; `literal` _MISSING tests existence."""

    def matches(value: Any) -> bool:
        if member is not None:
            value = value.get(member, _MISSING) if isinstance(value, dict) else _MISSING
        if literal is _MISSING:
            return value is not _MISSING
        # JSON comparison: true is not 1, so compare types as well as values.
        same = value is not _MISSING and type(value) is type(literal) and value == literal
        return same == equal

    def step(node: Node) -> Iterator[Node]:
        yield from (child for child in _children(node) if matches(child.value))

    return step


def _union(steps: list[Step]) -> Step:
    def step(node: Node) -> Iterator[Node]:
        for one in steps:
            yield from one(node)

    return step


def _bracket_selector(text: str, position: int, path: str) -> tuple[Step, int]:
    """Parse one selector inside brackets at `position`; return it and the position after it."""
    if text.startswith("*", position):
        return _children, position + 1
    if match := _STRING.match(text, position):
        return _name_step(_unquote(match.group(0))), match.end()
    if match := _FILTER.match(text, position):
        if match.group("dot"):
            member: str | None = match.group("dot")
        elif match.group("quoted"):
            member = _unquote(match.group("quoted"))
        else:
            member = None
        if match.group("op") is None:
            if member is None:
                raise OverlayError(f"unsupported JSONPath {path!r}: a filter tests @.name, or compares")
            step = _filter_step(member, True, _MISSING)
        else:
            step = _filter_step(member, match.group("op") == "==", _literal(match.group("literal")))
        return step, match.end()
    if match := _INTEGER.match(text, position):
        return _index_step(int(match.group(0))), match.end()
    raise OverlayError(f"unsupported JSONPath {path!r} at {text[position:]!r}")


def parse_path(path: str) -> list[Step]:
    """Parse a JSONPath of the supported subset into its steps."""
    if not path.startswith("$"):
        raise OverlayError(f"a JSONPath starts with '$': {path!r}")
    steps: list[Step] = []
    position = 1
    while position < len(path):
        if path.startswith(".*", position):
            steps.append(_children)
            position += 2
        elif path[position] == "." and (match := _NAME.match(path, position + 1)):
            steps.append(_name_step(match.group(0)))
            position = match.end()
        elif path[position] == "[":
            selectors: list[Step] = []
            position += 1
            while True:
                while path.startswith(" ", position):
                    position += 1
                selector, position = _bracket_selector(path, position, path)
                selectors.append(selector)
                while path.startswith(" ", position):
                    position += 1
                if path.startswith(",", position):
                    position += 1
                    continue
                if path.startswith("]", position):
                    position += 1
                    break
                raise OverlayError(f"unsupported JSONPath {path!r} at {path[position:]!r}")
            steps.append(selectors[0] if len(selectors) == 1 else _union(selectors))
        else:
            raise OverlayError(f"unsupported JSONPath {path!r} at {path[position:]!r}")
    return steps


def select(document: Any, path: str) -> list[Node]:
    """The nodes of `document` that `path` selects, in document order (duplicates removed)."""
    nodes = [Node(None, None, document)]
    for step in parse_path(path):
        found: list[Node] = []
        seen: set[tuple[int, str | int | None]] = set()
        for node in nodes:
            for child in step(node):
                identity = (id(child.parent), child.key)
                if identity not in seen:
                    seen.add(identity)
                    found.append(child)
        nodes = found
    return nodes


def _merge(target: Any, value: Any, where: str) -> None:
    """Merge `value` into the object or array `target` in place (see the module docstring)."""
    if isinstance(target, list):
        target.append(copy.deepcopy(value))
    elif isinstance(target, dict):
        if not isinstance(value, Mapping):
            raise OverlayError(f"{where}: an object can only be updated with an object, not {value!r}")
        for key, item in value.items():
            if isinstance(item, Mapping) and isinstance(target.get(key), dict):
                _merge(target[key], item, where)
            else:
                target[key] = copy.deepcopy(item)
    else:
        raise OverlayError(f"{where}: selects the scalar {target!r}; update its parent object instead")


def _remove(nodes: list[Node]) -> None:
    """Delete the nodes from their parents; array items from the last one, so indexes stay valid."""
    for node in sorted(nodes, key=lambda n: n.key if isinstance(n.key, int) else 0, reverse=True):
        if node.parent is None:
            raise OverlayError("the root of the document cannot be removed")
        del node.parent[node.key]  # type: ignore[arg-type]  # an int key always goes with a list parent


def _name(index: int, action: Mapping[str, Any]) -> str:
    """How an action is named in an error: its number, target and description."""
    description = str(action.get("description", "")).strip().splitlines()
    about = f" ({description[0]})" if description else ""
    return f"overlay action {index} on {action.get('target')!r}{about}"


def _apply_action(document: dict[str, Any], action: Mapping[str, Any], name: str) -> None:
    """Apply one validated action to `document` in place."""
    nodes = select(document, action["target"])
    if not nodes:
        raise OverlayError(f"{name}: the target matches nothing in the document")
    if action.get("remove") is True:
        _remove(nodes)
        return
    if "copy" in action:
        sources = select(document, str(action["copy"]))
        if len(sources) != 1:
            raise OverlayError(
                f"{name}: the copy source {action['copy']!r} matches {len(sources)} nodes, not 1"
            )
        value = sources[0].value
    else:
        value = action["update"]
    for node in nodes:
        _merge(node.value, value, name)


def apply_overlay(document: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Apply an overlay's actions to a copy of an OpenAPI document.

    Args:
        document: The parsed OpenAPI document; not modified.
        overlay: The parsed Overlay document (`overlay: 1.0.x` or `1.1.x`, `info`, `actions`).

    Returns:
        The document with every action applied, in order.

    Raises:
        OverlayError: The overlay is malformed, or an action's target (or copy source) selects nothing,
            naming the action by its 1-based number, target and description.
    """
    version = str(overlay.get("overlay", ""))
    if not version.startswith(SUPPORTED_VERSIONS):
        raise OverlayError(f"unsupported overlay version {version!r}; expected 1.0.x or 1.1.x")
    actions = overlay.get("actions")
    if not isinstance(actions, list) or not actions:
        raise OverlayError("an overlay needs a non-empty list of actions")
    result = copy.deepcopy(dict(document))
    for index, action in enumerate(actions, start=1):
        if not isinstance(action, Mapping) or not isinstance(action.get("target"), str):
            raise OverlayError(f"overlay action {index} needs a string `target`")
        name = _name(index, action)
        kinds = [kind for kind in ("update", "copy") if kind in action]
        if action.get("remove") is True:
            kinds.append("remove")
        if len(kinds) != 1:
            raise OverlayError(f"{name}: needs exactly one of update, copy or remove: true")
        if kinds == ["copy"] and not version.startswith("1.1."):
            raise OverlayError(f"{name}: `copy` needs overlay version 1.1.x")
        try:
            _apply_action(result, action, name)
        except OverlayError as exc:
            message = str(exc)
            raise OverlayError(message if message.startswith(name) else f"{name}: {message}") from None
    return result
