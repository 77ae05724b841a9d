"""weight_space_pretrained: the weight-space encoder pretrained self-supervised on the pretraining
zoos, one checkpoint per input dimension, the same weights on every track of that dimension.

`checkpoints/pretrain-1d.safetensors` (trained on pretrain-1d's depth-2 networks, 1-16-16-1 and
1-32-32-1) reads poly-seed, poly-fine and poly-many; `checkpoints/pretrain-2d.safetensors` (pretrain-2d's
2-32-32-1 and 2-64-64-1) reads poly2d-seed and poly2d-fine. Trained by `train.py` here; the encoder
and embedder code are baselines/weight_space's (`weight_encoder.py`, `weight_space.py` link to
them, so this submission's source hash covers them). poly-xarch (depths 1-3) is skipped as for
weight_space; the host tracks are not declared (`distributions`), so the harness skips them: their
components are not the whole networks of the pretraining zoos.
"""

from __future__ import annotations

import sys
from pathlib import Path

from netembench import Unsupported

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from weight_space import WeightSpaceEmbedder, load_checkpoint  # noqa: E402


class PretrainedWeightSpaceEmbedder(WeightSpaceEmbedder):
    # A weights-only reader would default to every input distribution; the host tracks' components
    # (8-32-32-32-1 hosts) are not networks the encoder was trained on, so it declares whole networks.
    distributions = frozenset({"uniform"})

    @staticmethod
    def checkpoint_name(zoo_name: str) -> str | None:
        """The pretraining zoo whose checkpoint reads a track: by input dimension."""
        if zoo_name.startswith("poly2d"):
            return "pretrain-2d"
        if zoo_name.startswith("poly"):
            return "pretrain-1d"
        return None

    def prepare(self, zoo) -> None:
        if zoo.name == "poly-xarch":
            raise Unsupported(f"{self.name} reads depth-2 networks only; poly-xarch tests depths 1 and 3 as well")
        name = self.checkpoint_name(zoo.name)
        if name is None:
            raise Unsupported(f"{self.name} is pretrained on whole 1-D/2-D networks (pretrain-1d/2d); "
                              f"{zoo.ref} is not a poly track")
        path = self.checkpoints / f"{name}.safetensors"
        if not path.is_file():
            raise Unsupported(f"no {self.name} checkpoint {path.name}; train one with "
                              f"'python baselines/weight_space_pretrained/train.py --zoo {name}'")
        self.model = load_checkpoint(path).to(self.device)


def load_embedder() -> PretrainedWeightSpaceEmbedder:
    return PretrainedWeightSpaceEmbedder("weight_space_pretrained", checkpoints=HERE / "checkpoints")
