"""The version of oai-images: the one copy, which pyproject.toml reads at build time (tool.hatch.version).

A literal rather than importlib.metadata: reading package metadata costs more import time than the
whole facade.
"""

from __future__ import annotations

__version__ = "0.1.0"
