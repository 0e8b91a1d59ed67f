"""Memoised verdicts: what the validator said about a header chain, reused for its repeats.

Every packet of one flow at one capture point carries the same header bytes, so the
validator's verdict on them (findings and HMAC results, keys included) is a pure function
of those bytes, once it is known that nothing else can change it:

- the whole extension-header chain lies within both the captured bytes and the Payload
  Length (a non-zero one), so neither ``srh.truncated`` nor ``capture.snaplen`` can fire,
  whatever the payload length, the snaplen or the frame's original length;
- the chain is made of headers the walk steps over by their length (Hop-by-Hop, Routing,
  Destination Options, Mobility, HIP, Shim6; no Fragment or AH header, whose later
  fragments end the walk early) and holds at least one SRH;
- what follows the chain cannot carry another SRH (no IPv6 with more headers behind it,
  plain or in an Ethernet frame), so the validator reads nothing past the chain.

Then the verdict depends on: the IPv6 header's offset in the frame (findings carry absolute
offsets, in their messages too), its Next Header, source and destination, the chain bytes,
and the inspector's profile, key set and C-SID formats (fixed for an engine, which owns
one cache). ``verdict_key`` returns exactly those bytes; hop limit, traffic class, flow
label, Payload Length and everything after the chain are left out, so a flow's packets
share one entry. The frame number is the one thing a verdict holds that differs per
packet: findings are stored without it and rebuilt with it on every hit.

The compiled pre-filter (_skim.c, ``cache_key``) builds the same key from the same bytes
and looks it up in the same dict, so a repeated packet of any shape is consumed in C;
tests/unit/test_verdicts.py holds the two keys and the reports with the cache on, off and
in pure Python together.

Bounded: once the entries' estimated size would pass ``max_bytes`` (8 MiB by default, some
25,000 typical entries), ``VerdictCache`` empties its table and starts again. Not LRU or
FIFO: a lookup from C cannot reorder the table without a method call per hit, and an
ordered table costs every first-seen packet a second structure to maintain; a capture of
fewer flows than the table holds never empties it, and one of more (every packet new) gains
nothing from any policy. After an emptying, each active flow costs one validator run to come
back. Admission (``WINDOW``, ``BYPASS``): where nearly every packet is new, the cache stops
storing for a while, so a capture without repeats does not pay its upkeep.
"""

from __future__ import annotations

import os

from ._fastpath import inner_more_headers
from .findings import Finding, HmacCheck, new_finding
from .ipv6 import (
    CHAIN_HEADERS,
    GENERIC_EXT,
    IPV6_HEADER,
    MAX_CHAIN,
    NEXT_HEADER_AT,
    NH_ROUTING,
    PAYLOAD_LENGTH_AT,
    SOURCE_AT,
)
from .rules import Severity
from .srh import ROUTING_TYPE_SRH, SRH_FIELDS

#: The environment variable that turns the cache off (``0``): for comparisons only, the
#: reports are the same either way.
CACHE_ENV = "SRINSPECT_VERDICT_CACHE"
#: Longest key cached (the IPv6 offset, Next Header, addresses and chain): longer chains
#: are rare and would crowd out the common ones.
MAX_KEY = 1024
#: The key holds the IPv6 header's offset in two bytes: a header further into the frame is
#: not cached.
MAX_KEY_OFFSET = 0xFFFF
#: Default bound on the entries' estimated size.
MAX_BYTES = 8 << 20
#: Admission: when nine in ten of the SRH packets seen while ``WINDOW`` new keys came in were
#: new (a capture in which no packet repeats another's headers), storing them is upkeep for
#: nothing, so the cache stores nothing for the next ``BYPASS`` SRH packets, then looks
#: again. A wrong guess (many flows all starting at once) costs at most ``BYPASS`` packets
#: a trip through the validator; a right one saves 8 in 9 of the upkeep.
WINDOW = 8192
BYPASS = 8 * WINDOW
#: What one entry costs besides its key bytes and findings' text: the table's slot and
#: links, the key object's header, the verdict object (an estimate for CPython 3.11).
ENTRY_OVERHEAD = 160

_TYPE_AT = SRH_FIELDS["routing_type"][0]


def verdict_walk(data: bytes, off: int) -> tuple[int, int, int] | None:
    """(upper-layer offset, upper protocol, usable end) of the IPv6 packet at ``off`` when it
    meets the conditions above, else None. ``off`` + ``IPV6_HEADER`` must be within
    ``data`` (``Inspector.locate`` guarantees it)."""
    at = off + PAYLOAD_LENGTH_AT
    plen = data[at] << 8 | data[at + 1]
    if plen == 0 or off > MAX_KEY_OFFSET:
        return None
    limit = off + IPV6_HEADER + plen
    if limit > len(data):
        limit = len(data)
    nh = data[off + NEXT_HEADER_AT]
    pos = off + IPV6_HEADER
    srh = False
    for _ in range(MAX_CHAIN):
        if nh not in GENERIC_EXT:
            break
        if pos + 2 > limit:
            return None
        end = pos + ((data[pos + 1] + 1) << 3)
        if end > limit:
            return None
        if nh == NH_ROUTING and data[pos + _TYPE_AT] == ROUTING_TYPE_SRH:
            srh = True
        nh = data[pos]
        pos = end
    else:
        return None
    if not srh or nh in CHAIN_HEADERS or pos - off > MAX_KEY or inner_more_headers(
            data, nh, pos, limit):
        return None
    return pos, nh, limit


def key_at(data: bytes, off: int, upper: int) -> bytes:
    """The key of the packet at ``off`` whose chain ``verdict_walk`` walked to ``upper``."""
    return bytes((off >> 8, off & 0xFF, data[off + NEXT_HEADER_AT])) + data[off + SOURCE_AT
                                                                             : upper]


