"""weight_space_supervised: the weight-space encoder trained with task labels on the train split
(`python baselines/weight_space/train.py --zoo ZOO --supervised`): the ceiling a weight reader
reaches with labels, listed in the supervised section. `weight_encoder.py` and `weight_space.py` link to the
self-supervised encoder's code, so this submission's source hash covers it."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from weight_space import WeightSpaceEmbedder  # noqa: E402


def load_embedder() -> WeightSpaceEmbedder:
    return WeightSpaceEmbedder("weight_space_supervised", supervised=True, checkpoints=HERE / "checkpoints")
