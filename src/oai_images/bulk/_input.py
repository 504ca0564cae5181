"""The requests of a bulk run: read from a file (.txt, .jsonl, .csv) or an iterable, every one checked first.

A run never starts on a file with a bad line: every line is read and validated (by
`oai_images.rules.validate`, against the generated field list) before the first request is sent, and the
first problem is reported with its line number, the field and what is allowed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import InvalidParameterError
from .._operations import operations
from .._wire import MAX_JSON_DEPTH, NOT_JSON, loads
from ._journal import canonical_json

__all__ = ["BulkRequest", "InvalidLineError", "prepare", "read_requests"]

#: What a line's ``id`` may hold: it names the line's files.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: Fields a bulk run sets itself, or cannot honour: every image is saved from one answer.
_NOT_IN_BULK = ("stream", "partial_images")
_SUFFIXES = (".txt", ".jsonl", ".csv")


class InvalidLineError(InvalidParameterError):
    """A line of a bulk input that cannot be sent; nothing was sent.

    Every line is checked before this is raised: it names the first bad line (``line``, ``param``, ...),
    and its message and ``errors`` hold every bad line, up to `MAX_REPORTED`.

    Attributes:
        line: The line number (1-based; for CSV, the header is line 1) or the item's position.
        source: The file the line is in, or None for an iterable.
        errors: Every bad line found (this one first), at most `MAX_REPORTED`.
        count: How many bad lines there are in all.
    """

    def __init__(self, error: InvalidParameterError, *, line: int, source: str | None = None) -> None:
        where = f"{source}:{line}" if source else f"request {line}"
        super().__init__(error.param, error.value, error.allowed, f"{where}: {error.message}")
        self.line = line
        self.source = source
        self.errors: tuple[InvalidLineError, ...] = (self,)
        self.count = 1

    @classmethod
    def of(cls, errors: list[InvalidLineError], count: int) -> InvalidLineError:
        """The error of a whole input: the first bad line's, with every one listed in its message."""
        first = errors[0]
        if count == 1:
            return first
        combined = cls(first, line=first.line, source=None)
        more = f"\n  … and {count - len(errors)} more" if count > len(errors) else ""
        listed = "\n  ".join(error.message for error in errors)
        combined.message = f"{count} lines cannot be sent (nothing was sent):\n  {listed}{more}"
        combined.args = (combined.message,)
        combined.source = first.source
        combined.errors = tuple(errors)
        combined.count = count
        return combined


#: How many bad lines one error lists.
MAX_REPORTED = 20


@dataclass(frozen=True)
class _Unreadable:
    """A line that is not a request at all (not JSON, a broken CSV row), found while reading."""

    error: InvalidLineError


@dataclass(frozen=True)
class BulkRequest:
    """One line of a bulk run.

    Attributes:
        number: Its line number (or position in the iterable), from 1.
        fields: The request body: the prompt and every field the line sets.
        id: The line's own id, naming its files; None: its number does.
        key: What identifies it in the journal: a hash of the fields (canonical JSON) and, for a request
            that appears more than once, which of the copies it is. Changing a field makes a new line.
    """

    number: int
    fields: Mapping[str, Any]
    id: str | None
    key: str

    @property
    def prompt(self) -> str:
        """The line's prompt."""
        return str(self.fields["prompt"])

    @property
    def label(self) -> str:
        """How the line is named in files and messages: its id, else its zero-padded number."""
        return self.id if self.id is not None else f"{self.number:05d}"


canonical = canonical_json


def _line_error(name: str, value: object, allowed: tuple[str, ...], message: str) -> InvalidParameterError:
    return InvalidParameterError(name, value, allowed, message)


#: How a line's fields are checked: the rules' ``validate``, or a client's own (Azure checks the rules of the
#: model behind its deployment).
Check = Callable[[Any, Mapping[str, object]], None]


