"""Credentials as httpx.Auth: what each request carries, what is refused before sending, what is redacted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from oai_images import (
    AsyncAzureImagesClient,
    AuthenticationError,
    AzureImagesClient,
    ImagesClient,
    InvalidParameterError,
    OAIImagesError,
)

ENDPOINT = "https://res.openai.azure.com"
VERSION = "2025-04-01-preview"
ANSWER = {"created": 1, "data": [{"b64_json": "aGk="}]}


def _azure(kind: str, handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> Any:
    """An Azure client of ``kind`` over a mock transport answering with ``handler``."""
    common = {"azure_endpoint": ENDPOINT, "api_version": VERSION, "max_retries": 0, **options}
    if kind == "sync":
        return AzureImagesClient(http_client=httpx.Client(transport=httpx.MockTransport(handler)), **common)
    return AsyncAzureImagesClient(
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)), **common
    )


def _call(client: Any, prompt: str = "a fox", **fields: Any) -> Any:
    result = client.generate(prompt, **fields)
    return asyncio.run(result) if asyncio.iscoroutine(result) else result


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(
    "token", ["tok-0123456789\r\nX-Evil: 1", "tok-0123456789\nabc", "tök-0123456789", "tok\x00-0123456789"]
)
def test_a_token_no_header_can_carry_is_refused_unsent_and_unshown(kind: str, token: str) -> None:
    """A provider's token with CR/LF, a NUL or non-ASCII: refused before sending, and never shown."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=ANSWER)

    client = _azure(kind, handler, azure_deployment="img", azure_ad_token_provider=lambda: token)
    with pytest.raises(OAIImagesError) as caught:
        _call(client)
    assert sent == []
    assert "azure_ad_token_provider" in str(caught.value)
    shown = f"{caught.value} {caught.value!r} {caught.value.__cause__!r} {caught.value.__context__!r}"
    assert token.strip() not in shown
    assert "0123456789" not in shown


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_provider_that_raises_is_one_of_our_errors(kind: str) -> None:
    """A token provider that raises becomes an OAIImagesError naming it, with nothing chained."""

    def provider() -> str:
        raise RuntimeError("the identity service is down")

    client = _azure(
        kind,
        lambda request: httpx.Response(200, json=ANSWER),
        azure_deployment="img",
        azure_ad_token_provider=provider,
    )
    with pytest.raises(OAIImagesError, match="azure_ad_token_provider raised RuntimeError") as caught:
        _call(client)
    assert not isinstance(caught.value, RuntimeError)
    assert "the identity service is down" in str(caught.value)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_every_token_sent_is_redacted_even_after_a_refresh(kind: str) -> None:
    """A server that echoes each token it gets: no error shows any of them, the newest or an older one."""
    tokens = iter(f"token-{index:04d}-abcdefghijklmnop" for index in range(100))
    seen: list[str] = []

    def echo(request: httpx.Request) -> httpx.Response:
        header = request.headers["authorization"]
        seen.append(header)
        return httpx.Response(401, json={"error": {"message": f"bad {header} and {seen[0]}", "code": header}})

    client = _azure(kind, echo, azure_deployment="img", azure_ad_token_provider=lambda: next(tokens))
    for _ in range(3):
        with pytest.raises(AuthenticationError) as caught:
            _call(client)
        error = caught.value
        shown = f"{error} {error!r} {error.code} {error.body} {error.message}"
        assert all(header.removeprefix("Bearer ") not in shown for header in seen)
        assert "[redacted]" in shown
    assert len(set(seen)) == 3


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("name", [".", "..", " .. "])
def test_dot_segment_deployments_are_refused(kind: str, name: str) -> None:
    """A deployment named "." or ".." would resolve to another route: refused, naming it, before sending."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=ANSWER)

    with pytest.raises(InvalidParameterError) as caught:
        _azure(kind, handler, azure_deployment=name, api_key="azure-key-0123456789")
    assert caught.value.param == "azure_deployment"
    client = _azure(kind, handler, api_key="azure-key-0123456789")
    with pytest.raises(InvalidParameterError) as by_model:
        _call(client, model=name)
    assert by_model.value.param == "model"
    assert sent == []


def test_base_url_with_a_key_in_its_query_is_refused_without_showing_it() -> None:
    """A base URL carrying a key in its query is refused, and the message does not repeat the key."""
    key = "sk-proj-secret-0123456789"
    with pytest.raises(InvalidParameterError) as caught:
        ImagesClient(api_key="sk-x-0123456789", base_url=f"https://proxy.example/v1?api-key={key}")
    assert caught.value.param == "base_url"
    assert key not in f"{caught.value} {caught.value!r} {caught.value.value}"
    assert "proxy.example" in str(caught.value)


def test_with_options_changes_per_call_settings_and_shares_the_connections() -> None:
    """with_options(max_retries=0) sends once; the original still retries; closing the copy keeps the pool."""
    attempts: list[httpx.Request] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        return httpx.Response(503, json={"error": {"message": "busy"}})

    http = httpx.Client(transport=httpx.MockTransport(flaky))
    client = ImagesClient(api_key="sk-test-0123456789", http_client=http, max_retries=2, sleep=lambda _: None)
    once = client.with_options(max_retries=0, timeout=30)
    assert once.config.max_retries == 0
    assert once.config.timeout == httpx.Timeout(30)
    assert client.config.max_retries == 2
    with pytest.raises(OAIImagesError):
        once.generate("a fox")
    assert len(attempts) == 1
    once.close()
    with pytest.raises(OAIImagesError):
        client.generate("a fox")
    assert len(attempts) == 4  # one, then three: the copy closed nothing
    with pytest.raises(TypeError, match="api_key"):
        client.with_options(api_key="sk-other")  # type: ignore[call-arg]  # not a per-call setting
    with pytest.raises(ValueError, match="max_retries"):
        client.with_options(max_retries=-1)
    http.close()


def test_with_options_keeps_the_azure_route_and_credential() -> None:
    """A copy of an Azure client sends to the same deployment URL with the same credential."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=ANSWER)

    client = _azure("sync", handler, azure_deployment="img", api_key="azure-key-0123456789")
    client.with_options(max_retries=1).generate("a fox")
    (request,) = sent
    assert request.url.path == "/openai/deployments/img/images/generations"
    assert request.headers["api-key"] == "azure-key-0123456789"
    assert isinstance(client.with_options(), AzureImagesClient)
