"""HMAC computation, key parsing and key hygiene (spec section 3, srinspect/keys.py).

Vectors are the spec's (../shared/spec/srh-rules.md section 3): the draft-04 ones were
checked against HMACs the Linux kernel made; the RFC 8754 one is computed from the RFC text.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from srinspect.build import ipv6_packet
from srinspect.errors import KeyFileError
from srinspect.frame import Frame
from srinspect.inspector import Inspector
from srinspect.keys import (
    Key,
    Keyring,
    build_keyring,
    compute_draft04,
    compute_rfc8754,
    hmac_text_draft04,
    hmac_text_rfc8754,
    load_key_file,
    macs_equal,
    parse_key_arg,
)
from srinspect.rules import Profile
from srinspect.srh import SrhSpec, hmac_tlv, push_srh
from srinspect.wire import parse_ip6

# spec section 3 test vector inputs
SRC = parse_ip6("2001:db8::1")
SEGMENTS = [parse_ip6("2001:db8::3"), parse_ip6("2001:db8::2")]  # Segment List[0], [1]
KEY_SHA256 = Key(1, "sha256", b"secret")
KEY_SHA1 = Key(1, "sha1", b"secret")
TEXT_54 = bytes.fromhex(
    "20010db8000000000000000000000001" "01" "08" "00000001"
    "20010db8000000000000000000000003" "20010db8000000000000000000000002")
MAC_SHA256 = bytes.fromhex("c9bdf5a65c4e07fca04f53818fc453d42a4ee27a5719a4781fc1d4caea571eb9")
MAC_SHA1 = bytes.fromhex("894503d22b9230b1cf1b6356371fc327a3aa096a")
MAC_RFC8754 = bytes.fromhex("cf7930dd8a6e8d80659a1d3691ae57da83bf2324a454a28d3f37797ea8a7b5b9")
SECRET = "hunter2-do-not-print"


# ---------------------------------------------------------------------------------------------
# Spec section 3 vectors


def test_draft04_text_is_the_spec_54_bytes() -> None:
    text = hmac_text_draft04(SRC, 1, 0x08, 1, SEGMENTS)
    assert len(text) == 54
    assert text == TEXT_54


def test_draft04_sha256_vector() -> None:
    assert compute_draft04(KEY_SHA256, TEXT_54) == MAC_SHA256


def test_draft04_sha1_vector_is_right_padded_to_32_bytes() -> None:
    mac = compute_draft04(KEY_SHA1, TEXT_54)
    assert len(mac) == 32
    assert mac == MAC_SHA1 + bytes(12)


def test_rfc8754_text_is_56_bytes_with_the_d_reserved_word() -> None:
    text = hmac_text_rfc8754(SRC, 1, 0x00, 0x0000, 1, SEGMENTS)
    assert len(text) == 56
    # src | LE | flags | D+reserved (2) | key id (4) | Segment List[0..LE]
    assert text == (SRC + b"\x01" + b"\x00" + b"\x00\x00" + b"\x00\x00\x00\x01"
                    + SEGMENTS[0] + SEGMENTS[1])
    # The D bit is the top bit of the word after the Length.
    assert hmac_text_rfc8754(SRC, 1, 0, 0x8000, 1, SEGMENTS)[18:20] == b"\x80\x00"


def test_rfc8754_sha256_vector() -> None:
    text = hmac_text_rfc8754(SRC, 1, 0x00, 0x0000, 1, SEGMENTS)
    assert compute_rfc8754(KEY_SHA256, text) == MAC_RFC8754


def test_rfc8754_sha1_digest_is_zero_padded_to_a_multiple_of_8() -> None:
    text = hmac_text_rfc8754(SRC, 1, 0x00, 0x0000, 1, SEGMENTS)
    mac = compute_rfc8754(KEY_SHA1, text)
    assert len(mac) == 24  # 20-byte SHA-1 digest, then zeros up to 24
    assert mac[20:] == bytes(4) and any(mac[:20])


def test_draft04_and_rfc8754_hmacs_differ_for_the_same_inputs() -> None:
    """Spec section 3: RFC 8754 HMACs do not match draft-04/Linux ones, even with D=0."""
    d04 = compute_draft04(KEY_SHA256, hmac_text_draft04(SRC, 1, 0, 1, SEGMENTS))
    rfc = compute_rfc8754(KEY_SHA256, hmac_text_rfc8754(SRC, 1, 0, 0, 1, SEGMENTS))
    assert d04 != rfc


def _vector_packet(flags: int, mac: bytes) -> bytes:
    """The spec vector as a packet: SL=1 so the DA is Segment List[1] = 2001:db8::2.

    The HMAC TLV starts at SRH offset 40, a multiple of 8 (RFC 8754 alignment 8n).
    """
    srh = push_srh(SrhSpec(SEGMENTS, segments_left=1, flags=flags, next_header=59,
                           tlvs=(hmac_tlv(1, mac),)))
    return ipv6_packet(SRC, SEGMENTS[1], 43, srh)


@pytest.mark.parametrize(("profile", "flags", "mac"), [
    (Profile.DRAFT04, 0x08, MAC_SHA256),
    (Profile.RFC8754, 0x00, MAC_RFC8754),
])
def test_inspector_verifies_the_spec_vector_macs(profile: Profile, flags: int,
                                                 mac: bytes) -> None:
    """The MAC bytes come from the spec, not from srinspect: the inspector must accept them."""
    data = _vector_packet(flags, mac)
    insp = Inspector(profile, Keyring([KEY_SHA256]))
    result = insp.feed(Frame(1, 0.0, 101, data, len(data)))
    assert result is not None
    assert [h.status for h in result.hmacs] == ["verified"]
    assert result.findings == []
    # One flipped bit anywhere in the MAC is a mismatch.
    bad = _vector_packet(flags, mac[:31] + bytes([mac[31] ^ 0x80]))
    result = insp.feed(Frame(2, 0.0, 101, bad, len(bad)))
    assert result is not None
    assert [h.status for h in result.hmacs] == ["mismatch"]
    assert [f.rule for f in result.findings] == ["srh.hmac.mismatch"]


def test_draft04_vector_does_not_verify_under_rfc8754() -> None:
    data = _vector_packet(0x08, MAC_SHA256)
    result = Inspector(Profile.RFC8754, Keyring([KEY_SHA256])).feed(
        Frame(1, 0.0, 101, data, len(data)))
    assert result is not None
    assert [h.status for h in result.hmacs] == ["mismatch"]


# ---------------------------------------------------------------------------------------------
# --key ID:ALGO:SECRET


@pytest.mark.parametrize(("arg", "key_id", "algo", "secret"), [
    ("1:sha256:secret", 1, "sha256", b"secret"),
    ("2:sha1:secret", 2, "sha1", b"secret"),
    ("3:SHA-256:Secret", 3, "sha256", b"Secret"),
    ("4294967295:sha256:x", 0xFFFFFFFF, "sha256", b"x"),
    ("5:sha256:a:b:c", 5, "sha256", b"a:b:c"),  # the secret may contain colons
    ("6:sha1:hex:00ff10", 6, "sha1", b"\x00\xff\x10"),
])
def test_parse_key_arg(arg: str, key_id: int, algo: str, secret: bytes) -> None:
    key = parse_key_arg(arg)
    assert (key.key_id, key.algo, key.secret) == (key_id, algo, secret)


@pytest.mark.parametrize("arg", [
    f"0:sha256:{SECRET}",  # key id 0 is refused (Linux refuses it too)
    f"4294967296:sha256:{SECRET}",  # > 2^32-1
    f"-1:sha256:{SECRET}",
    f"one:sha256:{SECRET}",
    f"1:md5:{SECRET}",
    f"1:sha512:{SECRET}",
    f"1:sha256:hex:{SECRET}",  # not hex
    "1:sha256:",  # empty secret
    "1:sha256",  # no secret part
    SECRET,
])
def test_bad_key_arg_raises_without_the_secret(arg: str) -> None:
    with pytest.raises(KeyFileError) as info:
        parse_key_arg(arg)
    message = str(info.value)
    assert message
    assert SECRET not in message
    assert SECRET not in repr(info.value)


def test_bad_key_arg_through_build_keyring() -> None:
    with pytest.raises(KeyFileError) as info:
        build_keyring([f"0:sha256:{SECRET}"])
    assert SECRET not in str(info.value)


# ---------------------------------------------------------------------------------------------
# TOML key files


def _key_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "keys.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return path


GOOD_TOML = f"""
[[key]]
id = 1
algo = "sha256"
secret = "{SECRET}"

