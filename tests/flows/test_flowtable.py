"""FlowTable, FlowDecoder and LinkLoad on crafted packets (srinspect.build): no I/O, no clock.

Time is always a parameter here: every timestamp is chosen by the test, so rates, expiry
and eviction are exact.
"""

from __future__ import annotations

import ipaddress
import json
import struct
import time

import pytest

from srinspect import build
from srinspect.flows.decoder import FlowDecoder, FlowMonitor
from srinspect.flows.events import FindingSeen, FlowEnded, FlowStarted, PathChanged
from srinspect.flows.linkload import DIR_ANY, DIR_RX, DIR_TX, LinkLoad, RateWindow, segment_pairs
from srinspect.flows.packet import SrInfo, info_from_result, key_from_result
from srinspect.flows.table import FlowTable
from srinspect.frame import Frame
from srinspect.inspector import Inspector
from srinspect.keys import Key, Keyring
from srinspect.locators import Locators
from srinspect.srh import SrhSpec
from srinspect.wire import parse_ip6

SRC = "2001:db8:a::1"  # SR ingress (outer source)
H1, H2 = "2001:db8:1::1", "2001:db8:2::1"  # inner hosts
S1, S2, S3, S4 = "fc00:1::1", "fc00:2::1", "fc00:3::1", "fc00:4::1"
MAC_R = b"\x02\x00\x00\x00\x00\x01"  # the capturing interface's MAC
MAC_PEER = b"\x02\x00\x00\x00\x00\x02"
A = parse_ip6


def encap(path: list[str], *, sl: int | None = None, sport: int = 40000, dport: int = 5201,
          src: str = SRC, inner_dst: str = H2, flags: int = 0, dst: str | None = None,
          **kw: object) -> bytes:
    """An Ethernet frame: SRv6 encap of an inner IPv6/UDP packet; ``path`` in travel order."""
    segments = list(reversed(path))  # Segment List[0] is the final segment
    spec = SrhSpec(segments, segments_left=len(path) - 1 if sl is None else sl, flags=flags,
                   **kw)  # type: ignore[arg-type]
    inner = build.inner_udp(H1, inner_dst, sport=sport, dport=dport)
    return build.ethernet(build.srv6_packet(src, spec, inner, dst=dst), src=MAC_R, dst=MAC_PEER)


def inline(path: list[str], *, sl: int | None = None, sport: int = 1000) -> bytes:
    """An inline-mode SRH (no encapsulation): UDP right after the SRH."""
    segments = list(reversed(path))
    spec = SrhSpec(segments, segments_left=len(path) - 1 if sl is None else sl,
                   next_header=17)
    payload = build.udp(SRC, path[-1], sport, 2000, b"inline")
    return build.ethernet(build.srv6_packet(SRC, spec, payload))


def no_srh(sid: str, *, ipv4: bool = False) -> bytes:
    """SRv6 without SRH: the SID as DA, the inner packet right behind Next Header 41/4."""
    if ipv4:
        inner = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 17, 0,
                            bytes([192, 0, 2, 1]), bytes([198, 51, 100, 7])) + \
            struct.pack("!HHHH", 1234, 53, 8, 0)
        return build.ethernet(build.ipv6_packet(SRC, sid, 4, inner))
    return build.ethernet(build.ipv6_packet(SRC, sid, 41, build.inner_udp(H1, H2)))


def frame(data: bytes, ts: float = 1000.0, interface: int = 0, number: int = 1,
          orig_len: int | None = None, linktype: int = 1) -> Frame:
    return Frame(number, ts, linktype, data, len(data) if orig_len is None else orig_len,
                 interface)


def feed_all(table: FlowTable, frames: list[Frame], keyring: Keyring | None = None,
             locators: Locators | None = None) -> None:
    decoder = FlowDecoder(Inspector(keyring=keyring, locators=locators))
    for f in frames:
        decoded = decoder.decode(f)
        assert decoded is not None, f"frame {f.number} not recognised as SRv6"
        table.add(f.ts, f.interface, *decoded, f.number)


