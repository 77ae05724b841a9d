"""What a newcomer met (issue 18): progress in logs, thread counts under load, `eval`'s order of
checks and messages, help texts."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import torch

from netembench import progress, threads
from netembench.cli import build_parser, main
from netembench.zoo import source as registry
from netembench.zoo.spec import CANONICAL_TRACKS
from tests.conftest import TINY_SPEC


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_build_into_a_log_prints_progress_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "INTERVAL", 0.05)
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC)
    code, _, err = run(capsys, "zoo", "build", str(spec), "--out", str(tmp_path / "z"))
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("train tiny@0.1.0: ")]
    assert len(lines) >= 3, err  # periodic lines, then the final count
    assert re.fullmatch(r"train tiny@0\.1\.0: 120/120 steps \(100%\), \d+ s \(arch 1-6-1, models \d+\)", lines[-1])
    code, _, err = run(capsys, "zoo", "build", str(spec), "--out", str(tmp_path / "z"), "--overwrite", "--quiet")
    assert code == 0 and err == ""


def test_a_terminal_gets_a_bar_and_no_lines():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    with progress.Progress(4, "work", "step", interval=0.01, stream=stream) as bar:
        bar.update(4)
    assert "4/4" in stream.getvalue() and "work: 4/4 steps" not in stream.getvalue()


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_threads_follow_the_load(monkeypatch, restore_threads):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "TORCH_DEFAULT", 2)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    load = [0.1]
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (load[0], 0.0, 0.0))
    governor = threads.LoadAwareThreads(interval=0.0)
    assert governor.start() == 2 and torch.get_num_threads() == 2  # idle cores
    load[0] = 3.0  # our 2 threads and another job
    governor.check()
    assert torch.get_num_threads() == 1
    load[0] = 1.0  # our 1 thread alone again
    governor.check()
    assert torch.get_num_threads() == 2
    load[0] = 6.5
    assert threads.LoadAwareThreads().start() == 1


def test_the_environment_fixes_the_thread_count(monkeypatch, restore_threads):
    monkeypatch.setenv(threads.THREADS_ENV, "3")
    governor = threads.LoadAwareThreads(interval=0.0)
    assert governor.start() == 3
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    governor.check()
    assert torch.get_num_threads() == 3
    monkeypatch.setenv(threads.THREADS_ENV, "many")
    with pytest.raises(ValueError, match="NETEMBENCH_THREADS='many' is not a thread count"):
        governor.start()


def test_eval_all_checks_every_result_file_before_building_a_zoo(tmp_path, capsys, monkeypatch):
    results = tmp_path / "res"
    last = CANONICAL_TRACKS[-1]
    target = results / "grad_bins" / f"{registry.zoo_name(last)}.json"
    target.parent.mkdir(parents=True)
    target.write_text("{}")

    def no_building(*args, **kwargs):
        raise AssertionError("a zoo was loaded or built before the result paths were checked")

    monkeypatch.setattr("netembench.cli.eval.load_zoo", no_building)
    code, _, err = run(capsys, "eval", "baselines/grad_bins", "--zoo", "all", "--results-dir", str(results))
    assert code == 1
    assert err == f"netembench: error: result file {target} already exists; pass --overwrite to replace it\n"


def test_eval_that_builds_a_zoo_does_not_advise_building_it(tiny_spec, tmp_path, capsys, monkeypatch):
    spec = tmp_path / "tiny.toml"
    spec.write_text(tiny_spec.replace(hub_repo="netembench/tiny").to_toml())  # the hub is unreachable
    code, out, err = run(
        capsys, "eval", "baselines/grad_bins", "--zoo", str(spec), "--results-dir", str(tmp_path / "res")
    )
    assert code == 0, err
    said = next(line for line in out.splitlines() if line.startswith("zoo tiny@0.1.0 is not cached"))
    assert "unreachable" in said and "building it locally" in said and "zoo build" not in said
    assert re.search(r"^eval grad_bins on tiny@0\.1\.0: \d+/\d+ draws", err, re.M)  # progress in a log


def test_eval_help_names_every_track_and_documents_its_options(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    text = re.sub(r"(?<=[a-z])- (?=[a-z])", "-", text)  # argparse wraps lines after a hyphen (host-fine)
    assert f"'all': the {len(CANONICAL_TRACKS)} canonical tracks ({', '.join(CANONICAL_TRACKS)})" in text
    for option in ("--results-dir", "--device", "--batch-size", "--quiet"):
        assert re.search(rf"{option}( [A-Z_]+)? [a-z]", text), option  # followed by help, not the next option
    with pytest.raises(SystemExit):
        build_parser().parse_args(["zoo", "build", "--help"])
    assert "--device {cpu,cuda} train on this device" in " ".join(capsys.readouterr().out.split())


def test_submitting_names_every_track_of_all():
    text = " ".join(Path("SUBMITTING.md").read_text().split())
    assert "`all` is the eight canonical tracks" in text and len(CANONICAL_TRACKS) == 8
    assert all(f"`{name}`" in text for name in CANONICAL_TRACKS)
