"""What every command that calls the API shares: the client options, the client, and the error policy.

Errors leave a command as click exceptions, so click prints them and sets the exit code: `InvalidInput`
(2: the user can fix it, nothing was sent), `Failure` (1: the API or the network failed), and
`Interrupted` (130: Ctrl-C). `translated_errors` is the one place that maps the facade's error tree to
them, by type, never by message text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

import click

from .._errors import APIStatusError, InvalidParameterError, MissingAPIKeyError, OAIImagesError
from .._redact import redact

if TYPE_CHECKING:
    from .. import AzureImagesClient, ImagesClient
    from .._retries import OnRetry

__all__ = [
    "EXIT_API_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "NO_EMULATOR",
    "NO_KEY",
    "Failure",
    "Interrupted",
    "InvalidInput",
    "azure_deployment",
    "azure_options",
    "client_options",
    "make_client",
    "translated_errors",
]

EXIT_API_ERROR = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130

NO_KEY = (
    "no API key: set OPENAI_API_KEY (export OPENAI_API_KEY=sk-...), or try the offline emulator with "
    "--emulator, or point --base-url at a compatible server"
)
NO_AZURE_CREDENTIALS = (
    "no Azure credentials: set AZURE_OPENAI_API_KEY (or AZURE_OPENAI_AD_TOKEN, a Microsoft Entra ID token), "
    "or try the offline emulator with --emulator"
)
AZURE_OPTIONS = "Azure OpenAI options"
#: Where `azure_options` leaves the Azure settings for `make_client`, in the click context's ``meta``.
_AZURE_META = "oai_images.azure"
NO_EMULATOR = (
    "--emulator needs the emulator extra, which is not installed: pip install 'oai-images[emulator]' "
    "(installed with pipx: pipx install --force 'oai-images[emulator]')"
)


class _Error(click.ClickException):
    """A one-line error on standard error, ``error: ...``, with the command's exit code."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class InvalidInput(_Error):
    """Exit 2: an argument or parameter the user can fix; nothing was sent."""

    exit_code = EXIT_INVALID


class Failure(_Error):
    """Exit 1: the API answered with an error, the network failed, or a file could not be written."""

    exit_code = EXIT_API_ERROR


class Interrupted(_Error):
    """Exit 130: Ctrl-C. The message says what was kept."""

    exit_code = EXIT_INTERRUPTED

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.format_message(), err=True, file=file)


#: What an API field is called on the command line where that is not ``--<field>``.
_OPTION_OF = {"stream": "--partial-images", "partial_images": "--partial-images"}


def _secrets() -> tuple[str, ...]:
    """The secrets no output may hold: the keys in the environment."""
    names = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN")
    return tuple(value.strip() for name in names if (value := os.environ.get(name, "")).strip())


@contextlib.contextmanager
def translated_errors(*, debug: bool) -> Iterator[None]:
    """Turn every failure inside into the click exception of its exit code, with the keys redacted.

    Args:
        debug: Print the traceback of the original error too (still redacted).
    """
    try:
        yield
    except click.ClickException:
        raise
    except KeyboardInterrupt:
        raise Interrupted("interrupted; no half-written file was left behind") from None
    except Exception as exc:
        if debug:
            import traceback  # noqa: PLC0415 -- only with --debug

            text = "".join(traceback.format_exception(exc))
            click.echo(redact(text, _secrets()), err=True, nl=False)
        raise _translated(exc) from None


def _translated(exc: Exception) -> click.ClickException:  # noqa: PLR0911 - one return per kind of error
    secrets = _secrets()
    if isinstance(exc, MissingAPIKeyError):
        return InvalidInput(NO_KEY)
    if isinstance(exc, InvalidParameterError):
        message = redact(str(exc), secrets)
        if exc.param == "emulator":
            return InvalidInput(NO_EMULATOR)
        option = _OPTION_OF.get(exc.param)
        if option is not None:
            message = f"{option}: {message}".replace("stream True is", "streaming is")
        return InvalidInput(message)
    if isinstance(exc, APIStatusError):
        return Failure(redact(f"the API answered {exc.status_code}: {exc}", secrets))
    if isinstance(exc, OAIImagesError):
        return Failure(redact(str(exc), secrets))
    if isinstance(exc, OSError):
        return Failure(redact(f"could not save: {exc}", secrets))
    # A bug of ours or of a library: still one line (the keys redacted), the traceback only with --debug.
    return Failure(redact(f"unexpected {type(exc).__name__}: {exc} (--debug shows the traceback)", secrets))


