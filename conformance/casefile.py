"""Write conformance cases with scapy: what a case file imports (``--cases DIR``).

A case file is a Python file whose functions, decorated with ``@case``, take the run's
target ``t`` and return the packet(s) to send, built with scapy, and what a correct DUT does
with them, in a small vocabulary::

    from scapy.layers.inet6 import IPv6, IPv6ExtHdrSegmentRouting
    from conformance.casefile import case, forwarded

    @case("my-endpoint-advance", rule="node.endpoint.advance", levels="MUST",
          summary="DA = DUT, SL=1 of 2: SL becomes 0, DA = Segment List[0]")
    def endpoint_advance(t):
        srh = IPv6ExtHdrSegmentRouting(addresses=[t.down(2), t.dut], segleft=1)
        pkt = IPv6(src=t.sender, dst=t.dut) / srh / t.inner(t.down(2))
        return pkt, forwarded({"srh.segments_left": 0, "ipv6.dst": t.down(2)})

Vocabulary: ``forwarded(changes)`` (the packet as sent, Hop Limit-1, with these fields
changed; names as ``conformance.fields.packet_fields`` writes them), ``advanced()`` (SL-1, DA
= Segment List[SL], Hop Limit-1), ``decapsulated()``, ``dropped(silent=)``,
``icmp_error(type, code, pointer=)`` with ``param_problem``/``time_exceeded``, ``answered()``
(an Echo Reply) and ``any_of(...)``. Every sent packet must carry ``t.payload()`` (or
``t.inner()``/``t.echo()``, which do): its tag pairs what comes back with what was sent.

The function is called once to build the packets and again to judge (offline re-judging
too), so it must depend on ``t`` alone. scapy's own HMAC TLV is wrong (a 2-byte Length):
use ``SRv6HmacTLV`` and ``t.sign(pkt)``, which computes the MAC with the DUT's key.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from scapy.layers.inet6 import UDP, ICMPv6EchoRequest, IPv6
from scapy.packet import Packet, Raw

from srinspect.rules import Profile

from .case import Case
from .expect import Answered, AnyOf, Dropped, Expectation, ForwardedAs, ForwardedWith, IcmpErr
from .fields import canonical
from .model import Level, Send
from .packets import FILLER, TAG_MAGIC, UDP_DPORT, UDP_SPORT, Ctx, advance, decap
from .scapy_srh import SRv6HmacTLV, sign, use_for_dissection
from .topology import Topology

__all__ = [
    "MUST", "SHOULD", "UNSPECIFIED", "CaseError", "SRv6HmacTLV", "Target", "answered",
    "advanced", "any_of", "case", "decapsulated", "dropped", "forwarded", "icmp_error",
    "param_problem", "time_exceeded", "use_for_dissection",
]

MUST, SHOULD, UNSPECIFIED = "MUST", "SHOULD", "unspecified"
ICMP_TIME_EXCEEDED, ICMP_PARAM_PROBLEM = 3, 4

Result = tuple[Packet | bytes | list[Packet | bytes], Expectation]
CaseFn = Callable[["Target"], Result]


class CaseError(Exception):
    """A user case that cannot be declared, built or judged; says where (file and line)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


# ---------------------------------------------------------------------------------------------
# What a case function gets


class Target:
    """The run as a case sees it: addresses of the topology, tags, the DUT's HMAC key.

    ``sender`` is the tester's address; ``dut`` an address of the DUT (the endpoint);
    ``down(n)``/``alt(n)`` addresses the DUT routes out of rx/rx2; ``sid(name)`` a SID of an
    RFC 8986 behaviour; ``profile`` the profile being judged ("draft-04", "rfc8754"...).
    """

    def __init__(self, ctx: Ctx) -> None:
        self._ctx = ctx
        topo: Topology = ctx.topo
        self.topology = topo
        self.sender: str = topo.sender
        self.dut: str = topo.dut
        self.profile: str = str(ctx.profile)
        self.unknown_key_id: int = topo.unknown_key_id

    def down(self, n: int) -> str:
        return self.topology.down(n)

    def alt(self, n: int) -> str:
        return self.topology.alt(n)

    def sid(self, behaviour: str) -> str:
        return self.topology.sid(behaviour)

    @property
    def key_id(self) -> int:
        """The id of the HMAC key the DUT knows (cases that use it need ``hmac-key``)."""
        key = self.topology.hmac_key
        if key is None:
            raise LookupError("no HMAC key known for this DUT")
        return key.key_id

    def payload(self) -> Raw:
        """A tagged payload: put one in every packet the case sends."""
        return Raw(self._ctx.payload())

    def inner(self, dst: str, src: str | None = None) -> Packet:
        """A tagged inner IPv6/UDP packet to ``dst``, for encapsulation-mode SRv6."""
        return (IPv6(src=src or self.sender, dst=dst) / UDP(sport=UDP_SPORT, dport=UDP_DPORT)
                / self.payload())

    def echo(self) -> Packet:
        """A tagged ICMPv6 Echo Request header and payload (behind an SRH at SL=0)."""
        return ICMPv6EchoRequest(id=0x5352, seq=1) / self.payload()

    def sign(self, packet: Packet | bytes, *, key_id: int | None = None,
             corrupt: bool = False) -> bytes:
        """The packet's bytes with its ``SRv6HmacTLV`` MAC computed with the DUT's key, by
        this profile's rules (draft-04: Linux; others: RFC 8754). ``key_id`` only sets the
        TLV's key id when the packet left it 0; ``corrupt`` flips a bit of the MAC."""
        key = self.topology.hmac_key
        if key is None:
            raise LookupError("no HMAC key known for this DUT")
        if isinstance(packet, Packet) and key_id is None:
            _default_key_ids(packet, key.key_id)
        return sign(packet, key, profile=self._ctx.hmac_profile, corrupt=corrupt)


