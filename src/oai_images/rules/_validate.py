"""The checks that apply the rules: a request's fields against its operation's schema and its model's rules.

Two layers, both read from data:

1. **The schema** (model-independent), written by the generator into each operation's `FieldInfo`: which
   fields an operation has, their JSON kinds and enum members, ranges, lengths and patterns. A field added
   to the spec is known here after ``make generate``, with no edit to this module. These checks apply to
   every request, also for a model the table does not know (a compatible server's own).
2. **The model** (`MODEL_RULES`, in `._table`): its values, fields, sizes, prompt length, ``n`` and
   cross-field rules; its input images are checked beside the facade's upload probe
   (`oai_images._uploads.check_inputs`).
"""

from __future__ import annotations

import functools
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .._errors import InvalidParameterError
from .._uploads import check_inputs
from ._table import (
    FREE_SIZE_RULE,
    MODEL_RULES,
    ModelRules,
    Requires,
    free_size_problem,
    operation_rules,
    parse_size,
    resolve_model,
)

if TYPE_CHECKING:
    from oai_images_api.api import FieldInfo, Operation

__all__ = ["FieldSchema", "field_schemas", "known_fields", "validate"]


# --- the schema, read from the generated operation ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldSchema:
    """One field's model-independent rule: its types (from the TypedDict), and constraints (FieldInfo).

    Attributes:
        name: The field's name in the request body.
        kinds: The JSON kinds it takes, among ``str``, ``int``, ``float``, ``bool``, ``object``, ``enum``
            (only the values listed) and ``any``.
        values: The enum's members; with ``str`` in ``kinds`` they are only the known values.
        nested: The fields of an object, by name.
        models: The generated models accepted for an object (sent as their ``to_dict()``).
        info: What the spec says of the field beyond its type: description, range, length, pattern.
    """

    name: str
    kinds: frozenset[str]  # among "str", "int", "float", "bool", "object", "any"
    values: tuple[str, ...] = ()  # the enum members; with "str" in kinds they are only suggestions
    nested: Mapping[str, FieldSchema] | None = None  # the fields of an object
    models: tuple[type[Any], ...] = ()  # generated models accepted for an object (as their to_dict())
    info: FieldInfo | None = None

    def describe(self) -> str:  # noqa: PLR0911 - one return per kind of field
        """What is allowed, in words, for error messages."""
        info = self.info
        if self.values and "str" not in self.kinds:
            return ", ".join(self.values)
        if "int" in self.kinds:
            low = None if info is None or info.minimum is None else int(info.minimum)
            high = None if info is None or info.maximum is None else int(info.maximum)
            if low is not None and high is not None:
                return f"an integer from {low} to {high}"
            if low is not None:
                return f"an integer from {low} up"
            return "an integer" if high is None else f"an integer up to {high}"
        if "bool" in self.kinds:
            return "true or false"
        if "object" in self.kinds and self.nested is not None:
            return f"an object with the keys {', '.join(self.nested)}"
        if "str" in self.kinds:
            if info is not None and info.pattern and info.pattern != _NOT_BLANK:
                return f"a string matching {info.pattern}"
            if info is not None and (info.min_length or info.pattern):
                return "a string that is not empty or only white space"
            return "a string"
        return "any value"


#: The pattern of a string that must hold a character other than white space (the prompt, a model name).
_NOT_BLANK: Final = "\\S"


def _schema(name: str, info: FieldInfo) -> FieldSchema:
    nested = None if info.nested is None else {key: _schema(key, sub) for key, sub in info.nested.items()}
    return FieldSchema(name, info.kinds, info.values, nested, info.models, info)


@functools.cache
def field_schemas(operation: Operation[Any, Any]) -> Mapping[str, FieldSchema]:
    """Every body field of an operation, the required ones first, from the `FieldInfo` the generator
    wrote for it (its kinds, enum members, constraints and nested fields, read from the spec).

    This is how the command line builds its options and the emulator knows the fields: from the
    generated code, so a field added to the spec needs no edit anywhere else.
    """  # noqa: D205
    return {name: _schema(name, info) for name, info in operation.fields.items()}


