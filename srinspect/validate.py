"""The packet rules of spec section 4, run over decoded SRHs.

Each ``check_*`` looks at one concern and reports through ``Checker.fire``, which builds a
Finding only when a rule fires (nothing is allocated for a clean header). Offsets point at the
field at fault so the hex view can highlight it.
"""

from __future__ import annotations

from functools import lru_cache

from . import csid as csidlib
from .csid import CsidFormats
from .findings import (
    HMAC_MALFORMED,
    HMAC_MISMATCH,
    HMAC_UNKNOWN_KEY,
    HMAC_VERIFIED,
    Finding,
    HmacCheck,
    new_finding,
    new_hmac_check,
)
from .ipv6 import NH_FRAGMENT, NH_ROUTING, ExtHeader, Ipv6
from .keys import Key, Keyring, compute_rfc8754, hmac_text_rfc8754, macs_equal, verify_draft04
from .rules import RULES, Profile, Severity
from .srh import (
    FLAG_H,
    FLAGS_UNUSED_DRAFT04,
    HMAC_TLV_SIZE_DRAFT04,
    TLV_EGRESS,
    TLV_HMAC,
    TLV_INGRESS,
    TLV_LENGTHS_DRAFT04,
    TLV_LENGTHS_RFC8754,
    TLV_PAD1,
    TLV_PADDING,
    Srh,
    Tlv,
)
from .wire import ip6

_ALLOWED_LENGTHS: dict[Profile, dict[int, frozenset[int]]] = {
    Profile.DRAFT04: TLV_LENGTHS_DRAFT04,
    Profile.RFC8754: TLV_LENGTHS_RFC8754,
}
_IPV4_MAPPED = bytes(10) + b"\xff\xff"


#: Severity and spec reference of every rule under every profile, looked up per finding.
_RULE_INFO: dict[Profile, dict[str, tuple[Severity, str]]] = {
    profile: {rule.id: (rule.severity, rule.ref(profile)) for rule in RULES.values()}
    for profile in Profile}


class Checker:
    """Collects the findings and HMAC results of one frame (``frame``: its number). The
    audit engine also reuses one for a run of HMAC packets it verifies together, moving
    ``frame`` along, so the results come out in frame order without an object per packet."""

    __slots__ = ("frame", "profile", "keyring", "findings", "hmacs", "csid")

    def __init__(self, frame: int, profile: Profile, keyring: Keyring | None,
                 csid: CsidFormats | None = None) -> None:
        self.frame = frame
        self.profile = profile
        self.keyring = keyring
        self.csid = csid if csid else None  # the C-SID rules run only with formats given
        self.findings: list[Finding] = []
        self.hmacs: list[HmacCheck] = []

    def fire(self, rule_id: str, offset: int, length: int, message: str, field: str,
             srh: Srh | None = None) -> None:
        self.fire_at(rule_id, offset, length, message, field,
                     srh.offset if srh is not None else -1)

    def fire_at(self, rule_id: str, offset: int, length: int, message: str, field: str,
                srh: int) -> None:
        """``fire`` for a caller that knows only the SRH's offset (``srh``, -1: none)."""
        severity, ref = _RULE_INFO[self.profile][rule_id]
        self.findings.append(new_finding(rule_id, severity, self.frame, offset, length,
                                         message, ref, field, srh))

    def key(self, key_id: int) -> Key | None:
        """The configured HMAC key with this id, or None."""
        return self.keyring.get(key_id) if self.keyring is not None else None

    def check_ipv6(self, buf: bytes, ip: Ipv6, snaplen_cut: bool) -> None:
        """Every SRH in the chain of ``ip`` (duplicates included), then the header order."""
        check_order(self, ip)
        if self.csid is not None and ip.srhs:
            check_csid(self, ip)
        for index, srh in enumerate(ip.srhs):
            if index:
                self.fire("srh.duplicate", srh.offset + 2, 1,  # its Routing Type byte
                          f"SRH #{index + 1} in one header chain (first at offset "
                          f"{ip.srhs[0].offset})", "routing_type", srh)
            check_srh(self, buf, ip, srh, snaplen_cut)


