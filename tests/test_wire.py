"""Hostile Python values in every keyword, with and without validation: nothing but InvalidParameterError
escapes, nothing is sent when it is raised, and its message and repr can always be built."""  # noqa: D205, D209 - one sentence

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oai_images_api.api.images import CREATE_IMAGE

import oai_images
from oai_images import rules
from tests.conftest import PNG_B64

FIELDS = tuple(rules.field_schemas(CREATE_IMAGE))


class _BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr refused")

    __str__ = __repr__


class _BadEq:
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq refused")

    __hash__ = object.__hash__


def _nested(depth: int, mapping: bool) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"a": value} if mapping else [value]
    return value


HOSTILE = st.one_of(
    st.sampled_from(
        [
            10**5000,
            -(10**5000),
            _nested(5000, mapping=False),
            _nested(5000, mapping=True),
            _nested(100_000, mapping=False),
            _BadRepr(),
            _BadEq(),
            math.nan,
            math.inf,
            "\ud800",
            "x" * 100_000,
            b"bytes",
            {1, 2},
            object(),
            True,
            {"svg": _BadRepr()},
            {_BadRepr(): 1},
            [_BadRepr()],
        ]
    ),
    st.integers(),
    st.floats(),
    st.text(max_size=50),
    st.recursive(st.none() | st.integers() | st.text(max_size=5), lambda inner: st.lists(inner, max_size=3)),
)


def _client(sent: list[httpx.Request], validate: bool) -> oai_images.ImagesClient:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"created": 1, "data": [{"b64_json": PNG_B64}]})

    transport = httpx.MockTransport(answer)
    return oai_images.ImagesClient(
        api_key="sk-x", http_client=httpx.Client(transport=transport), validate=validate
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=HOSTILE, validate=st.booleans())
def test_request_hostile_values_raise_only_invalid_parameter_error(
    field: str, value: Any, validate: bool
) -> None:
    """Any value in any keyword: a result, or InvalidParameterError with nothing sent; str and repr work."""
    sent: list[httpx.Request] = []
    client = _client(sent, validate)
    prompt, params = (value, {}) if field == "prompt" else ("a fox", {field: value})
    error: oai_images.InvalidParameterError | None = None
    try:
        client.generate(prompt, **params)
    except oai_images.InvalidParameterError as exc:
        error = exc
    if error is None:
        assert len(sent) == 1
    else:
        assert sent == []
        assert str(error)
        assert repr(error)
        assert error.param


@pytest.mark.parametrize("field", [name for name in FIELDS if name != "prompt"])
def test_request_deep_values_without_validation_name_the_field(field: str) -> None:
    """validate=False, a value nested beyond the recursion limit: InvalidParameterError naming the field."""
    sent: list[httpx.Request] = []
    with pytest.raises(oai_images.InvalidParameterError) as caught:
        _client(sent, validate=False).generate("a fox", **{field: _nested(100_000, mapping=True)})  # type: ignore[arg-type]
    assert caught.value.param == field
    assert sent == []
    assert repr(caught.value)


# --- the body is the generated model's own writing of the fields ----------------------------------------


def _valid(schema: rules.FieldSchema) -> st.SearchStrategy[object]:
    """Values the schema of one field accepts, drawn from the data the generator wrote for it."""
    info = schema.info
    choices: list[st.SearchStrategy[object]] = []
    if schema.values:
        choices.append(st.sampled_from(schema.values))
    if "str" in schema.kinds:
        choices.append(st.text(min_size=1, max_size=20).filter(str.strip))
    if "int" in schema.kinds:
        low = int(info.minimum) if info is not None and info.minimum is not None else -5
        high = int(info.maximum) if info is not None and info.maximum is not None else low + 100
        choices.append(st.integers(low, high))
    if "float" in schema.kinds:
        choices.append(st.floats(0, 1))
    if "bool" in schema.kinds:
        choices.append(st.booleans())
    if "object" in schema.kinds and schema.nested is not None:
        choices.append(st.fixed_dictionaries({k: _valid(v) for k, v in schema.nested.items()}))
    return st.one_of(choices)


def _json_operations() -> list[Any]:
    from oai_images_api.api import batch, files, images

    modules = (images, batch, files)
    ops = [getattr(module, name) for module in modules for name in dir(module) if name.isupper()]
    return [op for op in ops if type(op).__name__ == "Operation" and op.content_type == "application/json"]


@pytest.mark.parametrize("operation", _json_operations(), ids=lambda op: op.name)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_request_body_is_what_the_generated_model_writes(operation: Any, data: st.DataObject) -> None:
    """For every field of every JSON operation, ``request_body`` gives exactly the mapping the operation's
    generated model writes from it (``from_dict(...).to_dict()``): skipping the round trip changes nothing."""  # noqa: D205, D209
    from oai_images._wire import request_body

    schemas = rules.field_schemas(operation)
    kinds = {name: s for name, s in schemas.items() if s.kinds != frozenset({"any"})}
    required = {name: _valid(kinds[name]) for name in operation.required if name in kinds}
    if "images" in operation.required:  # a list (kind "any"): image references, as the spec gives them
        required["images"] = st.lists(st.just({"image_url": "https://example.com/a.png"}), min_size=1)
    optional = {name: _valid(s) for name, s in kinds.items() if name not in required}
    fields = data.draw(st.fixed_dictionaries(required, optional=optional))
    body = request_body(fields)
    assert body == fields
    assert operation.body.from_dict(body).to_dict() == body
