"""The embedder protocol, and loading a submission the same way for baselines and third parties.

A submission is a `.py` file or a folder with `embedder.py` that defines `load_embedder()`, or a
`module:callable` path. `load_embedder()` returns an object with `name`, `reads` (a subset of
{"grad", "y", "weights"}) and `embed(batch) -> [B, D]`; a cloze embedder also has
`predict_masked(batch)`, shaped like `batch.grad`. An embedder trained with task ids, families or
coefficients sets `supervised = True`. One that handles d-dimensional inputs (protocol v2,
`x [B, N, d]`) sets `protocols = {1, 2}`; without it, it is skipped on tracks with d > 1.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from netembench.eval.probes import ProbeBatch

READABLE = frozenset({"grad", "y", "weights"})
PROTOCOLS = frozenset({1, 2})  # probe-set protocol versions (DESIGN §5, §13)
# Where probe inputs come from (`probes.INPUT_DISTRIBUTIONS`): the input box of a whole network, or
# the activations entering a component of a host network (32-D, non-negative, sparse).
DISTRIBUTIONS = frozenset({"uniform", "host"})


def default_distributions(reads: frozenset[str]) -> frozenset[str]:
    """What an embedder that declares no `distributions` handles: every one if it reads weights
    only (inputs never reach it), else the input box only (host activations are opt-in)."""
    return DISTRIBUTIONS if set(reads) <= {"weights"} else frozenset({"uniform"})
# The one rule for embedder names (eval, leaderboard and SUBMITTING.md quote it): they name folders
# and appear in Markdown and HTML.
NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
NAME_RULE_TEXT = "1-64 letters, digits, '_' or '-', starting with a letter or digit"
# Bounds on what an embedder returns (harness 1.3): they bound the harness's memory and scoring time.
MAX_WIDTH = 65_536  # floats per embedding
MAX_ABS = 1e30  # largest embedding entry: the scoring squares and sums them in float64
BATCH_BYTES = 1 << 28  # bytes of one answer's tensor: 512 models x 65,536 float64s


@dataclass(frozen=True)
class ZooIdentity:
    """What `prepare` is told of the zoo being evaluated: enough to pick a checkpoint, nothing more."""

    name: str
    version: str
    fingerprint: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class SubmissionInfo:
    """What the harness knows of a submission, reported by the process that loaded it."""

    name: str
    reads: frozenset[str] | list[str]
    cloze: bool
    supervised: bool
    n_params: int
    ref: str
    source_hash: str
    protocols: frozenset[int] | list[int] = frozenset({1})
    distributions: frozenset[str] | list[str] = frozenset({"uniform"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "reads", frozenset(self.reads))
        object.__setattr__(self, "protocols", frozenset(self.protocols))
        object.__setattr__(self, "distributions", frozenset(self.distributions))


class SubmissionError(RuntimeError):
    """A submission that cannot be loaded or that broke the protocol; names the submission."""


class Unsupported(Exception):
    """Raised by an embedder for a zoo it cannot embed (say, mixed architectures): that zoo is
    skipped with the message, not failed."""


@runtime_checkable
class Embedder(Protocol):
    name: str
    reads: frozenset[str]

    def embed(self, batch: ProbeBatch) -> Tensor: ...


@runtime_checkable
class ClozeEmbedder(Embedder, Protocol):
    def predict_masked(self, batch: ProbeBatch) -> Tensor: ...


class Submission:
    """A loaded submission: the embedder and where its code lives (for the source hash)."""

    def __init__(self, embedder: Embedder, ref: str, files: list[Path]) -> None:
        self.embedder, self.ref, self.files = embedder, ref, files
        reads = getattr(embedder, "reads", None)
        name = getattr(embedder, "name", None)
        if not isinstance(name, str) or not NAME_RULE.match(name):
            raise SubmissionError(
                f"submission {ref}: the embedder's `name` must be {NAME_RULE_TEXT}; got {name!r}"
            )
        if not isinstance(reads, (set, frozenset)) or not reads or not set(reads) <= READABLE:
            raise SubmissionError(
                f"submission {ref}: `reads` must be a non-empty subset of {sorted(READABLE)}, got {reads!r}"
            )
        if not callable(getattr(embedder, "embed", None)):
            raise SubmissionError(f"submission {ref}: embedder {name!r} has no embed(batch) method")
        protocols = getattr(embedder, "protocols", frozenset({1}))
        if not isinstance(protocols, (set, frozenset)) or not protocols or not set(protocols) <= PROTOCOLS:
            raise SubmissionError(
                f"submission {ref}: `protocols` must be a non-empty subset of {sorted(PROTOCOLS)}, "
                f"got {protocols!r}"
            )
        self.reads, self.protocols = frozenset(reads), frozenset(protocols)
        self.distributions = _distributions(ref, embedder, self.reads)

    @property
    def name(self) -> str:
        return self.embedder.name

    @property
    def is_cloze(self) -> bool:
        return callable(getattr(self.embedder, "predict_masked", None))

    @property
    def supervised(self) -> bool:
        return bool(getattr(self.embedder, "supervised", False))

    @property
    def n_params(self) -> int:
        params = getattr(self.embedder, "parameters", None)
        if callable(params):
            return int(sum(p.numel() for p in params()))
        return int(getattr(self.embedder, "n_params", 0))

    def info(self) -> SubmissionInfo:
        return SubmissionInfo(
            self.name,
            sorted(self.reads),
            self.is_cloze,
            self.supervised,
            self.n_params,
            self.ref,
            self.source_hash(),
            self.protocols,
            self.distributions,
        )

    def source_hash(self) -> str:
        return source_hash(self.files)


def reads_hint(error: str, message: str, reads: frozenset[str]) -> str:
    """The likely cause of an error about None: a batch field the embedder does not declare."""
    if error in ("AttributeError", "TypeError") and "NoneType" in message:
        return f" (batch fields not declared in `reads` are None; it declares {sorted(reads)})"
    return ""


class InProcessRunner:
    """Runs an already-imported submission in this process: for code you trust (tests, development).
    The embedder gets copies of the batch's tensors. `netembench eval` always uses the sealed worker."""

    def __init__(self, submission: Submission, device: str = "cpu") -> None:
        self.submission, self.info, self.seconds = submission, submission.info(), 0.0
        to = getattr(submission.embedder, "to", None)
        if callable(to):
            to(torch.device(device))

    def fresh(self) -> InProcessRunner:
        """The same runner: an in-process evaluation shares its process with the harness anyway
        (unsealed, never verified)."""
        return self

    def prepare(self, zoo: ZooIdentity) -> None:
        prepare = getattr(self.submission.embedder, "prepare", None)
        if callable(prepare):
            self._guard("prepare", zoo.ref, lambda: prepare(zoo))
        self.info = self.submission.info()

    def call(self, method: str, batch: ProbeBatch, where: str) -> Tensor:
        start = time.perf_counter()
        with torch.no_grad():
            out = self._guard(method, where, lambda: getattr(self.submission.embedder, method)(batch.copy()))
        self.seconds += time.perf_counter() - start
        if not isinstance(out, Tensor):
            raise SubmissionError(
                f"embedder {self.info.name!r}: {method} returned {type(out).__name__} on {where}; expected a torch.Tensor"
            )
        return out

    def _guard(self, what: str, where: str, fn):
        try:
            return fn()
        except Unsupported:
            raise
        except BaseException as err:  # noqa: BLE001 - user code, SystemExit included
            hint = reads_hint(type(err).__name__, str(err), self.info.reads)
            raise SubmissionError(
                f"embedder {self.info.name!r} raised {type(err).__name__} in {what} on {where}: {err}{hint}"
            ) from err

    def close(self, kill: bool = False) -> None:
        """Nothing to end: the submission runs in this process."""