def one_flow(table: FlowTable):  # noqa: ANN201 - the Flow
    flows = list(table)
    assert len(flows) == 1, [f.key for f in flows]
    return flows[0]


# --- keys --------------------------------------------------------------------------------


def test_encap_key_is_outer_source_final_segment_and_inner_5tuple() -> None:
    table = FlowTable()
    feed_all(table, [frame(encap([S1, S2, S3]))])
    flow = one_flow(table)
    assert flow.key == (A(SRC), A(S3), A(H1), A(H2), 17, 40000, 5201)
    assert flow.segments == (A(S3), A(S2), A(S1))  # SRH order
    assert flow.path == [A(S1), A(S2), A(S3)]  # travel order
    assert flow.info.active == A(S1) and flow.info.segments_left == 2


def test_inline_key_uses_final_destination_not_the_da() -> None:
    table = FlowTable()
    # Same inline flow seen before and after the first endpoint: DA differs, one flow.
    feed_all(table, [frame(inline([S1, S2, H2], sl=2), interface=0),
                     frame(inline([S1, S2, H2], sl=1), interface=1)])
    flow = one_flow(table)
    assert flow.key == (A(SRC), A(H2), b"", b"", 17, 1000, 2000)
    assert flow.change_count == 0


def test_srv6_without_srh_is_a_flow_with_the_da_as_list() -> None:
    """Only when the DA is in a locator: else the same bytes are a tunnel."""
    table = FlowTable()
    frames = [frame(no_srh(S1)), frame(no_srh(S2, ipv4=True))]
    decoder = FlowDecoder(Inspector())
    assert [decoder.decode(f) for f in frames] == [None, None]
    assert decoder.inspector.tunnel_packets == 2
    feed_all(table, frames, locators=Locators([ipaddress.IPv6Network("fc00::/16")]))
    flows = {f.key[1]: f for f in table}
    six, four = flows[A(S1)], flows[A(S2)]
    assert six.segments == (A(S1),) and not six.info.has_srh
    assert six.info.segments_left is None and six.info.flags is None
    assert six.key == (A(SRC), A(S1), A(H1), A(H2), 17, 40000, 5201)
    assert four.key == (A(SRC), A(S2), bytes([192, 0, 2, 1]), bytes([198, 51, 100, 7]), 17,
                        1234, 53)
    data = six.to_dict(1000.0)
    assert data["srh"] is False and data["srhSegmentIPv6BasicList"] == [S1]


def test_different_inner_ports_are_different_flows() -> None:
    table = FlowTable()
    feed_all(table, [frame(encap([S1, S2], sport=1)), frame(encap([S1, S2], sport=2)),
                     frame(encap([S1, S2], sport=1))])
    assert sorted(f.packets for f in table) == [1, 2]


# --- path changes ------------------------------------------------------------------------


def test_path_change_is_a_list_change_with_old_and_new() -> None:
    table = FlowTable()
    frames = [frame(encap([S1, S3]), ts=1000 + i) for i in range(3)]
    frames += [frame(encap([S2, S3]), ts=1003 + i) for i in range(3)]
    feed_all(table, frames)
    flow = one_flow(table)
    assert flow.change_count == 1 and flow.packets == 6
    change = flow.changes[0]
    assert (change.ts, change.old, change.new) == (1003, (A(S3), A(S1)), (A(S3), A(S2)))
    events = table.drain()
    assert [type(e) for e in events] == [FlowStarted, PathChanged]
    assert events[1].to_dict()["old"] == [S1, S3]
    assert events[1].to_dict()["new"] == [S2, S3]


