"""``oai-images serve``: the offline emulator on a local port, a command of ``oai_images_emulator``.

The command and its options live in the emulator (`oai_images_emulator.cli`, made from its configuration).
This module only finds it, by module name and when ``serve`` is resolved, so ``oai-images --help`` stays
fast and works without the ``emulator`` extra. The group (`oai_images.cli`) puts the emulator's command in
the place of `serve` when it resolves the name, for running, ``--help`` and tab completion alike; without
the extra, `serve` stays and says what to install.
"""

from __future__ import annotations

import importlib

import click

from ._common import NO_EMULATOR, InvalidInput

__all__ = ["EMULATOR_CLI", "emulator_command", "serve"]

#: The module that holds the real command (imported by name: the facade never imports the emulator).
EMULATOR_CLI = "oai_images_emulator.cli"
_MISSING = NO_EMULATOR.replace("--emulator needs", "serve needs")


def emulator_command() -> click.Command:
    """The emulator's ``serve`` command.

    Raises:
        InvalidInput: The emulator cannot be imported (the extra is not installed): exit 2, naming what is
            missing and what to install.
    """
    try:
        module = importlib.import_module(EMULATOR_CLI)
    except ImportError as exc:
        missing = f" ({exc.name} is missing)" if exc.name else ""
        raise InvalidInput(_MISSING + missing) from exc
    command = getattr(module, "serve", None)
    if not isinstance(command, click.Command):
        raise InvalidInput(
            f"{EMULATOR_CLI} has no serve command; reinstall: pip install 'oai-images[emulator]'"
        )
    return command


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    short_help="Serve the offline emulator on a local port (OpenAI's and Azure's image routes).",
)
@click.pass_context
def serve(ctx: click.Context, /) -> None:
    """Serve the offline emulator on a local port: the images API, files and batches, with no key.

    Needs the emulator extra (pip install 'oai-images[emulator]'), which brings this command's options.
    """
    try:
        command = emulator_command()
    except InvalidInput:
        if "--help" in ctx.args or "-h" in ctx.args:  # the help still answers, saying what to install
            click.echo(ctx.get_help())
            return
        raise
    command.main(args=ctx.args, prog_name=ctx.command_path, standalone_mode=False)
