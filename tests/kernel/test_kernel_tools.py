"""KVM usability and tool discovery, from what this machine really has."""

from __future__ import annotations

import pytest

from srinspect.kernel import tools


def test_cpu_virt_flag_reads_the_flags_line() -> None:
    assert tools.cpu_virt_flag("processor: 0\nflags\t\t: fpu vme svm sse\n") == "svm"
    assert tools.cpu_virt_flag("flags : fpu vmx\n") == "vmx"
    assert tools.cpu_virt_flag("flags : fpu sse2 hypervisor\n") is None


def test_kvm_verdict_matches_the_cpu_flags_here() -> None:
    """Without vmx/svm a KVM guest hangs (measured): such a machine must get TCG."""
    missing = tools.kvm_missing()
    if tools.cpu_virt_flag() is None:
        assert missing is not None
        assert tools.accelerator()[0] == "tcg"
    elif missing is None:
        assert tools.accelerator()[0] == "kvm"


@pytest.mark.parametrize("forced", ["tcg", "kvm"])
def test_accelerator_can_be_forced(forced: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tools.ACCEL_ENV, forced)
    assert tools.accelerator() == (forced, f"{tools.ACCEL_ENV}={forced}")


def test_tool_versions_come_from_the_programs() -> None:
    ip = tools.tool("ip")
    assert ip.path and "iproute2" in ip.version
    assert tools.tool("tshark").package == "tshark"