def test_segments_left_changing_hop_by_hop_is_not_a_path_change() -> None:
    """Captures on several links: same list, different SL and DA at each point."""
    table = FlowTable()
    frames = []
    for i in range(5):
        for iface, sl in ((0, 2), (1, 1), (2, 0)):
            frames.append(frame(encap([S1, S2, S3], sl=sl), ts=1000 + i * 0.1 + iface * 0.001,
                                interface=iface))
    feed_all(table, frames)
    flow = one_flow(table)
    assert flow.change_count == 0 and flow.packets == 15
    assert {p.interface: p.info.segments_left for p in flow.points.values()} == \
        {0: 2, 1: 1, 2: 0}
    assert {p.interface: p.info.active for p in flow.points.values()} == \
        {0: A(S1), 1: A(S2), 2: A(S3)}
    assert [type(e) for e in table.drain()] == [FlowStarted]


def test_packets_in_flight_on_a_downstream_link_do_not_flap() -> None:
    """Upstream link switches to the new list while the downstream one still carries old
    packets: one change, not old -> new -> old -> new."""
    table = FlowTable()
    old, new = [S1, S2, S3], [S4, S2, S3]
    seq = [(0, old, 2), (1, old, 1), (0, old, 2), (0, new, 2), (1, old, 1), (1, new, 1),
           (0, new, 2), (1, new, 1)]
    feed_all(table, [frame(encap(p, sl=sl), ts=1000 + i * 0.01, interface=iface)
                     for i, (iface, p, sl) in enumerate(seq)])
    flow = one_flow(table)
    assert flow.change_count == 1
    assert flow.changes[0].interface == 0
    # ...and switching back is a second change.
    feed_all(table, [frame(encap(old, sl=2), ts=1001, interface=0)])
    assert flow.change_count == 2 and flow.segments == tuple(A(s) for s in reversed(old))


def test_a_new_link_seeing_another_list_is_a_change() -> None:
    table = FlowTable()
    feed_all(table, [frame(encap([S1, S3]), interface=0),
                     frame(encap([S2, S3]), ts=1001, interface=1)])
    assert one_flow(table).change_count == 1


def test_path_history_is_bounded() -> None:
    table = FlowTable(max_history=4)
    feed_all(table, [frame(encap([S1 if i % 2 else S2, S3]), ts=1000 + i) for i in range(50)])
    flow = one_flow(table)
    assert flow.change_count == 49 and len(flow.changes) == 4


def test_final_segment_change_starts_a_new_flow() -> None:
    """The final destination is part of the key: a new egress is a new flow."""
    table = FlowTable()
    feed_all(table, [frame(encap([S1, S3])), frame(encap([S1, S4]), ts=1001)])
    assert len(table) == 2 and table.path_changes == 0


# --- counters, rates, findings, hmac -----------------------------------------------------


def test_bytes_are_ip_layer_bytes() -> None:
    data = encap([S1, S2])
    table = FlowTable()
    feed_all(table, [frame(data), frame(data, ts=1001, orig_len=len(data))])
    assert one_flow(table).bytes == 2 * (len(data) - 14)


@pytest.mark.parametrize("phase", [0.0, 0.123, 0.5, 0.77])
def test_rates_over_sliding_window(phase: float) -> None:
    table = FlowTable(rate_window=5.0, rate_buckets=10)
    data = encap([S1, S2])
    size = len(data) - 14
    start = 10_000 + phase
    feed_all(table, [frame(data, ts=start + i * 0.01) for i in range(2000)])  # 100 pkt/s, 20 s
    flow = one_flow(table)
    now = start + 1999 * 0.01
    pps, bps = flow.rate(now)
    assert pps == pytest.approx(100, rel=0.03)
    assert bps == pytest.approx(100 * size * 8, rel=0.03)
    # The window slides: 30 s after the last packet the flow is idle.
    assert flow.rate(now + 30) == (0.0, 0.0)
    # Half a window later about half the packets are still inside.
    assert flow.rate(now + 2.5)[0] == pytest.approx(50, rel=0.15)


