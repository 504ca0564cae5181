"""Client configuration: arguments first, then the environment, then the documented defaults."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from ._errors import InvalidParameterError, MissingAPIKeyError
from ._version import __version__

#: The public API's base URL, used when neither ``base_url`` nor ``OPENAI_BASE_URL`` is set.
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: High-quality generations can take over two minutes, so the read timeout is the official client's 600 s;
#: a server that does not accept the connection within 5 s is reported quickly.
DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=5.0)
USER_AGENT = f"oai-images/{__version__}"

MISSING_KEY_MESSAGE = (
    "no API key: pass api_key=... or set the OPENAI_API_KEY environment variable; "
    "to try oai-images offline, use the built-in emulator with emulator=True"
)
#: The host whose API always needs a key; another server (a local one, a proxy) may need none.
_OPENAI_HOST = "api.openai.com"
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@dataclass(frozen=True)
class Settings:
    """Where and how requests go. The API key is kept out of the repr."""

    base_url: str
    api_key: str | None = field(repr=False)
    organization: str | None
    project: str | None
    #: The header that carries the key as it is, instead of ``Authorization: Bearer <key>`` (None).
    auth_header: str | None = None

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | None,
        base_url: str | None,
        organization: str | None,
        project: str | None,
        backend_base_url: str | None = None,
        backend_api_key: str | None = None,
        require_key: bool = True,
        environ: Mapping[str, str] | None = None,
        auth_header: str | None = None,
    ) -> Settings:
        """Combine the arguments with the environment.

        Args:
            api_key: The key given, else ``OPENAI_API_KEY``.
            base_url: The base URL given, else ``OPENAI_BASE_URL``, else the public API's.
            organization: Else ``OPENAI_ORG_ID``.
            project: Else ``OPENAI_PROJECT_ID``.
            backend_base_url: The base URL of an in-process backend (the emulator): with it, the base URL
                and the key default to the backend's, and ``OPENAI_API_KEY`` is not read, since a real key
                has no business going anywhere offline.
            backend_api_key: The key the backend expects.
            require_key: Whether a missing key is an error when the base URL is the public API's (the
                caller passes False when an injected ``http_client`` may carry its own auth).
            environ: The environment (``os.environ`` when None).
            auth_header: A header name that carries the key as it is (``X-Api-Key``, Azure's
                ``api-key``), for a server that does not take ``Authorization: Bearer``.

        Raises:
            MissingAPIKeyError: No key, for the public API, where every request needs one.
            InvalidParameterError: A value that cannot be used (a URL, a key no header can carry).
        """
        env = os.environ if environ is None else environ
        if backend_base_url is not None:
            api_key = api_key or backend_api_key
            base_url = base_url or backend_base_url
        else:
            api_key = api_key or env.get("OPENAI_API_KEY")
        # Surrounding white space is a copying accident (a key read from a file keeps its newline) and no
        # header may carry it, so it goes; what is left must be something a header can carry.
        settings = cls(
            base_url=_checked_base_url(
                _given(base_url) or _given(env.get("OPENAI_BASE_URL")) or DEFAULT_BASE_URL
            ),
            api_key=_header_value("api_key", api_key, secret=True),
            organization=_header_value("organization", organization or env.get("OPENAI_ORG_ID")),
            project=_header_value("project", project or env.get("OPENAI_PROJECT_ID")),
            auth_header=_header_name("auth_header", auth_header),
        )
        if require_key and settings.api_key is None and httpx.URL(settings.base_url).host == _OPENAI_HOST:
            raise MissingAPIKeyError(MISSING_KEY_MESSAGE)
        return settings

    @functools.cached_property
    def api_headers(self) -> dict[str, str]:
        """The headers of a request to the API: auth (when there is a key), organization, project, user
        agent; built once. A server that needs no key gets no ``Authorization`` header."""  # noqa: D205, D209 - one sentence over two lines
        headers = {"User-Agent": USER_AGENT}
        if self.api_key and self.auth_header:
            headers[self.auth_header] = self.api_key
        elif self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        return headers


def _header_value(name: str, value: str | None, *, secret: bool = False) -> str | None:
    """``value`` without surrounding white space, or None when empty.

    Raises:
        InvalidParameterError: It holds characters no HTTP header can carry (control or non-ASCII
            characters). A secret is never repeated in the error.
    """
    value = (value or "").strip()
    if not value:
        return None
    if value.isascii() and value.isprintable():
        return value
    shown = "(not shown)" if secret else repr(value)
    raise InvalidParameterError(
        name,
        None if secret else value,
        ("printable ASCII characters",),
        f"{name} {shown} holds characters an HTTP header cannot carry (control or non-ASCII characters)",
    )


def _header_name(name: str, value: str | None) -> str | None:
    """A header name as given, or None when empty.

    Raises:
        InvalidParameterError: It is not a valid HTTP header name (RFC 9110 token characters).
    """
    value = (value or "").strip()
    if not value:
        return None
    if _HEADER_NAME.fullmatch(value):
        return value
    raise InvalidParameterError(
        name, value, ("an HTTP header name such as X-Api-Key",), f"{name} {value!r} is no HTTP header name"
    )


def _checked_base_url(text: str) -> str:
    """The base URL without a trailing slash, once httpx can parse it as an absolute http(s) URL.

    Raises:
        InvalidParameterError: It is not such a URL.
    """
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        problem = str(exc)
    else:
        if url.scheme not in ("http", "https") or not url.host:
            problem = "it needs http:// or https:// and a host"
        elif url.query or url.fragment or "?" in text or "#" in text:
            problem = "the API's paths are appended to it, so it can have no query (?) or fragment (#)"
        elif url.port is not None and not 0 < url.port < 65536:
            problem = f"port {url.port} is out of range"
        else:
            return text.rstrip("/")
    shown = without_password(text)
    raise InvalidParameterError(
        "base_url",
        shown,
        ("an absolute http(s) URL such as https://api.openai.com/v1",),
        f"base_url {shown!r} is not a usable URL: {problem}",
    )


def _given(value: str | None) -> str | None:
    """A setting with its surrounding white space removed; None when nothing is left."""
    value = (value or "").strip()
    return value or None


def without_password(url: str) -> str:
    """The URL as it may be shown: a password in it (user:password@host) is replaced."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    user, at, host = authority.rpartition("@")
    if not sep or not at or ":" not in user:
        return url
    return f"{scheme}://{user.partition(':')[0]}:[redacted]@{host}{slash}{path}"
