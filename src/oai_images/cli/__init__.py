"""The ``oai-images`` command line: one module per command, this one the group.

Start-up stays fast: importing this package loads click and the error classes only. The facade, the
generated models, rich and the emulator load inside the commands that need them, so ``oai-images --help``
loads none of them.
"""

from __future__ import annotations

import contextlib

import click

from ._common import InvalidInput
from .batch import batch
from .edit import edit
from .gallery import gallery
from .generate import generate
from .history import history
from .models import models
from .serve import emulator_command, serve
from .vary import vary

__all__ = ["main"]


class _Group(click.Group):
    """The command group, exiting 130 on Ctrl-C wherever it lands (click would exit 1: "Aborted!").

    ``serve`` resolves to the emulator's own command (options made from its configuration) when the
    emulator is installed, for running, ``--help`` and completion; listing the commands never loads it.
    """

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is serve:
            with contextlib.suppress(InvalidInput):  # not installed: the stand-in says what to install
                command = emulator_command()
        return name, command, rest

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            from ._common import Interrupted  # noqa: PLC0415 -- only when interrupted

            raise Interrupted("interrupted") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oai-images")
def main() -> None:
    """Generate, edit and vary images with OpenAI's image API, or serve the offline emulator.

    The API key comes from OPENAI_API_KEY; OPENAI_BASE_URL, OPENAI_ORG_ID and OPENAI_PROJECT_ID are read
    too. Try everything offline with `oai-images generate ... --emulator`.

    Tab completion of commands, options and their values: add
    `eval "$(_OAI_IMAGES_COMPLETE=bash_source oai-images)"` to ~/.bashrc (zsh: zsh_source in ~/.zshrc;
    fish: `_OAI_IMAGES_COMPLETE=fish_source oai-images | source`).
    """


main.add_command(batch)
main.add_command(generate)
main.add_command(models)
main.add_command(edit)
main.add_command(vary)
main.add_command(history)
main.add_command(serve)
main.add_command(gallery)
