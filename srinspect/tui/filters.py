"""The `/` filter: one small language for flows, packets and findings.

Why one language: a person watching a link thinks "show me what goes through fc00:2::1" or
"show me the HMAC mismatches", not "filter the packet list by column X". So a filter is a
list of words, all of which must match (AND); a word matches when it is a substring of any
address of the flow (outer source, final destination, inner addresses, any segment), of a
rule id, of an HMAC status or of the protocol name. Prefixes narrow a word to one kind:

    src:ADDR   outer or inner source        dst:ADDR   final or inner destination
    seg:ADDR   any segment of the list      rule:ID    a rule that fired (srh.hmac...)
    hmac:S     HMAC status (verified, mismatch, unknown-key, malformed)
    flow:N     flow number N

Node names from ``--lab`` (A, B, ...) match exactly with ``src:``, ``dst:`` and ``seg:``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from srinspect.flows.events import PROTO_NAMES, FlowKey, addr_text
from srinspect.tui.engine import FindingRecord, FlowRow, PacketRecord

PREFIXES = ("src", "dst", "seg", "rule", "hmac", "flow")


@dataclass(frozen=True, slots=True)
class Term:
    kind: str  # "" for any
    text: str


@dataclass(frozen=True, slots=True)
class Subject:
    """What a filter looks at, for a flow or a packet."""

    key: FlowKey
    segments: tuple[bytes, ...]
    rules: Iterable[str]
    hmac: Iterable[str]
    flow_id: int


class Filter:
    """A parsed filter; ``Filter("")`` matches everything."""

    def __init__(self, text: str = "", names: Mapping[bytes, str] | None = None) -> None:
        self.text = text.strip()
        self.names = names or {}
        self.terms: list[Term] = []
        for word in self.text.split():
            kind, sep, rest = word.partition(":")
            if sep and kind.lower() in PREFIXES and rest:
                self.terms.append(Term(kind.lower(), rest.lower()))
            else:
                self.terms.append(Term("", word.lower()))
        self._addr_cache: dict[bytes, str] = {}
        self._node_names = {n.lower() for n in self.names.values()}

    def __bool__(self) -> bool:
        return bool(self.terms)

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"

    def _addr(self, raw: bytes) -> str:
        text = self._addr_cache.get(raw)
        if text is None:
            text = self._addr_cache[raw] = addr_text(raw).lower() if raw else ""
        return text

    def _addr_match(self, raws: Iterable[bytes], text: str) -> bool:
        if text in self._node_names:  # "C" is a node, not every address with a c in it
            return any(self.names.get(raw, "").lower() == text for raw in raws)
        for raw in raws:
            if not raw:
                continue
            if text in self._addr(raw):
                return True
        return False

    def match(self, s: Subject) -> bool:
        return all(self._term(t, s) for t in self.terms)

    def _term(self, t: Term, s: Subject) -> bool:
        src, final, isrc, idst, proto, _sp, _dp = s.key
        text = t.text
        if t.kind == "src":
            return self._addr_match((src, isrc), text)
        if t.kind == "dst":
            return self._addr_match((final, idst), text)
        if t.kind == "seg":
            return self._addr_match(s.segments, text)
        if t.kind == "rule":
            return any(text in r for r in s.rules)
        if t.kind == "hmac":
            return any(text in h for h in s.hmac)
        if t.kind == "flow":
            return text.lstrip("#") == str(s.flow_id)
        return (self._addr_match((src, final, isrc, idst, *s.segments), text)
                or any(text in r for r in s.rules) or any(text in h for h in s.hmac)
                or text == PROTO_NAMES.get(proto, ""))


def flow_subject(r: FlowRow) -> Subject:
    return Subject(r.key, r.segments, list(r.findings), list(r.hmac), r.id)


def finding_subject(r: FindingRecord) -> Subject:
    return Subject(r.key, r.segments, (r.finding.rule,), (), r.flow_id)


def rule_subject(rule: str) -> Subject:
    """A rule on its own (the Findings pane's counts per rule): only ``rule:`` and plain
    words can match it."""
    return Subject((b"", b"", b"", b"", -1, 0, 0), (), (rule,), (), -1)


def pair_match(f: Filter, a: bytes, b: bytes) -> bool:
    """Whether the segment pair ``a -> b`` matches: either end as the source, the other as
    the segment, so ``src:``, ``seg:`` and plain addresses all find it."""
    return f.match(Subject((a, b"", b"", b"", 0, 0, 0), (b,), (), (), -1)) or \
        f.match(Subject((b, b"", b"", b"", 0, 0, 0), (a,), (), (), -1))


def packet_match(f: Filter, flow_id: int | None) -> Callable[[PacketRecord], bool]:
    """The packets view's predicate: the chosen flow (None: any), then ``f``, memoised per
    flow and header: packets of one flow with the same header share the answer, so
    filtering 100k packets costs a few distinct evaluations."""
    memo: dict[tuple[int, int], bool] = {}

    def match(rec: PacketRecord) -> bool:
        if flow_id is not None and rec.flow_id != flow_id:
            return False
        if not f:
            return True
        key = (rec.flow_id, id(rec.info))
        hit = memo.get(key)
        if hit is None:
            info = rec.info
            hit = memo[key] = f.match(Subject(
                rec.key, info.segments, [x.rule for x in info.findings],
                [info.hmac] if info.hmac else [], rec.flow_id))
        return hit

    return match
