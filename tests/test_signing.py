"""Maintainer keys: made with mode 0600, never overwritten, refused when others can read them; the
repository's public key file is well-formed and its ids are the keys' own."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from netembench.board.signing import SigningError, load_private_key, read_public_keys, sign, signature_problem
from netembench.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path, capsys):
    path = tmp_path / "maintainer.key"
    assert main(["leaderboard", "keygen", str(path), "--comment", "test"]) == 0
    out, err = capsys.readouterr()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and "never in the repository or CI" in err
    (tmp_path / "maintainers.pub").write_text(out)
    keys = read_public_keys(tmp_path / "maintainers.pub")
    key = load_private_key(path)
    (key_id,) = keys
    record = {"key_id": key_id, "result": "results/x/poly-seed@1.1.0.json"}
    assert signature_problem(record, sign(key, record), keys) is None
    assert "does not verify" in signature_problem({**record, "result": "other"}, sign(key, record), keys)
    assert main(["leaderboard", "keygen", str(path)]) == 1  # never overwritten
    assert "already exists" in capsys.readouterr().err


def test_keys_others_can_read_and_malformed_key_files_are_refused(tmp_path, capsys):
    path = tmp_path / "maintainer.key"
    assert main(["leaderboard", "keygen", str(path)]) == 0
    os.chmod(path, 0o644)
    with pytest.raises(SigningError, match="can be read by others .* chmod 600"):
        load_private_key(path)
    capsys.readouterr()
    assert main(["leaderboard", "--root", str(tmp_path), "rerun", "x", "--sign-key", str(path)]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    public = "0OcYK+LJbkl4q4dCR4eUAquTtVTfJb1Autr4QlD0E1U="  # with a key id that is not its own
    (tmp_path / "maintainers.pub").write_text(f"ed25519 {public} 0000000000000000\n")
    with pytest.raises(SigningError, match="line 1: key id 0000000000000000 is not this key's id"):
        read_public_keys(tmp_path / "maintainers.pub")


def test_the_repository_holds_a_maintainer_public_key_and_no_private_key():
    keys = read_public_keys(ROOT / "leaderboard" / "maintainers.pub")
    assert len(keys) >= 1
    for path in ROOT.rglob("*"):
        if path.is_file() and ".git" not in path.parts and path.stat().st_size < 1 << 20:
            assert path == Path(__file__) or b"PRIVATE KEY-----" not in path.read_bytes(), path
