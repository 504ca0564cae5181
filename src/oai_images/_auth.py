"""Credentials as ``httpx.Auth``: what each request to the API carries, and what must never be shown.

Every credential knows what it has sent (a static key, each token a provider returned), so the client's
redactor removes exactly those from errors and log records, including a token refreshed by another
thread a moment ago. Image downloads are sent with no auth at all: a signed URL is a third party.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator

import httpx

from ._errors import OAIImagesError
from ._redact import redact, register_secret

__all__ = ["Credential", "KeyAuth", "TokenProviderAuth"]

#: A callable that returns a bearer token (or, for the async client, an awaitable of one).
TokenProvider = Callable[[], str | Awaitable[str]]


class Credential(httpx.Auth):
    """An ``httpx.Auth`` that remembers every secret it has put on a request."""

    def __init__(self) -> None:
        self._sent: tuple[str, ...] = ()
        self._lock = threading.Lock()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret this credential has sent (or will send), for redaction."""
        return self._sent

    def _remember(self, secret: str) -> None:
        if secret in self._sent:
            return
        with self._lock:
            if secret not in self._sent:
                self._sent = (*self._sent, secret)
        register_secret(secret)  # httpx and httpcore log headers at DEBUG

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class KeyAuth(Credential):
    """A static key: ``Authorization: Bearer <key>``, or the key as it is in another header.

    Args:
        key: The key.
        header: The header that carries the key as it is (``api-key`` for Azure, ``X-Api-Key``); None for
            ``Authorization: Bearer``.
    """

    def __init__(self, key: str, header: str | None = None) -> None:
        super().__init__()
        self._header = header or "Authorization"
        self._value = key if header else f"Bearer {key}"
        self._remember(key)

    @property
    def header(self) -> str:
        """The header the key goes in."""
        return self._header

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Set the key's header on the request."""
        request.headers[self._header] = self._value
        yield request


class TokenProviderAuth(Credential):
    """A bearer token fetched from a provider for every request (Microsoft Entra ID), sync or async.

    Args:
        provider: Returns a token; for the async client it may return an awaitable of one.
        name: The provider's parameter name, for messages (``azure_ad_token_provider``).
    """

    def __init__(self, provider: TokenProvider, name: str = "azure_ad_token_provider") -> None:
        super().__init__()
        self._provider = provider
        self._name = name

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Call the provider and send its token."""
        token = self._call()
        if inspect.isawaitable(token):
            close = getattr(token, "close", None)
            if callable(close):
                close()  # never awaited: no "coroutine was never awaited" warning
            raise OAIImagesError(
                f"{self._name} returned an awaitable; use AsyncAzureImagesClient for an async provider"
            )
        self._set(request, token)
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Call the provider (awaiting what it returns, when it is awaitable) and send its token."""
        token = self._call()
        if inspect.isawaitable(token):
            try:
                token = await token
            except Exception as exc:
                raise self._failed(exc) from None
        self._set(request, token)
        yield request

    def _call(self) -> object:
        try:
            return self._provider()
        except Exception as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: Exception) -> OAIImagesError:
        # The provider's own words may hold a token: redacted, and the exception is not chained.
        detail = redact(str(exc), self._sent)[:200]
        return OAIImagesError(f"{self._name} raised {type(exc).__name__}: {detail}")

    def _set(self, request: httpx.Request, token: object) -> None:
        if not isinstance(token, str) or not token.strip():
            kind = type(token).__name__ if not isinstance(token, str) else "an empty string"
            raise OAIImagesError(f"{self._name} returned {kind}; it must return a non-empty token")
        token = token.strip()
        if not (token.isascii() and token.isprintable()):
            # Never sent, never shown: a header cannot carry it, and an error or log line must not either.
            self._remember(token)
            raise OAIImagesError(
                f"{self._name} returned a token with characters an HTTP header cannot carry "
                "(control or non-ASCII characters); it was not sent"
            )
        self._remember(token)
        request.headers["Authorization"] = f"Bearer {token}"
