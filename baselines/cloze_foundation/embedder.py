"""cloze_foundation: the cloze transformer pretrained on the pretraining zoos, the same weights on every track.

Two checkpoints, one per input dimension, because the 1-D and 2-D token features differ
(`model.py`, the reference baseline's v3 model): `checkpoints/foundation-1d.safetensors` (pretrained
on pretrain-1d) reads the 1-D tracks, and the host tracks through the 1-D view of a component
(`project.py`, as baselines/cloze_host); `checkpoints/foundation-2d.safetensors` (pretrained on
pretrain-2d) reads the 2-D tracks. Nothing is fitted per track: the harness's probes are.
Which model reads a batch follows from its inputs: x `[B, N]` the 1-D model, `[B, N, 2]` the 2-D one,
wider (a host network's activations) the 1-D model on the projected view.

The fine-tuned variant (baselines/cloze_foundation_ft) uses this class with per-track checkpoints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import safe_open

from netembench import Unsupported

HERE = Path(__file__).parent  # not resolved: the fine-tuned variant links this file into its folder
sys.path.insert(0, str(HERE))
from model import ClozeTransformer, Config
from project import project_view

FOUNDATION = Path(__file__).resolve().parent / "checkpoints"
Checkpoints = Callable[[str], dict[int, Path]]  # zoo ref -> {input dimension: checkpoint}


def load_checkpoint(path: Path) -> ClozeTransformer:
    with safe_open(str(path), framework="pt") as f:
        cfg = Config(**json.loads(f.metadata()["config"]))
        state = {k: f.get_tensor(k) for k in f.keys()}
    model = ClozeTransformer(cfg)
    model.load_state_dict(state)
    return model.eval()


def foundation_checkpoints(ref: str) -> dict[int, Path]:
    """The same two checkpoints whatever the track."""
    return {d: FOUNDATION / f"foundation-{d}d.safetensors" for d in (1, 2)}


class FoundationEmbedder:
    name = "cloze_foundation"
    reads = frozenset({"grad"})
    protocols = frozenset({1, 2})
    distributions = frozenset({"uniform", "host"})
    supervised = False

    def __init__(self, checkpoints: Checkpoints = foundation_checkpoints, train_hint: str = "") -> None:
        """`train_hint` says how to make a missing checkpoint (format fields: ref, dim, path)."""
        self.checkpoints, self.train_hint = checkpoints, train_hint
        self.models: dict[int, ClozeTransformer] = {}
        self.device = torch.device("cpu")

    def prepare(self, zoo) -> None:
        wanted = self.checkpoints(zoo.ref)
        paths = {d: p for d, p in wanted.items() if p.is_file()}
        if not paths:
            dim, path = next(iter(wanted.items()))
            hint = self.train_hint.format(ref=zoo.ref, dim=dim, path=path) or "see the model card"
            raise Unsupported(f"no {self.name} checkpoint for {zoo.ref}; {hint}")
        self.models = {d: load_checkpoint(p).to(self.device) for d, p in paths.items()}

    def to(self, device) -> None:
        self.device = torch.device(device)
        for model in self.models.values():
            model.to(self.device)

    def parameters(self):
        return (p for model in self.models.values() for p in model.parameters())

    def model_for(self, dim: int) -> ClozeTransformer:
        model = self.models.get(dim)
        if model is None:
            raise Unsupported(f"{self.name} has no checkpoint for inputs of dimension {dim}")
        return model

    def embed(self, batch):
        if batch.x.dim() == 3 and batch.x.shape[-1] > 2:
            view = project_view(batch.x, batch.grad, batch.mask, batch.region)
            return self.model_for(1).embed(view.x, view.grad, view.mask)
        return self.model_for(1 if batch.x.dim() == 2 else batch.x.shape[-1]).embed(batch.x, batch.grad, batch.mask)

    def predict_masked(self, batch):
        if batch.x.dim() == 3 and batch.x.shape[-1] > 2:
            view = project_view(batch.x, batch.grad, batch.mask, batch.region)
            return view.vectors(self.model_for(1).cloze(view.x, view.grad, view.mask, view.region))
        model = self.model_for(1 if batch.x.dim() == 2 else batch.x.shape[-1])
        return model.cloze(batch.x, batch.grad, batch.mask, batch.region)


def load_embedder() -> FoundationEmbedder:
    return FoundationEmbedder(train_hint="pretrain it with 'python baselines/cloze_foundation/train.py --zoo pretrain-1d' (and pretrain-2d)")