def test_a_flow_seen_on_several_links_is_counted_once_in_its_rate() -> None:
    """The same packets captured on three links of the path: the flow's rate and its
    path's rate are the flow's own, not three times it; a second flow on the path adds."""
    table = FlowTable(rate_window=5.0, rate_buckets=10)
    hop1, hop2, hop3 = encap([S1, S2], sl=1), encap([S1, S2], sl=0), encap([S1, S2], sl=0)
    frames = []
    for i in range(1000):  # 100 pkt/s for 10 s, on interfaces 0, 1 and 2
        ts = 20_000 + i * 0.01
        frames += [frame(hop1, ts, 0), frame(hop2, ts + 0.001, 1), frame(hop3, ts + 0.002, 2)]
    feed_all(table, frames)
    flow = one_flow(table)
    now = 20_000 + 999 * 0.01 + 0.002
    assert len(flow.points) == 3
    assert flow.rate(now)[0] == pytest.approx(100, rel=0.05)
    (path,) = table.paths()
    assert path.rate(now)[0] == pytest.approx(100, rel=0.05)
    other = encap([S1, S2], sport=40001)
    feed_all(table, [frame(other, 20_000 + i * 0.01, 0) for i in range(1000)])
    assert path.rate(now)[0] == pytest.approx(200, rel=0.05)


def test_rate_window_start_of_flow() -> None:
    w = RateWindow(5.0, 10)
    for i in range(10):
        w.add(100.0 + i * 0.1, 10)  # 10 pkt/s for 1 s
    pps, byps = w.rate(100.9)
    assert pps == pytest.approx(10, rel=0.15) and byps == pytest.approx(100, rel=0.15)
    assert RateWindow().rate(5.0) == (0.0, 0.0)
    w.add(50.0, 1)  # far older than the window: ignored by the rate
    assert w.rate(100.9)[0] == pytest.approx(pps)


def test_findings_counted_per_packet_event_once_per_rule() -> None:
    table = FlowTable()
    bad = encap([S1, S2], flags=0x01)  # unused flag bit (draft-04)
    feed_all(table, [frame(bad, ts=1000 + i, number=i + 1) for i in range(5)])
    flow = one_flow(table)
    assert flow.findings == {"srh.flags.unused": 5}
    events = table.drain()
    found = [e for e in events if isinstance(e, FindingSeen)]
    assert len(found) == 1 and found[0].rule == "srh.flags.unused" and found[0].frame == 1
    assert found[0].severity == "warning"
    assert flow.to_dict(1005)["findings"] == {"srh.flags.unused": 5}


def test_hmac_status_counted() -> None:
    key = Key(1, "sha256", b"secret")
    spec = build.with_hmac(SrhSpec([A(S2), A(S1)], segments_left=1), SRC, key)
    good = build.ethernet(build.srv6_packet(SRC, spec, build.inner_udp(H1, H2)))
    bad_spec = build.with_hmac(SrhSpec([A(S2), A(S1)], segments_left=1), SRC, key,
                               corrupt=True)
    bad = build.ethernet(build.srv6_packet(SRC, bad_spec, build.inner_udp(H1, H2)))
    table = FlowTable()
    feed_all(table, [frame(good), frame(good, ts=1001), frame(bad, ts=1002)],
             keyring=Keyring([key]))
    flow = one_flow(table)
    assert flow.hmac == {"verified": 2, "mismatch": 1}
    assert flow.findings == {"srh.hmac.mismatch": 1}
    feed_all(table2 := FlowTable(), [frame(good)])  # no keyring: unknown key
    assert one_flow(table2).hmac == {"unknown-key": 1}


# --- bounds: expiry, eviction, a million flows -------------------------------------------


def test_idle_flows_expire_on_capture_time() -> None:
    table = FlowTable(idle_timeout=10.0)
    feed_all(table, [frame(encap([S1, S2], sport=1), ts=1000),
                     frame(encap([S1, S2], sport=2), ts=1005)])
    table.drain()
    feed_all(table, [frame(encap([S1, S2], sport=3), ts=1012)])  # sport=1 idle 12 s > 10
    assert sorted(f.key[5] for f in table) == [2, 3] and table.expired == 1
    ended = [e for e in table.drain() if isinstance(e, FlowEnded)]
    assert [(e.reason, e.key[5], e.packets) for e in ended] == [("idle", 1, 1)]
    assert table.expire(1100) == 2 and len(table) == 0 and table.path_count == 0
    # The same key after expiry is a new flow (new id, flow-new again).
    feed_all(table, [frame(encap([S1, S2], sport=1), ts=1200)])
    assert one_flow(table).id == 4