[[key]]
id = 7
algo = "sha1"
secret = "hex:0a0b0c"
"""


def test_load_key_file(tmp_path: Path) -> None:
    keys, warnings = load_key_file(_key_file(tmp_path, GOOD_TOML))
    assert [(k.key_id, k.algo, k.secret) for k in keys] == [
        (1, "sha256", SECRET.encode()), (7, "sha1", b"\x0a\x0b\x0c")]
    assert warnings == []


def test_world_readable_key_file_warns(tmp_path: Path) -> None:
    path = _key_file(tmp_path, GOOD_TOML, mode=0o644)
    assert path.stat().st_mode & stat.S_IROTH
    keys, warnings = load_key_file(path)
    assert len(keys) == 2
    assert len(warnings) == 1
    assert "readable" in warnings[0] and str(path) in warnings[0]
    assert SECRET not in warnings[0]
    ring = build_keyring(key_files=[str(path)])
    assert ring.warnings == warnings


def test_crafted_key_file_loads(crafted_keys: Path) -> None:
    ring = build_keyring(key_files=[str(crafted_keys)])
    assert sorted(k.key_id for k in ring) == [1, 2]
    key1, key2 = ring.get(1), ring.get(2)
    assert key1 is not None and key2 is not None
    assert (key1.algo, key2.algo) == ("sha256", "sha1")


@pytest.mark.parametrize("raw", [
    f'[[key]]\nid = 1\nalgo = "sha256"\nsecret = "{SECRET}\n'.encode(),  # unterminated
    f'[[key]\nid = 1\nsecret = "{SECRET}"\n'.encode(),  # broken table header
    f'[[key]]\nid = 1\nid = 2\nalgo = "sha256"\nsecret = "{SECRET}"\n'.encode(),  # dup
    f'[[key]]\nid = 1\nalgo = "sha256"\nsecret = "{SECRET}\xff"\n'.encode("latin-1"),
], ids=["unterminated", "header", "duplicate", "not-utf8"])
def test_bad_toml_raises_without_the_secret(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "keys.toml"
    path.write_bytes(raw)
    with pytest.raises(KeyFileError) as info:
        load_key_file(path)
    assert "TOML" in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(("text", "needle"), [
    (f'[[key]]\nalgo = "sha256"\nsecret = "{SECRET}"\n', "needs id, algo and secret"),
    (f'[[key]]\nid = 1\nsecret = "{SECRET}"\n', "needs id, algo and secret"),
    ('[[key]]\nid = 1\nalgo = "sha256"\n', "needs id, algo and secret"),
    (f'[[key]]\nid = 0\nalgo = "sha256"\nsecret = "{SECRET}"\n', "key id 0"),
    (f'[[key]]\nid = 1\nalgo = "md5"\nsecret = "{SECRET}"\n', "sha1 or sha256"),
    ('[[key]]\nid = 1\nalgo = "sha256"\nsecret = 12345\n', "secret"),
    (f'key = "{SECRET}"\n', "[[key]]"),
])
def test_key_file_missing_or_bad_fields(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(KeyFileError) as info:
        load_key_file(_key_file(tmp_path, text))
    assert needle in str(info.value)
    assert SECRET not in str(info.value)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read key file"):
        load_key_file(tmp_path / "nope.toml")


def test_key_arguments_override_the_file(tmp_path: Path) -> None:
    path = _key_file(tmp_path, GOOD_TOML)
    ring = build_keyring(["1:sha1:other"], [str(path)])
    key = ring.get(1)
    assert key is not None and (key.algo, key.secret) == ("sha1", b"other")
    assert ring.get(7) is not None
    assert len(ring) == 2


# ---------------------------------------------------------------------------------------------
# Secrets never shown


def test_key_repr_and_str_hide_the_secret() -> None:
    key = Key(9, "sha256", SECRET.encode())
    for text in (repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})):
        assert SECRET not in text
        assert "9" in text and "sha256" in text


def test_keyring_repr_and_str_hide_the_secrets() -> None:
    ring = Keyring([Key(9, "sha256", SECRET.encode()), Key(3, "sha1", b"\x01\x02")])
    for text in (repr(ring), str(ring), f"{ring}", repr(list(ring))):
        assert SECRET not in text
        assert "\\x01\\x02" not in text
    assert "3" in repr(ring) and "9" in repr(ring)


# ---------------------------------------------------------------------------------------------
# Constant-time comparison


def test_macs_equal() -> None:
    assert macs_equal(MAC_SHA256, bytes(MAC_SHA256))
    assert macs_equal(b"", b"")
    assert not macs_equal(MAC_SHA256, MAC_SHA256[:-1] + bytes([MAC_SHA256[-1] ^ 1]))
    assert not macs_equal(MAC_SHA256, bytes([MAC_SHA256[0] ^ 0x80]) + MAC_SHA256[1:])
    assert not macs_equal(MAC_SHA256, MAC_SHA256[:20])  # a truncated MAC never matches
    assert not macs_equal(MAC_SHA256[:20], MAC_SHA256)
