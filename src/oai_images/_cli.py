"""The `oai-images` command line."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="oai-images")
def main() -> None:
    """Generate images with OpenAI's image API, or serve the offline emulator."""