def test_lru_eviction_counts_and_keeps_recent_flows() -> None:
    table = FlowTable(max_flows=3)
    feed_all(table, [frame(encap([S1, S2], sport=p), ts=1000 + p) for p in (1, 2, 3)])
    feed_all(table, [frame(encap([S1, S2], sport=1), ts=1004)])  # touch 1: 2 is now LRU
    feed_all(table, [frame(encap([S1, S2], sport=p), ts=1005 + p) for p in (4, 5)])
    assert sorted(f.key[5] for f in table) == [1, 4, 5]
    assert table.evicted == 2
    reasons = [(e.reason, e.key[5]) for e in table.drain() if isinstance(e, FlowEnded)]
    assert reasons == [("evicted", 2), ("evicted", 3)]


def test_a_million_flows_stay_within_the_bound() -> None:
    bound = 2000
    table = FlowTable(max_flows=bound, max_pending_events=1000)
    info = SrInfo((A(S2), A(S1)), A(S1), 1, 0, 0, True)
    add = table.add
    src, final, h1 = A(SRC), A(S2), A(H1)
    total = 1_000_000
    t0 = time.perf_counter()
    for i in range(total):
        key = (src, final, h1, i.to_bytes(16, "big"), 17, i & 0xFFFF, 5201)
        add(1000.0 + i * 1e-6, 0, key, info, 100)
        if i % 100_000 == 0:
            assert len(table) <= bound and table.path_count <= bound
    elapsed = time.perf_counter() - t0
    assert len(table) == bound
    assert table.created == total and table.evicted == total - bound
    assert table.path_count <= bound  # every path belongs to a live flow
    assert len(table.drain()) == 1000 and table.events_dropped > 0  # queue bounded too
    assert elapsed < 60, f"{total} flows took {elapsed:.1f} s"


def test_capture_points_per_flow_are_bounded() -> None:
    table = FlowTable(max_points=4)
    feed_all(table, [frame(encap([S1, S2]), ts=1000 + i, interface=i) for i in range(50)])
    flow = one_flow(table)
    assert len(flow.points) == 5  # 4 real + the overflow point
    assert sum(p.packets for p in flow.points.values()) == 50


# --- decoder: header cache gives what the full decoder gives -----------------------------


def _slow(frame_: Frame, keyring: Keyring | None = None) -> tuple[object, ...] | None:
    result = Inspector(keyring=keyring).feed(frame_)
    if result is None:
        return None
    return _norm(key_from_result(result), info_from_result(result),
                 frame_.orig_len - result.ip.offset)


def _norm(key: object, info: SrInfo, nbytes: int) -> tuple[object, ...]:
    """Compare infos without finding frame numbers (the cache keeps the first packet's)."""
    return (key, info.segments, info.active, info.segments_left, info.flags, info.tag,
            info.has_srh, tuple((f.rule, f.message, f.offset) for f in info.findings),
            info.hmac, nbytes)


def _variants() -> list[Frame]:
    key = Key(7, "sha256", b"k")
    frames = [
        encap([S1, S2, S3]), encap([S1, S2, S3], sl=0), encap([S1, S2], flags=0x81),
        encap([S1, S2], sl=5, dst=S4), inline([S1, S2, H2]), no_srh(S1), no_srh(S1, ipv4=True),
        build.ethernet(build.srv6_packet(
            SRC, build.with_hmac(SrhSpec([A(S2), A(S1)], segments_left=1), SRC, key),
            build.inner_udp(H1, H2))),
        build.ethernet(build.srv6_packet(SRC, SrhSpec([A(S2), A(S1)], segments_left=1),
                                         build.inner_udp(H1, H2), payload_length=30)),
        build.ethernet(build.srv6_packet(SRC, SrhSpec([A(S2), A(S1)], segments_left=1,
                                                      next_header=58),
                                         build.icmpv6_echo(SRC, S2, 1, 2, b"x"))),
    ]
    out = [frame(d, number=i + 1) for i, d in enumerate(frames)]
    full = encap([S1, S2, S3])
    for cut in (14, 40, 54, 62, 70, 100, 110, len(full) - 1):  # snaplen-cut copies
        out.append(frame(full[:cut], orig_len=len(full), number=100 + cut))
    return out