def prepare(
    items: Iterable[tuple[int, Mapping[str, Any] | _Unreadable]],
    *,
    source: str | None = None,
    validate: bool = True,
    check: Check | None = None,
) -> list[BulkRequest]:
    """Check every raw line and give the requests; raise after the last, naming every bad one.

    Args:
        items: ``(line number, object)`` pairs; an object holds ``prompt``, any generate fields, and
            optionally ``id``.
        source: The file name, for messages.
        validate: Check the fields against the rules (the client's ``validate``).
        check: How to check them; ``oai_images.rules.validate`` when None.

    Raises:
        InvalidLineError: Naming the line, the field and what is allowed.
    """
    from .. import rules  # noqa: PLC0415 - loads the rules table only when a run starts

    requests: list[BulkRequest] = []
    seen_ids: dict[str, int] = {}
    copies: dict[str, int] = {}
    problems: list[InvalidLineError] = []
    bad = 0
    for number, raw in items:
        try:
            if isinstance(raw, _Unreadable):
                raise raw.error
            fields, line_id = _line_fields(
                raw, number, seen_ids, validate=validate, check=check or rules.validate
            )
        except InvalidParameterError as exc:
            bad += 1
            if len(problems) < MAX_REPORTED:
                problems.append(
                    exc
                    if isinstance(exc, InvalidLineError)
                    else InvalidLineError(exc, line=number, source=source)
                )
            continue
        text = canonical(fields)
        copy = copies[text] = copies.get(text, 0) + 1
        key = hashlib.sha256(f"{text}\n{copy}".encode()).hexdigest()
        requests.append(BulkRequest(number, fields, line_id, key))
    if problems:
        raise InvalidLineError.of(problems, bad)
    return requests


