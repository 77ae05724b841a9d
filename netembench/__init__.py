"""netembench: a benchmark dataset and evaluation suite for functional network embeddings."""

from __future__ import annotations

__version__ = "0.1.0"