def known_fields(operation: Operation[Any, Any]) -> tuple[str, ...]:
    """The body fields of an operation, required ones first, in the spec's order."""
    return tuple(field_schemas(operation))


# --- validation -----------------------------------------------------------------------------------------


def validate(operation: Operation[Any, Any], fields: Mapping[str, object]) -> None:
    """Check a request against the schema and the rules of its model; raise on the first problem.

    Args:
        operation: The generated description of the operation (e.g. ``CREATE_IMAGE``).
        fields: The request body: field names mapped to the values the caller set. Fields not set must
            be absent (None is treated as a value and rejected).

    Raises:
        InvalidParameterError: Naming the field, the value, the model and what is allowed. Building the
            message never raises, whatever the value.
    """
    prompt = fields.get("prompt")
    key = None
    if type(prompt) is str:
        key = _memo_key(operation, fields)
        # Options that passed with another prompt: only the prompt's own checks remain. A prompt that breaks
        # one goes through every check below, whose error names what is wrong.
        if key is not None and (bounds := _passed.get(key)) is not None and _fits(prompt, bounds):
            return
    rules = _validate(operation, fields)
    if key is not None and (bounds := _prompt_bounds(operation, rules)) is not None:
        if len(_passed) >= _PASSED_MAX:
            _passed.clear()
        _passed[key] = bounds


#: The plain values a remembered combination of options may hold (the type is part of the key: 1 is not
#: True, and a subclass could compare as it likes).
_PLAIN: Final = frozenset({str, int, float, bool})
#: How many combinations of options are remembered, across operations, before starting over.
_PASSED_MAX: Final = 512
#: The prompt's checks as bounds: its shortest and longest length and the pattern it must match.
_Bounds = tuple[int, float, "re.Pattern[str] | None"]
#: The combinations of options (every field but the prompt) that passed, with the prompt's checks under
#: them: a run of many prompts with the same options checks those options once. Read and written without
#: a lock: a lost entry only means checking again.
_passed: dict[tuple[object, ...], _Bounds] = {}


def _fits(prompt: str, bounds: _Bounds) -> bool:
    shortest, longest, pattern = bounds
    return (
        shortest <= len(prompt) <= longest
        and (pattern is None or pattern.search(prompt) is not None)
        and (prompt.isascii() or _is_unicode(prompt))
    )


def _prompt_bounds(operation: Operation[Any, Any], rules: ModelRules | None) -> _Bounds | None:
    """Every check of a prompt string under these options, as bounds (see `_check_field`), or None when
    they are more than bounds (a list of values, say): such requests are then checked whole each time."""  # noqa: D205, D209
    rule = field_schemas(operation).get("prompt")
    if rule is None or rule.values or rule.nested is not None or "str" not in rule.kinds:
        return None
    if rules is not None and rules.allowed("prompt"):
        return None
    info = rule.info
    shortest = (info.min_length if info is not None else None) or 0
    longest: float = info.max_length if info is not None and info.max_length is not None else math.inf
    if rules is not None:
        longest = min(longest, rules.max_prompt_chars)
    pattern = _pattern(info.pattern) if info is not None and info.pattern is not None else None
    return shortest, longest, pattern


def _memo_key(operation: Operation[Any, Any], fields: Mapping[str, object]) -> tuple[object, ...] | None:
    """The key of a request's options, or None when one of them is not a plain immutable value."""
    key: list[object] = [operation]
    for name, value in fields.items():
        if name != "prompt":
            if type(value) not in _PLAIN:
                return None
            key.append((name, type(value), value))
    return tuple(key)


