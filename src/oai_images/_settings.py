"""Client configuration: arguments first, then the environment, then the documented defaults."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from ._errors import InvalidParameterError
from ._version import __version__

#: The public API's base URL, used when neither ``base_url`` nor ``OPENAI_BASE_URL`` is set.
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: High-quality generations can take over two minutes, so the read timeout is the official client's 600 s;
#: a server that does not accept the connection within 5 s is reported quickly.
DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=5.0)
#: The key the emulator accepts; it is never a real key.
EMULATOR_API_KEY = "sk-emulator"
USER_AGENT = f"oai-images/{__version__}"

_MISSING_KEY_MESSAGE = (
    "no API key: pass api_key=... or set the OPENAI_API_KEY environment variable; "
    "to try oai-images offline, use the built-in emulator with emulator=True"
)


@dataclass(frozen=True)
class Settings:
    """Where and how requests go. The API key is kept out of the repr."""

    base_url: str
    api_key: str | None = field(repr=False)
    organization: str | None
    project: str | None

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | None,
        base_url: str | None,
        organization: str | None,
        project: str | None,
        emulator_base_url: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Combine the arguments with the environment.

        With ``emulator_base_url`` (the emulator is on), the base URL defaults to the emulator and the key
        to a dummy one: a real key from ``OPENAI_API_KEY`` is not needed there, so it is not read.
        """
        env = os.environ if environ is None else environ
        if emulator_base_url is not None:
            api_key = api_key or EMULATOR_API_KEY
            base_url = base_url or emulator_base_url
        # Surrounding white space is a copying accident (a key read from a file keeps its newline) and no
        # header may carry it, so it goes; what is left must be something a header can carry.
        return cls(
            base_url=_checked_base_url(
                _given(base_url) or _given(env.get("OPENAI_BASE_URL")) or DEFAULT_BASE_URL
            ),
            api_key=_header_value("api_key", api_key or env.get("OPENAI_API_KEY"), secret=True),
            organization=_header_value("organization", organization or env.get("OPENAI_ORG_ID")),
            project=_header_value("project", project or env.get("OPENAI_PROJECT_ID")),
        )

    @functools.cached_property
    def api_headers(self) -> dict[str, str]:
        """The headers of a request to the API: auth, organization, project, user agent (built once).

        Raises:
            InvalidParameterError: No API key was given or found in the environment.
        """
        if not self.api_key:
            raise InvalidParameterError(
                "api_key", None, ("an API key from OPENAI_API_KEY", "emulator=True"), _MISSING_KEY_MESSAGE
            )
        headers = {"Authorization": f"Bearer {self.api_key}", "User-Agent": USER_AGENT}
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
