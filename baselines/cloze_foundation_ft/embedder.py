"""cloze_foundation_ft: the foundation checkpoint (baselines/cloze_foundation) fine-tuned on each
track's train split with the same self-supervised objective, so that the leaderboard shows what
pretraining adds over per-track training. `prepare` loads `checkpoints/<zoo>@<version>.safetensors`;
poly-xarch is served by poly-fine's, whose train split holds the same models."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from foundation import FoundationEmbedder

SERVED_BY = {"poly-xarch": "poly-fine"}


def track_checkpoints(ref: str) -> dict[int, Path]:
    """The fine-tuned checkpoint of this track, under the input dimension its model reads."""
    name, _, version = ref.partition("@")
    path = HERE / "checkpoints" / f"{SERVED_BY.get(name, name)}@{version}.safetensors"
    return {2 if name.startswith("poly2d") else 1: path}


class FineTunedFoundation(FoundationEmbedder):
    name = "cloze_foundation_ft"


def load_embedder() -> FineTunedFoundation:
    return FineTunedFoundation(
        track_checkpoints,
        train_hint="fine-tune one with 'python baselines/cloze_foundation/train.py --zoo {ref} --init "
        "baselines/cloze_foundation/checkpoints/foundation-{dim}d.safetensors --out {path}' (see the model card)",
    )