_F = TypeVar("_F", bound=Callable[..., Any])


def client_options(function: _F) -> _F:
    """The options of every command that calls the API: where to send, how long to wait, how to check."""
    decorators = (
        click.option(
            "--emulator", is_flag=True, help="Use the built-in offline emulator: no key, no network, no cost."
        ),
        click.option(
            "--base-url",
            help="The API's base URL [env: OPENAI_BASE_URL; default: https://api.openai.com/v1]. A server "
            "other than OpenAI's may need no key.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            help="Seconds to wait for an answer [600].",
        ),
        click.option(
            "--max-retries",
            type=click.IntRange(min=0),
            default=2,
            show_default=True,
            help="Retries of a failed request.",
        ),
        click.option(
            "--no-validate", is_flag=True, help="Send the values as given, without the documented checks."
        ),
        click.option("--debug", is_flag=True, help="Show the traceback of an error."),
    )
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def max_cost_option(function: _F) -> _F:
    """``--max-cost USD``: refuse (exit 2) when the estimate is over it; a run stops sending before it."""
    return click.option(
        "--max-cost",
        type=click.FloatRange(min=0),
        metavar="USD",
        help="A budget in USD: nothing is sent when the estimated cost (an upper bound, from the price "
        "table: see 'What it costs' in the README) is over it (exit 2).",
    )(function)


def check_max_cost(client: Any, fields: Mapping[str, Any], max_cost: float | None, what: str) -> None:
    """Refuse a request whose estimate is over ``--max-cost`` (an ``InvalidParameterError``: exit 2)."""
    if max_cost is None:
        return
    from ..pricing import check_budget  # noqa: PLC0415 -- only with --max-cost

    check_budget([client.estimate_cost(fields)], max_cost, what=what)


