"""cloze_host: the cloze transformer (1-D model, `model.py` as in baselines/cloze_transformer) on the
1-D view of a component inside a host network (`project.py`): direction from the visible gradients,
slopes along its input coordinate. Trained self-supervised on the host track's train split
(`train.py`, initialised from the poly-fine checkpoint); `prepare` loads
`checkpoints/<zoo>@<version>.safetensors`. Reads gradients. Host tracks only."""

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
from project import project_view  # noqa: E402


def load_checkpoint(path: Path) -> ClozeTransformer:
    with safe_open(str(path), framework="pt") as f:
        cfg = Config(**json.loads(f.metadata()["config"]))
        state = {k: f.get_tensor(k) for k in f.keys()}
    model = ClozeTransformer(cfg)
    model.load_state_dict(state)
    return model.eval()


class ClozeHost:
    name = "cloze_host"
    reads = frozenset({"grad"})
    protocols = frozenset({2})
    distributions = frozenset({"host"})  # the host tracks only
    supervised = False

    def __init__(self, checkpoints: Path = HERE / "checkpoints") -> None:
        self.checkpoints = checkpoints
        self.model: ClozeTransformer | None = None
        self.device = torch.device("cpu")

    def prepare(self, zoo) -> None:
        path = self.checkpoints / f"{zoo.ref}.safetensors"
        if not path.is_file():
            raise Unsupported(f"no cloze_host checkpoint for {zoo.ref}; train one with "
                              f"'python baselines/cloze_host/train.py --zoo {zoo.ref}'")
        self.model = load_checkpoint(path).to(self.device)

    def to(self, device) -> None:
        self.device = torch.device(device)
        if self.model is not None:
            self.model.to(self.device)

    def parameters(self):
        return self.model.parameters() if self.model is not None else iter(())

    @torch.no_grad()
    def embed(self, batch):
        view = project_view(batch.x, batch.grad, batch.mask, batch.region)
        return self.model.embed(view.x, view.grad, view.mask)

    @torch.no_grad()
    def predict_masked(self, batch):
        view = project_view(batch.x, batch.grad, batch.mask, batch.region)
        return view.vectors(self.model.cloze(view.x, view.grad, view.mask, view.region))


def load_embedder() -> ClozeHost:
    return ClozeHost()
