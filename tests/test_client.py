"""ImagesClient and AsyncImagesClient: configuration, the request on the wire, answers and errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oai_images_api.api.images import CREATE_IMAGE
from pytest_httpx import HTTPXMock

import oai_images
from oai_images import (
    APIConnectionError,
    APIStatusError,
    AsyncImagesClient,
    AuthenticationError,
    BadRequestError,
    CompletedImageEvent,
    ConflictError,
    ImagesClient,
    InternalServerError,
    InvalidParameterError,
    MissingAPIKeyError,
    NotFoundError,
    OAIImagesError,
    PartialImageEvent,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from oai_images import _client as client_module
from oai_images.rules import validate
from tests.conftest import Facade

USAGE = {
    "input_tokens": 50,
    "output_tokens": 4160,
    "total_tokens": 4210,
    "input_tokens_details": {"text_tokens": 50, "image_tokens": 0},
}


def only_request(httpx_mock: HTTPXMock) -> httpx.Request:
    """The one request sent."""
    [request] = httpx_mock.get_requests()
    return request


def body_of(request: httpx.Request) -> Any:
    """The JSON body a request carried."""
    return json.loads(request.content)


async def test_generate_sends_exactly_the_fields_set(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A dall-e-3 call is one POST to /images/generations with auth, agent and only the fields given."""
    httpx_mock.add_response(method="POST", url=facade.url, json=facade.images_body())
    await facade.generate(
        "a lighthouse at dusk",
        model="dall-e-3",
        n=1,
        quality="hd",
        response_format="b64_json",
        size="1792x1024",
        style="vivid",
        user="user-123",
    )
    [request] = httpx_mock.get_requests()
    assert request.method == "POST"
    assert str(request.url) == facade.url
    assert request.headers["Authorization"] == f"Bearer {facade.api_key}"
    assert request.headers["User-Agent"] == f"oai-images/{oai_images.__version__}"
    assert request.headers["Content-Type"] == "application/json"
    assert "OpenAI-Organization" not in request.headers
    assert "OpenAI-Project" not in request.headers
    assert body_of(request) == {
        "prompt": "a lighthouse at dusk",
        "model": "dall-e-3",
        "n": 1,
        "quality": "hd",
        "response_format": "b64_json",
        "size": "1792x1024",
        "style": "vivid",
        "user": "user-123",
    }


async def test_generate_sends_just_the_prompt_when_nothing_else_is_set(
    facade: Facade, httpx_mock: HTTPXMock
) -> None:
    """No spec default is filled in: a bare prompt is the whole body."""
    httpx_mock.add_response(json=facade.images_body())
    await facade.generate("a fox")
    assert body_of(only_request(httpx_mock)) == {"prompt": "a fox"}