class GroupedOption(click.Option):
    """An option listed in a section of its own in the help (see `FieldsCommand.format_options`)."""

    def __init__(self, *args: Any, help_group: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help_group = help_group


@dataclasses.dataclass(frozen=True)
class AzureSettings:
    """The Azure options of a command line; an endpoint (or the emulator with a deployment) selects Azure."""

    endpoint: str | None = None
    deployment: str | None = None
    api_version: str | None = None

    def selected(self, *, emulator: bool) -> bool:
        """Whether the command goes to Azure (or to the emulator's Azure routes): only when asked for, by an
        ``--azure-*`` option or ``OAI_IMAGES_PROVIDER=azure``; an exported ``AZURE_OPENAI_ENDPOINT`` alone
        does not take a command over.

        Raises:
            InvalidInput: ``OAI_IMAGES_PROVIDER`` names no provider.
        """  # noqa: D205
        if emulator:
            return self.deployment is not None
        return self.endpoint is not None or self.deployment is not None or provider() == "azure"


#: Where commands send when no option says: ``openai`` (the default) or ``azure``.
PROVIDER_ENV = "OAI_IMAGES_PROVIDER"


def provider() -> str:
    """The provider ``OAI_IMAGES_PROVIDER`` names (``openai`` when unset).

    Raises:
        InvalidInput: It names another.
    """
    value = os.environ.get(PROVIDER_ENV, "").strip().lower() or "openai"
    if value not in ("openai", "azure"):
        raise InvalidInput(f"{PROVIDER_ENV}={value!r} is not a provider; allowed: openai, azure")
    return value


def azure_options(function: _F) -> _F:
    """The Azure OpenAI options, for a command that also has `client_options`; `make_client` reads them.

    They are taken out of the command's keyword arguments and left in the click context, so the command
    function needs no parameter for them.
    """

    @functools.wraps(function)
    def command(
        *args: Any,
        azure_endpoint: str | None,
        azure_deployment: str | None,
        api_version: str | None,
        **kwargs: Any,
    ) -> Any:
        settings = AzureSettings(azure_endpoint or None, azure_deployment or None, api_version or None)
        click.get_current_context().meta[_AZURE_META] = settings
        return function(*args, **kwargs)

    decorators = (
        click.option(
            "--azure-endpoint",
            cls=GroupedOption,
            help_group=AZURE_OPTIONS,
            help="Send to Azure OpenAI: the resource's endpoint, https://NAME.openai.azure.com. Azure is "
            "used only when asked for: by an --azure-* option, or OAI_IMAGES_PROVIDER=azure; then "
            "AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY (or AZURE_OPENAI_AD_TOKEN) and OPENAI_API_VERSION "
            "fill in what the options leave out.",
        ),
        click.option(
            "--azure-deployment",
            cls=GroupedOption,
            help_group=AZURE_OPTIONS,
            help="The deployment to send to; else --model names it. With --emulator: one of the emulator's "
            "deployments (gpt-image-2, gpt-image-1.5, gpt-image-1, dall-e-3).",
        ),
        click.option(
            "--api-version",
            cls=GroupedOption,
            help_group=AZURE_OPTIONS,
            envvar="OPENAI_API_VERSION",
            help="The Azure API version, e.g. 2025-04-01-preview, or v1 for the v1 API (the deployment is "
            "then sent as the model) [env: OPENAI_API_VERSION].",
        ),
    )
    wrapped: Any = command
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    return cast(_F, wrapped)


def make_client(
    *,
    emulator: bool,
    base_url: str | None,
    timeout: float | None,
    max_retries: int,
    no_validate: bool,
    on_retry: OnRetry | None = None,
) -> ImagesClient:
    """The facade client for the client options (an `AzureImagesClient` when the Azure options say so).

    ``on_retry`` is told of each retry, so that the command can say so.

    Raises:
        MissingAPIKeyError: No key for the public API (the caller's `translated_errors` says what to do).
        InvalidInput: No credentials for Azure.
    """
    from .. import ImagesClient  # noqa: PLC0415 -- keep `oai-images --help` fast

    options: dict[str, Any] = {"max_retries": max_retries, "validate": not no_validate, "on_retry": on_retry}
    if timeout is not None:
        options["timeout"] = timeout
    azure = _azure_settings()
    if azure.selected(emulator=emulator):
        return _azure_client(azure, emulator=emulator, base_url=base_url, options=options)
    return ImagesClient(base_url=base_url, emulator=emulator, **options)


def _azure_settings() -> AzureSettings:
    context = click.get_current_context(silent=True)
    settings = context.meta.get(_AZURE_META) if context is not None else None
    return settings if isinstance(settings, AzureSettings) else AzureSettings()


def azure_deployment() -> str | None:
    """The deployment the command's Azure options name (`make_client` refuses one that is not used)."""
    return _azure_settings().deployment


def _azure_client(
    azure: AzureSettings, *, emulator: bool, base_url: str | None, options: dict[str, Any]
) -> AzureImagesClient:
    from .. import (  # noqa: PLC0415 -- keep `oai-images --help` fast
        AzureImagesClient,
        InvalidParameterError,
        MissingAPIKeyError,
    )

    if base_url is not None:
        message = "--base-url sends to another OpenAI-compatible server, not to Azure: drop one of them"
        raise InvalidInput(message)
    try:
        return AzureImagesClient(
            azure_endpoint=None if emulator else azure.endpoint,
            azure_deployment=azure.deployment,
            api_version=azure.api_version,
            emulator=emulator,
            **options,
        )
    except MissingAPIKeyError:
        raise InvalidInput(NO_AZURE_CREDENTIALS) from None
    except InvalidParameterError as exc:
        hints = {
            "azure_endpoint": "no Azure endpoint: give --azure-endpoint https://NAME.openai.azure.com or set "
            "AZURE_OPENAI_ENDPOINT",
            "api_version": "no Azure API version: give --api-version (2025-04-01-preview, say, or v1) or set "
            "OPENAI_API_VERSION",
        }
        if exc.param in hints:
            raise InvalidInput(hints[exc.param]) from None
        raise


#: The model a command sends when -m is not given: this variable, else ``model`` in the config file.
MODEL_ENV = "OAI_IMAGES_MODEL"
#: The config file, in the user's config folder (``$OAI_IMAGES_HOME`` when set, as for the history).
CONFIG_NAME = "config.toml"
#: What the API falls back on with no model: a model OpenAI retired on 2026-05-12.
_RETIRED_DEFAULT = "dall-e-2"


def config_path() -> Path:
    """Where the config file is: ``$OAI_IMAGES_HOME/config.toml``, else the platform's user config folder."""
    home = os.environ.get("OAI_IMAGES_HOME", "").strip()
    if home:
        return Path(home).expanduser() / CONFIG_NAME
    import platformdirs  # noqa: PLC0415 -- only when a command sends with no -m

    return Path(platformdirs.user_config_dir("oai-images", appauthor=False)) / CONFIG_NAME


def default_model() -> str | None:
    """The configured default model: ``OAI_IMAGES_MODEL``, else ``model = "..."`` in the config file.

    Raises:
        InvalidInput: The config file is not TOML, or its ``model`` is not a string.
    """
    value = os.environ.get(MODEL_ENV, "").strip()
    if value:
        return value
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the config file {path}: {exc}") from None
    import tomllib  # noqa: PLC0415 -- only with a config file

    try:
        model = tomllib.loads(text).get("model")
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"the config file {path} is not TOML: {exc}") from None
    if model is not None and not isinstance(model, str):
        raise InvalidInput(f'the config file {path}: model must be a string, like model = "gpt-image-1.5"')
    return model.strip() or None if isinstance(model, str) else None


