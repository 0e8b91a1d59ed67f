"""The compiled pre-filter takes every number it shares with Python from the Python tables.

``srinspect/_skim_consts.h`` is generated from linklayer.py, ipv6.py, srh.py, _fastpath.py
and the capture readers; these tests fail when a table changes and the committed header
(and so the C) does not, when the C types a number of its own instead, and when the
build-time generator would need more than the standard library.
"""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srinspect import _fastpath, ipv6, linklayer, skim, srh
from srinspect._gen import skim_consts
from srinspect.build import inner_udp, srv6_packet
from srinspect.sources import pcap, pcapng
from srinspect.srh import SrhSpec
from srinspect.wire import parse_ip6

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "srinspect" / "_skim.c"


def test_the_committed_header_is_what_the_tables_give() -> None:
    assert skim_consts.HEADER.read_text() == skim_consts.render(), (
        "srinspect/_skim_consts.h is stale: run python -m srinspect._gen.skim_consts "
        "and rebuild the extension")
    assert skim_consts.main(["--check"]) == 0


# Each table the C uses, changed the way an edit of the Python side would change it.
CHANGES = [
    (linklayer, "LINKTYPE_LINUX_SLL2", 277),
    (linklayer, "ETHERNET_HEADER", 18),
    (linklayer, "VLAN_TPIDS", (0x8100, 0x88A8)),
    (linklayer, "SLL_PROTOCOL_AT", 12),
    (linklayer, "SLL2_HEADER", 24),
    (linklayer, "AF_INET6_VALUES", (10, 24, 28)),
    (ipv6, "IPV6_HEADER", 48),
    (ipv6, "DESTINATION_AT", 20),
    (ipv6, "CHAIN_HEADERS", ipv6.CHAIN_HEADERS | {253}),
    (ipv6, "MORE_HEADERS", ipv6.MORE_HEADERS - {4}),
    (ipv6, "SRH_MAY_FOLLOW", ipv6.SRH_MAY_FOLLOW | {135}),
    (srh, "ROUTING_TYPE_SRH", 5),
    (srh, "SEGMENT_SIZE", 8),
    (srh, "FLAGS_UNUSED_DRAFT04", 0x07),
    (srh, "HMAC_TLV_SIZE_DRAFT04", 48),
    (srh, "SRH_FIELDS", {**srh.SRH_FIELDS, "flags": (6, 1)}),
    (_fastpath, "SUSPECT_PREFIXES", (bytes(12),)),
    (_fastpath, "SUSPECT_FIRST_BYTE", 0xFE),
    (_fastpath, "SKIM_CSID", 4),
    (pcap, "_REC_HDR_LEN", 20),
    (pcapng, "MAX_BLOCK_LEN", 16 << 20),
    (pcapng, "_MIN_LEN", {**pcapng._MIN_LEN, pcapng.BT_EPB: 36}),
    (pcapng, "OPT_ENDOFOPT", 1),
]


@pytest.mark.parametrize(("module", "name", "value"), CHANGES,
                         ids=[f"{m.__name__.rsplit('.', 1)[-1]}.{n}" for m, n, _ in CHANGES])
def test_a_changed_table_changes_the_header(monkeypatch: pytest.MonkeyPatch, module: object,
                                            name: str, value: object) -> None:
    """So the header cannot silently keep an old value: the first test then fails."""
    before = skim_consts.render()
    monkeypatch.setattr(module, name, value)
    assert skim_consts.render() != before


# Numbers that are no table's: the width of a 16/32-bit field, 32-bit padding, the
# 8-octet unit of Hdr Ext Len and a pcap(ng) header word's offset, bit shifts.
LITERALS_ALLOWED = {0, 1, 2, 3, 4, 8}


def test_the_c_source_types_no_number_of_its_own() -> None:
    text = re.sub(r"/\*.*?\*/", "", SOURCE.read_text(), flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"(<<|>>)\s*\d+", "", text)
    found = {int(m.group(1), 0) for m in re.finditer(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b",
                                                     text)}
    assert found <= LITERALS_ALLOWED, (
        f"_skim.c types {sorted(found - LITERALS_ALLOWED)}: take them from the Python tables "
        "(srinspect/_gen/skim_consts.py)")
    assert '#include "_skim_consts.h"' in SOURCE.read_text()


def test_the_build_time_generator_needs_only_the_standard_library(tmp_path: Path) -> None:
    """setup.py runs it where none of srinspect's dependencies are installed."""
    out = tmp_path / "consts.h"
    code = (
        "import runpy, sys\nfrom pathlib import Path\n"
        "for name in ('cryptography', 'scapy', 'textual', 'rich', 'pyshark',\n"
        "             'prometheus_client', 'srinspect._skim'):\n"
        "    sys.modules[name] = None  # an import of it fails\n"
        f"setup = runpy.run_path({str(REPO / 'setup.py')!r}, run_name='setup_under_test')\n"
        f"setup['generate_skim_constants'](Path({str(out)!r}))\n"
        "assert not any(name.startswith('srinspect') for name in sys.modules if\n"
        "               sys.modules[name] is not None), 'srinspect modules left behind'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    assert out.read_text() == skim_consts.render()


def test_setup_leaves_loaded_srinspect_modules_in_place(tmp_path: Path) -> None:
    setup = runpy.run_path(str(REPO / "setup.py"), run_name="setup_under_test")
    before = sys.modules["srinspect.ipv6"]
    setup["generate_skim_constants"](tmp_path / "consts.h")
    assert sys.modules["srinspect.ipv6"] is before


def test_the_inspector_agrees_on_what_may_lead_to_an_srh() -> None:
    """The inspector's own set should become ipv6.SRH_MAY_FOLLOW; until then, equal."""
    from srinspect import inspector

    assert inspector._INTERESTING == ipv6.SRH_MAY_FOLLOW


# --- what counts as a segment the fast path may call clean ----------------------------------

SPECIAL = ["::", "::1", "::2", "::ffff:10.0.0.1", "::ffff:0:1", "ff02::1", "ff00::",
           "fe80::1", "2001:db8::1", "::1:0:0:1", "0:0:0:1::"]
address = st.one_of(st.sampled_from(SPECIAL).map(parse_ip6),
                    st.binary(min_size=16, max_size=16),
                    st.tuples(st.binary(min_size=1, max_size=12), st.binary(max_size=4)).map(
                        lambda t: (t[0] + bytes(16))[:12] + (t[1] + bytes(4))[:4]))


@given(address)
def test_every_invalid_segment_is_left_to_the_validator(seg: bytes) -> None:
    """The fast path's suspect segments are a superset of the rule's invalid ones, in Python
    and in C (validate._invalid_segment is the rule, _fastpath._segments_clean and its C
    twin the one function each that decide 'no segment rule can fire')."""
    from srinspect.validate import _invalid_segment

    packet = srv6_packet("2001:db8:a::1", SrhSpec([seg], segments_left=0),
                         inner_udp("2001:db8:a::100", "2001:db8:f::100"))
    clean = _fastpath._segments_clean(seg, 0, 16)
    if _invalid_segment(seg):
        assert not clean
    for draft04 in (True, False):
        python = _fastpath.fast_srh_py(packet, 0, draft04)
        assert python == (-1 if clean else -2)
        if skim.native is not None:
            assert skim.native.fast_srh(packet, 0, draft04) == python
