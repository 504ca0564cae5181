"""``oai-images serve``: the offline emulator on a local port.

The options are made from `EmulatorConfig`'s fields declared with a `Setting` (one declaration per field:
its environment variable, its option, its help and its parser; `EmulatorConfig.from_env` reads the same),
plus where to listen. The ``oai-images`` group loads this module by name when ``serve`` is resolved, so
``oai-images --help`` never imports the emulator.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import click

from ._config import ENV_PREFIX, EmulatorConfig, Setting, apply_setting, settings
from ._server import is_loopback, run_server

__all__ = ["serve"]

# An epilog, not part of the docstring: click keeps a paragraph as written only after a line holding just
# "\b" (the backspace character), which a raw docstring cannot contain.
_EXAMPLES = """\b
Examples:
  oai-images serve
  oai-images serve --port 0 --latency-ms 200-800
  oai-images serve --fault 'rate_limit;times=2;retry_after=1'
  oai-images serve --rate-limit-rpm 600 --latency-ms 300
  OPENAI_BASE_URL=http://127.0.0.1:8787/v1 OPENAI_API_KEY=sk-any oai-images generate "a fox" -m gpt-image-2
"""


class _Parsed(click.ParamType[object, str]):
    """A click type that reads an option with its setting's parser (a ValueError is the option's error)."""

    def __init__(self, setting: Setting) -> None:
        self.setting = setting
        self.name = setting.metavar

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        if not isinstance(value, str):
            return value
        try:
            return self.setting.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _default_text(field: dataclasses.Field[Any], setting: Setting) -> str:
    """The field's default as the help shows it (byte counts also in MiB or GiB)."""
    if setting.default_text is not None:
        return setting.default_text
    default = field.default_factory() if callable(field.default_factory) else field.default
    if setting.metavar == "BYTES" and isinstance(default, int):
        for unit, size in (("GiB", 1024**3), ("MiB", 1024**2)):
            if default >= size and default % size == 0:
                return f"{default} ({default // size} {unit})"
    return f"{default:g}" if isinstance(default, float) else str(default)


def _config_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add one option per `Setting` of `EmulatorConfig`, its value passed under the field's name."""
    for field, setting in reversed(settings()):
        command = click.option(
            setting.option_name,
            field.name,
            type=_Parsed(setting),
            multiple=setting.merge,
            envvar=ENV_PREFIX + setting.env,
            show_envvar=True,
            metavar=setting.metavar,
            help=f"{setting.help} [default: {_default_text(field, setting)}]",
        )(command)
    return command


@click.command(epilog=_EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar=ENV_PREFIX + "HOST",
    show_envvar=True,
    help="Address to bind.",
)
@click.option(
    "--port",
    "-p",
    type=click.IntRange(0, 65535),
    default=8787,
    show_default=True,
    envvar=ENV_PREFIX + "PORT",
    show_envvar=True,
    help="Port to bind (0 picks a free one).",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a non-loopback --host. The emulator accepts any key: do not expose it to a network you "
    "do not trust.",
)
@_config_options
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="uvicorn's log level.",
)
def serve(*, host: str, port: int, allow_remote: bool, log_level: str, **options: Any) -> None:
    """Serve the offline emulator: the images API (generations, edits, variations), like the real one.

    Azure OpenAI's routes are served too (/openai/deployments/NAME/images/...?api-version=... and
    /openai/v1/images/...): point an Azure client at the printed URL without its /v1. It also runs the
    Batch API for image generations and edits (/v1/files, /v1/batches), each batch taking --batch-seconds.

    Point any OpenAI client at the printed base URL with any non-empty API key. Every option but
    --allow-remote and --log-level also reads the OAI_IMAGES_EMULATOR_* environment variable shown beside
    it (EmulatorConfig.from_env reads the same ones).
    """
    if not allow_remote and not is_loopback(host):
        raise click.UsageError(
            f"--host {host} is not a loopback address; the emulator accepts any key, so binding it to a "
            "network needs --allow-remote."
        )
    config = EmulatorConfig()
    for field, setting in settings():
        value = options[field.name]
        for given in value if setting.merge else [value]:
            if given is not None:
                apply_setting(config, field.name, setting, given)

    def ready(base_url: str) -> None:
        click.echo(f"oai-images emulator listening on {base_url}", err=True)
        click.echo(base_url)

    try:
        run_server(
            config, host=host, port=port, allow_remote=allow_remote, on_ready=ready, log_level=log_level
        )
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    except KeyboardInterrupt:  # pragma: no cover (uvicorn handles Ctrl+C itself)
        pass
