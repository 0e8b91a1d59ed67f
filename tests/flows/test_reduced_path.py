"""A reduced SRH (H.Encaps.Red, SL == LE+1) keeps its first segment only in
the DA; the flow's path must include it, and a change of only that segment is a path change."""

from __future__ import annotations

from srinspect import build
from srinspect.flows.decoder import FlowDecoder
from srinspect.flows.table import FlowTable
from srinspect.frame import Frame
from srinspect.inspector import Inspector
from srinspect.srh import SrhSpec
from srinspect.wire import parse_ip6

SRC, H1, H2 = "2001:db8:a::1", "2001:db8:1::1", "2001:db8:2::1"
S1, S1B, S2, S3 = "fc00:1::1", "fc00:9::1", "fc00:2::1", "fc00:3::1"


def reduced(first: str, rest: list[str], number: int) -> Frame:
    """encap.red of path [first, *rest]: the SRH holds ``rest`` only, SL = LE+1, DA first."""
    spec = SrhSpec(list(reversed(rest)), segments_left=len(rest))
    data = build.ethernet(build.srv6_packet(SRC, spec, build.inner_udp(H1, H2), dst=first))
    return Frame(number, 1000.0 + number, 1, data, len(data), 0)


def _table(frames: list[Frame]) -> FlowTable:
    table, decoder = FlowTable(), FlowDecoder(Inspector())
    for f in frames:
        decoded = decoder.decode(f)
        assert decoded is not None
        table.add(f.ts, f.interface, *decoded, f.number)
    return table


def test_reduced_srh_path_has_the_first_segment() -> None:
    flow = next(iter(_table([reduced(S1, [S2, S3], 1)])))
    assert flow.segments == tuple(parse_ip6(s) for s in (S3, S2, S1))  # SRH order, S1 last


def test_a_change_of_only_the_first_segment_is_a_path_change() -> None:
    table = _table([reduced(S1, [S2, S3], 1), reduced(S1B, [S2, S3], 2)])
    assert len(table) == 1 and table.path_changes == 1
