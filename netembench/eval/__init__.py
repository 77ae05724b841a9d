"""The harness: stored zoo → probe sets → embedder → metrics.

In: a `Zoo` and a submission. Out: a track's scores (`summary.py`), which `board.results` writes.
Read in this order: `probes.py` (what an embedder sees of a network), `embedders.py` (the protocol a
submission implements), `worker.py` and `sandbox.py` (where it runs, sealed), `harness.py` (one
evaluation, top to bottom), `metrics.py` (the scores). `training.py` feeds learned embedders.
"""