def check_order(c: Checker, ip: Ipv6) -> None:
    """srh.order.fragment and srh.order.routing (RFC 8200 s4.1): where the SRH sits in the
    chain. Transit nodes only see the unfragmentable part (s4.5), so an SRH behind a Fragment
    header is out of their reach; and a chain holds at most one Routing header (two SRHs are
    srh.duplicate's, so only a Routing header of another type counts here)."""
    srhs = {s.offset: s for s in ip.srhs}
    fragment = None
    routing = None
    for ext in ip.chain:
        if ext.kind == NH_FRAGMENT and fragment is None:
            fragment = ext
        if ext.kind != NH_ROUTING:
            continue
        srh = srhs.get(ext.offset)
        if srh is not None and fragment is not None:
            c.fire("srh.order.fragment", srh.offset, 1,
                   f"SRH at offset {srh.offset} follows the Fragment header at offset "
                   f"{fragment.offset}: it must come before it", "srh", srh)
        if routing is not None and (srh is not None) != (routing.offset in srhs):
            other = srh if srh is not None else srhs.get(routing.offset)
            c.fire("srh.order.routing", ext.offset + 2, 1,
                   f"Routing header (type {_rtype(ext)}) at offset {ext.offset} after the "
                   f"Routing header (type {_rtype(routing)}) at offset {routing.offset}",
                   "routing_type" if srh is not None else "", other)
        routing = routing or ext


def _rtype(ext: ExtHeader) -> str:
    return "?" if ext.routing_type is None else str(ext.routing_type)


def check_srh(c: Checker, buf: bytes, ip: Ipv6, srh: Srh, snaplen_cut: bool) -> None:
    """All section 4 rules for one SRH, in wire order of the fields they concern."""
    if not check_truncated(c, ip, srh, snaplen_cut):
        return
    list_fits = check_hdrlen(c, srh)
    in_range = check_segleft(c, srh)
    if in_range:
        check_da(c, ip, srh)
    check_flags(c, srh)
    check_segments(c, srh)
    if list_fits:
        check_tlvs(c, buf, ip, srh)


def check_truncated(c: Checker, ip: Ipv6, srh: Srh, snaplen_cut: bool) -> bool:
    """srh.truncated / capture.snaplen. Returns False when the checks must stop here."""
    end = srh.offset + srh.length
    if end <= ip.limit and srh.offset + 8 <= ip.limit:
        return True
    if end > ip.payload_end and ip.payload_end <= ip.captured_end:
        c.fire("srh.truncated", srh.offset + 1, 1,
               f"SRH of {srh.length} bytes (Hdr Ext Len {srh.hdr_ext_len}) runs "
               f"{end - ip.payload_end} bytes past the IPv6 payload length "
               f"({ip.payload_length})", "hdr_ext_len", srh)
        return srh.offset + 8 <= ip.limit
    if snaplen_cut:
        c.fire("capture.snaplen", srh.offset, max(ip.captured_end - srh.offset, 0),
               f"the capture kept {ip.captured_end - srh.offset} of the SRH's {srh.length} "
               "bytes (snaplen); its checks stop here", "", srh)
        return False
    c.fire("srh.truncated", srh.offset + 1, 1,
           f"SRH of {srh.length} bytes runs {end - ip.captured_end} bytes past the end of the "
           "frame", "hdr_ext_len", srh)
    return srh.offset + 8 <= ip.limit


def check_hdrlen(c: Checker, srh: Srh) -> bool:
    """srh.hdrlen.short: the list of FS+1 segments must fit in (HEL+1)*8 bytes."""
    need = 8 + 16 * (srh.first_segment + 1)
    if srh.length >= need:
        return True
    c.fire("srh.hdrlen.short", srh.offset + 1, 1,
           f"Hdr Ext Len {srh.hdr_ext_len} gives {srh.length} bytes but First Segment "
           f"{srh.first_segment} needs {need}", "hdr_ext_len", srh)
    return False


def check_segleft(c: Checker, srh: Srh) -> bool:
    """srh.segleft.range. Returns True when SL indexes an entry of the list.

    SL == LE+1 is a reduced SRH (RFC 8754 s4.1.1, RFC 8986 s5.2 H.Encaps.Red): the first
    segment is only in the DA, so there is nothing to compare it with. draft-04 predates
    reduced SRHs, but the draft-04 profile is what Linux implements, and Linux makes exactly
    these (seg6 ``mode encap.red``: LE = n-2, SL = n-1) and its seg6local endpoints accept
    them; calling them errors would flag every kernel-made reduced packet."""
    fs, sl = srh.first_segment, srh.segments_left
    if sl > fs + 1:
        name = "Last Entry" if c.profile is Profile.RFC8754 else "First Segment"
        c.fire("srh.segleft.range", srh.offset + 3, 1,
               f"Segments Left {sl} > {name} {fs} + 1", "segments_left", srh)
    return sl <= fs


