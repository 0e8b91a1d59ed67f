"""HMAC keys of the lab: kept in a 600 file, pushed into every node, never printed.

Every SRv6 endpoint that sees an SRH with an HMAC TLV verifies it (seg6_require_hmac=0
means "verify when present") and silently drops the packet when it does not know the key
id, so a key must be on every node, not only on the head-end. The key file uses srinspect's
``[[key]]`` format, so the captures of a steered flow can be audited with
``srinspect audit --keys /run/srinspect-lab/srlab/hmac-keys.toml``.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from ..kernel.netns import run
from ..keys import Key, Keyring, load_key_file
from .errors import LabError
from .model import Plan

ALGO = "sha256"
# `ip sr hmac set` reads the secret as one line of text (at most 64 bytes in the kernel).
# Quotes and backslashes are left out too, so the secret is a plain TOML string.
_PRINTABLE_SECRET = re.compile(rb"[\x21\x23-\x5b\x5d-\x7e]{1,64}")


def _toml_line(key: Key) -> str:
    return f'[[key]]\nid = {key.key_id}\nalgo = "{key.algo}"\nsecret = "{key.secret.decode()}"\n'


def lab_keys(path: Path) -> Keyring:
    """The lab's keys (an empty keyring when no key was ever set)."""
    if not path.exists():
        return Keyring()
    keys, _warnings = load_key_file(path)
    return Keyring(keys)


def ensure_key(path: Path, key_id: int, source: Path | None = None) -> Key:
    """The lab key for ``key_id``: from ``source`` (a ``[[key]]`` file), from the lab key
    file, or a new random one; the lab key file is (re)written with mode 600."""
    if not 0 < key_id <= 0xFFFFFFFF:
        raise LabError("HMAC key id must be 1..4294967295 (the kernel refuses 0)")
    ring = lab_keys(path)
    key: Key | None = None
    if source is not None:
        keys, _warnings = load_key_file(source)
        key = next((k for k in keys if k.key_id == key_id), None)
        if key is None:
            raise LabError(f"{source} has no key with id {key_id}")
        if not _PRINTABLE_SECRET.fullmatch(key.secret):
            raise LabError(f"{source}: key {key_id}: `ip sr hmac` takes printable secrets of "
                           "1-64 characters without spaces, quotes or backslashes")
    else:
        key = ring.get(key_id)
    if key is None:
        key = Key(key_id, ALGO, secrets.token_hex(24).encode())
    ring.add(key)
    text = "# srinspect lab HMAC keys (mode 600; never printed)\n" + "\n".join(
        _toml_line(k) for k in sorted(ring, key=lambda k: k.key_id))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)
    return key


def install_key(plan: Plan, key: Key) -> None:
    """``ip sr hmac set`` on every node; the secret goes through stdin, never argv."""
    for node in plan.nodes.values():
        run(["ip", "-n", node.netns, "sr", "hmac", "set", str(key.key_id), key.algo],
            input=key.secret.decode() + "\n", new_session=True)
        if not _installed(node.netns, key):
            raise LabError(f"HMAC key {key.key_id} did not reach node {node.name}")


def _installed(netns: str, key: Key) -> bool:
    """Compare with ``ip sr hmac show`` in memory: its output holds the secret."""
    out = run(["ip", "-n", netns, "sr", "hmac", "show"])
    expected = f'hmac {key.key_id} algo {key.algo} secret "{key.secret.decode()}"'
    return any(line.strip() == expected for line in out.splitlines())
