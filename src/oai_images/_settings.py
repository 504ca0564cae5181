"""Client configuration: arguments first, then the environment, then the documented defaults."""

from __future__ import annotations

import dataclasses
import functools
import os
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

import httpx

from ._errors import InvalidParameterError, MissingAPIKeyError
from ._send import Limits
from ._version import __version__

if TYPE_CHECKING:
    from ._auth import Credential
    from ._backends import Backend
    from ._retries import OnRetry
    from .pricing import PricesArg, PriceTable


#: The default caps of a client (see ``ImagesClient``'s docstring).
MAX_DOWNLOAD_BYTES = 512 * 2**20
MAX_ERROR_BODY_BYTES = 64 * 2**10
MAX_STREAM_LINE_BYTES = 128 * 2**20
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
    def account_headers(self) -> dict[str, str]:
        """The headers that say whose account a request is for (organization, project); the key goes
        through the client's auth."""  # noqa: D205, D209 - one sentence over two lines
        headers = {}
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        return headers


class Route:
    """Where an operation's request goes, which fields it sends and which model's rules check them.

    This is the public API's shape (``{base_url}{path}``); Azure's (``_azure.AzureRoute``) names the
    deployment in the URL or in ``model``. Built once per client and shared by its copies.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._urls: dict[str, httpx.URL] = {}

    def url(self, path: str, fields: Mapping[str, object]) -> httpx.URL:
        """The absolute URL of an API path, parsed once (httpx re-parses a str URL on every request)."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self.base_url + path)
        return url

    def outgoing(self, fields: Mapping[str, object]) -> Mapping[str, object]:
        """The fields as they are sent."""
        return fields

    def rules_fields(self, fields: Mapping[str, object]) -> Mapping[str, object]:
        """The fields as the rules check them (the model whose rules apply)."""
        return fields

    def model_named(self, fields: Mapping[str, object]) -> str | None:
        """The model a request names (on Azure, the deployment when the call named none)."""
        model = fields.get("model")
        return model if isinstance(model, str) else None

    def batch_fields(self, fields: Mapping[str, object]) -> Mapping[str, object]:
        """The fields of a Batch API line (a line names its model; Azure's names the deployment)."""
        return fields

    def describe(self) -> str:
        """The route for a repr, without a password."""
        return f"base_url={without_password(self.base_url)!r}"