def check_da(c: Checker, ip: Ipv6, srh: Srh) -> None:
    """srh.da.mismatch: the DA must be the active segment (reduced SRHs never get here)."""
    sl = srh.segments_left
    if sl >= len(srh.segments) or ip.dst == srh.segments[sl]:
        return
    active = srh.segments[sl]
    fmt = c.csid.find(active) if c.csid is not None else None
    if fmt is not None and csidlib.shifts_from(active, ip.dst, fmt) is not None:
        return  # a NEXT-C-SID container part-way through its C-SIDs (RFC 9800 s4.1.1)
    shifted = f" nor a C-SID shift of it ({fmt})" if fmt is not None else ""
    c.fire("srh.da.mismatch", ip.offset + 24, 16,
           f"DA {ip6(ip.dst)} is not Segment List[{sl}] {ip6(active)}{shifted}", "dst", srh)


def check_csid(c: Checker, ip: Ipv6) -> None:
    """csid.container.empty / csid.container.gap on the DA and on every SRH entry that lies
    in a configured C-SID block (an entry equal to the DA is checked once, as the DA). Run
    on a header that has an SRH, or (by the inspector) on an SRv6 packet without one; an
    inner packet's plain DA is no SID, so it is not judged."""
    _check_container(c, ip.dst, ip.offset + 24, "dst", None)
    for srh in ip.srhs:
        for index, seg in enumerate(srh.segments):
            if seg != ip.dst:
                _check_container(c, seg, srh.segment_offset(index), f"segments[{index}]", srh)


def _check_container(c: Checker, addr: bytes, offset: int, field: str, srh: Srh | None) -> None:
    fmt = c.csid.find(addr) if c.csid is not None else None
    if fmt is None:
        return
    where = "DA" if srh is None else field.replace("segments", "Segment List")
    values = csidlib.csids(addr, fmt)
    if values and values[0] == 0:
        c.fire("csid.container.empty", offset, 16,
               f"{where} {ip6(addr)} is in C-SID block {fmt} but its first C-SID is 0 "
               "(End-of-Carrier): it names no node", field, srh)
        return
    slot = csidlib.gap(addr, fmt)
    if slot is not None:
        what = "tail bits" if slot >= len(values) else f"C-SID #{slot + 1}"
        c.fire("csid.container.gap", offset, 16,
               f"{where} {ip6(addr)} ({fmt}): {what} follows an End-of-Carrier or is not a "
               "whole C-SID: never reached", field, srh)


def check_flags(c: Checker, srh: Srh) -> None:
    """srh.flags.unused and (draft-04) srh.reserved.nonzero."""
    unused = srh.flags & (FLAGS_UNUSED_DRAFT04 if c.profile is Profile.DRAFT04 else 0xFF)
    if unused:
        c.fire("srh.flags.unused", srh.offset + 5, 1,
               f"unused flag bits 0x{unused:02x} set (flags 0x{srh.flags:02x})", "flags", srh)
    if c.profile is Profile.DRAFT04 and srh.reserved:
        c.fire("srh.reserved.nonzero", srh.offset + 6, 2,
               f"Reserved is 0x{srh.reserved:04x}, not 0", "reserved", srh)


def check_segments(c: Checker, srh: Srh) -> None:
    """srh.segment.invalid: addresses that can never be a segment."""
    for index, seg in enumerate(srh.segments):
        reason = _invalid_segment(seg)
        if reason:
            c.fire("srh.segment.invalid", srh.segment_offset(index), 16,
                   f"Segment List[{index}] {ip6(seg)} is {reason}", f"segments[{index}]", srh)


def _invalid_segment(seg: bytes) -> str:
    if seg[0] == 0xFF:
        return "multicast"
    if seg[:15] == bytes(15):
        if seg[15] == 0:
            return "unspecified"
        if seg[15] == 1:
            return "loopback"
    if seg[:12] == _IPV4_MAPPED:
        return "IPv4-mapped"
    return ""


def check_tlvs(c: Checker, buf: bytes, ip: Ipv6, srh: Srh) -> None:
    """TLV layout and content rules, then the draft-04 HMAC placement rules."""
    tlvs = srh.tlvs
    for index, tlv in enumerate(tlvs):
        name = f"tlvs[{index}]"
        if not tlv.complete:
            if srh.end <= srh.limit:  # else the cut is srh.truncated's, already reported
                _fire_overrun(c, srh, tlv, name)
            continue
        if not _check_tlv_length(c, srh, tlv, name):
            continue
        if tlv.type == TLV_PADDING or (tlv.type == TLV_PAD1 and tlv.length is None):
            continue
        if c.profile is Profile.DRAFT04 and tlv.type in (TLV_INGRESS, TLV_EGRESS):
            _check_node_tlv(c, ip, srh, tlv, name)
        elif tlv.type == TLV_HMAC:
            check_hmac(c, ip, srh, tlv, name)
    check_padding(c, srh)
    if c.profile is Profile.DRAFT04:
        check_hmac_placement(c, srh)


