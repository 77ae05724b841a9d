"""Harness 1.3: the sandbox, provenance from the parent, batch independence, and a bounded parent.

Each cheat kind of issue 19 is tried here as a submission written by the test, and each test asserts
the outcome: an error line, a failed check, or no effect. Tests that need bubblewrap skip with the
reason where it cannot run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch

import netembench
from netembench.board.leaderboard import collect
from netembench.board.markdown import render_markdown
from netembench.board.results import build_result, content_hash, write_result
from netembench.eval import sandbox, worker
from netembench.eval.embedders import Submission, SubmissionError, load_submission, source_hash
from netembench.eval.harness import evaluate
from netembench.zoo.spec import canonical_specs
from netembench.zoo.store import verify_zoo
from tests.test_bad_inputs import one_line_error, run

ROOT = Path(__file__).resolve().parent.parent
needs_sandbox = pytest.mark.skipif(
    sandbox.unavailable() is not None, reason=f"no sandbox here: {sandbox.unavailable()}"
)
CONSTANT = """
import torch
class E:
    name, reads = "sub", frozenset({"grad"})
    def embed(self, b):
        return torch.zeros(len(b), 2)
def load_embedder():
    return E()
"""


def write(tmp_path: Path, body: str, name: str = "sub.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def eval_here(capsys, tmp_path: Path, sub, zoo, *extra: str) -> tuple[int, str, str]:
    """`netembench eval` in this process, results under tmp_path/r."""
    return run(capsys, "eval", sub, "--zoo", zoo, "--results-dir", tmp_path / "r", "--quiet", *extra)


def survivors(marker: str) -> list[str]:
    """Command lines of live processes that mention `marker` (a test's own folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmd = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
        except OSError:
            continue
        if marker.encode() in cmd:
            found.append(cmd.replace(b"\0", b" ").decode(errors="replace"))
    return found


def eval_process(tmp_path: Path, sub: Path, zoo) -> subprocess.Popen:
    """`netembench eval` in its own process, its output in pipes."""
    argv = [sys.executable, "-m", "netembench", "eval", str(sub), "--zoo", str(zoo.path), "--quiet"]
    argv += ["--results-dir", str(tmp_path / "r")]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)


# ---------------------------------------------------------------- the disk, the parent, the network


@needs_sandbox
def test_writes_outside_the_sandbox_fail(tmp_path, tiny_zoo, capsys):
    zoo = shutil.copytree(tiny_zoo.path, tmp_path / "zoo")
    (tmp_path / "r").mkdir()
    package = Path(netembench.__file__).parent
    targets = {
        "result": tmp_path / "r" / "existing.json",
        "cache parquet": zoo / "metadata" / "train.parquet",
        "package pyc": package / "__pycache__" / f"metrics.{sys.implementation.cache_tag}.pyc",
        "package source": package / "metrics.py",
        "verified.json": ROOT / "leaderboard" / "verified.json",
        "own code": tmp_path / "sub.py",
        "home": Path.home() / ".netembench-cheat",
    }
    (tmp_path / "r" / "existing.json").write_text("{}")
    sub = write(tmp_path, f"""
        outcome = []
        for label, path in {json.dumps({k: str(v) for k, v in targets.items()})}.items():
            try:
                with open(path, "ab") as f:
                    f.write(b"cheat")
                outcome.append(label + " WRITTEN")
            except OSError as err:
                outcome.append(label + " refused")
        raise RuntimeError("; ".join(outcome))
    """)
    before = {k: p.read_bytes() for k, p in targets.items() if p.is_file()}
    code, _, err = eval_here(capsys, tmp_path, sub, zoo)
    one_line_error(code, err, "result refused", "cache parquet refused", "package pyc refused")
    assert "WRITTEN" not in err
    assert {k: p.read_bytes() for k, p in targets.items() if p.is_file()} == before
    assert verify_zoo(zoo) == [] and not (Path.home() / ".netembench-cheat").exists()