def account_headers(
    organization: str | None, project: str | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The account headers of a client: the arguments, else ``OPENAI_ORG_ID`` and ``OPENAI_PROJECT_ID``.

    Raises:
        InvalidParameterError: A value no header can carry.
    """
    env = os.environ if environ is None else environ
    return Settings(
        base_url="",
        api_key=None,
        organization=_header_value("organization", organization or env.get("OPENAI_ORG_ID")),
        project=_header_value("project", project or env.get("OPENAI_PROJECT_ID")),
    ).account_headers


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
    # A query or fragment may carry a key (``?api-key=...``): never shown.
    shown = without_password(text).split("?", 1)[0].split("#", 1)[0]
    if shown != without_password(text):
        shown += "?[not shown]"
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


class Changes(TypedDict, total=False):
    """What `ImagesClient.with_options` may change: the per-call behaviour, never where or as whom."""

    timeout: float | httpx.Timeout | None
    max_retries: int
    validate: bool
    sleep: Callable[[float], Any] | None
    jitter: Callable[[], float] | None
    on_retry: OnRetry | None
    max_download_bytes: int
    max_error_body_bytes: int
    max_stream_line_bytes: int
    prices: PricesArg


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """Everything a client is built from, frozen: its copies (`ImagesClient.with_options`) and its awaited
    twin (the bulk engine's) are built from it too.

    Attributes:
        route: Where requests go and which rules check them.
        auth: The credential every API request carries (None: a server that needs none).
        headers: The account headers every API request carries (organization, project).
        timeout: The httpx timeout of each attempt.
        limits: The deadline of one attempt and the size caps.
        max_retries: Retries after a transient failure.
        validate: Check every value against the documented rules before sending.
        sleep: The wait between retries (None: the client's own, ``time.sleep`` or ``anyio.sleep``).
        jitter: Scales the random part of the backoff.
        on_retry: Told before each retry.
        backend: The in-process backend (the emulator), if any.
        prices: The price table every result's cost is computed with (`oai_images.pricing`).
    """  # noqa: D205

    route: Route
    auth: Credential | None = field(repr=False)
    headers: Mapping[str, str]
    timeout: httpx.Timeout
    limits: Limits
    max_retries: int
    validate: bool
    sleep: Callable[[float], Any] | None = field(default=None, repr=False)
    jitter: Callable[[], float] = field(default=random.random, repr=False)
    on_retry: OnRetry | None = field(default=None, repr=False)
    backend: Backend | None = field(default=None, repr=False)
    prices: PriceTable | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        *,
        route: Route,
        auth: Credential | None,
        headers: Mapping[str, str],
        backend: Backend | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        validate: bool = True,
        sleep: Callable[[float], Any] | None = None,
        jitter: Callable[[], float] | None = None,
        on_retry: OnRetry | None = None,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
        max_error_body_bytes: int = MAX_ERROR_BODY_BYTES,
        max_stream_line_bytes: int = MAX_STREAM_LINE_BYTES,
        prices: PricesArg = None,
    ) -> ClientConfig:
        """A configuration, once the numbers are usable.

        Raises:
            ValueError: ``max_retries`` is negative, or a cap is not a positive whole number.
            PriceTableError: A price override that cannot be used (before any request).
        """
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        caps = (max_download_bytes, max_error_body_bytes, max_stream_line_bytes)
        if any(isinstance(cap, bool) or not isinstance(cap, int) or cap < 1 for cap in caps):
            raise ValueError("max_download_bytes, max_error_body_bytes and max_stream_line_bytes must be 1+")
        timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        from .pricing import load_prices  # noqa: PLC0415 - read once per client, not at import

        return cls(
            route=route,
            auth=auth,
            headers=dict(headers),
            timeout=timeout,
            limits=Limits(
                timeout=_attempt_seconds(timeout),
                max_body_bytes=max_download_bytes,
                max_error_body_bytes=max_error_body_bytes,
                max_stream_line_bytes=max_stream_line_bytes,
            ),
            max_retries=max_retries,
            validate=validate,
            sleep=sleep,
            jitter=jitter or random.random,
            on_retry=on_retry,
            backend=backend,
            # Read now, so that a bad override file is reported here and never after a paid answer.
            prices=load_prices(prices),
        )

    def changed(self, **changes: Any) -> ClientConfig:
        """This configuration with some per-call settings changed (see `Changes`).

        Raises:
            ValueError: A value `build` refuses.
            TypeError: A setting `Changes` does not name.
        """
        unknown = set(changes) - set(Changes.__annotations__)
        if unknown:
            raise TypeError(f"with_options() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
        current: dict[str, Any] = {
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "validate": self.validate,
            "sleep": self.sleep,
            "jitter": self.jitter,
            "on_retry": self.on_retry,
            "max_download_bytes": self.limits.max_body_bytes,
            "max_error_body_bytes": self.limits.max_error_body_bytes,
            "max_stream_line_bytes": self.limits.max_stream_line_bytes,
            "prices": self.prices,
        }
        current.update(changes)
        return ClientConfig.build(
            route=self.route, auth=self.auth, headers=self.headers, backend=self.backend, **current
        )

    def for_async(self) -> ClientConfig:
        """The same configuration for the awaited client: its own (awaitable) sleep."""
        return dataclasses.replace(self, sleep=None)


def _attempt_seconds(timeout: httpx.Timeout) -> float | None:
    """The deadline of one attempt: the largest of the timeout's values; none without a read timeout."""
    if timeout.read is None:
        return None
    values = (timeout.connect, timeout.read, timeout.write, timeout.pool)
    return max(value for value in values if value is not None)