def _fire_overrun(c: Checker, srh: Srh, tlv: Tlv, name: str) -> None:
    end = min(srh.end, srh.limit)
    if tlv.length is None:
        msg = f"lone byte 0x{tlv.type:02x} at the end of the SRH: no room for a TLV Length"
        c.fire("srh.tlv.overrun", tlv.offset, 1, msg, name, srh)
        return
    msg = (f"TLV type {tlv.type} Length {tlv.length} runs {tlv.offset + 2 + tlv.length - end} "
           f"bytes past the end of the SRH")
    c.fire("srh.tlv.overrun", tlv.offset + 1, 1, msg, name, srh)


def _check_tlv_length(c: Checker, srh: Srh, tlv: Tlv, name: str) -> bool:
    """srh.tlv.length for known types, srh.tlv.unknown otherwise. False: skip the content."""
    if tlv.length is None:
        return True  # Pad1
    allowed = _ALLOWED_LENGTHS[c.profile].get(tlv.type)
    if allowed is None:
        c.fire("srh.tlv.unknown", tlv.offset, tlv.size,
               f"TLV type {tlv.type} (Length {tlv.length}) is not defined by {c.profile}",
               name, srh)
        return False
    if tlv.length not in allowed:
        c.fire("srh.tlv.length", tlv.offset + 1, 1,
               f"TLV type {tlv.type} has Length {tlv.length}; {c.profile} allows "
               f"{_describe(allowed)}", name, srh)
        return False
    return True


def _describe(allowed: frozenset[int]) -> str:
    values = sorted(allowed)
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    return ", ".join(map(str, values))


def _check_node_tlv(c: Checker, ip: Ipv6, srh: Srh, tlv: Tlv, name: str) -> None:
    """draft-04 Ingress Node must be the source; Egress Node must be Segment List[0]."""
    addr = tlv.node_address()
    if addr is None:
        return
    if tlv.type == TLV_INGRESS and addr != ip.src:
        c.fire("srh.tlv.ingress.mismatch", tlv.value_offset + 2, 16,
               f"Ingress Node {ip6(addr)} is not the source {ip6(ip.src)}", name, srh)
    elif tlv.type == TLV_EGRESS and srh.segments and addr != srh.segments[0]:
        c.fire("srh.tlv.egress.mismatch", tlv.value_offset + 2, 16,
               f"Egress Node {ip6(addr)} is not Segment List[0] {ip6(srh.segments[0])}",
               name, srh)


def check_padding(c: Checker, srh: Srh) -> None:
    """srh.tlv.padding: zero bytes; draft-04 once and last (or last before HMAC);
    RFC 8754 no consecutive Pad1s."""
    tlvs = srh.tlvs
    pads = [i for i, t in enumerate(tlvs) if t.complete and t.type == TLV_PADDING
            and t.length is not None]
    for i in pads:
        tlv = tlvs[i]
        if any(tlv.value):
            c.fire("srh.tlv.padding", tlv.value_offset, len(tlv.value),
                   "padding bytes are not zero", f"tlvs[{i}]", srh)
    if c.profile is Profile.RFC8754:
        for i in range(1, len(tlvs)):
            if tlvs[i].length is None and tlvs[i - 1].length is None and \
                    tlvs[i].type == TLV_PAD1 == tlvs[i - 1].type and tlvs[i].complete:
                c.fire("srh.tlv.padding", tlvs[i].offset, 1,
                       "consecutive Pad1 TLVs: two or more bytes of padding need PadN",
                       f"tlvs[{i}]", srh)
        return
    if len(pads) > 1:
        for i in pads[1:]:
            c.fire("srh.tlv.padding", tlvs[i].offset, tlvs[i].size,
                   "Padding TLV repeated (draft-04 allows one)", f"tlvs[{i}]", srh)
    if pads:
        i = pads[0]
        after = [t.type for t in tlvs[i + 1:]]
        if after and after != [TLV_HMAC]:
            c.fire("srh.tlv.padding", tlvs[i].offset, tlvs[i].size,
                   "Padding TLV is not the last TLV (or the last before the HMAC TLV)",
                   f"tlvs[{i}]", srh)