def _default_key_ids(packet: Packet, key_id: int) -> None:
    """Give every SRv6HmacTLV left at key id 0 the DUT's key id (id 0 is never valid)."""
    layer: Packet | None = packet
    while layer is not None and not isinstance(layer, Raw):
        for tlv in getattr(layer, "tlv_objects", None) or []:
            if isinstance(tlv, SRv6HmacTLV) and not tlv.keyid:
                tlv.keyid = key_id
        layer = layer.payload if layer.payload else None


# ---------------------------------------------------------------------------------------------
# The expectation vocabulary


def forwarded(changes: Mapping[str, object] | None = None, *, port: str = "rx",
              dont_care: Iterable[str] = (), what: str = "", hop_limit: int = 1,
              packet: int = -1) -> Expectation:
    """Forwarded once on ``port``: the packet as sent, Hop Limit minus ``hop_limit``, with
    ``changes`` ({"srh.segments_left": 0, "ipv6.dst": t.down(2)}) and the ``dont_care``
    field globs ignored. ``packet`` picks which sent packet (default: the last)."""
    pairs = tuple((name, canonical(name, value)) for name, value in (changes or {}).items())
    return ForwardedWith(pairs, what, port, tuple(dont_care), (), packet, hop_limit)


def advanced(*, port: str = "rx", packet: int = -1) -> Expectation:
    """An endpoint's work (draft-04 s4.3, RFC 8754 s4.3.1.1): SL-1, DA = Segment List[SL],
    Hop Limit-1, nothing else changed."""
    return ForwardedAs(advance, "SL-1, DA = Segment List[SL], Hop Limit-1, rest unchanged",
                       port, index=packet)


def decapsulated(*, port: str = "rx", packet: int = -1) -> Expectation:
    """The inner packet of an encap-mode packet forwarded, inner Hop Limit-1."""
    return ForwardedAs(decap, "inner packet forwarded, inner Hop Limit-1", port, index=packet)


def dropped(*, silent: bool = False, packet: int = -1) -> Expectation:
    """Neither forwarded nor answered; ``silent=True`` also forbids an ICMPv6 error."""
    return Dropped(silent, packet)


def icmp_error(type: int, code: int, pointer: int | None = None, *,  # noqa: A002
               packet: int = -1) -> Expectation:
    """An ICMPv6 error of this type/code (and Parameter Problem pointer) comes back."""
    return IcmpErr(type, code, pointer, packet)


def param_problem(code: int, pointer: int | None = None, *, packet: int = -1) -> Expectation:
    return IcmpErr(ICMP_PARAM_PROBLEM, code, pointer, packet)


def time_exceeded(*, packet: int = -1) -> Expectation:
    return IcmpErr(ICMP_TIME_EXCEEDED, 0, None, packet)


def answered(*, packet: int = -1) -> Expectation:
    """Delivered locally and answered with an Echo Reply carrying the tag."""
    return Answered(packet)


def any_of(*options: Expectation) -> Expectation:
    """Any one of these outcomes passes (the spec leaves a choice)."""
    return AnyOf(tuple(options))


# ---------------------------------------------------------------------------------------------
# Declaring a case


@dataclass(frozen=True, slots=True)
class Declared:
    """A ``@case`` as found in a file, or the error that kept it out."""

    case: Case | None
    error: CaseError | None = None


#: Where ``@case`` puts what it declares while the loader runs a file (None: not loading).
_collecting: list[Declared] | None = None