def _validate(operation: Operation[Any, Any], fields: Mapping[str, object]) -> ModelRules | None:
    """Every check, in order: `validate` without its memory. Returns the model's rules (None for a model the
    table does not know), for the prompt's checks of a remembered request."""  # noqa: D205, D209
    schema = field_schemas(operation)
    for name, value in fields.items():
        if name not in schema:
            known = ", ".join(schema)
            raise InvalidParameterError(
                name, value, tuple(schema), f"unknown parameter '{name}'; known: {known}"
            )
    for name in operation.required:
        if name not in fields:
            raise InvalidParameterError(name, None, (schema[name].describe(),), f"{name} is required")
    if "model" in fields:
        _check_field(schema["model"], fields["model"], None, "")
    model = resolve_model(fields, operation)
    rules = MODEL_RULES[model] if model is not None else None
    label = _label(model, fields, operation) if model is not None else ""
    if rules is not None:
        _check_operation(operation, rules, label, fields)
    for name, value in fields.items():
        if name == "model":
            continue
        info = schema[name].info
        if info is not None and info.binary:
            # Without a mask field (variations) no image is edited through its transparency.
            masked = "mask" in fields or "mask" not in schema
            _check_upload_allowed(name, value, rules, label, fields)
            check_inputs(
                name,
                value,
                most=info.max_items or 1,
                inputs=rules.inputs if rules is not None else None,
                label=label,
                first=fields.get("image"),
                masked=masked,
            )
        else:
            _check_field(schema[name], value, rules, label)
    if rules is not None:
        _check_model(rules, label, fields)
    return rules


def _check_upload_allowed(
    name: str, value: object, rules: ModelRules | None, label: str, fields: Mapping[str, object]
) -> None:
    """The model takes this upload at all (an edit's markup: gpt-image-2.5 and later), not beside a mask."""
    first = value[0] if isinstance(value, list | tuple) and value else value
    shown = getattr(getattr(first, "info", first), "name", value)
    if rules is not None and not rules.accepts(name):
        _not_accepted(name, shown, label)
    if name == "markup" and "mask" in fields:
        message = "markup cannot be sent with a mask: give one or the other"
        raise InvalidParameterError("markup", shown, ("no mask",), message)


def _check_field(rule: FieldSchema, value: object, rules: ModelRules | None, label: str) -> None:
    """One field: its type, the model's values for it (when the model restricts them), its constraints."""
    name = rule.name
    if rules is not None and not rules.accepts(name):
        _not_accepted(name, value, label)
    model_values = rules.allowed(name) if rules is not None else ()
    if not _type_ok(rule, value):
        allowed = model_values or _allowed(rule)
        raise InvalidParameterError(
            name, value, allowed, f"{name} {_show(value)} is not valid; allowed: {', '.join(allowed)}"
        )
    if isinstance(value, str):
        _check_unicode(name, value)
    if model_values and value not in model_values:
        if name == "size" and rules is not None and rules.free_sizes and isinstance(value, str):
            _check_free_size(rules, value, label)
        else:
            _reject(name, value, model_values, label)
    elif not model_values and rule.values and "str" not in rule.kinds and value not in rule.values:
        _reject(name, value, rule.values, "")
    most = rule.info.max_items if rule.info is not None else None
    if isinstance(value, list | tuple) and most is not None and len(value) > most:
        message = f"{name}: {len(value)} given; at most {most}"
        raise InvalidParameterError(name, len(value), (f"at most {most}",), message)
    problem = _constraint_problem(rule, value)
    if problem:
        allowed = _allowed(rule)
        raise InvalidParameterError(
            name, value, allowed, f"{name} {_show(value)} is not valid; allowed: {', '.join(allowed)}"
        )
    if rule.nested is not None and not isinstance(value, str):
        _check_object(rule, value)


def _type_ok(rule: FieldSchema, value: object) -> bool:  # noqa: PLR0911 - one return per JSON kind
    kinds = rule.kinds
    if "any" in kinds:
        return True
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, int):
        return "int" in kinds or "float" in kinds
    if isinstance(value, float):
        return "float" in kinds
    if isinstance(value, str):
        return "str" in kinds or "enum" in kinds
    if isinstance(value, (Mapping, *rule.models)):
        return "object" in kinds
    return False