def check_hmac_placement(c: Checker, srh: Srh) -> None:
    """draft-04 s3.1.5: the HMAC TLV is last (the final 40 bytes) and the H flag marks it."""
    tlvs = srh.tlvs
    hmac_idx = [i for i, t in enumerate(tlvs) if t.type == TLV_HMAC]
    last = tlvs[-1] if tlvs else None
    last_is_hmac = (last is not None and last.type == TLV_HMAC and last.complete
                    and last.length == HMAC_TLV_SIZE_DRAFT04 - 2
                    and last.offset == srh.end - HMAC_TLV_SIZE_DRAFT04)
    # A cut SRH (srh.truncated, already reported) may hold its HMAC TLV in the missing bytes.
    if srh.flags & FLAG_H and not last_is_hmac and srh.end <= srh.limit:
        c.fire("srh.hmac.missing", srh.offset + 5, 1,
               "H flag set but the last 40 bytes of the SRH are not an HMAC TLV", "flags", srh)
    if hmac_idx and not srh.flags & FLAG_H:
        tlv = tlvs[hmac_idx[0]]
        c.fire("srh.hmac.unflagged", srh.offset + 5, 1,
               f"HMAC TLV at offset {tlv.offset} but the H flag is clear", "flags", srh)
    for i in hmac_idx:
        if i != len(tlvs) - 1:
            c.fire("srh.hmac.position", tlvs[i].offset, tlvs[i].size,
                   f"HMAC TLV is TLV #{i + 1} of {len(tlvs)}, not the last", f"tlvs[{i}]", srh)


def check_hmac(c: Checker, ip: Ipv6, srh: Srh, tlv: Tlv, name: str) -> None:
    """srh.hmac.mismatch / srh.hmac.unknown-key (spec section 3, per profile)."""
    fields = tlv.hmac_fields()
    if fields is None:
        c.hmacs.append(HmacCheck(srh.offset, tlv.offset, -1, HMAC_MALFORMED))
        return
    d_bit, reserved, key_id, mac = fields
    key = c.key(key_id)
    why = None if key is None else _verify(c.profile, ip, srh, key, d_bit, reserved, key_id,
                                           mac)
    judge_hmac(c, srh.offset, tlv.offset, key_id, len(mac), key, why, name)


def judge_hmac(c: Checker, srh: int, tlv: int, key_id: int, mac_length: int, key: Key | None,
               why: str | None, field: str) -> None:
    """The HMAC result of the TLV at offset ``tlv`` (SRH at ``srh``) and, unless it verified,
    its finding. The one place both are decided: the validator comes here for every HMAC
    TLV it decodes, the audit engine for the simple HMAC packets it verifies straight from
    their bytes, so the two cannot disagree.

    ``key``: the configured key of ``key_id`` (None: unknown, nothing verified); ``why``:
    None when the MAC verified with it, else what is wrong ("" for a MAC that differs)."""
    if key is None:
        c.hmacs.append(new_hmac_check(srh, tlv, key_id, HMAC_UNKNOWN_KEY))
        c.fire_at("srh.hmac.unknown-key", tlv + 4, 4, _unknown_key_message(key_id), field,
                  srh)
    elif why is None:
        c.hmacs.append(new_hmac_check(srh, tlv, key_id, HMAC_VERIFIED))
    else:
        c.hmacs.append(new_hmac_check(srh, tlv, key_id, HMAC_MISMATCH))
        c.fire_at("srh.hmac.mismatch", tlv + 8, mac_length,
                  f"HMAC (key id {key_id}, {key.algo}) does not verify{why}", field, srh)


@lru_cache(maxsize=1024)
def _unknown_key_message(key_id: int) -> str:
    """The same few key ids repeat across a capture; the cache is bounded against crafted
    captures that use a new one in every packet."""
    return f"HMAC key id {key_id} has no configured key: not verified"


def _verify(profile: Profile, ip: Ipv6, srh: Srh, key: Key, d_bit: int, reserved: int,
            key_id: int, mac: bytes) -> str | None:
    """None when ``mac`` verifies, else why not (``judge_hmac``'s ``why``)."""
    segments = srh.segments
    if profile is Profile.DRAFT04:
        ok = verify_draft04(key, ip.src, srh.first_segment, srh.flags, key_id, segments, mac)
        return None if ok else ""
    sl, le = srh.segments_left, srh.last_entry
    if d_bit and sl > le:
        pass  # DA verification disabled for a reduced list (RFC 8754 s2.1.2.1)
    elif sl > le or sl >= len(segments) or ip.dst != segments[sl]:
        return ": the DA is not Segment List[SL] (RFC 8754 s2.1.2.1)"
    text = hmac_text_rfc8754(ip.src, le, srh.flags, (d_bit << 15) | reserved, key_id, segments)
    return None if macs_equal(compute_rfc8754(key, text), mac) else ""
