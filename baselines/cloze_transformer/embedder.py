"""The cloze transformer as a netembench submission (the benchmark's reference baseline).

`prepare(zoo)` (the zoo's identity) loads the checkpoint trained for that zoo
(`checkpoints/<zoo>@<version>.safetensors`);
a zoo without one is skipped (Unsupported) with the command that trains it.

Zoos 1.1.0 and 1.2.0 hold the same tasks, seeds and splits as 1.0.0 (only the training arithmetic
changed: machine-independent in 1.1.0, correctly rounded in 1.2.0), so the 1.0.0 checkpoints serve
them; their scores on each version are in the model card.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors import safe_open

from netembench import Unsupported

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from model import ClozeTransformer, Config  # noqa: E402


def load_checkpoint(path: Path) -> ClozeTransformer:
    with safe_open(str(path), framework="pt") as f:
        cfg = Config(**json.loads(f.metadata()["config"]))
        state = {k: f.get_tensor(k) for k in f.keys()}
    model = ClozeTransformer(cfg)
    model.load_state_dict(state)
    return model.eval()


# Zoo versions served by a checkpoint trained on another version of the same zoo.
TRACKS = ("poly-seed", "poly-fine", "poly-many", "poly-xarch", "poly2d-seed", "poly2d-fine")
SERVED_BY = {f"{track}@{version}": f"{track}@1.0.0" for track in TRACKS for version in ("1.1.0", "1.2.0")}


class ClozeTransformerEmbedder:
    name = "cloze_transformer"
    reads = frozenset({"grad"})
    protocols = frozenset({1, 2})  # v3 handles d inputs (2-D checkpoints)
    supervised = False

    def __init__(self, checkpoints: Path = HERE / "checkpoints") -> None:
        self.checkpoints = checkpoints
        self.model: ClozeTransformer | None = None
        self.device = torch.device("cpu")

    def prepare(self, zoo) -> None:
        path = self.checkpoints / f"{SERVED_BY.get(zoo.ref, zoo.ref)}.safetensors"
        if not path.is_file():
            raise Unsupported(f"no cloze_transformer checkpoint for {zoo.ref}; train one with "
                              f"'python baselines/cloze_transformer/train.py --zoo {zoo.ref}'")
        self.model = load_checkpoint(path).to(self.device)

    def to(self, device) -> None:
        self.device = torch.device(device)
        if self.model is not None:
            self.model.to(self.device)

    def parameters(self):
        return self.model.parameters() if self.model is not None else iter(())

    def embed(self, batch):
        return self.model.embed(batch.x, batch.grad, batch.mask)

    def predict_masked(self, batch):
        return self.model.cloze(batch.x, batch.grad, batch.mask, batch.region)


def load_embedder() -> ClozeTransformerEmbedder:
    return ClozeTransformerEmbedder()
