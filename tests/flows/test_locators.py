"""IP-in-IPv6 without an SRH is SRv6 only behind a SID: --locator/--config.

The packets are ordinary tunnels as DS-Lite (4in6) and plain 6in6 send them, built here with
srinspect's byte builders (no SRH anywhere), next to the same packets whose destination is in
a locator (RFC 8986 reduced encapsulation) and a 6in6 tunnel carrying an SRv6 packet.
"""

from __future__ import annotations

import ipaddress
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from srinspect.build import ethernet, inner_udp, ipv6_packet, srv6_packet
from srinspect.flows.decoder import FlowDecoder, FlowMonitor
from srinspect.flows.linkload import LinkLoad
from srinspect.flows.table import FlowTable
from srinspect.frame import Frame
from srinspect.inspector import Inspector, PacketResult
from srinspect.locators import ConfigError, Locators, parse_config
from srinspect.sinks.pcapng_writer import write_pcap
from srinspect.srh import SrhSpec

REPO = Path(__file__).resolve().parents[2]
SID = "fc00:0:5::100"  # inside the locator fc00:0:5::/48
TUNNEL_END = "2001:db8:99::1"  # an AFTR / tunnel endpoint: no SID
LOCATOR = ipaddress.IPv6Network("fc00:0:5::/48")


def _ipv4_udp(src: str, dst: str) -> bytes:
    payload = struct.pack("!HHHH", 1234, 53, 8, 0)
    total = 20 + len(payload)
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, 17, 0,
                       bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))) + payload


def frames() -> list[Frame]:
    six_in_six = inner_udp("2001:db8:a::100", "2001:db8:f::100")
    data = [
        ipv6_packet("2001:db8:a::1", TUNNEL_END, 41, six_in_six),  # plain 6in6
        ipv6_packet("2001:db8:a::1", TUNNEL_END, 4, _ipv4_udp("192.0.2.1", "198.51.100.1")),
        ipv6_packet("2001:db8:a::1", SID, 41, six_in_six),  # reduced encapsulation
        ipv6_packet("2001:db8:a::1", TUNNEL_END, 41, srv6_packet(  # 6in6 carrying SRv6
            "2001:db8:a::100", SrhSpec(["2001:db8:f::1", "2001:db8:3::1"], segments_left=1),
            inner_udp("2001:db8:a::100", "2001:db8:f::100"))),
    ]
    return [Frame(n + 1, 1000.0 + n, 1, ethernet(d), len(d) + 14) for n, d in enumerate(data)]


def _feed(locators: Locators) -> tuple[list[PacketResult | None], Inspector]:
    insp = Inspector(locators=locators)
    out = []
    for f in frames():
        r = insp.feed(f)
        assert r is None or isinstance(r, PacketResult)
        out.append(r)
    return out, insp


def test_tunnels_without_srh_are_not_srv6_without_a_locator() -> None:
    results, insp = _feed(Locators())
    assert [r is not None for r in results] == [False, False, False, True]
    assert insp.tunnel_packets == 3
    assert results[3] is not None and results[3].has_srh  # the SRH inside still counts


def test_only_a_destination_in_a_locator_makes_reduced_encapsulation() -> None:
    results, insp = _feed(Locators([LOCATOR]))
    assert [r is not None for r in results] == [False, False, True, True]
    assert insp.tunnel_packets == 2
    reduced = results[2]
    assert reduced is not None and not reduced.has_srh and reduced.inner is not None


@pytest.mark.parametrize("locators", [Locators(), Locators([LOCATOR])], ids=["none", "one"])
def test_flow_decoder_fast_path_agrees_with_the_inspector(locators: Locators) -> None:
    table = FlowTable(events=False)
    monitor = FlowMonitor(table, FlowDecoder(Inspector(locators=locators)), LinkLoad())
    for f in frames() * 3:  # repeats: the second packet of a header takes the cached path
        monitor.feed(f)
    results, _ = _feed(locators)
    assert len(table) == sum(r is not None for r in results)
    assert monitor.decoder.srv6 == 3 * len(table)


def test_locator_matching() -> None:
    loc = Locators([LOCATOR, ipaddress.IPv6Network("2001:db8:5::/64")])
    assert loc.contains(ipaddress.IPv6Address(SID).packed)
    assert loc.contains(ipaddress.IPv6Address("2001:db8:5::ffff").packed)
    assert not loc.contains(ipaddress.IPv6Address("fc00:0:6::1").packed)
    assert not loc.contains(b"\x01" * 4) and not Locators().contains(bytes(16))


def test_config_file_errors_are_clear() -> None:
    assert parse_config('[srv6]\nlocators = ["fc00:0:5::/48"]\n') == [LOCATOR]
    assert parse_config("") == []
    for bad in ('[srv6]\nlocators = "fc00::/16"', '[srv6]\nlocators = ["fc00::1/16"]',
                '[srv6]\nlocators = ["10.0.0.0/8"]', "[srv6\n"):
        with pytest.raises(ConfigError):
            parse_config(bad, "x.toml")


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srinspect", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO)


def test_flows_and_decode_cli(tmp_path: Path) -> None:
    cap = tmp_path / "tunnels.pcap"
    write_pcap(cap, frames(), 1)
    plain = _cli("flows", "-r", cap, "--format", "json")
    doc = json.loads(plain.stdout)
    assert plain.returncode == 0
    assert doc["capture"]["srv6_packets"] == 1 and doc["capture"]["ip_in_ipv6_not_srv6"] == 3
    text = _cli("flows", "-r", cap).stdout
    assert "3 IP-in-IPv6 packets without an SRH counted as tunnels, not SRv6" in text
    assert "1 flows shown of 1 seen" in text  # only the tunnel that carries an SRH
    with_loc = json.loads(_cli("flows", "-r", cap, "--format", "json", "--locator",
                               "fc00:0:5::/48").stdout)
    assert with_loc["capture"]["srv6_packets"] == 2
    conf = tmp_path / "srinspect.toml"
    conf.write_text('[srv6]\nlocators = ["fc00:0:5::/48"]\n')
    assert json.loads(_cli("flows", "-r", cap, "--format", "json", "--config", conf).stdout
                      ) == with_loc
    res = _cli("decode", "--frame", 1, cap)
    assert res.returncode == 2 and "IP-in-IPv6 without an SRH" in res.stderr
    assert _cli("decode", "--frame", 3, cap).returncode == 2
    assert _cli("decode", "--frame", 3, "--config", conf, cap).returncode == 0
    bad = _cli("flows", "-r", cap, "--locator", "nonsense")
    assert bad.returncode == 2 and "not an IPv6 prefix" in bad.stderr
    conf.write_text('[srv6]\nlocators = ["fc00::1/16"]\n')
    bad = _cli("flows", "-r", cap, "--config", conf)
    assert bad.returncode == 2 and "srinspect.toml" in bad.stderr and "Traceback" not in bad.stderr
