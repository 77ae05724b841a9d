"""Private splits: a zoo whose test and unseen models, and unseen tasks, come from a secret salt.

Anyone can rebuild a public zoo from its spec and match a test model exactly (its weights, inputs
and gradients), so a public test split proves nothing against a determined cheater. A private
build (`netembench zoo build SPEC --private-salt FILE`) keeps the seen tasks and the train and
validation models of the public build, bit for bit, and draws every other split's models (test,
unseen, other architectures) and the unseen tasks from a salt only maintainers hold:

- the salt file holds at least `MIN_SALT_BYTES` random bytes (`head -c 32 /dev/urandom > salt`),
  so no one can guess it, even with a fingerprint of the zoo to test guesses against;
- it is hashed (sha256, domain-separated) into eight 32-bit words: each model key of a private
  split is folded with every word (`rng.secret_keys`), and the words seed the unseen-task sampler;
- nothing of the salt, nor a hash of it alone, is written anywhere: the manifest records only
  `split: private`, and the content fingerprint is a hash of the trained zoo. The metadata keeps the
  spec's `seed` numbers as labels; in a private split they name models whose keys are salted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

MIN_SALT_BYTES = 32
PUBLIC_SPLITS = ("train", "validation")  # identical in a private build; every other split is salted
_DOMAIN = b"netembench-private-split/1\0"


class SaltError(ValueError):
    """A salt file that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class PrivateSalt:
    """The secret of a private build as eight 32-bit words (never printed: `repr` hides them)."""

    words: tuple[int, ...] = field(repr=False)


def salt_from_bytes(secret: bytes) -> PrivateSalt:
    """The words of a secret of at least `MIN_SALT_BYTES` bytes."""
    if len(secret) < MIN_SALT_BYTES:
        raise SaltError(
            f"a private salt needs at least {MIN_SALT_BYTES} random bytes, this one has {len(secret)}"
        )
    digest = hashlib.sha256(_DOMAIN + secret).digest()
    return PrivateSalt(tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4)))


def read_salt(path: str | Path) -> PrivateSalt:
    """The salt in file `path`: every byte of it, at least `MIN_SALT_BYTES` of them."""
    path = Path(path)
    try:
        secret = path.read_bytes()
    except OSError as err:
        raise SaltError(f"cannot read private salt file {path}: {err.strerror or err}") from None
    try:
        return salt_from_bytes(secret)
    except SaltError:
        raise SaltError(
            f"private salt file {path} holds {len(secret)} bytes; it needs at least {MIN_SALT_BYTES} "
            f"random bytes (make one with: head -c {MIN_SALT_BYTES} /dev/urandom > {path})"
        ) from None


def is_private_split(split: str) -> bool:
    """Does a private build draw this split's models from the salt?"""
    return split not in PUBLIC_SPLITS