def case(id: str, *, rule: str, summary: str,  # noqa: A002
         levels: str | Mapping[str, str] = MUST, needs: Iterable[str] = ("srv6",),
         ref: str = "") -> Callable[[CaseFn], CaseFn]:
    """Declare the decorated function a conformance case.

    ``levels``: a level for draft-04 and rfc8754 alike ("MUST", "SHOULD", "unspecified"),
    or a mapping profile -> level ({"rfc8986": "MUST"}). ``needs``: DUT capabilities
    (``srinspect conformance list`` shows the names). A bad declaration is reported with
    this line and the rest of the file still loads.
    """
    where = _caller()

    def register(fn: CaseFn) -> CaseFn:
        try:
            declared = Declared(_make_case(fn, id, rule, summary, levels, needs, ref, where))
        except (ValueError, TypeError) as exc:
            declared = Declared(None, CaseError(where, str(exc)))
        if _collecting is not None:
            _collecting.append(declared)
        return fn

    return register


def _caller() -> str:
    frame = inspect.stack()[2]
    return f"{frame.filename}:{frame.lineno}"


def _make_case(fn: CaseFn, id: str, rule: str, summary: str,  # noqa: A002
               levels: str | Mapping[str, str], needs: Iterable[str], ref: str,
               where: str) -> Case:
    from .dut.base import CAPABILITIES

    if not isinstance(id, str) or not id or any(c.isspace() for c in id):
        raise ValueError(f"case id {id!r}: a non-empty word is needed")
    if not callable(fn):
        raise TypeError("@case decorates a function taking the target")
    needed = frozenset(needs)
    unknown = sorted(n for n in needed if n not in CAPABILITIES)
    if unknown:
        raise ValueError(f"case {id}: unknown capability {', '.join(unknown)} "
                         f"(known: {', '.join(CAPABILITIES)})")
    return Case(id, rule, _levels(id, levels), summary, _builder(fn, where),
                _expecter(fn, where), needed, ref, source=where)


def _levels(case_id: str, levels: str | Mapping[str, str]) -> dict[Profile, Level]:
    pairs = ({"draft-04": levels, "rfc8754": levels} if isinstance(levels, str)
             else dict(levels))
    try:
        return {Profile(p): Level(lv) for p, lv in pairs.items()}
    except ValueError as exc:
        raise ValueError(f"case {case_id}: {exc} (profiles: "
                         f"{', '.join(map(str, Profile))}; levels: "
                         f"{', '.join(map(str, Level))})") from None


def _call(fn: CaseFn, ctx: Ctx, where: str) -> Result:
    """Run the user's function; its own exceptions become a CaseError naming the line in
    the case file where they happened (LookupError passes: the topology lacks something,
    which the runner turns into SKIP)."""
    try:
        result = fn(Target(ctx))
    except LookupError:
        raise
    except Exception as exc:
        raise CaseError(_user_line(exc, where), f"{type(exc).__name__}: {exc}") from exc
    if not (isinstance(result, tuple) and len(result) == 2):
        raise CaseError(where, "a case returns (packets, expectation)")
    return result


def _user_line(exc: BaseException, where: str) -> str:
    """FILE:LINE of the deepest frame of the case file in ``exc``'s traceback."""
    path = where.rsplit(":", 1)[0]
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    return f"{path}:{frames[-1].lineno}" if frames else where


def _builder(fn: CaseFn, where: str) -> Callable[[Ctx], list[Send]]:
    def build(ctx: Ctx) -> list[Send]:
        packets, _ = _call(fn, ctx, where)
        items = packets if isinstance(packets, list) else [packets]
        if not items:
            raise CaseError(where, "the case sends no packet")
        sends = [Send(_raw(p, where)) for p in items]
        for n, send in enumerate(sends):
            if TAG_MAGIC not in send.data or FILLER not in send.data:
                raise CaseError(where, f"packet {n} carries no tag: put t.payload() (or "
                                "t.inner()/t.echo()) in every packet")
        return sends
    return build


def _raw(item: object, where: str) -> bytes:
    if isinstance(item, Packet):
        return bytes(item)
    if isinstance(item, bytes | bytearray):
        return bytes(item)
    raise CaseError(where, f"a packet is a scapy Packet or bytes, not {type(item).__name__}")


def _expecter(fn: CaseFn, where: str) -> Callable[[Ctx, list[Send]], Expectation]:
    def expect(ctx: Ctx, sent: list[Send]) -> Expectation:
        _, expectation = _call(fn, ctx, where)
        if not callable(getattr(expectation, "evaluate", None)):
            raise CaseError(where, "the second value a case returns is an expectation "
                            "(forwarded, dropped, icmp_error, answered, any_of...)")
        return expectation
    return expect


def source_file(case_: Case) -> Path | None:
    """The case file a user case came from (None for the built-in catalogue)."""
    return Path(case_.source.rsplit(":", 1)[0]) if case_.source else None