async def test_generate_sends_gpt_fields(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """Today's fields go out under their API names, svg options as a nested object."""
    httpx_mock.add_response(json=facade.images_body())
    await facade.generate(
        "a logo",
        model="gpt-image-2",
        size="1536x864",
        quality="high",
        background="transparent",
        moderation="low",
        output_format="webp",
        output_compression=80,
        safety_identifier="hash-1",
    )
    assert body_of(only_request(httpx_mock)) == {
        "prompt": "a logo",
        "model": "gpt-image-2",
        "size": "1536x864",
        "quality": "high",
        "background": "transparent",
        "moderation": "low",
        "output_format": "webp",
        "output_compression": 80,
        "safety_identifier": "hash-1",
    }


async def test_generate_sends_organization_and_project_headers(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """The organization and project arguments become the OpenAI-Organization and OpenAI-Project headers."""
    httpx_mock.add_response(json=facade.images_body())
    await facade.generate(client=facade.client(organization="org-1", project="proj-1"))
    request = only_request(httpx_mock)
    assert request.headers["OpenAI-Organization"] == "org-1"
    assert request.headers["OpenAI-Project"] == "proj-1"


async def test_client_reads_configuration_from_environment(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID and OPENAI_PROJECT_ID fill what arguments leave out."""
    patch = pytest.MonkeyPatch()
    with patch.context() as env:
        env.setenv("OPENAI_API_KEY", "sk-from-env")
        env.setenv("OPENAI_BASE_URL", "https://compatible.test/api/v1/")
        env.setenv("OPENAI_ORG_ID", "org-env")
        env.setenv("OPENAI_PROJECT_ID", "proj-env")
        client = facade.client(api_key=None, base_url=None)
    httpx_mock.add_response(
        url="https://compatible.test/api/v1/images/generations", json=facade.images_body()
    )
    await facade.generate(client=client)
    await facade.close(client)
    request = only_request(httpx_mock)
    assert request.headers["Authorization"] == "Bearer sk-from-env"
    assert request.headers["OpenAI-Organization"] == "org-env"
    assert request.headers["OpenAI-Project"] == "proj-env"


def test_client_defaults_to_the_openai_api_and_a_long_timeout(clean_env: pytest.MonkeyPatch) -> None:
    """By default requests go to api.openai.com/v1, with 600 s to read and 5 s to connect."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"created": 1, "data": [{"b64_json": "aGk="}]})

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        ImagesClient(api_key="sk-x", http_client=http).generate("a fox")
    (request,) = seen
    assert ImagesClient(api_key="sk-x").config.timeout == httpx.Timeout(600.0, connect=5.0)
    assert str(request.url) == "https://api.openai.com/v1/images/generations"
    assert request.extensions["timeout"] == {"connect": 5.0, "read": 600.0, "write": 600.0, "pool": 600.0}


def test_missing_api_key_is_reported_when_the_client_is_built(
    facade: Facade, clean_env: pytest.MonkeyPatch, httpx_mock: HTTPXMock
) -> None:
    """No key anywhere, for the public API: MissingAPIKeyError on api_key saying how to set one, at once."""
    with pytest.raises(MissingAPIKeyError) as caught:
        facade.client(api_key=None, base_url=None)
    assert isinstance(caught.value, InvalidParameterError)
    assert caught.value.param == "api_key"
    assert caught.value.value is None
    assert "OPENAI_API_KEY" in str(caught.value)
    assert "emulator" in str(caught.value)
    assert httpx_mock.get_requests() == []


async def test_a_server_of_your_own_needs_no_key(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """api_key=None with a base URL that is not OpenAI's: the request goes out with no Authorization."""
    httpx_mock.add_response(json=facade.images_body())
    client = facade.client(api_key=None)
    await facade.generate(client=client)
    await facade.close(client)
    request = httpx_mock.get_requests()[0]
    assert "authorization" not in request.headers


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": "dall-e-2", "size": "1792x1024"}, "size"),
        ({"model": "dall-e-2", "style": "vivid"}, "style"),
        ({"model": "dall-e-3", "n": 2}, "n"),
        ({"model": "dall-e-2", "quality": "hd"}, "quality"),
        ({"model": "gpt-image-1.5", "response_format": "url"}, "response_format"),
        ({"model": "gpt-image-2", "background": "transparent", "output_format": "jpeg"}, "background"),
        ({"model": "dall-e-2", "n": 11}, "n"),
    ],
)
async def test_generate_rejects_invalid_values_before_any_request(
    facade: Facade, httpx_mock: HTTPXMock, fields: dict[str, Any], param: str
) -> None:
    """A value outside the rules raises InvalidParameterError naming the field, and sends nothing."""
    with pytest.raises(InvalidParameterError) as caught:
        await facade.generate("a fox", **fields)
    assert caught.value.param == param
    assert isinstance(caught.value, ValueError)
    assert httpx_mock.get_requests() == []


async def test_generate_stream_rejects_invalid_values_when_called(
    facade: Facade, httpx_mock: HTTPXMock
) -> None:
    """generate_stream checks its arguments at the call, before any iteration or request."""
    client = facade.client()
    with pytest.raises(InvalidParameterError) as caught:
        client.generate_stream("a fox", model="gpt-image-2", partial_images=5)
    await facade.close(client)
    assert caught.value.param == "partial_images"
    assert httpx_mock.get_requests() == []


async def test_generate_without_validation_sends_anything(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """validate=False sends values the rules reject, for compatible servers with rules of their own."""
    httpx_mock.add_response(json=facade.images_body())
    await facade.generate(
        "a fox", client=facade.client(validate=False), model="dall-e-2", size="1792x1024", n=50
    )
    assert body_of(only_request(httpx_mock)) == {
        "prompt": "a fox",
        "model": "dall-e-2",
        "size": "1792x1024",
        "n": 50,
    }


async def test_generate_returns_the_result(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """created, images, usage, the echoed fields, the request id and the model come back on the result."""
    body = {
        "created": 1764000000,
        "data": [{"b64_json": facade.png_b64, "revised_prompt": "a tall lighthouse"}],
        "background": "opaque",
        "output_format": "png",
        "size": "1024x1024",
        "quality": "high",
        "usage": USAGE,
    }
    httpx_mock.add_response(json=body, headers={"x-request-id": "req_123"})
    result = await facade.generate("a lighthouse", model="gpt-image-1.5")
    assert result.created == 1764000000
    assert result.request_id == "req_123"
    assert result.model == "gpt-image-1.5"
    assert (result.background, result.output_format, result.size, result.quality) == (
        "opaque",
        "png",
        "1024x1024",
        "high",
    )
    assert result.usage is not None
    assert result.usage.total_tokens == 4210
    [image] = result.images
    assert image.revised_prompt == "a tall lighthouse"
    assert image.b64_json == facade.png_b64
    assert await facade.read(image) == facade.png


async def test_generate_leaves_unechoed_fields_none(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A dall-e answer has no usage or echoed fields; they are None, and no model was named."""
    httpx_mock.add_response(json={"created": 1, "data": [{"url": "https://files.test/a.png"}]})
    result = await facade.generate("a fox")
    assert (result.usage, result.size, result.quality, result.model, result.request_id) == (None,) * 5
    assert result.images[0].url == "https://files.test/a.png"


async def test_injected_http_client_is_transport_only(facade: Facade) -> None:
    """An injected client's base URL, headers and auth do not replace the facade's; it is not closed."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=Facade.images_body())

    options: dict[str, Any] = {
        "base_url": "https://elsewhere.test",
        "headers": {"Authorization": "Bearer sk-other"},
        "auth": ("user", "password"),
    }
    if facade.kind == "sync":
        http: httpx.Client | httpx.AsyncClient = httpx.Client(
            transport=httpx.MockTransport(handler), **options
        )
    else:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler), **options)
    client = facade.client(http_client=http)
    await facade.generate(client=client)
    await facade.close(client)
    assert str(seen[0].url) == facade.url
    assert seen[0].headers["Authorization"] == f"Bearer {facade.api_key}"
    assert not http.is_closed
    if isinstance(http, httpx.Client):
        http.close()
    else:
        await http.aclose()


async def test_closed_client_refuses_to_send(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A closed client raises OAIImagesError, not httpx's RuntimeError, and sends nothing."""
    client = facade.client()
    await facade.close(client)
    with pytest.raises(OAIImagesError, match="closed"):
        await facade.generate(client=client)
    assert httpx_mock.get_requests() == []


async def test_client_works_as_context_manager(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A with or async with block returns the client and closes its own connections on exit."""
    httpx_mock.add_response(json=facade.images_body())
    client = facade.client()
    if isinstance(client, ImagesClient):
        with client as entered:
            entered.generate("a fox")
    else:
        async with client as aentered:
            await aentered.generate("a fox")
    assert client._http.is_closed


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (418, APIStatusError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
    ],
)
async def test_error_status_becomes_its_error_class(
    facade: Facade, httpx_mock: HTTPXMock, status: int, error_class: type[APIStatusError]
) -> None:
    """Each error status raises its class, carrying the envelope's fields and the request id."""
    envelope = {
        "error": {
            "message": "Invalid size",
            "type": "invalid_request_error",
            "param": "size",
            "code": "invalid_size",
        }
    }
    httpx_mock.add_response(status_code=status, json=envelope, headers={"x-request-id": "req_err"})
    with pytest.raises(APIStatusError) as caught:
        await facade.generate("a fox", client=facade.client(max_retries=0))
    error = caught.value
    assert type(error) is error_class
    assert (error.status_code, error.request_id, error.type, error.code, error.param, error.message) == (
        status,
        "req_err",
        "invalid_request_error",
        "invalid_size",
        "size",
        "Invalid size",
    )
    assert error.body == envelope


async def test_html_502_becomes_internal_server_error(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """An HTML page from a proxy still gives InternalServerError, with the page title and the request id."""
    page = "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    httpx_mock.add_response(status_code=502, html=page, headers={"x-request-id": "req_502"})
    with pytest.raises(InternalServerError) as caught:
        await facade.generate("a fox", client=facade.client(max_retries=0))
    assert caught.value.status_code == 502
    assert caught.value.request_id == "req_502"
    assert "502 Bad Gateway" in caught.value.message
    assert caught.value.body == page


async def test_status_520_with_empty_body_becomes_internal_server_error(
    facade: Facade, httpx_mock: HTTPXMock
) -> None:
    """A status outside HTTPStatus with no body still gives InternalServerError naming the status."""
    httpx_mock.add_response(status_code=520, content=b"")
    with pytest.raises(InternalServerError) as caught:
        await facade.generate("a fox", client=facade.client(max_retries=0))
    assert caught.value.status_code == 520
    assert caught.value.message == "HTTP 520"
    assert caught.value.type is None


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        ({"error": {"message": "bad thing", "code": 42}}, "bad thing", "42"),
        ({"error": "plain words"}, "plain words", None),
        ({"message": "top-level"}, "top-level", None),
    ],
)
async def test_malformed_error_envelope_is_read_leniently(
    facade: Facade, httpx_mock: HTTPXMock, body: dict[str, Any], message: str, code: str | None
) -> None:
    """An envelope missing fields, or of another shape, still gives the status class and what it holds."""
    httpx_mock.add_response(status_code=400, json=body)
    with pytest.raises(BadRequestError) as caught:
        await facade.generate("a fox")
    assert caught.value.message == message
    assert caught.value.code == code


async def test_success_with_unreadable_body_raises_api_status_error(
    facade: Facade, httpx_mock: HTTPXMock
) -> None:
    """A 200 whose body is not an images response raises APIStatusError, not a JSON or key error."""
    httpx_mock.add_response(status_code=200, text="not json", headers={"x-request-id": "req_bad"})
    with pytest.raises(APIStatusError) as caught:
        await facade.generate("a fox")
    assert caught.value.status_code == 200
    assert caught.value.request_id == "req_bad"


async def test_success_with_odd_usage_keeps_the_images(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A 200 whose usage or created is off the documented shape still returns the paid-for images."""
    httpx_mock.add_response(json={"data": [{"b64_json": facade.png_b64}], "usage": {"total_tokens": 3}})
    result = await facade.generate("a fox")
    assert result.usage is None
    assert result.created == 0
    assert await facade.read(result.images[0]) == facade.png


async def test_api_key_never_shows_in_repr_or_errors(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """Neither the client's repr nor an error whose server message echoes the key holds the key."""
    echo = {
        "error": {"message": f"Incorrect API key provided: {facade.api_key}", "type": "invalid_request_error"}
    }
    httpx_mock.add_response(status_code=401, json=echo)
    client = facade.client()
    with pytest.raises(AuthenticationError) as caught:
        await facade.generate(client=client)
    await facade.close(client)
    for text in (repr(client), str(client), str(caught.value), repr(caught.value), repr(caught.value.body)):
        assert facade.api_key not in text
    assert "[redacted]" in caught.value.message


def sse(*events: tuple[str, dict[str, Any]]) -> bytes:
    """A text/event-stream body of (event, data) pairs."""
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


def stream_event(kind: str, b64: str, **extra: Any) -> dict[str, Any]:
    """One image event's data, as the API sends it."""
    common = {"b64_json": b64, "created_at": 1764000000, "size": "1024x1024", "quality": "high"}
    return {"type": kind, **common, "background": "opaque", "output_format": "png", **extra}


async def test_generate_stream_yields_partial_then_completed_events(
    facade: Facade, httpx_mock: HTTPXMock
) -> None:
    """Streaming sends stream=true and yields typed partial and completed events with their images."""
    body = sse(
        (
            "image_generation.partial_image",
            stream_event("image_generation.partial_image", facade.png_b64, partial_image_index=0),
        ),
        ("image_generation.future_event", {"type": "image_generation.future_event"}),
        (
            "image_generation.completed",
            stream_event("image_generation.completed", facade.png_b64, usage=USAGE),
        ),
    )
    httpx_mock.add_response(
        content=body, headers={"content-type": "text/event-stream", "x-request-id": "req_s"}
    )
    events = await facade.stream("a fox", model="gpt-image-2", partial_images=1)
    assert body_of(only_request(httpx_mock)) == {
        "prompt": "a fox",
        "model": "gpt-image-2",
        "partial_images": 1,
        "stream": True,
    }
    partial, completed = events
    assert isinstance(partial, PartialImageEvent)
    assert partial.index == 1  # from 1, as every index counts (the API's partial_image_index was 0)
    assert partial.request_id == "req_s"
    assert isinstance(completed, CompletedImageEvent)
    assert completed.usage is not None
    assert completed.usage.total_tokens == 4210
    assert await facade.read(completed.image) == facade.png


async def test_generate_stream_error_event_raises(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """An error event in the stream raises APIStatusError with the envelope's fields."""
    error = {
        "type": "error",
        "error": {
            "message": "moderation blocked",
            "type": "image_generation_user_error",
            "code": "moderation_blocked",
            "param": None,
        },
    }
    httpx_mock.add_response(content=sse(("error", error)), headers={"content-type": "text/event-stream"})
    with pytest.raises(APIStatusError) as caught:
        await facade.stream("a fox", model="gpt-image-2")
    assert caught.value.code == "moderation_blocked"
    assert caught.value.message == "moderation blocked"


async def test_generate_stream_error_status_raises_its_class(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """A non-2xx answer to a stream request raises the status class after reading the error body."""
    httpx_mock.add_response(
        status_code=400,
        json={"error": {"message": "nope", "type": "invalid_request_error", "param": None, "code": None}},
    )
    with pytest.raises(BadRequestError, match="nope"):
        await facade.stream("a fox", model="gpt-image-2")


class BrokenStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that sends one event, then loses the connection."""

    def __init__(self, first: bytes) -> None:
        self.first = first

    def __iter__(self) -> Iterator[bytes]:
        yield self.first
        raise httpx.ReadError("connection reset by peer")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        raise httpx.ReadError("connection reset by peer")


async def test_generate_stream_broken_mid_way_raises_connection_error(
    facade: Facade, httpx_mock: HTTPXMock
) -> None:
    """A stream cut after its first event yields that event, then raises APIConnectionError."""
    first = sse(
        (
            "image_generation.partial_image",
            stream_event("image_generation.partial_image", facade.png_b64, partial_image_index=0),
        )
    )
    httpx_mock.add_response(stream=BrokenStream(first), headers={"content-type": "text/event-stream"})
    client = facade.client()
    received: list[Any] = []

    async def drain() -> None:
        if isinstance(client, ImagesClient):
            for event in client.generate_stream("a fox", model="gpt-image-2"):
                received.append(event)
        else:
            async for aevent in client.generate_stream("a fox", model="gpt-image-2"):
                received.append(aevent)

    with pytest.raises(APIConnectionError) as caught:
        await drain()
    await facade.close(client)
    assert [type(event) for event in received] == [PartialImageEvent]
    assert isinstance(caught.value.__cause__, httpx.ReadError)
    assert len(httpx_mock.get_requests()) == 1


async def test_generate_sends_svg_options_as_an_object(facade: Facade, httpx_mock: HTTPXMock) -> None:
    """The svg options go out as a nested JSON object through the generated SvgOptions model."""
    httpx_mock.add_response(json=facade.images_body())
    svg = {"model": "gpt-5-mini", "reasoning": {"effort": "low"}}
    client = facade.client(validate=False)
    await facade.generate("a logo", client=client, model="gpt-image-2", output_format="svg", svg=svg)
    assert body_of(only_request(httpx_mock))["svg"] == svg


async def test_module_generate_uses_a_client_from_environment(
    clean_env: pytest.MonkeyPatch, httpx_mock: HTTPXMock
) -> None:
    """oai_images.generate builds one client from the environment at first use and reuses it."""
    clean_env.setenv("OPENAI_API_KEY", "sk-module")
    clean_env.setattr(client_module, "_environment_client", None)
    httpx_mock.add_response(
        url="https://api.openai.com/v1/images/generations", json=Facade.images_body(), is_reusable=True
    )
    oai_images.generate("a fox", model="dall-e-2", size="256x256")
    first = client_module._environment_client
    oai_images.generate("a cat")
    assert client_module._environment_client is first
    requests = httpx_mock.get_requests()
    assert [body_of(r) for r in requests] == [
        {"prompt": "a fox", "model": "dall-e-2", "size": "256x256"},
        {"prompt": "a cat"},
    ]
    assert requests[0].headers["Authorization"] == "Bearer sk-module"
    assert first is not None
    first[1].close()


def test_module_generate_follows_a_key_set_after_a_failed_call(
    clean_env: pytest.MonkeyPatch, httpx_mock: HTTPXMock
) -> None:
    """No key: the first call fails before sending; once OPENAI_API_KEY is set, the next call uses it."""
    clean_env.setattr(client_module, "_environment_client", None)
    with pytest.raises(InvalidParameterError):
        oai_images.generate("a fox")
    assert httpx_mock.get_requests() == []
    clean_env.setenv("OPENAI_API_KEY", "sk-later")
    httpx_mock.add_response(json=Facade.images_body())
    oai_images.generate("a fox")
    assert httpx_mock.get_requests()[0].headers["Authorization"] == "Bearer sk-later"
    assert client_module._environment_client is not None
    client_module._environment_client[1].close()


async def test_emulator_client_generates_offline(facade: Facade) -> None:
    """With emulator=True no key or network is needed: a URL image downloads in-process."""
    pytest.importorskip("oai_images_emulator")
    client = facade.client(emulator=True, api_key=None, base_url=None)
    result = await facade.generate("a lighthouse", client=client, model="dall-e-3", size="1792x1024")
    data = await facade.read(result.images[0])
    await facade.close(client)
    assert client.base_url.startswith("http://emulator.")
    assert data.startswith(b"\x89PNG")


strategy_fields = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["dall-e-2", "dall-e-3", "gpt-image-1.5", "gpt-image-2", "my-own-model"]),
        "n": st.integers(0, 12),
        "quality": st.sampled_from(["standard", "hd", "low", "high", "auto", "max"]),
        "response_format": st.sampled_from(["url", "b64_json"]),
        "size": st.sampled_from(
            ["256x256", "1024x1024", "1792x1024", "1536x1024", "1536x864", "auto", "17x17"]
        ),
        "style": st.sampled_from(["vivid", "natural"]),
        "background": st.sampled_from(["transparent", "opaque", "auto"]),
        "output_format": st.sampled_from(["png", "jpeg", "webp"]),
        "output_compression": st.integers(-1, 101),
    },
)


@settings(max_examples=150, deadline=None)
@given(fields=strategy_fields)
def test_client_sends_exactly_what_the_rules_allow(fields: dict[str, Any]) -> None:
    """Any combination is sent as given when the rules accept it, and nothing is sent otherwise."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=Facade.images_body())

    try:
        validate(CREATE_IMAGE, {"prompt": "a fox", **fields})
    except InvalidParameterError as expected:
        rejected: InvalidParameterError | None = expected
    else:
        rejected = None
    with ImagesClient(
        api_key="sk-x", http_client=httpx.Client(transport=httpx.MockTransport(handler))
    ) as client:
        if rejected is not None:
            with pytest.raises(InvalidParameterError) as caught:
                client.generate("a fox", **fields)
            assert caught.value.param == rejected.param
            assert sent == []
        else:
            client.generate("a fox", **fields)
            assert body_of(sent[0]) == {"prompt": "a fox", **fields}


def test_async_client_has_the_sync_clients_methods() -> None:
    """The two clients are parallel: the same public methods and constructor parameters."""
    import inspect

    def public(cls: type) -> set[str]:
        return {name for name in dir(cls) if not name.startswith("_")}

    assert public(ImagesClient) - {"close"} == public(AsyncImagesClient) - {"aclose"}
    sync_params = inspect.signature(ImagesClient.__init__).parameters
    async_params = inspect.signature(AsyncImagesClient.__init__).parameters
    assert list(sync_params) == list(async_params)
    assert list(inspect.signature(ImagesClient.generate).parameters) == list(
        inspect.signature(AsyncImagesClient.generate).parameters
    )


class _TrackedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A server-sent-event body that records whether the client closed it."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.lines

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for line in self.lines:
            yield line

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def _two_partials_and_a_final() -> _TrackedStream:
    event = {"type": "image_generation.partial_image", "b64_json": "iVBORw0KGgo=", "partial_image_index": 0}
    final = {"type": "image_generation.completed", "b64_json": "iVBORw0KGgo="}
    lines = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in (event, event, final)]
    return _TrackedStream(lines)


def test_generate_stream_closed_early_closes_the_connection() -> None:
    """Closing the stream generator after the first event closes the response (sync)."""
    body = _two_partials_and_a_final()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=body))
    with oai_images.ImagesClient(api_key="sk-x", http_client=httpx.Client(transport=transport)) as client:
        events = client.generate_stream("p", model="gpt-image-1", partial_images=2)
        first = next(events)
        assert isinstance(first, oai_images.PartialImageEvent)
        assert first.size is None  # the server left the echoed fields out; the event still arrives
        events.close()
    assert body.closed


async def test_async_generate_stream_aclose_closes_the_connection() -> None:
    """`aclose()` on the async stream generator after the first event closes the response."""
    body = _two_partials_and_a_final()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=body))
    http = httpx.AsyncClient(transport=transport)
    async with oai_images.AsyncImagesClient(api_key="sk-x", http_client=http) as client:
        events = client.generate_stream("p", model="gpt-image-1", partial_images=2)
        assert isinstance(await anext(events), oai_images.PartialImageEvent)
        assert not body.closed
        await events.aclose()
    assert body.closed
    await http.aclose()


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"api_key": "sk-SECRET-0123456789é"}, "api_key"),
        ({"api_key": "sk-SECRET-01234\n56789"}, "api_key"),
        ({"api_key": "k", "organization": "Société"}, "organization"),
        ({"api_key": "k", "project": "proj\tx"}, "project"),
        ({"api_key": "k", "base_url": "http://[::1/v1"}, "base_url"),
        ({"api_key": "k", "base_url": "ftp://files.example/v1"}, "base_url"),
    ],
)
def test_unsendable_settings_are_refused_without_echoing_the_key(options: dict[str, Any], param: str) -> None:
    """Settings no HTTP request can carry raise InvalidParameterError naming them; a key is never shown."""
    with pytest.raises(InvalidParameterError) as caught:
        oai_images.ImagesClient(**options)
    assert caught.value.param == param
    text = f"{caught.value} {caught.value!r} {caught.value.value!r}"
    assert "SECRET" not in text


