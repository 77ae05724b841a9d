"""Submissions run sealed: imported only in a worker process that sees probe batches and nothing else.

The harness process never imports submission code. It starts a worker (`python -m
netembench.worker`, a fresh interpreter that shares nothing with the caller, not even its main
module) that loads the submission, then sends it copies of probe tensors and receives embeddings
back over a socket. Both directions travel as safetensors bytes plus a JSON header: the parent never
unpickles anything the worker sends. Every call has a time limit; a worker that overruns it is
killed. Whatever the submission raises (SystemExit and KeyboardInterrupt included), and a worker
that dies, become one `SubmissionError` naming the call and the batch.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from multiprocessing.connection import Connection

import safetensors.torch
import torch
from torch import Tensor

from netembench.embedders import (
    SubmissionError,
    SubmissionInfo,
    Unsupported,
    ZooIdentity,
    load_submission,
    reads_hint,
)
from netembench.population import Arch, Population
from netembench.probes import ProbeBatch
from netembench.threads import THREADS

MAX_MESSAGE = 1 << 31  # bytes: a generous bound on one batch or one embedding
LOAD_TIMEOUT = 120.0  # seconds at least for a fresh worker to import torch and the submission
BATCH_FIELDS = ("x", "mask", "region", "model_id", "grad", "y")


def encode(meta: dict, tensors: dict[str, Tensor] | None = None) -> bytes:
    tensors = {k: v.detach().cpu().contiguous() for k, v in (tensors or {}).items()}
    return safetensors.torch.save(tensors, metadata={"meta": json.dumps(meta)})


def decode(data: bytes) -> tuple[dict, dict[str, Tensor]]:
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    return json.loads(header["__metadata__"]["meta"]), safetensors.torch.load(data)


def batch_tensors(batch: ProbeBatch) -> tuple[dict, dict[str, Tensor]]:
    """A batch as wire tensors (absent fields left out) and the metadata to rebuild it."""
    tensors = {k: getattr(batch, k) for k in BATCH_FIELDS if getattr(batch, k) is not None}
    meta = {}
    if batch.weights is not None:
        meta["arch"] = batch.weights.arch.name
        tensors.update({f"weights.{k}": v for k, v in batch.weights.state_dict().items()})
    return meta, tensors


def rebuild_batch(meta: dict, tensors: dict[str, Tensor]) -> ProbeBatch:
    weights = None
    if "arch" in meta:
        state = {k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith("weights.")}
        weights = Population.from_state_dict(Arch.parse(meta["arch"]), state)
    return ProbeBatch(**{k: tensors.get(k) for k in BATCH_FIELDS}, weights=weights)


def _as_json(info: SubmissionInfo) -> dict:
    return {**asdict(info), "reads": sorted(info.reads), "protocols": sorted(info.protocols)}


def _serve(conn: Connection, ref: str, device: str) -> None:
    """The worker's loop: load the submission, then answer calls until told to close."""
    THREADS.start()
    try:
        submission = load_submission(ref)
        to = getattr(submission.embedder, "to", None)
        if callable(to):
            to(torch.device(device))
        conn.send_bytes(encode({"ok": True, "info": _as_json(submission.info())}))
    except BaseException as err:  # noqa: BLE001 - SystemExit in an import is a failure too
        conn.send_bytes(encode({"error": type(err).__name__, "message": str(err)}))
        return
    embedder = submission.embedder
    while True:
        meta, tensors = decode(conn.recv_bytes(MAX_MESSAGE))
        if meta["op"] == "close":
            return
        try:
            with torch.no_grad():
                if meta["op"] == "prepare":
                    prepare = getattr(embedder, "prepare", None)
                    if callable(prepare):
                        prepare(ZooIdentity(**meta["zoo"]))
                    conn.send_bytes(encode({"ok": True, "n_params": submission.n_params}))
                    continue
                batch = rebuild_batch(meta, tensors).to(device)
                out = getattr(embedder, meta["op"])(batch)
            if not isinstance(out, Tensor):
                conn.send_bytes(
                    encode(
                        {
                            "error": "TypeError",
                            "message": f"returned {type(out).__name__}; expected a torch.Tensor",
                        }
                    )
                )
                continue
            conn.send_bytes(encode({"ok": True}, {"out": out}))
        except Unsupported as why:
            conn.send_bytes(encode({"unsupported": str(why)}))
        except BaseException as err:  # noqa: BLE001 - whatever user code raises, SystemExit included
            conn.send_bytes(encode({"error": type(err).__name__, "message": str(err)[:2000]}))


