"""tokengate: an OpenAI-compatible batching gateway for GPU inference servers."""

__version__ = "0.1.0"