def test_key_with_surrounding_white_space_is_trimmed(httpx_mock: HTTPXMock) -> None:
    """A key read from a file keeps its newline; it is trimmed, not sent broken or echoed."""
    httpx_mock.add_response(json={"created": 1, "data": [{"b64_json": "eA=="}]})
    with oai_images.ImagesClient(api_key="  sk-abc\n", base_url="http://api.test/v1") as client:
        client.generate("a fox")
    assert httpx_mock.get_requests()[0].headers["Authorization"] == "Bearer sk-abc"


def test_svg_options_object_is_sent_nested(httpx_mock: HTTPXMock) -> None:
    """The svg options may be the generated SvgOptions model itself; it goes out as a nested object."""
    from oai_images_api.models import SvgOptions, SvgOptionsReasoning

    httpx_mock.add_response(json={"created": 1, "data": [{"b64_json": "PHN2Zz48L3N2Zz4="}]})
    svg = SvgOptions(model="gpt-5", reasoning=SvgOptionsReasoning(effort="low"))
    with oai_images.ImagesClient(api_key="sk-x", base_url="http://api.test/v1") as client:
        client.generate("a logo", model="gpt-image-2.5-flare", output_format="svg", svg=svg)
    assert json.loads(httpx_mock.get_requests()[0].content)["svg"] == {
        "model": "gpt-5",
        "reasoning": {"effort": "low"},
    }


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"prompt": "a \ud800 fox"}, "prompt"),
        ({"prompt": "a fox", "output_compression": float("nan")}, "output_compression"),
        ({"prompt": "a fox", "user": {1, 2}}, "user"),
    ],
)
def test_unencodable_values_with_validate_false_name_the_field(
    fields: dict[str, Any], param: str, httpx_mock: HTTPXMock
) -> None:
    """validate=False sends anything JSON can carry; what it cannot is an InvalidParameterError, unsent."""
    with (
        oai_images.ImagesClient(api_key="sk-x", base_url="http://api.test/v1", validate=False) as client,
        pytest.raises(InvalidParameterError) as caught,
    ):
        client.generate(**fields)
    assert caught.value.param == param
    assert httpx_mock.get_requests() == []


