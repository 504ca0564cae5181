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