def _constraint_problem(rule: FieldSchema, value: object) -> bool:
    """Whether the value breaks the schema's range, length or pattern."""
    info = rule.info
    if info is None:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (info.minimum is not None and value < info.minimum) or (
            info.maximum is not None and value > info.maximum
        )
    if isinstance(value, str):
        return (
            (info.min_length is not None and len(value) < info.min_length)
            or (info.max_length is not None and len(value) > info.max_length)
            or (info.pattern is not None and _pattern(info.pattern).search(value) is None)
        )
    return False


@functools.cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _check_object(rule: FieldSchema, value: object) -> None:
    """A nested object: a mapping (or a generated model) with known keys, each of the right type."""
    assert rule.nested is not None  # only called for objects
    to_dict = getattr(value, "to_dict", None)
    mapping = to_dict() if callable(to_dict) and isinstance(value, rule.models) else value
    problem = _object_problem(rule.nested, mapping)
    if problem is not None:
        allowed = (_allowed(rule)[0],)
        message = f"{rule.name} {_show(value)} is not valid: {problem}; allowed: {allowed[0]}"
        raise InvalidParameterError(rule.name, value, allowed, message)


def _object_problem(nested: Mapping[str, FieldSchema], value: object) -> str | None:
    if not isinstance(value, Mapping):
        return "not an object"
    for key, item in value.items():
        sub = nested.get(key) if isinstance(key, str) else None
        if sub is None:
            return f"unknown key {_show(key)}"
        if not _type_ok(sub, item) or (isinstance(item, str) and not _is_unicode(item)):
            return f"{key} {_show(item)} is not {sub.describe()}"
        if sub.nested is not None:
            inner = _object_problem(sub.nested, item)
            if inner is not None:
                return f"in {key}: {inner}"
    return None


def _allowed(rule: FieldSchema) -> tuple[str, ...]:
    if rule.values and "str" not in rule.kinds:
        return rule.values
    return (rule.describe(),)


def _check_unicode(name: str, value: str) -> None:
    if not _is_unicode(value):
        message = f"{name} is not valid Unicode text (it holds a lone surrogate)"
        raise InvalidParameterError(name, value, ("valid Unicode text",), message)


def _is_unicode(text: str) -> bool:
    """Whether a str can be sent as UTF-8: no lone surrogates (which JSON encoders refuse)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _label(model: str, fields: Mapping[str, object], operation: Operation[Any, Any] | None = None) -> str:
    """How messages name the model: as given, or saying which default applied."""
    if "model" in fields:
        return model
    if model == operation_rules(operation).default_model:
        return f"{model} (the API's default model when none is given)"
    return "the GPT image models (no model given, but a GPT-only field is set)"


# --- the model's own rules ----------------------------------------------------------------------------


def _check_operation(
    operation: Operation[Any, Any], rules: ModelRules, label: str, fields: Mapping[str, object]
) -> None:
    """The model can do this operation at all (dall-e-3 cannot edit; only dall-e-2 makes variations)."""
    op_rules = operation_rules(operation)
    if op_rules.takes(rules):
        return
    models = op_rules.models()
    value = fields.get("model", label)
    message = f"model {_show(value)} cannot {op_rules.label}; allowed: {', '.join(models)}"
    raise InvalidParameterError("model", value, models, message)


def _check_prompt_length(rules: ModelRules, label: str, prompt: object) -> None:
    if isinstance(prompt, str) and len(prompt) > rules.max_prompt_chars:
        raise InvalidParameterError(
            "prompt",
            prompt,
            (f"at most {rules.max_prompt_chars} characters",),
            f"prompt is {len(prompt)} characters long; {label} accepts at most {rules.max_prompt_chars}",
        )


def _check_model(rules: ModelRules, label: str, fields: Mapping[str, object]) -> None:
    """The rules of one known model that are not about a single field's values."""
    _check_prompt_length(rules, label, fields.get("prompt"))
    n = fields.get("n", 1)
    if isinstance(n, int) and n > rules.max_n:
        allowed = ("1",) if rules.max_n == 1 else (f"1 to {rules.max_n}",)
        _reject("n", n, allowed, label)
    for rule in rules.requires:
        _check_requires(rule, rules, fields)


