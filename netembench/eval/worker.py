"""Submissions run sealed: imported only in a sandboxed worker that sees probe batches and nothing else.

The harness process never imports submission code. It starts a worker (`python -I -B -m
netembench.eval.worker`, a fresh isolated interpreter) inside the sandbox of `sandbox` (bubblewrap),
which loads the submission, then answers calls: copies of probe tensors in, embeddings out, over a
socket. Both directions travel as length-prefixed safetensors bytes with a JSON header: the parent
never unpickles anything the worker sends, and it checks every answer against the protocol (one
answer per call, known keys and types, a size within budget), naming any violation. Which code ran
(its ref and source hash) is computed here from the files mounted into the sandbox, never taken from
the worker. Every call has a time limit; a worker that overruns it is stopped with its whole
process tree. Whatever the submission raises (SystemExit and KeyboardInterrupt included), and a
worker that dies, become one `SubmissionError` naming the call and the batch.
"""

from __future__ import annotations

import functools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor

from netembench.eval import sandbox
from netembench.eval.embedders import (
    BATCH_BYTES,
    Located,
    SubmissionError,
    SubmissionInfo,
    Unsupported,
    ZooIdentity,
    load_submission,
    locate_submission,
    reads_hint,
)
from netembench.eval.probes import ProbeBatch
from netembench.eval.wire import (
    INFO_FIELDS,
    MAX_MESSAGE,
    SMALL_MESSAGE,
    Channel,
    ProtocolError,
    batch_tensors,
    decode,
    encode,
    parse_info,
    printable,
    rebuild_batch,
    violation,
)
from netembench.threads import THREADS

LOAD_TIMEOUT = 120.0  # seconds at least for a fresh worker to import torch and the submission


def serve(channel: Channel, ref: str, device: str, limits: dict | None) -> None:
    """The worker: limit itself, load the submission, then answer calls until told to close."""
    if limits:
        sandbox.apply_limits(limits)
    THREADS.start()
    try:
        submission = load_submission(ref)
        to = getattr(submission.embedder, "to", None)
        if callable(to):
            to(torch.device(device))
        info = {k: v for k, v in asdict(submission.info()).items() if k in INFO_FIELDS}
        info.update(
            reads=sorted(info["reads"]),
            protocols=sorted(info["protocols"]),
            distributions=sorted(info["distributions"]),
        )
        channel.send(encode({"call": 0, "ok": True, "info": info}))
    except BaseException as err:  # noqa: BLE001 - SystemExit in an import is a failure too
        channel.send(encode({"call": 0, "error": type(err).__name__, "message": str(err)[:2000]}))
        return
    while True:
        meta, tensors = decode(channel.receive(MAX_MESSAGE))
        if meta["op"] == "close":
            return
        channel.send(_answer(submission, meta, tensors, device))


def _answer(submission, meta: dict, tensors: dict[str, Tensor], device: str) -> bytes:
    """The answer to one call, as the bytes to send."""
    call, embedder = {"call": meta["call"]}, submission.embedder
    try:
        with torch.no_grad():
            if meta["op"] == "prepare":
                prepare = getattr(embedder, "prepare", None)
                if callable(prepare):
                    prepare(ZooIdentity(**meta["zoo"]))
                return encode({**call, "ok": True, "n_params": submission.n_params})
            out = getattr(embedder, meta["op"])(rebuild_batch(meta, tensors).to(device))
        if not isinstance(out, Tensor):
            message = f"returned {type(out).__name__}; expected a torch.Tensor"
            return encode({**call, "error": "TypeError", "message": message})
        return encode({**call, "ok": True}, {"out": out})
    except Unsupported as why:
        return encode({**call, "unsupported": str(why)})
    except BaseException as err:  # noqa: BLE001 - whatever user code raises, SystemExit included
        return encode({**call, "error": type(err).__name__, "message": str(err)[:2000]})


@functools.lru_cache(maxsize=1)
def sandbox_or_warn() -> bool:
    """Is the sandbox available? If not, say so once (one line on stderr) and run without it."""
    reason = sandbox.unavailable()
    if reason is not None:
        print(
            f"netembench: no sandbox: {reason}; submissions run unsandboxed and their results are "
            "marked sealed: false (never verified)",
            file=sys.stderr,
        )
    return reason is None


def _locate(ref: str) -> Located:
    """The submission's files; a module must be installed, as the worker's Python is isolated."""
    located = locate_submission(ref)
    if located.path is None and not any(r in located.mounts()[0].parents for r in sandbox.python_roots()):
        raise SubmissionError(
            f"submission {located.ref}: module {located.module} is not installed in this Python "
            f"({located.files[0]}), and the worker runs isolated from the working directory; "
            "give its file or folder instead"
        )
    return located


