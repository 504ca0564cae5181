"""``python -m oai_images``: the same command line as ``oai-images``."""

from __future__ import annotations

from .cli import main

main(prog_name="oai-images")
