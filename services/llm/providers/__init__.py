"""Provider adapters: one small class per SDK behind `Provider`."""

from .anthropic_provider import AnthropicProvider
from .base import Embedder, Provider
from .openai_provider import OpenAIEmbedder, OpenAIProvider

__all__ = ["AnthropicProvider", "Embedder", "OpenAIEmbedder", "OpenAIProvider", "Provider"]
