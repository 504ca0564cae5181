"""pytest fixtures for testing code that uses oai-images, against the offline emulator."""

from __future__ import annotations