def _line_fields(
    raw: Mapping[str, Any],
    number: int,
    seen_ids: dict[str, int],
    *,
    validate: bool,
    check: Check,
) -> tuple[dict[str, Any], str | None]:
    """A line's fields and id, once they can be sent.

    Raises:
        InvalidParameterError: Naming the field and what is allowed.
    """
    fields = dict(raw)
    line_id = fields.pop("id", None)
    if line_id is not None:
        if not isinstance(line_id, str | int) or isinstance(line_id, bool):
            raise _line_error("id", line_id, ("a string",), "id must be a string")
        line_id = str(line_id)
        if not _ID.fullmatch(line_id):
            message = (
                f"id {line_id!r} cannot name a file: use 1 to 64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
            raise _line_error("id", line_id, ("[A-Za-z0-9][A-Za-z0-9._-]{0,63}",), message)
        if line_id in seen_ids:
            message = f"id {line_id!r} is already the id of line {seen_ids[line_id]}"
            raise _line_error("id", line_id, ("an id no other line has",), message)
        seen_ids[line_id] = number
    for name in _NOT_IN_BULK:
        if name in fields:
            message = f"{name} is not available in a bulk run (each image is saved from one answer)"
            raise _line_error(name, fields[name], ("not set",), message)
    if validate:
        check(operations().create_image, fields)
    elif not isinstance(fields.get("prompt"), str):
        raise _line_error("prompt", fields.get("prompt"), ("a string",), "prompt is required")
    return fields, line_id


def from_iterable(
    requests: Iterable[str | Mapping[str, Any]],
) -> Iterator[tuple[int, Mapping[str, Any] | _Unreadable]]:
    """Number the items of an iterable: a string is a prompt, a mapping a line's object."""
    for number, item in enumerate(requests, 1):
        if isinstance(item, str):
            yield number, {"prompt": item}
        elif isinstance(item, Mapping):
            yield number, item
        else:
            error = _line_error(
                "request", item, ("a prompt string", "a mapping"), "not a prompt or a mapping"
            )
            yield number, _Unreadable(InvalidLineError(error, line=number))


def read_requests(
    path: str | os.PathLike[str],
    *,
    validate: bool = True,
    check: Check | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> list[BulkRequest]:
    """Read and check every line of a ``.txt``, ``.jsonl`` or ``.csv`` file of requests.

    ``.txt``: one prompt a line (blank lines and lines starting with ``#`` are skipped). ``.jsonl``: one
    JSON object a line, with ``prompt``, any generate fields and an optional ``id``. ``.csv``: a header row
    of field names (``prompt``, ``id``, ``model``, ...); cells are converted to each field's type, and an
    empty cell leaves its field unset.

    Raises:
        InvalidLineError: A line that cannot be sent (nothing is sent).
        InvalidParameterError: The file cannot be read or is of no known kind.

    ``defaults`` are fields every line gets unless it sets them itself (a line's own fields win).
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in _SUFFIXES:
        message = f"{file.name}: a requests file ends in {', '.join(_SUFFIXES)}"
        raise InvalidParameterError("file", str(file), _SUFFIXES, message)
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidParameterError("file", str(file), ("a readable UTF-8 file",), f"{file}: {exc}") from exc
    source = file.name
    if suffix == ".txt":
        items: Iterable[tuple[int, Mapping[str, Any] | _Unreadable]] = _text_lines(text)
    elif suffix == ".jsonl":
        items = _json_lines(text, source)
    else:
        items = _csv_rows(text, source)
    if defaults:
        items = (
            (number, fields if isinstance(fields, _Unreadable) else {**defaults, **fields})
            for number, fields in items
        )
    return prepare(items, source=source, validate=validate, check=check)


def _text_lines(text: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for number, line in enumerate(text.splitlines(), 1):
        prompt = line.strip()
        if prompt and not prompt.startswith("#"):
            yield number, {"prompt": prompt}


def _json_lines(text: str, source: str) -> Iterator[tuple[int, Mapping[str, Any] | _Unreadable]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        item = loads(line)
        if item is NOT_JSON:
            problem = f"not JSON, or nested deeper than {MAX_JSON_DEPTH} levels"
            error = _line_error("line", line[:80], ("a JSON object",), problem)
            yield number, _Unreadable(InvalidLineError(error, line=number, source=source))
            continue
        if not isinstance(item, dict):
            error = _line_error("line", item, ("a JSON object",), "not a JSON object")
            yield number, _Unreadable(InvalidLineError(error, line=number, source=source))
            continue
        yield number, item


def _csv_rows(text: str, source: str) -> Iterator[tuple[int, Mapping[str, Any] | _Unreadable]]:
    from ..rules import field_schemas  # noqa: PLC0415 - loads the generated models only when needed

    schemas = field_schemas(operations().create_image)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in _csv_row(reader, source) or []]
    number = 1
    while (row := _csv_row(reader, source)) is not None:
        number += 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            error = _line_error(
                "line", row, (f"{len(header)} cells",), f"{len(row)} cells under a header of {len(header)}"
            )
            yield number, _Unreadable(InvalidLineError(error, line=number, source=source))
            continue
        fields: dict[str, Any] = {}
        unreadable: InvalidLineError | None = None
        for name, cell in zip(header, row, strict=False):
            if cell == "":
                continue
            schema = schemas.get(name)
            try:
                fields[name] = _cell_value(cell, schema.kinds if schema is not None else frozenset({"str"}))
            except ValueError:
                kinds = schema.describe() if schema is not None else "a string"
                error = _line_error(name, cell, (kinds,), f"{name} {cell!r} is not {kinds}")
                unreadable = InvalidLineError(error, line=number, source=source)
                break
        yield number, (fields if unreadable is None else _Unreadable(unreadable))


def _csv_row(reader: Any, source: str) -> list[str] | None:
    """The next row, or None at the end.

    Raises:
        InvalidLineError: The row cannot be read as CSV (a NUL byte, a field over the size limit).
    """
    try:
        return next(reader, None)
    except csv.Error as exc:
        error = _line_error("line", None, ("a CSV row",), f"not a CSV row: {exc}")
        raise InvalidLineError(error, line=reader.line_num, source=source) from None


def _cell_value(cell: str, kinds: frozenset[str]) -> object:
    """A CSV cell as the field's type; the rules then check the value itself.

    Raises:
        ValueError: The cell cannot be read as any of the field's kinds.
    """
    text = cell.strip()
    if "bool" in kinds and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if "int" in kinds and re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if "float" in kinds:
        try:
            return float(text)
        except ValueError:
            pass
    if kinds & {"object", "any"} and text[:1] in ("{", "["):
        value = loads(text)
        if value is NOT_JSON:
            raise ValueError(cell)
        return value
    if kinds & {"str", "enum", "any"}:
        return cell
    raise ValueError(cell)
