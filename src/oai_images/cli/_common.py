"""What every command that calls the API shares: the client options, the client, and the error policy.

Errors leave a command as click exceptions, so click prints them and sets the exit code: `InvalidInput`
(2: the user can fix it, nothing was sent), `Failure` (1: the API or the network failed), and
`Interrupted` (130: Ctrl-C). `translated_errors` is the one place that maps the facade's error tree to
them, by type, never by message text.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from .._errors import APIStatusError, InvalidParameterError, MissingAPIKeyError, OAIImagesError
from .._redact import redact

if TYPE_CHECKING:
    from .. import ImagesClient
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


def make_client(
    *,
    emulator: bool,
    base_url: str | None,
    timeout: float | None,
    max_retries: int,
    no_validate: bool,
    on_retry: OnRetry | None = None,
) -> ImagesClient:
    """The facade client for the client options; ``on_retry`` is told of each retry (to say so).

    Raises:
        MissingAPIKeyError: No key for the public API (the caller's `translated_errors` says what to do).
    """
    from .. import ImagesClient  # noqa: PLC0415 -- keep `oai-images --help` fast

    options: dict[str, Any] = {"max_retries": max_retries, "validate": not no_validate, "on_retry": on_retry}
    if timeout is not None:
        options["timeout"] = timeout
    return ImagesClient(base_url=base_url, emulator=emulator, **options)


def read_prompt(prompt: str | None) -> str:
    """The prompt argument; ``-``, or no argument with a pipe on standard input, reads standard input.

    Raises:
        InvalidInput: No prompt anywhere, or standard input is not UTF-8 text.
    """
    if prompt is not None and prompt != "-":
        return prompt
    if prompt is None and sys.stdin.isatty():
        raise click.UsageError("Missing argument 'PROMPT' (or pipe the prompt on standard input).")
    try:
        return sys.stdin.buffer.read().decode("utf-8-sig").strip()  # -sig: drop a byte order mark
    except UnicodeDecodeError as exc:
        raise click.UsageError(f"the prompt on standard input is not UTF-8 text ({exc.reason})") from exc