def verdict_key(data: bytes, off: int) -> bytes | None:
    """The bytes the verdict on the IPv6 packet at ``off`` depends on, or None when the
    packet does not meet the conditions above (then it is not cached)."""
    walked = verdict_walk(data, off)
    return None if walked is None else key_at(data, off, walked[0])


#: A finding without its frame number: rule, severity, offset, length, message, ref,
#: field, SRH offset.
FindingTemplate = tuple[str, Severity, int, int, str, str, str, int]


class Verdict:
    """What the validator recorded of a packet that has findings: its findings and HMAC
    results (frozen objects). A hit rebuilds the findings with its own frame number, from
    rows made on the first hit: a verdict whose flow never repeats costs no more than
    keeping the objects."""

    __slots__ = ("findings", "hmacs", "size", "_rows")

    def __init__(self, findings: list[Finding], hmacs: list[HmacCheck]) -> None:
        self.findings = tuple(findings)
        self.hmacs = tuple(hmacs)
        self.size = FINDING_SIZE * len(self.findings) + HMAC_SIZE * len(self.hmacs)
        self._rows: tuple[FindingTemplate, ...] | None = None

    def add_to(self, findings: list[Finding], hmacs: list[HmacCheck], frame: int) -> None:
        """Append this verdict's findings, numbered ``frame``, and HMAC results."""
        rows = self._rows
        if rows is None:
            rows = self._rows = tuple([(f.rule, f.severity, f.offset, f.length, f.message,
                                        f.ref, f.field, f.srh) for f in self.findings])
        for rule, severity, offset, length, message, ref, fld, srh in rows:
            findings.append(new_finding(rule, severity, frame, offset, length, message, ref,
                                        fld, srh))
        hmacs.extend(self.hmacs)


#: A cached verdict: None (nothing to record: the common case), the HMAC results of a
#: packet without findings (a tuple: every packet of an HMAC flow), or a ``Verdict``.
Cached = Verdict | tuple[HmacCheck, ...] | None
#: What one HMAC result adds to an entry (the frozen object and its slot).
HMAC_SIZE = 64
#: What one finding adds to an entry: the frozen object, its message, its row once hit.
FINDING_SIZE = 400

#: ``VerdictCache.get``'s "not cached".
MISS = object()


class VerdictCache:
    """Cached verdicts by ``verdict_key``. ``table`` is the dict the compiled pre-filter
    looks keys up in directly (which is why the three kinds of value are plain types)."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.table: dict[bytes, Cached] = {}
        self.max_bytes = MAX_BYTES if max_bytes is None else max_bytes
        self.size = 0
        self.inserted = 0
        self.evicted = 0
        self.bypasses = 0  # times admission stopped storing
        self._window_puts = 0
        self._window_start = 0
        self._resume_at = 0

    def get(self, key: bytes) -> object:
        """The cached verdict for ``key``, or ``MISS``."""
        return self.table.get(key, MISS)

    def _admit(self, srh_packets: int) -> bool:
        """Whether to store a new key's verdict, ``srh_packets`` being the SRH packets seen
        so far (the clock of the admission rule above)."""
        if srh_packets < self._resume_at:
            return False
        self._window_puts += 1
        if self._window_puts >= WINDOW:
            seen = srh_packets - self._window_start
            if self._window_puts * 10 >= seen * 9:
                self._resume_at = srh_packets + BYPASS
                self.bypasses += 1
            self._window_puts = 0
            self._window_start = srh_packets
        return True

    def put(self, key: bytes, findings: list[Finding], hmacs: list[HmacCheck],
            srh_packets: int = 0) -> None:
        """Remember what the validator gave for ``key`` (``srh_packets``: the admission
        rule's clock). Past the bound the table is emptied and starts again (see the module
        docstring)."""
        if key in self.table or not self._admit(srh_packets):  # in: repeats in one C run
            return
        if findings:
            verdict = Verdict(findings, hmacs)
            self._store(key, verdict, verdict.size)
        elif hmacs:
            self._store(key, tuple(hmacs), HMAC_SIZE * len(hmacs))
        else:
            self._store(key, None, 0)

    def put_hmac(self, key: bytes, check: HmacCheck, srh_packets: int = 0) -> None:
        """``put`` for a packet whose verdict is one HMAC result and no finding: the engine's
        HMAC candidates, one per first-seen packet of an HMAC flow."""
        if key in self.table or not self._admit(srh_packets):
            return
        self._store(key, (check,), HMAC_SIZE)

    def _store(self, key: bytes, value: Cached, size: int) -> None:
        """Add an entry of ``size`` bytes besides its key, emptying the table first when it
        would pass the bound."""
        cost = ENTRY_OVERHEAD + len(key) + size
        if cost > self.max_bytes:
            return
        total = self.size + cost
        if total > self.max_bytes:
            self.evicted += len(self.table)
            self.table.clear()
            total = cost
        self.table[key] = value
        self.size = total
        self.inserted += 1

    def __len__(self) -> int:
        return len(self.table)


def add_cached(value: Cached, findings: list[Finding], hmacs: list[HmacCheck],
               frame: int) -> None:
    """Append what a cached verdict records, its findings numbered ``frame``."""
    if value is None:
        return
    if value.__class__ is tuple:
        hmacs.extend(value)  # type: ignore[arg-type]
    else:
        value.add_to(findings, hmacs, frame)  # type: ignore[union-attr]


def cache_enabled() -> bool:
    """Whether audits memoise verdicts (``SRINSPECT_VERDICT_CACHE=0`` turns it off)."""
    return os.environ.get(CACHE_ENV, "1") != "0"

