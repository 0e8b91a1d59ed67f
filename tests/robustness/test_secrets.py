"""HMAC secrets never reach any output: every report format, decode views, the annotated
pcapng, error messages and warnings are searched for the secret (text and hex)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KERNEL_HMAC = REPO / "pcaps" / "kernel-hmac.pcap"
SECRET = "s3cr3t-do-not-print-7f1e"
KERNEL_SECRET = "srinspect-sample-key-1"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "srinspect", *args], capture_output=True,
                          check=False, cwd=cwd)


def _assert_clean(blob: bytes, *secrets: str) -> None:
    for secret in secrets:
        for needle in (secret.encode(), secret.encode().hex().encode(),
                       secret.encode().hex().upper().encode()):
            assert needle not in blob, f"secret leaked: {needle!r}"


@pytest.fixture()
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "keys.toml"
    path.write_text(f'[[key]]\nid = 1\nalgo = "sha256"\nsecret = "{KERNEL_SECRET}"\n'
                    f'[[key]]\nid = 7\nalgo = "sha1"\nsecret = "{SECRET}"\n')
    os.chmod(path, 0o644)  # readable by others: a warning, which must not quote the secret
    return path


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl", "junit", "csv"])
def test_audit_outputs_never_contain_secrets(fmt: str, keyfile: Path, tmp_path: Path) -> None:
    out = tmp_path / f"report.{fmt}"
    ann = tmp_path / "annotated.pcapng"
    proc = run("audit", "--keys", str(keyfile), "--key", f"9:sha256:{SECRET}", "--format", fmt,
               "-o", str(out), "--annotate", str(ann), str(KERNEL_HMAC), str(REPO / "pcaps"))
    assert proc.returncode in (0, 1), proc.stderr
    assert b"readable by other users" in proc.stderr  # the warning is there...
    report = out.read_bytes()
    assert b"srh" in report or b"packets" in report
    for blob in (proc.stdout, proc.stderr, report, ann.read_bytes()):
        _assert_clean(blob, SECRET, KERNEL_SECRET)  # ...and no secret anywhere


@pytest.mark.parametrize("fmt", ["text", "jsonl"])
def test_decode_never_contains_secrets(fmt: str, keyfile: Path) -> None:
    proc = run("decode", "--keys", str(keyfile), "--format", fmt, str(KERNEL_HMAC))
    assert proc.returncode == 0, proc.stderr
    assert b"verified" in proc.stdout  # the keys were really used
    _assert_clean(proc.stdout + proc.stderr, SECRET, KERNEL_SECRET)


@pytest.mark.parametrize("arg", [f"x:sha256:{SECRET}", f"1:md5:{SECRET}", f"0:sha1:{SECRET}",
                                 f"1:sha256:hex:{SECRET}", "1:sha256:"])
def test_bad_key_errors_never_contain_secrets(arg: str) -> None:
    proc = run("audit", "--key", arg, str(KERNEL_HMAC))
    assert proc.returncode == 2
    assert b"Traceback" not in proc.stderr
    _assert_clean(proc.stdout + proc.stderr, SECRET)


def test_bad_key_file_errors_never_contain_secrets(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[[key]]\nid = 1\nalgo = "sha256"\nsecret = "{SECRET}\n')  # unterminated
    for content in (bad.read_text(), f'[[key]]\nid = "one"\nalgo = "sha1"\nsecret = "{SECRET}"\n',
                    f'[[key]]\nid = 1\nalgo = "md5"\nsecret = "{SECRET}"\n'):
        bad.write_text(content)
        proc = run("audit", "--keys", str(bad), str(KERNEL_HMAC))
        assert proc.returncode == 2 and b"Traceback" not in proc.stderr
        _assert_clean(proc.stdout + proc.stderr, SECRET)


def test_key_objects_hide_the_secret() -> None:
    from srinspect.keys import Keyring, parse_key_arg

    key = parse_key_arg(f"5:sha256:{SECRET}")
    ring = Keyring([key])
    for text in (repr(key), str(key), repr(ring), f"{key!r} {ring}"):
        assert SECRET not in text