@needs_sandbox
def test_the_parent_its_environment_files_and_network_are_out_of_reach(tmp_path, tiny_zoo, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    listener = socket.create_server(("127.0.0.1", 0))
    reachable = {
        "harness environ": f"/proc/{os.getpid()}/environ",
        "harness memory": f"/proc/{os.getpid()}/mem",
        "project": str(ROOT / "pyproject.toml"),
        "zoo labels": str(Path(tiny_zoo.path) / "metadata" / "test.parquet"),
        "a file beside the submission": str(tmp_path / "secret.txt"),
    }
    (tmp_path / "secret.txt").write_text("the answers")
    sub = write(tmp_path, f"""
        import os, socket, netembench
        found = []
        paths = {json.dumps(reachable)}
        paths.update({{"ppid environ": f"/proc/{{os.getppid()}}/environ", "ppid mem": f"/proc/{{os.getppid()}}/mem"}})
        for label, path in paths.items():
            try:
                os.listdir(path) if os.path.isdir(path) else open(path, "rb").read(1)
                found.append(label)
            except OSError:
                pass
        found += [k for k in os.environ if "TOKEN" in k]
        try:
            socket.create_connection(("127.0.0.1", {listener.getsockname()[1]}), timeout=2)
            found.append("network")
        except OSError:
            pass
        found += sorted(set(os.listdir(".")) - {{"netembench"}})
        raise RuntimeError(f"reached {{found}} with {{netembench.__file__}}")
    """)
    code, _, err = eval_here(capsys, tmp_path, sub, tiny_zoo.path)
    listener.close()
    one_line_error(code, err, f"reached [] with {netembench.__file__}")


@needs_sandbox
def test_the_code_that_ran_is_named_by_the_parent(tmp_path, tiny_zoo, capsys):
    integ = json.loads((ROOT / "leaderboard" / "results" / "integ" / "poly-seed@1.1.0.json").read_text())
    sub = write(tmp_path, CONSTANT + f"""
import dataclasses
import netembench.eval.embedders as embedders
real = embedders.Submission.info
embedders.Submission.info = lambda self: dataclasses.replace(
    real(self), ref="baselines/integ", source_hash="{integ['embedder']['source_hash']}"
)
""")
    code, _, err = eval_here(capsys, tmp_path, sub, tiny_zoo.path)
    assert code == 0, err
    result = json.loads(next((tmp_path / "r").rglob("*.json")).read_text())
    assert result["embedder"]["submission"] == os.path.relpath(sub)
    assert result["embedder"]["source_hash"] == source_hash([sub])
    assert result["embedder"]["sealed"] is True


@needs_sandbox
def test_links_out_of_a_submission_are_mounted_only_within_the_project(tmp_path, tiny_zoo, capsys, monkeypatch):
    monkeypatch.setenv("NETEMBENCH_CACHE", str(Path(tiny_zoo.path).parent))
    folder = tmp_path / "linked"
    folder.mkdir()
    (folder / "embedder.py").write_text(textwrap.dedent(CONSTANT))
    (folder / "labels.parquet").symlink_to(Path(tiny_zoo.path) / "metadata" / "test.parquet")
    code, _, err = eval_here(capsys, tmp_path, folder, tiny_zoo.path)
    one_line_error(code, err, "a symbolic link in it leads to", "outside the working directory, into the zoo cache")
    # A zoo elsewhere in the project (not the cache) stays out of sight too: links reach code only.
    monkeypatch.setenv("NETEMBENCH_CACHE", str(tmp_path / "elsewhere"))
    monkeypatch.chdir(tmp_path.parent)
    code, _, err = eval_here(capsys, tmp_path, folder, tiny_zoo.path)
    one_line_error(code, err, "a symbolic link in it leads to", "to a file that is not Python source")
    monkeypatch.chdir(ROOT)
    shipped = worker.WorkerRunner("baselines/weight_space_supervised")  # links to baselines/weight_space
    try:
        assert shipped.info.name == "weight_space_supervised" and shipped.sealed
    finally:
        shipped.close()


# ---------------------------------------------------------------- processes: daemons, fork bombs, signals


DAEMON = """
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", MARKER], start_new_session=True)
"""


@needs_sandbox
def test_a_detached_child_holding_stdout_ends_with_eval(tmp_path, tiny_zoo):
    sub = write(tmp_path, CONSTANT + DAEMON.replace("MARKER", repr(str(tmp_path))))
    process = eval_process(tmp_path, sub, tiny_zoo)
    out, err = process.communicate(timeout=120)  # returns once both pipes close: nothing holds them
    assert process.returncode == 0, err
    assert survivors(str(tmp_path)) == []


@needs_sandbox
def test_a_fork_bomb_meets_the_process_limit(tmp_path, tiny_zoo, capsys):
    sub = write(tmp_path, """
        import os, time
        n = 0
        try:
            while n < 10_000:
                if os.fork() == 0:
                    time.sleep(600)
                    os._exit(0)
                n += 1
        except OSError as err:
            raise RuntimeError(f"fork failed after {n} children: {err.strerror}")
        raise RuntimeError(f"forked {n} children")
    """)
    code, _, err = eval_here(capsys, tmp_path, sub, tiny_zoo.path)
    one_line_error(code, err, "fork failed after", "Resource temporarily unavailable")
    assert survivors(str(tmp_path)) == []


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_end_eval_in_one_line(tmp_path, tiny_zoo, capfd, stop):
    """The signal comes while the worker loads or embeds (and its daemon sleeps): either way eval
    ends in one line, the worker's tree ends, and nothing is written."""
    slow = CONSTANT.replace("return torch.zeros", "import time; time.sleep(600); return torch.zeros")
    sub = write(tmp_path, slow + DAEMON.replace("MARKER", repr(str(tmp_path))))
    def send() -> None:  # only while eval's handler is in place (the default would end pytest)
        if callable(signal.getsignal(stop)):
            os.kill(os.getpid(), stop)

    timer = threading.Timer(4.0, send)
    timer.start()
    code, _, err = eval_here(capfd, tmp_path, sub, tiny_zoo.path)
    timer.cancel()
    assert code == 128 + stop
    assert err == f"netembench: interrupted by {stop.name}; nothing half-written was kept\n"
    assert not list((tmp_path / "r").rglob("*.json")) and survivors(str(tmp_path)) == []


# ---------------------------------------------------------------- the socket protocol

ZEROS = '{"out": torch.zeros(len(b), 2)}'
VIOLATIONS = {
    "extra message": (f'channel.send(encode({{"call": call, "ok": True}}, {ZEROS}))', "extra message"),
    "unknown key": (
        f'channel.send(encode({{"call": call, "ok": True, "note": 1}}, {ZEROS}))',
        "unknown key(s) 'note'",
    ),
    "another call's answer": (
        'channel.send(encode({"call": call, "ok": True, "n_params": 3}))',
        "unknown key(s) 'n_params'",
    ),
    "oversized": (
        'channel.sock.sendall((1 << 40).to_bytes(8, "little"))',
        "sent a 1,099,511,627,776-byte answer, over its",
    ),
}


@pytest.mark.parametrize("action,message", VIOLATIONS.values(), ids=VIOLATIONS)
def test_protocol_violations_are_named(tmp_path, tiny_zoo, capsys, action, message):
    sub = write(tmp_path, f"""
        import inspect, torch
        from netembench.eval.wire import encode
        class E:
            name, reads = "sub", frozenset({{"grad"}})
            def embed(self, b):
                found = {{k: v for f in inspect.stack() for k, v in f.frame.f_locals.items()}}
                channel, call = found["channel"], found["meta"]["call"]
                {action}
                return torch.zeros(len(b), 2)
        def load_embedder():
            return E()
    """)
    code, _, err = eval_here(capsys, tmp_path, sub, tiny_zoo.path)
    one_line_error(code, err, "embedder 'sub' broke the worker protocol in embed on split", message)


def test_an_embedding_wider_than_the_limit_is_refused(tmp_path, tiny_zoo, capsys):
    sub = write(tmp_path, CONSTANT.replace("torch.zeros(len(b), 2)", "torch.zeros(len(b), 70_000)"))
    code, _, err = eval_here(capsys, tmp_path, sub, tiny_zoo.path)
    one_line_error(code, err, "embed returned 70,000 torch.float32 entries per model", "at most 65,536 wide")


def test_scoring_counts_against_the_timeout(tmp_path, tiny_zoo, capsys, monkeypatch):
    monkeypatch.setattr("netembench.eval.metrics.knn_correct", lambda *a: time.sleep(60))  # slow scoring
    start = time.perf_counter()
    code, _, err = eval_here(capsys, tmp_path, write(tmp_path, CONSTANT), tiny_zoo.path, "--timeout", "3")
    assert time.perf_counter() - start < 50
    one_line_error(code, err, "scoring one draw of its 2-wide embeddings took more than the 3 s timeout")


# ---------------------------------------------------------------- embeddings are functions of their probe sets


class Dependent:
    name, reads = "dependent", frozenset({"grad"})

    def __init__(self, how: str) -> None:
        self.how = how

    def embed(self, b):
        features = torch.stack([b.grad.mean(1), b.grad.std(1)], 1)
        if self.how == "batch-mates":
            return features - features.mean(0)
        if self.how == "clock":
            return torch.cat([features, torch.full((len(b), 1), time.time() % 1.0)], 1)
        return torch.cat([features, torch.rand(len(b), 1)], 1)  # fresh randomness


@pytest.mark.parametrize("how", ["batch-mates", "clock", "fresh randomness"])
def test_embeddings_that_are_not_functions_of_their_probe_sets_fail(tiny_zoo, how):
    with pytest.raises(SubmissionError, match="not functions of their probe sets.*the protocol forbids"):
        evaluate(Submission(Dependent(how), "test", []), tiny_zoo, quiet=True)


MEMO = """
import torch
class E:
    name, reads = "sub", frozenset({"grad"})
    def __init__(self):
        self.memo = {}
    def embed(self, b):
        features = torch.stack([b.grad.mean(1), b.grad.std(1)], 1)
        fresh = features - features.mean(0) + torch.randn(len(b), 2)
        out = []
        for i in range(len(b)):  # the first answer for a probe set, repeated whatever the batch
            key = (b.x[i].numpy().tobytes(), b.grad[i].numpy().tobytes())
            out.append(self.memo.setdefault(key, fresh[i]))
        return torch.stack(out)
def load_embedder():
    return E()
"""


@needs_sandbox
def test_a_submission_that_remembers_its_first_answers_fails_the_recheck(tmp_path, tiny_zoo, capsys):
    """The recheck runs in a fresh worker, so remembered answers are not there to repeat."""
    code, _, err = eval_here(capsys, tmp_path, write(tmp_path, MEMO), tiny_zoo.path)
    one_line_error(code, err, "embedder 'sub': embeddings are not functions of their probe sets")


LOUD = """
import os, stat, torch
class E:
    name, reads = "sub", frozenset({"grad"})
    def embed(self, b):
        print("\x1b]0;PWNED\x07 fd1 is a pipe:", stat.S_ISFIFO(os.fstat(1).st_mode), flush=True)
        try:
            os.ftruncate(1, 0)
        except OSError as err:
            print("truncate refused:", err.errno, flush=True)
        return torch.zeros(len(b), 2) + b.grad.mean(1, keepdim=True)
def load_embedder():
    return E()
"""


def test_worker_output_is_relayed_not_inherited(tmp_path, tiny_zoo):
    """A worker writes to a pipe the harness relays: it cannot seek or truncate the files the
    harness writes to, and its terminal escapes are shown as '?'."""
    log = tmp_path / "log.txt"
    log.write_text("earlier lines\n")
    with log.open("a") as out:
        argv = [sys.executable, "-m", "netembench", "eval", str(write(tmp_path, LOUD)), "--zoo", str(tiny_zoo.path)]
        done = subprocess.run([*argv, "--quiet", "--results-dir", str(tmp_path / "r")], stdout=out, stderr=out, cwd=ROOT)
    text = log.read_text()
    assert done.returncode == 0, text
    assert text.startswith("earlier lines\n") and "fd1 is a pipe: True" in text
    assert "\x1b" not in text and "?]0;PWNED?" in text


@pytest.mark.parametrize(
    "values, message",
    [("torch.zeros(len(b), 0)", "0-wide embeddings"), ("torch.full((len(b), 2), 1e300, dtype=torch.float64)", "each at most 1e+30")],
)
def test_empty_and_huge_embeddings_are_refused_in_one_line(tmp_path, tiny_zoo, capsys, values, message):
    sub = write(tmp_path, CONSTANT.replace("torch.zeros(len(b), 2)", values))
    code, _, err = eval_here(capsys, tmp_path, sub, tiny_zoo.path)
    one_line_error(code, err, "embedder 'sub': embed returned", message)


def test_embeddings_keyed_on_model_ids_fail_in_one_line(tmp_path, tiny_zoo, capsys):
    by_id = "torch.nn.functional.one_hot(b.model_id % 4, 4).float()"
    sub = write(tmp_path, CONSTANT.replace("torch.zeros(len(b), 2)", by_id))
    code, _, err = eval_here(capsys, tmp_path, sub, tiny_zoo.path)
    one_line_error(code, err, "embedder 'sub': embeddings are not functions of their probe sets")


# ---------------------------------------------------------------- without a sandbox: said once, never verified


def test_without_a_sandbox_results_are_unsealed(tmp_path, tiny_zoo, capsys, monkeypatch):
    monkeypatch.setattr(sandbox, "unavailable", lambda: "no namespaces in this test")
    worker.sandbox_or_warn.cache_clear()
    try:
        code, out, err = eval_here(capsys, tmp_path, write(tmp_path, CONSTANT), tiny_zoo.path)
    finally:
        worker.sandbox_or_warn.cache_clear()
    assert code == 0 and err.count("\n") == 1 and "no sandbox: no namespaces in this test" in err, err
    path = next((tmp_path / "r").rglob("*.json"))
    assert json.loads(path.read_text())["embedder"]["sealed"] is False
    assert path.stat().st_mode & 0o777 == 0o644


def test_the_leaderboard_lists_unsealed_results_apart_and_never_verified(tmp_path, tiny_zoo):
    root = tmp_path / "repo" / "leaderboard"
    shutil.copytree(ROOT / "baselines" / "integ", tmp_path / "repo" / "baselines" / "integ")
    data = build_result(tiny_zoo, evaluate(load_submission("baselines/integ"), tiny_zoo, quiet=True), "cpu")
    reference = canonical_specs()["poly-seed@1.2.0"].reference_fingerprint
    data["zoo"].update(name="poly-seed", version="1.2.0", fingerprint=reference)
    data["embedder"].update(isolated=True, sealed=False)
    data["content_hash"] = content_hash(data)
    path = write_result(data, root / "results" / "integ" / "poly-seed@1.2.0.json")
    (entry,), problems = collect(root)  # a signed record of it fails --check (tests/test_leaderboard.py)
    assert problems == [] and entry.unsealed and not entry.verified and not entry.canonical
    assert "unsealed (evaluated without the sandbox; never verified)" in render_markdown([entry])
    assert path.stat().st_mode & 0o777 == 0o644
