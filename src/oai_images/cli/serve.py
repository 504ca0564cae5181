"""``oai-images serve``: the offline emulator on a local port, which the ``oai_images_emulator`` package runs.

The command and its options live in the emulator (made from its configuration, `oai_images_emulator.cli`).
This stand-in keeps ``oai-images --help`` fast and working without the ``emulator`` extra: it loads the
emulator by module name only when ``serve`` runs (its ``--help`` included), and says what to install when
the extra is missing.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["serve"]

#: The module that holds the real command (imported by name: the facade never imports the emulator).
EMULATOR_CLI = "oai_images_emulator.cli"


def _real_command() -> click.Command:
    """The emulator's ``serve`` command.

    Raises:
        InvalidInput: The emulator extra is not installed (exit 2, saying what to install).
    """
    try:
        module = importlib.import_module(EMULATOR_CLI)
    except ImportError as exc:
        from ._common import NO_EMULATOR, InvalidInput  # noqa: PLC0415 -- only on this error

        raise InvalidInput(NO_EMULATOR.replace("--emulator needs", "serve needs")) from exc
    command: click.Command = module.serve
    return command


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
    short_help="Serve the offline emulator on a local port (OpenAI's and Azure's routes).",
)
@click.pass_context
def serve(ctx: click.Context, /) -> None:
    """Serve the offline emulator on a local port; `oai-images serve --help` lists its options."""
    command = _real_command()
    command.main(args=ctx.args, prog_name=ctx.command_path, standalone_mode=False)
