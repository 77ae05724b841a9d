from __future__ import annotations

import pytest

from netembench.cli import main
from tests.conftest import TINY_SPEC


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_build_info_verify_plot(tmp_path, capsys):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC)
    code, out, err = run(capsys, "zoo", "build", str(spec), "--out", str(tmp_path / "z"), "--quiet")
    assert code == 0, err
    assert "built tiny@0.1.0" in out and "fingerprint " in out
    assert err == ""  # --quiet: no progress bar

    code, out, _ = run(capsys, "zoo", "info", str(tmp_path / "z"))
    assert code == 0
    assert "min pairwise RMS distance" in out and "median" in out and "worst" in out and "1-6-1" in out

    code, out, _ = run(capsys, "zoo", "verify", str(tmp_path / "z"))
    assert code == 0 and out.startswith("OK ")

    pytest.importorskip("matplotlib")
    code, out, _ = run(capsys, "zoo", "plot", str(tmp_path / "z"), "--out", str(tmp_path / "plots"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "fits.png",
        "gradients.png",
        "tasks.png",
    ]
    assert (tmp_path / "plots/gradients.png").read_bytes()[:4] == b"\x89PNG"

    (tmp_path / "z/tasks.parquet").write_bytes(b"junk")
    code, out, err = run(capsys, "zoo", "verify", str(tmp_path / "z"))
    assert code == 1
    assert "FAIL" in out and "tasks.parquet" in out
    assert err.count("\n") == 1 and "problem(s)" in err

    code, _, err = run(capsys, "zoo", "build", str(spec), "--out", str(tmp_path / "z"), "--quiet")
    assert code == 1 and "already exists; pass --overwrite" in err


def test_errors_are_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "zoo", "build", "poly-sed")
    assert code == 1
    assert (
        err
        == "netembench: error: unknown zoo 'poly-sed'; known zoos: host-fine, host-seed, poly-fine, poly-many, poly-seed, poly-xarch, poly2d-fine, poly2d-seed, pretrain-1d, pretrain-2d (or give a path to a .toml spec)\n"
    )
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY_SPEC.replace("batch_size = 16", "batch_sise = 16"))
    code, _, err = run(capsys, "zoo", "build", str(bad))
    assert code == 1 and "unknown field 'batch_sise' in [training]" in err and err.count("\n") == 1
    code, _, err = run(capsys, "zoo", "info", str(tmp_path))
    assert code == 1 and "is not a netembench zoo" in err
    code, _, err = run(capsys, "zoo", "info", "poly-seed")
    assert code == 1 and "not in the cache" in err


def test_list_shows_canonical_zoos(capsys):
    code, out, _ = run(capsys, "zoo", "list")
    assert code == 0 and "poly-seed@1.0.0" in out and "not cached" in out


def test_verify_a_damaged_cached_zoo_by_name(tiny_spec, tmp_path, capsys, monkeypatch):
    import shutil

    from netembench.zoo.build import build_zoo
    from netembench.zoo.source import cached_path

    target = cached_path(tiny_spec)
    build_zoo(tiny_spec, target, quiet=True)
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(TINY_SPEC)
    (target / "weights/1-6-1/test-00000.safetensors").write_bytes(b"junk")
    code, out, err = run(capsys, "zoo", "verify", str(spec_file))
    assert code == 1 and "FAIL" in out and "weights/1-6-1/test-00000.safetensors: size" in out
    shutil.rmtree(target)
    code, _, err = run(capsys, "zoo", "verify", str(spec_file))
    assert code == 1 and "is not in the cache" in err