class WorkerRunner:
    """The harness's handle on a submission running in its own process."""

    def __init__(self, ref: str, device: str = "cpu", timeout: float = 600.0) -> None:
        self.ref, self.timeout = str(ref), timeout
        mine, theirs = socket.socketpair()
        # The worker idles while the harness scores; spinning OpenMP threads there cost the harness
        # 15-30% of its time on 2 cores (measured), so its threads sleep when idle.
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "netembench.worker", str(theirs.fileno()), self.ref, device],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            env=env,
        )
        theirs.close()
        self._conn = Connection(mine.detach())
        self._info: SubmissionInfo | None = None  # the worker's handshake, awaited on first use
        self.seconds = 0.0

    @property
    def info(self) -> SubmissionInfo:
        """What the submission reported once loaded (waits for the worker: the caller can load zoos
        meanwhile, so a fresh interpreter's start-up costs no wall time)."""
        if self._info is None:
            meta, _ = self._receive("loading it", f"submission {self.ref}", max(self.timeout, LOAD_TIMEOUT))
            self._info = SubmissionInfo(**meta["info"])
        return self._info

    def prepare(self, zoo: ZooIdentity) -> None:
        info = self.info
        self._conn.send_bytes(encode({"op": "prepare", "zoo": asdict(zoo)}))
        meta, _ = self._receive("prepare", zoo.ref)
        self._info = SubmissionInfo(**{**_as_json(info), "n_params": int(meta["n_params"])})

    def call(self, method: str, batch: ProbeBatch, where: str) -> Tensor:
        meta, tensors = batch_tensors(batch)
        _ = self.info
        start = time.perf_counter()
        self._conn.send_bytes(encode({**meta, "op": method}, tensors))
        _, out = self._receive(method, where)
        self.seconds += time.perf_counter() - start
        return out["out"]

    def _receive(self, what: str, where: str, timeout: float | None = None) -> tuple[dict, dict[str, Tensor]]:
        name = self._info.name if self._info is not None else self.ref
        timeout = timeout or self.timeout
        if not self._conn.poll(timeout):
            self.close(kill=True)
            raise SubmissionError(
                f"embedder {name!r} did not answer {what} on {where} within the {timeout:g} s "
                "timeout (--timeout); its worker was stopped"
            )
        try:
            meta, tensors = decode(self._conn.recv_bytes(MAX_MESSAGE))
        except (EOFError, OSError):
            code = self._wait(5)
            raise SubmissionError(
                f"embedder {name!r}: its worker exited (code {code}) during {what} on {where}"
            ) from None
        except (ValueError, KeyError, json.JSONDecodeError, safetensors.SafetensorError) as err:
            self.close(kill=True)
            raise SubmissionError(
                f"embedder {name!r} sent an unreadable answer to {what} on {where} ({err})"
            ) from None
        if "unsupported" in meta:
            raise Unsupported(meta["unsupported"])
        if meta.get("error") == "SubmissionError":  # loading failed: the loader's own message
            raise SubmissionError(meta["message"])
        if "error" in meta:
            hint = reads_hint(meta["error"], meta["message"], self._info.reads) if self._info else ""
            raise SubmissionError(
                f"embedder {name!r} raised {meta['error']} in {what} on {where}: {meta['message']}{hint}"
            )
        return meta, tensors

    def _wait(self, seconds: float) -> int | None:
        try:
            return self._process.wait(seconds)
        except subprocess.TimeoutExpired:
            return None

    def close(self, kill: bool = False) -> None:
        if self._process.poll() is None and not kill:
            try:
                self._conn.send_bytes(encode({"op": "close"}))
                self._wait(10)
            except OSError:
                pass
        if self._process.poll() is None:
            self._process.kill()
            self._wait(5)
        self._conn.close()


if __name__ == "__main__":  # the worker process: python -m netembench.worker FD REF DEVICE
    _serve(Connection(int(sys.argv[1])), sys.argv[2], sys.argv[3])