def _distributions(ref: str, embedder: object, reads: frozenset[str]) -> frozenset[str]:
    """The embedder's declared `distributions` (checked), or `default_distributions`."""
    declared = getattr(embedder, "distributions", None)
    if declared is None:
        return default_distributions(reads)
    if not isinstance(declared, (set, frozenset)) or not declared or not set(declared) <= DISTRIBUTIONS:
        raise SubmissionError(
            f"submission {ref}: `distributions` must be a non-empty subset of {sorted(DISTRIBUTIONS)}, got {declared!r}"
        )
    return frozenset(declared)


def source_hash(files: list[Path]) -> str:
    """sha256 of the files that decide a submission's outputs: code, checkpoints and data, not
    documentation (model cards, figures, logs), so editing a card keeps its results valid."""
    digest = hashlib.sha256()
    root = Path(os.path.commonpath([str(p) for p in files])) if files else Path()
    for path in sorted(p for p in files if not _is_documentation(p, root)):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


DOCUMENTATION_SUFFIXES = (".md", ".png", ".jpg", ".jpeg", ".svg", ".pdf", ".txt")
DOCUMENTATION_FOLDERS = ("figures", "logs")


def _is_documentation(path: Path, root: Path) -> bool:
    inside = path.relative_to(root).parts if path != root else ()
    return path.suffix.lower() in DOCUMENTATION_SUFFIXES or any(
        part in DOCUMENTATION_FOLDERS for part in inside
    )


