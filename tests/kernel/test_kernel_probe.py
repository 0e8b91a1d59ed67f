"""The host SRv6 probe: each piece tried in a throwaway namespace, reported in words."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from srinspect.kernel import probe


def test_kernel_words_keeps_the_kernels_reason() -> None:
    assert probe.kernel_words("Error: lwt encapsulation type not supported.\n") == \
        "lwt encapsulation type not supported"
    assert probe.kernel_words("Enter secret for HMAC key ID (blank to delete): RTNETLINK "
                              "answers: Unknown error 524\n") == "not supported by this kernel"
    assert probe.kernel_words("") == ""


def test_forcing_the_guest_path_hides_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(probe.FORCE_GUEST_ENV, "1")
    assert probe.FORCE_GUEST_ENV in (probe.host_srv6_missing() or "")
    monkeypatch.setenv(probe.FORCE_GUEST_ENV, "0")
    assert probe.host_srv6_missing() == probe.probe_host().srv6_missing()


def _encap_route_works() -> bool:
    """The same question asked independently: does this kernel take an encap seg6 route?"""
    ns = f"srtest-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        return subprocess.run(["ip", "-n", ns, "-6", "route", "add", "2001:db8:1::/64", "encap",
                               "seg6", "mode", "encap", "segs", "2001:db8::1", "dev", "lo"],
                              capture_output=True, check=False).returncode == 0
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.mark.netns
def test_probe_agrees_with_the_kernel_and_leaves_no_namespace() -> None:
    probe.probe_host.cache_clear()
    host = probe.probe_host()
    assert host.release == os.uname().release
    assert host.piece("netns").ok and host.piece("veth").ok
    works = _encap_route_works()
    assert host.piece("seg6-encap").ok is works
    assert (host.encap_modes["encap"] == "") is works
    if not works:
        assert host.srv6_missing() and "seg6-encap" in host.srv6_missing()  # type: ignore
        assert "CONFIG_IPV6_SEG6_LWTUNNEL" in host.piece("seg6-encap").detail
        assert not host.has_srv6
    assert not [n for n in os.listdir("/run/netns") if n.startswith(probe.PROBE_PREFIX)]
