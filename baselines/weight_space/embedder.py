"""weight_space: the permutation-equivariant weight encoder as a netembench submission (reads weights).

`prepare(zoo)` loads `checkpoints/<zoo>@<version>.safetensors` (or the version that serves it,
`SERVED_BY`); a zoo without one, or one whose models have another depth than the encoder reads
(poly-xarch's test split), is skipped
(Unsupported) with the reason. The supervised variant (`baselines/weight_space_supervised`) is the
same code with its own checkpoints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from safetensors import safe_open

from netembench import Unsupported

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from weight_encoder import Config, WeightEncoder  # noqa: E402


def load_checkpoint(path: Path) -> WeightEncoder:
    with safe_open(str(path), framework="pt") as f:
        cfg = Config(**json.loads(f.metadata()["config"]))
        state = {k: f.get_tensor(k) for k in f.keys()}
    model = WeightEncoder(cfg)
    model.load_state_dict(state)
    return model.eval()


# Zoo 1.2.0 holds the same tasks, seeds and splits as the versions these checkpoints were trained
# on (only the trainer's rounding changed), so they serve it.
SERVED_BY = {
    **{f"{track}@1.2.0": f"{track}@1.1.0" for track in ("poly-seed", "poly-fine", "poly-many")},
    **{f"{track}@1.2.0": f"{track}@1.0.0" for track in ("poly2d-seed", "poly2d-fine")},
}


class WeightSpaceEmbedder:
    reads = frozenset({"weights"})
    protocols = frozenset({1, 2})

    def __init__(self, name: str = "weight_space", supervised: bool = False, checkpoints: Path = HERE / "checkpoints"):
        self.name, self.supervised, self.checkpoints = name, supervised, checkpoints
        self.model: WeightEncoder | None = None
        self.device = "cpu"

    def prepare(self, zoo) -> None:
        path = self.checkpoints / f"{SERVED_BY.get(zoo.ref, zoo.ref)}.safetensors"
        if zoo.name == "poly-xarch":
            raise Unsupported(f"{self.name} reads networks of the depth it was trained on; poly-xarch tests "
                              "depths 1 and 3 as well (see the model card)")
        if not path.is_file():
            raise Unsupported(f"no {self.name} checkpoint for {zoo.ref}; train one with "
                              f"'python baselines/weight_space/train.py --zoo {zoo.ref}"
                              f"{' --supervised' if self.supervised else ''}'")
        self.model = load_checkpoint(path).to(self.device)

    def to(self, device) -> None:
        self.device = device
        if self.model is not None:
            self.model.to(device)

    def parameters(self):
        return self.model.parameters() if self.model is not None else iter(())

    def embed(self, batch):
        if not self.model.reads(batch.weights.arch):
            raise Unsupported(f"{self.name} was trained on depth-{self.model.cfg.depth} networks with "
                              f"{self.model.cfg.inputs} inputs; it cannot read {batch.weights.arch.name}")
        return self.model(batch.weights)


def load_embedder() -> WeightSpaceEmbedder:
    return WeightSpaceEmbedder()