def with_default_model(fields: dict[str, Any], *, operation: str = "generate") -> dict[str, Any]:
    """The fields with the configured default model when no -m was given; with none configured, a
    warning on standard error when the API's own default would be a retired model."""  # noqa: D205, D209
    azure = _azure_settings()
    if fields.get("model") is not None or azure.endpoint or azure.deployment or provider() == "azure":
        return fields  # on Azure the model is a deployment's name: the deployment says it
    model = default_model()
    if model is not None:
        return {**fields, "model": model}
    from ..rules import resolve_model  # noqa: PLC0415 -- loaded with the facade anyway

    if operation == "generate" and resolve_model(fields) == _RETIRED_DEFAULT:
        click.echo(
            f"warning: no model given, so the API's default applies: {_RETIRED_DEFAULT}, which OpenAI "
            f"retired on 2026-05-12. Pass -m gpt-image-1.5 (say), or set a default with {MODEL_ENV}=... or "
            f'model = "..." in {config_path()}',
            err=True,
        )
    return fields


def check_model_name(fields: Mapping[str, object], *, no_validate: bool, emulator: bool) -> None:
    """Refuse a model name a letter or two from a known one ("did you mean gpt-image-1.5?") before anything
    is sent; any other name goes to the server, and ``--no-validate`` sends even a near miss as given.

    On Azure a model names a deployment, which may be named anything: nothing is checked there.

    Raises:
        InvalidInput: A near miss.
    """  # noqa: D205
    import difflib  # noqa: PLC0415 -- only when a command sends

    from ..rules import MODEL_RULES  # noqa: PLC0415 -- loads the rules table: only when a command sends

    model = fields.get("model")
    if no_validate or not isinstance(model, str) or model in MODEL_RULES:
        return
    if _azure_settings().selected(emulator=emulator):
        return
    close = difflib.get_close_matches(model, list(MODEL_RULES), n=1, cutoff=0.85)
    if close:
        raise InvalidInput(
            f"model {model!r} is not a model oai-images knows; did you mean {close[0]}? "
            "(--no-validate sends it as given, for a server with models of its own)"
        )


def read_prompt(prompt: str | None) -> str:
    """The prompt: the argument, then what is piped on standard input, joined by a newline (as ``llm``
    does: ``cat notes.txt | oai-images generate "a poster of"``); ``-``, or no argument, reads standard
    input alone.

    Raises:
        click.UsageError: No prompt anywhere, or standard input is not UTF-8 text.
    """  # noqa: D205
    if prompt is not None and prompt != "-":
        piped = _piped() if _has_piped_input() else ""
        return f"{prompt}\n{piped}" if piped else prompt
    if prompt is None and sys.stdin.isatty():
        raise click.UsageError("Missing argument 'PROMPT' (or pipe the prompt on standard input).")
    return _piped()


def _piped() -> str:
    try:
        return sys.stdin.buffer.read().decode("utf-8-sig").strip()  # -sig: drop a byte order mark
    except UnicodeDecodeError as exc:
        raise click.UsageError(f"the prompt on standard input is not UTF-8 text ({exc.reason})") from exc


def _has_piped_input() -> bool:
    """Whether standard input holds a prompt to add: a file, or a pipe that has data within a moment
    (never a terminal, and never a long wait on a pipe nobody writes to, as a CI runner's may be)."""  # noqa: D205, D209
    stdin = sys.stdin
    if stdin is None or stdin.closed or stdin.isatty():
        return False
    try:
        descriptor = stdin.fileno()
    except (OSError, ValueError):  # an in-memory stream (a test runner's): reading it never blocks
        return True
    import select  # noqa: PLC0415 -- only with a prompt argument and a redirected standard input
    import stat  # noqa: PLC0415 -- as select

    try:
        mode = os.fstat(descriptor).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            return True  # a file, or /dev/null: read at once
        ready, _, _ = select.select([descriptor], [], [], _PIPE_WAIT)
    except (OSError, ValueError):
        return False
    return bool(ready)


#: How long a pipe on standard input may take to bring its first byte, when a prompt argument is given.
_PIPE_WAIT = 0.5
