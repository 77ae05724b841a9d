"""The worker protocol on the wire: length-prefixed safetensors messages with a JSON header.

Both directions carry safetensors bytes (tensors) whose metadata holds a JSON object (`meta`):
nothing is ever unpickled. Every call carries a number that its one answer repeats. The harness
checks each answer it receives (`violation`, `parse_info`): its kind, keys, types, tensors and size
(`Channel.receive` refuses more than a budget before reading it), so a broken or hostile worker is
named for what it sent rather than failing somewhere later.
"""

from __future__ import annotations

import json
import select
import socket
import time

import safetensors.torch
from torch import Tensor

from netembench.eval.embedders import DISTRIBUTIONS, NAME_RULE, PROTOCOLS, READABLE
from netembench.eval.probes import ProbeBatch
from netembench.zoo.population import Arch, Population

MAX_MESSAGE = 1 << 31  # bytes: a generous bound on one batch sent to the worker
SMALL_MESSAGE = 1 << 20  # bytes: the bound on an answer without tensors, and on any answer's header
BATCH_FIELDS = ("x", "mask", "region", "model_id", "grad", "y")
# The handshake's fields, with their JSON types; the parent adds the ref and source hash itself.
INFO_FIELDS = {
    "name": str,
    "reads": list,
    "cloze": bool,
    "supervised": bool,
    "n_params": int,
    "protocols": list,
    "distributions": list,
}
# An answer's keys besides "call", with their JSON types and tensors, by kind.
ANSWERS: dict[str, tuple[dict[str, type], set[str]]] = {
    "error": ({"error": str, "message": str}, set()),
    "unsupported": ({"unsupported": str}, set()),
    "loaded": ({"ok": bool, "info": dict}, set()),
    "prepare": ({"ok": bool, "n_params": int}, set()),
    "call": ({"ok": bool}, {"out"}),
}


class ProtocolError(Exception):
    """An answer that breaks the wire protocol (its text says how)."""


class Channel:
    """Length-prefixed messages on a socket: every receive has a size bound and a deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, data: bytes, timeout: float | None = None) -> None:
        self.sock.settimeout(timeout)
        self.sock.sendall(len(data).to_bytes(8, "little"))
        self.sock.sendall(data)

    def receive(self, limit: int, timeout: float | None = None) -> bytes:
        """One message of at most `limit` bytes; EOFError when the peer is gone, TimeoutError when
        nothing complete came within `timeout`, ProtocolError when it is larger than `limit`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        size = int.from_bytes(self._exactly(8, deadline), "little")
        if size > limit:
            raise ProtocolError(f"sent a {size:,}-byte answer, over its {limit:,}-byte budget")
        return bytes(self._exactly(size, deadline))  # safetensors reads bytes

    def pending(self) -> bool:
        """Is another message already waiting (not merely the peer's end)?"""
        if not select.select([self.sock], [], [], 0)[0]:
            return False
        try:
            return bool(self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except (BlockingIOError, ConnectionError):
            return False

    def _exactly(self, n: int, deadline: float | None) -> bytearray:
        buf, got = bytearray(n), 0
        view = memoryview(buf)
        while got < n:
            self.sock.settimeout(None if deadline is None else max(deadline - time.monotonic(), 1e-3))
            read = self.sock.recv_into(view[got:])
            if read == 0:
                raise EOFError
            got += read
        return buf

    def close(self) -> None:
        self.sock.close()


def encode(meta: dict, tensors: dict[str, Tensor] | None = None) -> bytes:
    tensors = {k: v.detach().cpu().contiguous() for k, v in (tensors or {}).items()}
    return safetensors.torch.save(tensors, metadata={"meta": json.dumps(meta)})


def decode(data: bytes) -> tuple[dict, dict[str, Tensor]]:
    size = int.from_bytes(data[:8], "little")
    if size > SMALL_MESSAGE:
        raise ProtocolError(f"sent a {size:,}-byte header")
    try:
        meta = json.loads(json.loads(data[8 : 8 + size])["__metadata__"]["meta"])
        tensors = safetensors.torch.load(data)
    except (ValueError, KeyError, TypeError, RecursionError, safetensors.SafetensorError) as err:
        raise ProtocolError(f"sent an unreadable answer ({type(err).__name__}: {printable(str(err), 200)})") from None
    if not isinstance(meta, dict):
        raise ProtocolError("sent an answer whose header is not a JSON object")
    return meta, tensors


def printable(text: str, limit: int = 2000) -> str:
    """A worker's text as it may appear in an error line: at most `limit` characters, control
    characters (terminal escapes, line breaks) replaced."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


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


def violation(meta: dict, tensors: dict[str, Tensor], kind: str, call: int) -> str | None:
    """How an answer breaks the protocol, if it does: `kind` is what a successful answer would be."""
    if meta.get("call") != call:
        return f"sent an answer to call {meta.get('call')!r} while call {call} was asked (an extra message)"
    kind = "error" if "error" in meta else "unsupported" if "unsupported" in meta else kind
    fields, names = ANSWERS[kind]
    unknown = sorted(set(meta) - {"call", *fields})
    if unknown:
        return f"sent an answer with unknown key(s) {', '.join(map(repr, unknown))}"
    for key, kind_of in fields.items():
        if type(meta.get(key)) is not kind_of:
            return f"sent an answer whose {key!r} is {type(meta.get(key)).__name__}, not {kind_of.__name__}"
    if meta.get("ok") is False:
        return "sent an answer with ok = false"
    if set(tensors) != names:
        return f"sent tensors {sorted(tensors)} where the protocol has {sorted(names)}"
    return None


def parse_info(info: dict) -> dict | None:
    """The handshake's fields when every one is present, typed and valid (None otherwise)."""
    if set(info) != set(INFO_FIELDS) or any(type(info[k]) is not t for k, t in INFO_FIELDS.items()):
        return None
    reads, protocols = info["reads"], info["protocols"]
    ok = (
        NAME_RULE.match(info["name"])
        and reads
        and set(reads) <= READABLE
        and protocols
        and all(type(p) is int for p in protocols)
        and set(protocols) <= PROTOCOLS
        and info["distributions"]
        and all(type(d) is str for d in info["distributions"])
        and set(info["distributions"]) <= DISTRIBUTIONS
        and info["n_params"] >= 0
    )
    return info if ok else None