def test_malformed_svg_with_validate_false_is_sent_as_given(httpx_mock: HTTPXMock) -> None:
    """validate=False: svg options the generated model cannot read still go out exactly as given."""
    httpx_mock.add_response(json={"created": 1, "data": [{"b64_json": "eA=="}]})
    with oai_images.ImagesClient(api_key="sk-x", base_url="http://api.test/v1", validate=False) as client:
        client.generate("a logo", svg={"reasoning": "low"})  # type: ignore[arg-type]  # malformed on purpose
    assert json.loads(httpx_mock.get_requests()[0].content)["svg"] == {"reasoning": "low"}


@pytest.mark.parametrize(
    "body",
    [
        {"created": 1, "data": [{"url": "http://[::1"}]},
        {"created": 1, "data": [{"url": "file:///etc/passwd"}]},
        {"created": 1, "data": [{"url": 123}]},
        {"created": 1, "data": [{"b64_json": 123}]},
        {"created": 1, "data": [{"b64_json": "***"}]},
    ],
)
def test_unusable_image_values_from_the_server_raise_our_error(
    body: dict[str, Any], httpx_mock: HTTPXMock
) -> None:
    """A URL that cannot be requested, or data of the wrong type, is an OAIImagesError, not httpx's."""
    httpx_mock.add_response(json=body)
    with oai_images.ImagesClient(api_key="sk-x", base_url="http://api.test/v1") as client:
        image = client.generate("a fox").images[0]
        assert repr(image)
        with pytest.raises(oai_images.OAIImagesError):
            image.read()


