"""HMAC keys and the SRH HMAC computation (spec section 3).

Secrets live only in ``Key.secret``; ``repr``/``str`` of keys and every error message leave
them out, so a key cannot reach a log, a report or a traceback by accident.
"""

from __future__ import annotations

import os
import stat
import struct
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import constant_time, hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from .errors import KeyFileError

ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}
MAC_FIELD_DRAFT04 = 32


@dataclass(frozen=True, slots=True)
class Key:
    """One HMAC key: the key id selects both the secret and the algorithm."""

    key_id: int
    algo: str
    secret: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"Key(key_id={self.key_id}, algo={self.algo!r}, secret=<hidden>)"

    __str__ = __repr__


class Keyring:
    """Keys by key id. Iteration yields keys; nothing here prints a secret."""

    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self._keys: dict[int, Key] = {}
        self.warnings: list[str] = []
        for key in keys:
            self.add(key)

    def add(self, key: Key) -> None:
        self._keys[key.key_id] = key

    def get(self, key_id: int) -> Key | None:
        return self._keys.get(key_id)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[Key]:
        return iter(self._keys.values())

    def __repr__(self) -> str:
        return f"Keyring(key_ids={sorted(self._keys)})"


def _key_id(text: str | int, where: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise KeyFileError(f"{where}: key id must be an integer 1..4294967295") from None
    if not 0 < value <= 0xFFFFFFFF:
        raise KeyFileError(f"{where}: key id {value} is outside 1..4294967295")
    return value


def _algo(text: object, where: str) -> str:
    algo = str(text).lower().replace("-", "")
    if algo not in ALGORITHMS:
        raise KeyFileError(f"{where}: algorithm must be sha1 or sha256")
    return algo


def _secret(text: object, where: str) -> bytes:
    if not isinstance(text, str) or not text:
        raise KeyFileError(f"{where}: secret must be a non-empty string")
    if text.startswith("hex:"):
        try:
            return bytes.fromhex(text[4:])
        except ValueError:
            raise KeyFileError(f"{where}: secret after 'hex:' is not valid hex") from None
    return text.encode()


def parse_key_arg(arg: str) -> Key:
    """``ID:ALGO:SECRET`` as given to ``--key``; ``hex:...`` marks a binary secret."""
    parts = arg.split(":", 2)
    if len(parts) != 3:
        raise KeyFileError("--key takes ID:ALGO:SECRET (e.g. 1:sha256:mysecret)")
    where = f"--key {parts[0]}:{parts[1]}:<secret hidden>"
    return Key(_key_id(parts[0], where), _algo(parts[1], where), _secret(parts[2], where))


def load_key_file(path: str | os.PathLike[str]) -> tuple[list[Key], list[str]]:
    """Keys from a TOML file of ``[[key]]`` tables; returns (keys, warnings).

    A file that others may read gives a warning, not an error: lab key files are often
    shared on purpose, but the user should know.
    """
    p = Path(path)
    warnings: list[str] = []
    try:
        mode = p.stat().st_mode
        raw = p.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{p}: cannot read key file ({exc.strerror})") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warnings.append(f"{p}: key file is readable by other users (chmod 600 it)")
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # The TOML error quotes no value, only a position, so it cannot leak a secret.
        msg = str(exc).split("\n")[0] if isinstance(exc, tomllib.TOMLDecodeError) else "not UTF-8"
        raise KeyFileError(f"{p}: not a valid TOML key file ({msg})") from None
    entries = doc.get("key", [])
    if not isinstance(entries, list):
        raise KeyFileError(f"{p}: expected [[key]] tables")
    keys = []
    for n, entry in enumerate(entries, 1):
        where = f"{p}: key #{n}"
        if not isinstance(entry, dict) or not {"id", "algo", "secret"} <= entry.keys():
            raise KeyFileError(f"{where}: needs id, algo and secret")
        keys.append(Key(_key_id(entry["id"], where), _algo(entry["algo"], where),
                        _secret(entry["secret"], where)))
    return keys, warnings


def build_keyring(key_args: Sequence[str] = (), key_files: Sequence[str] = ()) -> Keyring:
    """A keyring from ``--keys FILE`` (each) then ``--key`` arguments (later ones win)."""
    ring = Keyring()
    for path in key_files:
        keys, warnings = load_key_file(path)
        ring.warnings.extend(warnings)
        for key in keys:
            ring.add(key)
    for arg in key_args:
        ring.add(parse_key_arg(arg))
    return ring


# ---------------------------------------------------------------------------------------------
# HMAC text and computation


def hmac_text_draft04(source: bytes, first_segment: int, flags: int, key_id: int,
                      segments: Sequence[bytes]) -> bytes:
    """draft-04 s5.2 / Linux seg6_hmac_compute: src | FS | flags | key id | list[0..FS]."""
    return source + struct.pack("!BBI", first_segment, flags, key_id) + b"".join(segments)


def hmac_text_rfc8754(source: bytes, last_entry: int, flags: int, d_reserved: int, key_id: int,
                      segments: Sequence[bytes]) -> bytes:
    """RFC 8754 s2.1.2.1: src | LE | flags | D+reserved (2) | key id | list[0..LE]."""
    return (source + struct.pack("!BBHI", last_entry, flags, d_reserved, key_id)
            + b"".join(segments))


def _digest(key: Key, text: bytes) -> bytes:
    mac = crypto_hmac.HMAC(key.secret, ALGORITHMS[key.algo]())
    mac.update(text)
    return mac.finalize()


def compute_draft04(key: Key, text: bytes) -> bytes:
    """The 32-byte HMAC field: SHA-256, or SHA-1 right-padded with 12 zero bytes."""
    return _digest(key, text).ljust(MAC_FIELD_DRAFT04, b"\x00")


def compute_rfc8754(key: Key, text: bytes) -> bytes:
    """The digest cut to 32 bytes, zero-padded to a multiple of 8 (RFC 8754 s2.1.2)."""
    digest = _digest(key, text)[:32]
    return digest.ljust(-(-len(digest) // 8) * 8, b"\x00")


def macs_equal(expected: bytes, received: bytes) -> bool:
    """Constant-time comparison (a length difference is not secret)."""
    return len(expected) == len(received) and constant_time.bytes_eq(expected, received)


def verify_draft04(key: Key, source: bytes, first_segment: int, flags: int, key_id: int,
                   segments: Sequence[bytes], mac: bytes) -> bool:
    """Whether ``mac`` is the draft-04 HMAC field of these SRH fields under ``key``.
    ``segments`` may also be the whole Segment List as one bytes object (what the audit
    engine has at hand): the text only concatenates them."""
    return macs_equal(compute_draft04(key, hmac_text_draft04(source, first_segment, flags,
                                                             key_id, segments)), mac)
