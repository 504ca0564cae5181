"""The ``oai-images`` command line: one module per command, this one the group.

Start-up stays fast: importing this package loads click and the error classes only. The facade, the
generated models, rich and the emulator load inside the commands that need them, so ``oai-images --help``
loads none of them.
"""

from __future__ import annotations

import click

from .batch import batch
from .generate import generate
from .history import history
from .serve import serve

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oai-images")
def main() -> None:
    """Generate images with OpenAI's image API, or serve the offline emulator.

    The API key comes from OPENAI_API_KEY; OPENAI_BASE_URL, OPENAI_ORG_ID and OPENAI_PROJECT_ID are read
    too. Try everything offline with `oai-images generate ... --emulator`.
    """


main.add_command(batch)
main.add_command(generate)
main.add_command(history)
main.add_command(serve)