def test_base64_wrapped_over_lines_still_decodes(httpx_mock: HTTPXMock) -> None:
    """Some compatible servers wrap base64 at 76 columns; the paid image still decodes."""
    wrapped = "iVBORw0K\nGgo="
    httpx_mock.add_response(json={"created": 1, "data": [{"b64_json": wrapped}]})
    with oai_images.ImagesClient(api_key="sk-x", base_url="http://api.test/v1") as client:
        assert client.generate("a fox").images[0].read() == b"\x89PNG\r\n\x1a\n"


def test_bodies_echoing_the_key_are_redacted(httpx_mock: HTTPXMock) -> None:
    """A 200 that is not an images response, or an unreadable stream event, never carries the key."""
    key = "sk-SECRET-0123456789"
    httpx_mock.add_response(text=f"<html>your key {key}</html>")
    httpx_mock.add_response(
        stream=httpx.ByteStream(f"data: not-json {key}\n\n".encode()),
        headers={"content-type": "text/event-stream"},
    )
    with oai_images.ImagesClient(api_key=key, base_url="http://api.test/v1") as client:
        with pytest.raises(oai_images.APIStatusError) as first:
            client.generate("a fox")
        with pytest.raises(oai_images.APIStatusError) as second:
            list(client.generate_stream("a fox", model="gpt-image-1"))
    for caught in (first, second):
        assert key not in f"{caught.value} {caught.value!r} {caught.value.body!r}"


