"""netembench: a benchmark dataset and evaluation suite for functional network embeddings."""

from __future__ import annotations

__version__ = "0.1.0"

from netembench.embedders import ClozeEmbedder, Embedder, Unsupported, load_submission  # noqa: E402
from netembench.harness import evaluate  # noqa: E402
from netembench.probes import PROTOCOL_V1, ProbeBatch  # noqa: E402
from netembench.registry import load_zoo  # noqa: E402
from netembench.spec import ZooSpec, resolve_spec  # noqa: E402
from netembench.store import Zoo  # noqa: E402

__all__ = [
    "PROTOCOL_V1", "ClozeEmbedder", "Embedder", "ProbeBatch", "Unsupported", "Zoo", "ZooSpec",
    "evaluate", "load_submission", "load_zoo", "resolve_spec", "__version__",
]