def _check_requires(rule: Requires, rules: ModelRules, fields: Mapping[str, object]) -> None:
    if rule.field not in fields or (rule.values and fields[rule.field] not in rule.values):
        return
    given = rule.other in fields
    other = fields[rule.other] if given else rules.defaults.get(rule.other)
    if other in rule.allowed:
        return
    allowed = " or ".join(_plain(value) for value in rule.allowed)
    shown_other = f"{_plain(other)}{'' if given else ' (the default)'}"
    value = fields[rule.field]
    if rule.blame == "other":
        choices = tuple(_plain(v) for v in rule.allowed)
        message = (
            f"{rule.other} {_plain(other)} is not valid with {rule.field} {_plain(value)}; "
            f"allowed: {', '.join(choices)}"
        )
        raise InvalidParameterError(rule.other, other, choices, message)
    subject = f"{rule.field} {_show(value)}" if rule.values else rule.field
    message = f"{subject} is only accepted with {rule.other} {allowed}; {rule.other} is {shown_other}"
    raise InvalidParameterError(rule.field, value, (f"only with {rule.other} {allowed}",), message)


def _not_accepted(name: str, value: object, label: str) -> None:
    takers = [model for model, rules in MODEL_RULES.items() if _takes(rules, name, value)]
    gpt_models = [model for model, rules in MODEL_RULES.items() if rules.family == "gpt-image"]
    where = "the GPT image models" if takers == gpt_models else ", ".join(takers)
    where = f"; it is for {where}" if takers else ""
    raise InvalidParameterError(name, value, (), f"{name} {_show(value)} is not accepted by {label}{where}")


def _takes(rules: ModelRules, name: str, value: object) -> bool:
    """Whether a model takes this value of this field (for naming the models that do)."""
    if not rules.accepts(name):
        return False
    allowed = rules.allowed(name)
    # Only a string can be one of the values (and comparing a caller's object could run its __eq__).
    return not allowed or (isinstance(value, str) and value in allowed)


def _check_free_size(rules: ModelRules, size: str, label: str) -> None:
    allowed = (*rules.sizes, FREE_SIZE_RULE)
    dimensions = parse_size(size)
    if dimensions is None:
        _reject("size", size, allowed, label)
    problem = free_size_problem(*dimensions)
    if problem:
        raise InvalidParameterError(
            "size",
            size,
            allowed,
            f"size '{size}' is not valid for {label}: {problem}; allowed: {', '.join(allowed)}",
        )


def _reject(name: str, value: object, allowed: tuple[str, ...], label: str) -> typing.NoReturn:
    where = f" for {label}" if label else ""
    raise InvalidParameterError(
        name, value, allowed, f"{name} {_show(value)} is not valid{where}; allowed: {', '.join(allowed)}"
    )


def _plain(value: object) -> str:
    """A value as rules quote it: JSON's spelling of booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_SHOW_LIMIT: Final = 60


def _show(value: object) -> str:
    """A value as messages quote it: strings in quotes, shortened; other values as Python shows them.

    Never raises: a huge int, a value nested too deep or an object whose ``__repr__`` fails is named by
    its type instead.
    """
    if isinstance(value, str):
        text = value
    else:
        try:
            text = repr(value)
        except Exception:
            text = f"<{type(value).__name__} object>"
    if len(text) > _SHOW_LIMIT:
        text = text[: _SHOW_LIMIT - 3] + "..."
    return f"'{text}'" if isinstance(value, str) else text