@pytest.mark.parametrize(
    "base_url",
    ["https://api.openai.com/v1?x=1", "https://api.openai.com/v1#part", "http://127.0.0.1:99999/v1"],
)
def test_base_urls_the_paths_cannot_be_appended_to_are_refused(base_url: str) -> None:
    """A query, a fragment or an impossible port: refused at once, naming base_url."""
    with pytest.raises(InvalidParameterError) as caught:
        oai_images.ImagesClient(api_key="k", base_url=base_url)
    assert caught.value.param == "base_url"


def test_blank_base_url_in_the_environment_means_the_default(clean_env: pytest.MonkeyPatch) -> None:
    """OPENAI_BASE_URL set to white space is treated as unset; a password in a URL is masked in the repr."""
    clean_env.setenv("OPENAI_BASE_URL", "  ")
    with oai_images.ImagesClient(api_key="k") as client:
        assert client.base_url == "https://api.openai.com/v1"
    with oai_images.ImagesClient(api_key="k", base_url="http://me:s3cret@proxy.test/v1") as client:
        assert "s3cret" not in repr(client)


def test_short_keys_never_garble_streamed_images() -> None:
    """A placeholder key such as "A" (local servers) occurs in base64 by chance; images stay intact."""
    final = {"type": "image_generation.completed", "b64_json": "iVBORw0KGgoAAAANSUhEUgAAAAE="}
    body = f"event: image_generation.completed\ndata: {json.dumps(final)}\n\n".encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    http = httpx.Client(transport=transport)
    with oai_images.ImagesClient(api_key="A", base_url="http://local.test/v1", http_client=http) as client:
        (event,) = list(client.generate_stream("p", model="gpt-image-1"))
    assert isinstance(event, oai_images.CompletedImageEvent)
    assert event.image.b64_json == final["b64_json"]
    http.close()