class WorkerRunner:
    """The harness's handle on a submission running in its own process, sandboxed where possible."""

    def __init__(self, ref: str, device: str = "cpu", timeout: float = 600.0) -> None:
        located = _locate(ref)
        self.ref, self.timeout, self.sealed = located.ref, timeout, sandbox_or_warn()
        self.device = device
        self.source_hash = located.source_hash  # of the files this process mounts for the worker
        mounts = located.mounts()
        mine, theirs = socket.socketpair()
        limits = sandbox.default_limits(device).as_dict() if self.sealed else None
        target = str(located.path) if located.path is not None else located.ref
        argv = [sys.executable, "-I", "-B", "-m", "netembench.eval.worker", str(theirs.fileno()), target, device]
        argv.append(json.dumps(limits))
        env = sandbox.environment(device)  # sandboxed or not, the worker sees no secrets
        self._info_fd, fds = None, [theirs.fileno()]
        if self.sealed:
            self._check_mounts(mounts)
            self._info_fd, info_w = os.pipe()
            fds.append(info_w)
            argv = sandbox.command(argv, mounts, device, info_w)
        # Its own session: a terminal's Ctrl-C reaches the harness, which then ends the worker. Its
        # output goes through a pipe that this process relays (`relay_output`), never to our files.
        self._process = subprocess.Popen(
            argv,
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        threading.Thread(target=relay_output, args=(self._process.stdout, self.ref), daemon=True).start()
        for fd in fds:
            os.close(fd)
        self._channel = Channel(mine)
        self._info: SubmissionInfo | None = None  # the worker's handshake, awaited on first use
        self._sandbox_pid: int | None = None
        self._calls, self.seconds = 0, 0.0

    def fresh(self) -> WorkerRunner:
        """Another worker of the same submission, sharing no state (memory, cache) with this one."""
        return WorkerRunner(self.ref, self.device, self.timeout)

    def _check_mounts(self, mounts: list[Path]) -> None:
        """Refuse to mount the whole file system, links that lead out of the working directory, into
        the zoo cache or to anything but Python source (a zoo, a result or a key elsewhere in the
        project must stay out of sight), and (run as root) files the worker, as nobody, could not read."""
        from netembench.zoo.cache import cache_dir  # the harness's side only: the worker need not load it

        if any(p.parent == p for p in mounts):
            raise SubmissionError(f"submission {self.ref}: a submission cannot be the whole file system")
        here, cache = Path.cwd().resolve(), cache_dir().resolve()
        for target in mounts[1:]:  # targets of symbolic links out of the submission's folder
            if here not in target.parents or target == cache or cache in target.parents or target.suffix != ".py":
                raise SubmissionError(
                    f"submission {self.ref}: a symbolic link in it leads to {target}, outside the working "
                    "directory, into the zoo cache or to a file that is not Python source; the sandbox mounts "
                    "only the project's code through links (copy data files into the submission's folder)"
                )
        hidden = sandbox.unreadable(mounts)
        if hidden is not None:
            raise SubmissionError(
                f"submission {self.ref}: {hidden} is not readable by other users, and the sandbox runs "
                "the submission as nobody; make it readable (chmod -R o+rX)"
            )

    @property
    def info(self) -> SubmissionInfo:
        """What the submission reported once loaded (awaited on first use, so the worker starts up
        while the caller does other work), with the ref and source hash of the code this process
        mounted: the worker's word is taken for nothing else."""
        if self._info is None:
            timeout = max(self.timeout, LOAD_TIMEOUT)
            meta, _ = self._receive("loaded", "loading it", f"submission {self.ref}", timeout)
            info = parse_info(meta["info"])
            if info is None:
                self._stop()
                raise SubmissionError(
                    f"submission {self.ref}: its worker sent an invalid handshake {meta['info']!r:.300}"
                )
            self._info = SubmissionInfo(**info, ref=self.ref, source_hash=self.source_hash)
        return self._info

    def prepare(self, zoo: ZooIdentity) -> None:
        info = self.info
        self._send({"op": "prepare", "zoo": asdict(zoo)}, {}, f"prepare on {zoo.ref}")
        meta, _ = self._receive("prepare", "prepare", zoo.ref)
        self._info = SubmissionInfo(**{**asdict(info), "n_params": meta["n_params"]})

    def call(self, method: str, batch: ProbeBatch, where: str) -> Tensor:
        meta, tensors = batch_tensors(batch)
        _ = self.info
        start = time.perf_counter()
        self._send({**meta, "op": method}, tensors, f"{method} on {where}")
        _, out = self._receive("call", method, where, limit=BATCH_BYTES + SMALL_MESSAGE)
        self.seconds += time.perf_counter() - start
        return out["out"]

    def _send(self, meta: dict, tensors: dict[str, Tensor], what: str) -> None:
        self._calls += 1
        try:
            self._channel.send(encode({**meta, "call": self._calls}, tensors), self.timeout)
        except (OSError, TimeoutError):
            code = self._stop()
            raise SubmissionError(
                f"embedder {self._name!r} did not take its {what} within the {self.timeout:g} s timeout "
                f"(its worker exited or stopped reading; exit code {code}); its worker was stopped"
            ) from None

    @property
    def _name(self) -> str:
        return self._info.name if self._info is not None else self.ref

    def _receive(
        self, kind: str, what: str, where: str, timeout: float | None = None, limit: int = SMALL_MESSAGE
    ) -> tuple[dict, dict[str, Tensor]]:
        name = self._name
        timeout = timeout or self.timeout
        try:
            meta, tensors = decode(self._channel.receive(limit, timeout))
            problem = violation(meta, tensors, kind, self._calls)
            if problem is None and self._channel.pending():
                problem = "sent an extra message after its answer (one answer per call)"
        except TimeoutError:
            self._stop()
            raise SubmissionError(
                f"embedder {name!r} did not answer {what} on {where} within the {timeout:g} s "
                "timeout (--timeout); its worker was stopped"
            ) from None
        except (EOFError, ConnectionError):
            code = self._wait(5)
            self._stop()
            raise SubmissionError(
                f"embedder {name!r}: its worker exited (code {code}) during {what} on {where}"
            ) from None
        except ProtocolError as err:
            problem = str(err)
        if problem is not None:
            self._stop()
            raise SubmissionError(
                f"embedder {name!r} broke the worker protocol in {what} on {where}: it {problem}; "
                "its worker was stopped"
            )
        if "unsupported" in meta:
            raise Unsupported(printable(meta["unsupported"]))
        if "error" not in meta:
            return meta, tensors
        error, message = printable(meta["error"], 100), printable(meta["message"])
        if kind == "loaded" and error == "SubmissionError":  # loading failed: the loader's own message
            raise SubmissionError(message)
        hint = reads_hint(error, message, self._info.reads) if self._info else ""
        raise SubmissionError(f"embedder {name!r} raised {error} in {what} on {where}: {message}{hint}")

    def _wait(self, seconds: float) -> int | None:
        try:
            return self._process.wait(seconds)
        except subprocess.TimeoutExpired:
            return None

    def _stop(self) -> int | None:
        """End the worker and its whole process tree: the sandbox's first process (its PID namespace
        dies with it, and bwrap exits once the namespace is empty), or the unsandboxed worker's
        process group. Returns the worker's exit code."""
        if self._process.poll() is None:
            pid = self._first_pid()
            try:
                if pid:
                    os.kill(pid, signal.SIGKILL)
                else:
                    os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if self._wait(10) is None:
                self._process.kill()
                self._wait(5)
        return self._process.returncode

    def _first_pid(self) -> int | None:
        """The sandbox's first process, as bwrap reports it on its info pipe."""
        if self._info_fd is not None and self._sandbox_pid is None:
            ready = select.select([self._info_fd], [], [], 5)[0]
            try:
                self._sandbox_pid = int(json.loads(os.read(self._info_fd, 4096) if ready else b"")["child-pid"])
            except (ValueError, KeyError, TypeError):
                self._sandbox_pid = 0
        return self._sandbox_pid or None

    def close(self, kill: bool = False) -> None:
        """Tell the worker to finish (or, with `kill`, end it at once) and wait for its whole tree."""
        if self._process.poll() is None and not kill:
            try:
                self._channel.send(encode({"op": "close"}), 10)
                self._wait(10)
            except (OSError, TimeoutError):
                pass
        self._stop()
        self._channel.close()
        if self._info_fd is not None:
            os.close(self._info_fd)
            self._info_fd = None


RELAY_LIMIT = 1 << 20  # bytes of a worker's output shown; the rest is counted, not shown


def relay_output(stream, ref: str) -> None:
    """Show a worker's output on our stderr, line by line, prefixed, with control characters
    (terminal escapes) replaced and at most `RELAY_LIMIT` bytes: it cannot seek, truncate or flood
    the files our own output goes to."""
    shown = 0
    with stream:
        for line in iter(lambda: stream.readline(4096), b""):
            shown += len(line)
            if shown <= RELAY_LIMIT:
                text = printable(line.decode(errors="replace").rstrip("\n"), 4096)
                print(f"[{ref}] {text}", file=sys.stderr, flush=True)
            elif shown - len(line) <= RELAY_LIMIT:
                print(f"[{ref}] (more output not shown)", file=sys.stderr, flush=True)


def main(argv: list[str]) -> None:
    """The worker process: `python -m netembench.eval.worker FD REF DEVICE LIMITS`. A harness that went
    away (an interrupted eval) ends it quietly."""
    channel = Channel(socket.socket(fileno=int(argv[0])))
    try:
        serve(channel, argv[1], argv[2], json.loads(argv[3]))
    except (EOFError, ConnectionError):
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