def test_decoder_cache_matches_full_decode() -> None:
    keyring = Keyring([Key(7, "sha256", b"k")])
    decoder = FlowDecoder(Inspector(keyring=keyring))
    for f in _variants() * 3:  # second and third rounds hit the cache
        got = decoder.decode(f)
        want = _slow(f, keyring)
        assert (None if got is None else _norm(*got)) == want, f"frame {f.number}"
    assert 0 < decoder.cache_misses < decoder.srv6 // 2


def test_decoder_matches_full_decode_on_mutated_bytes() -> None:
    """Property: flip bytes anywhere in the headers; the fast path agrees with the slow one,
    both on a cold cache and when a same-header packet primed it."""
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")
    bases = [encap([S1, S2, S3]), inline([S1, S2, H2]), no_srh(S1), no_srh(S2, ipv4=True)]

    @hypothesis.settings(max_examples=400, deadline=None)
    @hypothesis.given(st.sampled_from(bases), st.lists(
        st.tuples(st.integers(0, 160), st.integers(0, 255)), max_size=4),
        st.integers(0, 40))
    def check(base: bytes, edits: list[tuple[int, int]], cut: int) -> None:
        data = bytearray(base)
        for pos, value in edits:
            if pos < len(data):
                data[pos] = value
        raw = bytes(data)
        f = frame(raw[: len(raw) - cut], orig_len=len(raw))
        want = _slow(f)
        decoder = FlowDecoder(Inspector())
        for _ in range(2):  # cold, then cached
            got = decoder.decode(f)
            assert (None if got is None else _norm(*got)) == want

    check()


def test_decoder_cache_is_bounded() -> None:
    decoder = FlowDecoder(Inspector(), cache_size=8)
    for i in range(100):
        decoder.decode(frame(encap([S1, S2], src=f"2001:db8:a::{i + 1:x}")))
    assert len(decoder._cache) <= 8


def test_non_srv6_frames_are_skipped() -> None:
    decoder = FlowDecoder(Inspector())
    plain = build.ethernet(build.inner_udp(H1, H2))
    arp = b"\xff" * 12 + b"\x08\x06" + bytes(28)
    assert decoder.decode(frame(plain)) is None
    assert decoder.decode(frame(arp)) is None
    assert decoder.frames == 2 and decoder.srv6 == 0


# --- link load and segment pairs ---------------------------------------------------------


def test_link_load_directions_from_the_interface_mac() -> None:
    links = LinkLoad(window=5.0)
    links.declare(0, "r1", 1, MAC_R)
    out = build.ethernet(build.inner_udp(H1, H2), src=MAC_R, dst=MAC_PEER)
    inbound = build.ethernet(build.inner_udp(H2, H1), src=MAC_PEER, dst=MAC_R)
    for i in range(50):
        links.add(frame(out, ts=1000 + i * 0.1))
    for i in range(10):
        links.add(frame(inbound, ts=1000 + i * 0.5))
    rates = {r.direction: r for r in links.links(1004.9)}
    assert set(rates) == {DIR_RX, DIR_TX}
    assert rates[DIR_TX].packets == 50 and rates[DIR_RX].packets == 10
    assert rates[DIR_TX].pps == pytest.approx(10, rel=0.05)
    assert rates[DIR_TX].bps == pytest.approx(10 * len(out) * 8, rel=0.05)