def test_an_injected_http_client_sends_our_headers_once_over_its_own() -> None:
    """With the caller's httpx.Client, each request carries its default headers, our User-Agent in place of
    its own (once), and the account headers once."""  # noqa: D205, D209
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"created": 1, "data": [{"b64_json": "aGk="}]})

    defaults = {"User-Agent": "theirs/1.0", "X-Team": "imaging", "OpenAI-Project": "proj_theirs"}
    with httpx.Client(transport=httpx.MockTransport(answer), headers=defaults) as http:
        client = oai_images.ImagesClient(
            api_key="sk-test",
            base_url="http://api.test/v1",
            http_client=http,
            organization="org_1",
            project="proj_1",
        )
        client.generate("a fox", model="dall-e-2")
        client.generate("a hare", model="dall-e-2")
    for request in seen:
        assert request.headers.get_list("User-Agent") == [f"oai-images/{oai_images.__version__}"]
        assert request.headers.get_list("OpenAI-Organization") == ["org_1"]
        assert request.headers.get_list("OpenAI-Project") == ["proj_1"]
        assert request.headers["X-Team"] == "imaging"
        assert request.headers.get_list("Authorization") == ["Bearer sk-test"]
    assert len(seen) == 2


def test_a_header_that_cannot_be_sent_is_an_invalid_parameter() -> None:
    """A per-call header httpx cannot encode (non-ASCII) is refused before sending, as one of our errors."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    transport = httpx.MockTransport(answer)
    with httpx.Client(transport=transport) as http:
        client = oai_images.ImagesClient(api_key="sk-test", base_url="http://api.test/v1", http_client=http)
        with (
            pytest.raises(oai_images.InvalidParameterError, match="cannot be sent"),
            client.stream(CREATE_IMAGE, {"prompt": "a fox"}, headers={"X-Trace": "caf\u00e9"}),
        ):
            pass
    assert sent == []
