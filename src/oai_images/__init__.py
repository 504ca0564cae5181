"""oai-images: OpenAI image generation with every documented rule checked before a paid request."""

from __future__ import annotations

__all__: list[str] = []
