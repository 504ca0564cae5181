"""Command-line options generated from an operation's request fields, so the spec declares them once.

A command of class `FieldsCommand` gets one option per optional body field of its operation (read from
the generated code through `oai_images.rules.field_schemas`): ``--output-format`` for ``output_format``,
``--svg-reasoning-effort`` for the ``effort`` of the ``reasoning`` object inside ``svg``. Values are
passed on as given (integers parsed as integers) and checked by the rules, so an error names what *that
model* accepts. A field added to the spec is an option after ``make generate``, with no edit here.

The options are built when a command's help or arguments are first needed, not at import: the generated
models load then, so ``oai-images --help`` stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.shell_completion import CompletionItem
    from oai_images_api.api import Operation

    from ..rules import FieldSchema

    Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]

__all__ = ["FieldsCommand", "field_values"]

#: Short flags of the PSAI module's Get-OAIImageGeneration parameters, kept since the first release.
_SHORT = {"model": "-m", "n": "-n", "quality": "-q", "response_format": "-r", "size": "-s"}
#: Nested fields' option names join their path with this in the Python name (``svg__reasoning__effort``).
_NESTING = "__"


class FieldsCommand(click.Command):
    """A command with an option per optional body field of an operation, after its own options.

    Args:
        operation: A function returning the generated `Operation` (called when the options are needed).
        skip: Fields the command offers in another shape (its arguments) or sets itself.
    """

    def __init__(self, *args: Any, operation: Any, skip: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._operation = operation
        self._skip = skip
        self._field_params: list[click.Parameter] | None = None

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if self._field_params is None:
            self._field_params = list(_options(self._operation(), self._skip))
        own = super().get_params(ctx)
        # The help option stays last.
        return own[:-1] + self._field_params + own[-1:] if own else self._field_params

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The options; those with a ``help_group`` (the Azure ones) in a section of their own, after."""
        sections: dict[str, list[tuple[str, str]]] = {"Options": []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and not isinstance(param, click.Argument):
                sections.setdefault(getattr(param, "help_group", None) or "Options", []).append(record)
        for title, records in sections.items():
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


def _options(operation: Operation[Any, Any], skip: frozenset[str]) -> Iterator[click.Option]:
    from ..rules import field_schemas  # noqa: PLC0415 -- loads the generated models: only when needed

    for name, schema in field_schemas(operation).items():
        if name in operation.required or name in skip:
            continue
        if schema.info is not None and schema.info.binary:  # uploads are a command's own arguments
            continue
        yield from _field_options(schema, (name,))


def _field_options(schema: FieldSchema, path: tuple[str, ...]) -> Iterator[click.Option]:
    if schema.nested is not None:
        for name, inner in schema.nested.items():
            yield from _field_options(inner, (*path, name))
        return
    name = path[0] if len(path) == 1 else _NESTING.join(path)
    declarations = [f"--{'-'.join(path).replace('_', '-')}", name]
    short = _SHORT.get(name)
    if short is not None:
        declarations.insert(0, short)
    kinds = schema.kinds
    numeric = "int" in kinds and not kinds & {"str", "enum", "any"}
    if "bool" in kinds and not kinds - {"bool"}:
        yield click.Option(declarations, type=bool, default=None, help=_help(schema))
        return
    yield click.Option(
        declarations,
        type=int if numeric else str,
        default=None,
        help=_help(schema),
        shell_complete=_completer(name, schema.values),
        callback=None if numeric else _canonical(name, schema.values),
    )


def _canonical(name: str, values: tuple[str, ...]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A callback that sends a value typed in another case as the spec writes it (``JPEG``: ``jpeg``,
    ``1024X1024``: ``1024x1024``); any other value is left for the rules to judge."""  # noqa: D205, D209
    lookup = {value.lower(): value for value in values}

    def canonical(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value.lower() in lookup:
            return lookup[value.lower()]
        if name == "size" and (match := _SIZE.fullmatch(value.strip())) is not None:
            return f"{match.group(1)}x{match.group(2)}"
        return value

    return canonical


_SIZE = re.compile(r"(\d+)\s*[xX\u00d7]\s*(\d+)")  # x, X or the multiplication sign


def _completer(name: str, values: tuple[str, ...]) -> Completer | None:
    """Tab completion of an option's values: the spec's enum members, narrowed to what the --model typed
    before accepts; for --model, every model the rules table knows too (the spec lists fewer)."""  # noqa: D205, D209 - one sentence over two lines
    from ..rules import MODEL_RULES  # noqa: PLC0415 -- loaded with the options, not at import

    if name == "model":
        values = (*MODEL_RULES, *(value for value in values if value not in MODEL_RULES))
    if not values:
        return None

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem  # noqa: PLC0415 -- only when completing

        rules = MODEL_RULES.get(str(ctx.params.get("model")))
        offered = (rules.allowed(name) or values) if rules is not None and name != "model" else values
        return [CompletionItem(value) for value in offered if value.startswith(incomplete)]

    return complete


def _help(schema: FieldSchema) -> str:
    description = " ".join((schema.info.description if schema.info else "").split())
    if schema.values and "enum" in schema.kinds and schema.values[0] not in description:
        description += f" One of: {', '.join(schema.values)}."
    return description


def field_values(values: Mapping[str, object]) -> dict[str, object]:
    """The request fields of a command's field options: those given, nested ones rebuilt as objects."""
    fields: dict[str, object] = {}
    for name, value in values.items():
        if value is None:
            continue
        *parents, leaf = name.split(_NESTING)
        target = fields
        for parent in parents:
            inner = target.setdefault(parent, {})
            assert isinstance(inner, dict)  # built here, only ever a dict
            target = inner
        target[leaf] = value
    return fields