@dataclass(frozen=True)
class Located:
    """Where a submission's code is, found without running any of it: the ref as results record it
    (a path relative to the working directory, or `module:callable`), the folder or file to load
    (`path`, resolved; None for a module), and every file whose bytes decide its outputs (`files`,
    hashed by `source_hash`; symbolic links are followed when read).
    """

    ref: str
    path: Path | None
    files: tuple[Path, ...]
    module: str = ""
    attr: str = "load_embedder"

    @property
    def source_hash(self) -> str:
        return source_hash(list(self.files))

    @property
    def entry(self) -> Path | None:
        """The file to import (None for a module)."""
        if self.path is None:
            return None
        return self.path / "embedder.py" if self.path.is_dir() else self.path

    def mounts(self) -> list[Path]:
        """What a sandbox shows to run it: the folder or file (or the module's file), and the
        targets of symbolic links that lead out of the folder."""
        if self.path is None:
            return [self.files[0].resolve()]
        targets = {f.resolve() for f in self.files}
        return [self.path, *sorted(t for t in targets if t != self.path and self.path not in t.parents)]


def locate_submission(ref: str | Path) -> Located:
    """A `.py` file, a folder with `embedder.py`, or `module:callable`, located without importing it."""
    ref = str(ref)
    path = Path(ref)
    if path.exists():  # recorded relative to the working directory, as the leaderboard links it
        ref = Path(os.path.relpath(path.resolve())).as_posix()
    if path.is_dir():
        entry = path / "embedder.py"
        if not entry.is_file():
            raise SubmissionError(f"submission folder {ref} has no embedder.py")
        files = [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        return Located(ref, path.resolve(), tuple(sorted(files)))
    if path.suffix == ".py" or path.exists():
        if not path.is_file():
            raise SubmissionError(f"submission {ref} does not exist")
        return Located(ref, path.resolve(), (path,))
    if ":" in ref:
        module, _, attr = ref.partition(":")
        origin = module_origin(module)
        if origin is None:
            raise SubmissionError(f"submission {ref}: no module {module!r} is installed in this Python")
        return Located(ref, None, (origin,), module, attr)
    raise SubmissionError(
        f"submission {ref} does not exist (give a .py file, a folder with embedder.py, or module:callable)"
    )


def module_origin(name: str) -> Path | None:
    """The source file of a module on `sys.path` (`pkg.mod`: `pkg/mod.py` or `pkg/mod/__init__.py`),
    found by looking at folders, without running the module or its packages."""
    folders = [Path(entry or ".") for entry in sys.path]
    *packages, last = name.split(".")
    for part in packages:
        folders = [f / part for f in folders if (f / part).is_dir()]
    for folder in folders:
        for candidate in (folder / f"{last}.py", folder / last / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def load_submission(ref: str | Path) -> Submission:
    """Load a `.py` file, a folder with `embedder.py`, or `module:callable`."""
    where = locate_submission(ref)
    ref = where.ref
    if where.entry is not None:
        factory = getattr(_import_file(where.entry, ref), "load_embedder", None)
    else:
        try:
            module = importlib.import_module(where.module)
        except Exception as err:  # noqa: BLE001 - user code: report whatever it raised
            raise SubmissionError(
                f"submission {ref}: importing {where.module} raised {type(err).__name__}: {err}"
            ) from err
        factory = getattr(module, where.attr, None)
    if not callable(factory):
        raise SubmissionError(
            f"submission {ref} defines no load_embedder() (or the callable named after ':')"
        )
    try:
        embedder = factory()
    except Exception as err:  # noqa: BLE001
        raise SubmissionError(
            f"submission {ref}: load_embedder() raised {type(err).__name__}: {err}"
        ) from err
    return Submission(embedder, ref, list(where.files))


def _import_file(path: Path, ref: str):
    name = f"netembench_submission_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001
        del sys.modules[name]
        raise SubmissionError(
            f"submission {ref}: importing {path} raised {type(err).__name__}: {err}"
        ) from err
    finally:
        sys.path.remove(str(path.parent))
    return module
