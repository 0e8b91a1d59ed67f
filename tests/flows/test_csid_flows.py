"""Flows over compressed SIDs (RFC 9800): with the SID format, a path is made of the SIDs the
containers carry, the active one is the DA's active C-SID, and a DA moving along a container
(NEXT-C-SID shifts between capture points) is one flow on one path, not a path change.
Without the format nothing changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srinspect import build
from srinspect.csid import CsidFormats, parse_format, same_path
from srinspect.flows.decoder import FlowDecoder
from srinspect.flows.table import FlowTable
from srinspect.frame import Frame
from srinspect.inspector import Inspector
from srinspect.sources import open_capture
from srinspect.srh import SrhSpec
from srinspect.tui.engine import MonitorEngine
from srinspect.wire import ip6, parse_ip6

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
KERNEL_SAMPLE = PCAPS / "kernel-next-csid.pcap"  # H.Encaps.Red into a uSID container
FORMATS = CsidFormats([parse_format("2001:db8::/32/16")])
SRC, H1, H2 = "2001:db8:a::1", "2001:db8:1::10", "2001:db8:1::20"
LAST = "fc00:3::d6"


def _table(frames: list[Frame], csid: CsidFormats | None) -> FlowTable:
    table = FlowTable(csid=csid)
    decoder = FlowDecoder(Inspector(csid=csid or CsidFormats()))
    for f in frames:
        decoded = decoder.decode(f)
        if decoded is not None:
            table.add(f.ts, f.interface, *decoded, f.number)
    return table


def _kernel_frames() -> list[Frame]:
    with open_capture(KERNEL_SAMPLE) as cap:
        return list(cap)


def _reduced(da: str, number: int) -> Frame:
    """H.Encaps.Red with the container in the DA and one SID left in the SRH."""
    spec = SrhSpec([parse_ip6(LAST)], segments_left=1)
    data = build.ethernet(build.srv6_packet(SRC, spec, build.inner_udp(H1, H2), dst=da))
    return Frame(number, 1000.0 + number, 1, data, len(data), 0)


def test_kernel_capture_is_one_flow_on_one_expanded_path() -> None:
    table = _table(_kernel_frames(), FORMATS)
    (flow,) = list(table)
    assert table.path_changes == 0 and flow.change_count == 0
    sids, active = table.expanded(flow.segments, flow.info.active)
    assert [ip6(s) for s in reversed(sids)] == ["2001:db8:2::", "2001:db8:3::", LAST]
    assert ip6(active) in {"2001:db8:2::", "2001:db8:3::"}  # the DA's active C-SID
    hops = {tuple(ip6(h) for h in p.hops) for p in table.paths()}
    assert hops == {("fc00:1::1", "2001:db8:2::", "2001:db8:3::", LAST, "2001:db8:2::20")}


def test_without_the_format_every_shift_is_a_path_change() -> None:
    table = _table(_kernel_frames(), None)
    assert table.path_changes == 5
    (flow,) = list(table)
    assert table.expanded(flow.segments, flow.info.active) == (flow.segments,
                                                               flow.info.active)


def test_the_fuller_container_is_kept_whichever_is_seen_first() -> None:
    shifted_first = _table([_reduced("2001:db8:3::", 1), _reduced("2001:db8:2:3::", 2)],
                           FORMATS)
    (flow,) = list(shifted_first)
    assert shifted_first.path_changes == 0
    assert ip6(flow.segments[-1]) == "2001:db8:2:3::"


def test_another_container_is_still_a_path_change() -> None:
    table = _table([_reduced("2001:db8:2:3::", 1), _reduced("2001:db8:2:4::", 2)], FORMATS)
    assert table.path_changes == 1


def test_same_path_says_which_list_is_fuller() -> None:
    full = (parse_ip6(LAST), parse_ip6("2001:db8:2:3::"))
    shifted = (parse_ip6(LAST), parse_ip6("2001:db8:3::"))
    other = (parse_ip6(LAST), parse_ip6("2001:db8:4::"))
    assert same_path(full, shifted, FORMATS) == -1
    assert same_path(shifted, full, FORMATS) == 1
    assert same_path(full, other, FORMATS) is None
    assert same_path(full, shifted, CsidFormats()) is None  # no format: no container
    assert same_path(full, full[:1], FORMATS) is None


@pytest.mark.parametrize("extra", [[], ["--csid", "2001:db8::/32/16"]])
def test_flows_json_names_the_sids_only_with_a_format(run_cli, extra: list[str]) -> None:
    r = run_cli("flows", "-r", str(KERNEL_SAMPLE), "--format", "json", *extra)
    assert r.rc == 0, r.err
    (flow,) = json.loads(r.out)["flows"]
    assert flow["path"] == ["2001:db8:2:3::", LAST] or flow["path"] == ["2001:db8:3::", LAST]
    if extra:
        assert flow["path_sids"] == ["2001:db8:2::", "2001:db8:3::", LAST]
        assert flow["active_sid"] in flow["path_sids"][:2]
        assert flow["path_changes"] == 0
    else:
        assert "path_sids" not in flow and flow["path_changes"] == 5


def test_monitor_rows_show_the_sids() -> None:
    eng = MonitorEngine(csid=FORMATS)
    for frame in _kernel_frames():
        eng.feed(frame)
    (row,) = eng.snapshot(2e9).flows
    assert [ip6(s) for s in reversed(row.segments)] == ["2001:db8:2::", "2001:db8:3::", LAST]
    assert row.change_count == 0 and row.active in row.segments
