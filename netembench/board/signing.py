"""Maintainer signatures (Ed25519, through the `cryptography` package).

A verified record is worth only what its signer vouches for, so it must be something no one else
can write: an Ed25519 signature over the record's canonical JSON, by a key whose public half is in
the repository (`leaderboard/maintainers.pub`) and whose private half is never in it (nor in CI):
`netembench leaderboard rerun --sign-key PATH` (or `$NETEMBENCH_SIGNING_KEY`) reads it on the
maintainers' machine. `netembench leaderboard keygen PATH` makes a key pair.

`maintainers.pub` holds one key per line, `ed25519 <base64 of the 32 raw bytes> <key id>
[comment]`, `#` comments allowed; the key id is the first 16 hex digits of the sha256 of the raw
public key, so it cannot be made to name another key. Several lines allow a rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEYS_FILE = "maintainers.pub"
KEY_ENV = "NETEMBENCH_SIGNING_KEY"
_DOMAIN = b"netembench-verified-record/1\n"  # a signature over a record is valid for nothing else


class SigningError(ValueError):
    """A key or key file that cannot be used; the message names it and the fix."""


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the sha256 of the raw public key."""
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def public_line(public: Ed25519PublicKey, comment: str = "") -> str:
    """The `maintainers.pub` line of a public key."""
    return f"ed25519 {base64.b64encode(_raw(public)).decode()} {key_id(public)}" + (
        f" {comment}" if comment else ""
    )


def read_public_keys(path: str | Path) -> dict[str, Ed25519PublicKey]:
    """The keys of a `maintainers.pub` file by key id (none when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return {}
    keys = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        where = f"{path} line {number}"
        if len(fields) < 3 or fields[0] != "ed25519":
            raise SigningError(f"{where}: expected 'ed25519 <base64 public key> <key id>'")
        try:
            public = Ed25519PublicKey.from_public_bytes(base64.b64decode(fields[1], validate=True))
        except (binascii.Error, ValueError):
            raise SigningError(f"{where}: not a base64 Ed25519 public key (32 raw bytes)") from None
        if fields[2] != key_id(public):
            raise SigningError(f"{where}: key id {fields[2]} is not this key's id {key_id(public)}")
        keys[fields[2]] = public
    return keys


def generate_key(path: str | Path) -> Ed25519PrivateKey:
    """Write a new private key to `path` (PEM, mode 0600; an existing file is never replaced)."""
    path = Path(path)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SigningError(
            f"{path} already exists; choose another path (a key is never overwritten)"
        ) from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return private


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in PEM file `path`, which only its owner may read."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as err:
        raise SigningError(f"cannot read signing key {path}: {err.strerror or err}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningError(
            f"signing key {path} can be read by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
        )
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SigningError(
            f"{path} is not an unencrypted PEM private key; make one with 'netembench leaderboard keygen'"
        ) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningError(f"{path} is not an Ed25519 key; make one with 'netembench leaderboard keygen'")
    return private


def canonical_json(document: Any) -> bytes:
    """The one byte encoding of a JSON document that is signed: sorted keys, no spaces, ASCII."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode()


def sign(private: Ed25519PrivateKey, record: dict[str, Any]) -> str:
    """The base64 signature of `record`."""
    return base64.b64encode(private.sign(_DOMAIN + canonical_json(record))).decode()


def signature_problem(
    record: dict[str, Any], signature: Any, keys: dict[str, Ed25519PublicKey]
) -> str | None:
    """Why `signature` is not a valid signature of `record` by the key its `key_id` names; None if it is."""
    public = keys.get(record.get("key_id"))
    if public is None:
        return f"signed by key {record.get('key_id')!r}, which is not in {KEYS_FILE}"
    try:
        public.verify(base64.b64decode(str(signature), validate=True), _DOMAIN + canonical_json(record))
    except (InvalidSignature, binascii.Error, ValueError):
        return "its signature does not verify (forged, or edited after signing)"
    return None