def test_link_load_sll2_and_unknown_direction() -> None:
    links = LinkLoad()
    links.declare(0, "any", 276)
    sll2 = bytearray(20)
    sll2[0:2] = b"\x86\xdd"
    sll2[10] = 4  # PACKET_OUTGOING
    links.add(frame(bytes(sll2), linktype=276))
    sll2[10] = 0  # PACKET_HOST
    links.add(frame(bytes(sll2), linktype=276))
    links.add(frame(b"\x00" * 60, interface=3))  # undeclared: if3, direction any
    got = {(r.interface, r.direction): r.packets for r in links.links(1000)}
    assert got == {("any", DIR_RX): 1, ("any", DIR_TX): 1, ("if3", DIR_ANY): 1}


def test_segment_pairs_cover_source_segments_and_inner_destination() -> None:
    table = FlowTable()
    feed_all(table, [frame(encap([S1, S2, S3]), ts=1000 + i * 0.1) for i in range(10)])
    feed_all(table, [frame(encap([S1, S2, S3], sport=9), ts=1000 + i * 0.1)
                     for i in range(10)])
    pairs = {(p.a, p.b): p for p in segment_pairs(table.paths(), 1001)}
    assert set(pairs) == {(A(SRC), A(S1)), (A(S1), A(S2)), (A(S2), A(S3)), (A(S3), A(H2))}
    assert all(p.packets == 20 and p.flows == 2 for p in pairs.values())
    assert pairs[(A(S1), A(S2))].to_dict()["from"] == S1


def test_monitor_and_exports_are_json() -> None:
    table = FlowTable()
    links = LinkLoad()
    mon = FlowMonitor(table, FlowDecoder(Inspector()), links)
    for i in range(4):
        mon.feed(frame(encap([S1, S2] if i < 2 else [S3, S2], flags=0x01 if i == 3 else 0),
                       ts=1000 + i, number=i + 1))
    for ev in table.drain():
        json.dumps(ev.to_dict(lambda i: "r1"))
    data = one_flow(table).to_dict(1003, lambda i: "r1")
    json.dumps(data)
    for name in ("srhSegmentIPv6BasicList", "srhActiveSegmentIPv6", "srhSegmentsIPv6Left",
                 "srhFlagsIPv6", "srhTagIPv6"):
        assert name in data
    assert data["srhSegmentIPv6BasicList"] == [S2, S3] and data["path"] == [S3, S2]
    assert data["srhFlagsIPv6"] == 1 and data["path_changes"] == 1
    assert data["capture_points"][0]["interface"] == "r1"
    assert table.stats()["flows"] == 1


def test_segment_pairs_count_a_flow_seen_on_three_links_once() -> None:
    """One flow captured on three links of its path is one flow on each pair,
    with its packets once, not FLOWS=3 and three times the packets."""
    table = FlowTable()
    frames = [frame(encap([S1, S2, S3], sl=sl), ts=1000.0 + n, interface=link, number=n + 1)
              for n in range(4) for link, sl in ((0, 2), (1, 1), (2, 0))]
    feed_all(table, frames)
    assert len(table) == 1 and len(one_flow(table).points) == 3
    pairs = segment_pairs(table.paths(), 1004)
    assert pairs and all(p.flows == 1 and p.packets == 4 for p in pairs), pairs
    other = frame(encap([S1, S2, S3], sport=7), ts=1004.0, interface=0, number=99)
    feed_all(table, [other])
    pairs = segment_pairs(table.paths(), 1004)
    first = next(p for p in pairs if (p.a, p.b) == (A(S1), A(S2)))
    assert (first.flows, first.packets) == (2, 5)  # a second flow is counted as one more


def test_flows_text_columns_fit_long_addresses() -> None:
    from srinspect.sinks.flows_text import _table

    rows = [("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", "fc00::1", "12"), ("a", "b", "3")]
    lines = _table(("FROM", "TO", ">PACKETS"), rows)
    starts = {ln.index(cell) for ln, cell in zip(lines, ("TO", "fc00::1", "b"), strict=True)}
    assert len(starts) == 1  # the second column starts at the same place on every line
    ends = {len(ln) for ln in lines}
    assert len(ends) == 1  # right-aligned numbers end together
