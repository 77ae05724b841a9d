"""netembench: a benchmark dataset and evaluation suite for functional network embeddings."""

from __future__ import annotations

import os

# OpenBLAS threads busy-wait for a long while after each call; on a small machine they then steal the
# cores from a submission's worker process (sealed evaluation ran 15-30% slower). A short wait, set
# before numpy loads OpenBLAS, keeps the cores free; it leaves large BLAS calls as fast as before.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

__version__ = "0.1.0"

# The flat layout's module paths (`netembench.features`, …) import the modules that moved.
from netembench.moved import install as _install_flat_layout  # noqa: E402

_install_flat_layout()

# The public API, imported on first use (PEP 562): a submission's worker process and every command
# load only the modules they need (the harness and scikit-learn cost a worker a second of start-up).
_EXPORTS = {
    "ClozeEmbedder": "netembench.eval.embedders",
    "Embedder": "netembench.eval.embedders",
    "Unsupported": "netembench.eval.embedders",
    "load_submission": "netembench.eval.embedders",
    "evaluate": "netembench.eval.harness",
    "PROTOCOL_V1": "netembench.eval.probes",
    "ProbeBatch": "netembench.eval.probes",
    "load_zoo": "netembench.zoo.source",
    "ZooSpec": "netembench.zoo.spec",
    "resolve_spec": "netembench.zoo.spec",
    "Zoo": "netembench.zoo.store",
}
__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'netembench' has no attribute {name!r}")
