/*
 * srinspect._skim: the audit's compiled pre-filter over capture buffers.
 *
 * Why this exists: in CPython, reading one pcap record and rejecting a packet that carries
 * no SRH costs about 1.3 us, which caps a pure-Python audit near 400k packets/s. Most
 * packets in a real capture are exactly that (plain IPv4/IPv6), or a clean, simple SRv6
 * packet no rule can fire on. This module walks a buffer of whole capture records and
 * consumes those packets in C, counting them, and stops at the first record that needs
 * the Python decoder and validator (any SRv6 packet it cannot prove clean, any record it
 * is not sure about). Python stays the single authority on findings: when in doubt, stop.
 *
 * It is sans-I/O like the rest of the core: pure functions over a bytes-like buffer. Its
 * decisions mirror srinspect/linklayer.py, Inspector.feed, verdicts.verdict_key and
 * _fastpath.fast_srh_py exactly; tests/unit/test_skim.py holds the two together record by
 * record on real, crafted and randomly mutated captures.
 *
 * Every read is bounds-checked against the record's captured length, and the record
 * against the buffer; lengths come from untrusted files.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Every number shared with the Python side (link types and header offsets, Next Header
 * sets, SRH and HMAC layout, capture-format limits) comes from the Python tables, generated
 * into this header by srinspect/_gen/skim_consts.py (setup.py runs it before compiling). */
#include "_skim_consts.h"

#define NOT_IPV6 0    /* skipped: no IPv6 header (counted as a packet only) */
#define PLAIN_IPV6 1  /* skipped: IPv6 that cannot lead to an SRH */
#define CLEAN_SRH 2   /* skipped: a clean, simple SRv6 packet */
#define SLOW 3        /* stop: Python must look at this record */

static inline uint32_t rd32(const uint8_t *p, int big) {
    return big ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
               : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

static inline uint16_t rd16(const uint8_t *p, int big) {
    return big ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

/* linklayer.ethernet_payload: the payload offset of the Ethernet II frame d[0:n], past any
 * VLAN/QinQ tags, if it carries IPv6; else -1. */
static Py_ssize_t ethernet_ipv6(const uint8_t *d, Py_ssize_t n) {
    if (n < ETHERNET_HEADER) return -1;
    uint16_t et = rd16(d + ETHERTYPE_AT, 1);
    Py_ssize_t off = ETHERNET_HEADER;
    while (IS_VLAN_TPID(et)) {
        if (off + VLAN_TAG > n) return -1; /* Python: a short slice matches nothing */
        et = rd16(d + off + VLAN_TCI, 1);
        off += VLAN_TAG;
    }
    return et == ETHERTYPE_IPV6 ? off : -1;
}

/* A cooked header's protocol field at ``at`` says IPv6. */
static inline int protocol_ipv6(const uint8_t *d, Py_ssize_t n, Py_ssize_t at) {
    return n >= at + 2 && rd16(d + at, 1) == ETHERTYPE_IPV6;
}

/* linklayer.ipv6_offset_func: IPv6 header offset, -1 not IPv6, -2 link type unsupported. */
static Py_ssize_t ipv6_offset(int linktype, const uint8_t *d, Py_ssize_t n) {
    switch (linktype) {
    case LINKTYPE_ETHERNET:
        return ethernet_ipv6(d, n);
    case LINKTYPE_RAW:
        return (n >= 1 && d[0] >> 4 == IPV6_VERSION) ? 0 : -1;
    case LINKTYPE_IPV4:
        return -1;
    case LINKTYPE_IPV6:
        return 0;
    case LINKTYPE_LINUX_SLL:
        return protocol_ipv6(d, n, SLL_PROTOCOL_AT) ? SLL_HEADER : -1;
    case LINKTYPE_LINUX_SLL2:
        return (protocol_ipv6(d, n, SLL2_PROTOCOL_AT) && n >= SLL2_HEADER) ? SLL2_HEADER : -1;
    case LINKTYPE_NULL:
        if (n < FAMILY_HEADER) return -1;
        return (IS_AF_INET6(rd32(d, 0)) || IS_AF_INET6(rd32(d, 1))) ? FAMILY_HEADER : -1;
    case LINKTYPE_LOOP:
        if (n < FAMILY_HEADER) return -1;
        return IS_AF_INET6(rd32(d, 1)) ? FAMILY_HEADER : -1;
    default:
        return -2;
    }
}

/* _fastpath.simple_chain: the SRH offset of the IPv6 packet at ``off`` (its fixed header
 * inside d[0:n]) when its chain is options headers around exactly one SRH, every header
 * within the captured bytes and a non-zero Payload Length, with the upper-layer offset in
 * ``*upper``, its protocol in ``*nh`` and the usable end in ``*limit``; else -1. */
static Py_ssize_t simple_chain(const uint8_t *d, Py_ssize_t n, Py_ssize_t off, Py_ssize_t *upper,
                               uint8_t *nh, Py_ssize_t *limit) {
    Py_ssize_t plen = rd16(d + off + PAYLOAD_LENGTH_AT, 1);
    *limit = off + IPV6_HEADER + plen;
    if (*limit > n) *limit = n;
    if (plen == 0) return -1;
    Py_ssize_t pos = off + IPV6_HEADER, srh = -1;
    *nh = d[off + NEXT_HEADER_AT];
    int k;
    for (k = 0; k < MAX_CHAIN; k++) {
        if (*nh == NH_ROUTING) {
            if (srh >= 0 || pos + SRH_FIXED_SIZE > *limit ||
                d[pos + SRH_ROUTING_TYPE_AT] != ROUTING_TYPE_SRH)
                return -1;
            srh = pos;
        } else if (!IS_OPTION_HEADER(*nh)) {
            break;
        } else if (pos + 2 > *limit) {
            return -1;
        }
        Py_ssize_t end = pos + (((Py_ssize_t)d[pos + SRH_HDR_EXT_LEN_AT] + 1) << 3);
        if (end > *limit) return -1;
        *nh = d[pos];
        pos = end;
    }
    if (k == MAX_CHAIN) return -1;
    *upper = pos;
    return srh;
}

/* _fastpath.inner_more_headers: the packet behind the SRH may carry more headers. */
static int inner_more_headers(const uint8_t *d, uint8_t nh, Py_ssize_t at, Py_ssize_t limit) {
    if (nh == NH_ETHERNET) {
        Py_ssize_t eth = ethernet_ipv6(d + at, limit - at);
        if (eth < 0) return 0;
        at += eth;
    } else if (nh != NH_IPV6) {
        return 0;
    }
    return at + IPV6_HEADER <= limit && IS_MORE_HEADERS(d[at + NEXT_HEADER_AT]);
}

/* _fastpath._segments_clean: no Segment List entry in d[start:stop] is suspect. */
static int segments_clean(const uint8_t *d, Py_ssize_t start, Py_ssize_t stop) {
    for (Py_ssize_t p = start; p < stop; p += SEGMENT_SIZE) {
        if (d[p] == SUSPECT_FIRST_BYTE) return 0;
        for (int k = 0; k < SUSPECT_PREFIX_COUNT; k++)
            if (d[p] == SUSPECT_PREFIXES[k][0] &&
                memcmp(d + p, SUSPECT_PREFIXES[k], SUSPECT_PREFIX_LEN) == 0)
                return 0;
    }
    return 1;
}

/* _fastpath._draft04_tlvs: the TLVs in d[p:end]: -1 a clean layout without HMAC, the HMAC
 * TLV's offset when it ends in one announced by the H flag, -2 anything a rule could fire
 * on. Every read stays below ``end``, which the chain walk put inside the frame. */
static Py_ssize_t draft04_tlvs(const uint8_t *d, Py_ssize_t off, Py_ssize_t segments,
                               Py_ssize_t p, Py_ssize_t end, uint8_t flags) {
    Py_ssize_t hmac = -1;
    int padded = 0;
    while (p < end) {
        if (p + 2 > end || hmac >= 0) return -2;
        uint8_t kind = d[p], length = d[p + 1];
        Py_ssize_t stop = p + 2 + length;
        if (stop > end) return -2;
        if (kind == TLV_HMAC) {
            if (length != HMAC_TLV_LENGTH) return -2;
            hmac = p;
        } else if (padded) {
            return -2;
        } else if (kind == TLV_PADDING) {
            if (length < PADDING_MIN || length > PADDING_MAX) return -2;
            for (Py_ssize_t q = p + 2; q < stop; q++)
                if (d[q]) return -2;
            padded = 1;
        } else if ((kind == TLV_INGRESS || kind == TLV_EGRESS || kind == TLV_OPAQUE) &&
                   length == NODE_TLV_LENGTH) {
            const uint8_t *node = d + p + NODE_ADDRESS_AT;
            if (kind == TLV_INGRESS && memcmp(node, d + off + SOURCE_AT, SEGMENT_SIZE) != 0)
                return -2;
            if (kind == TLV_EGRESS && memcmp(node, d + segments, SEGMENT_SIZE) != 0)
                return -2;
        } else {
            return -2;
        }
        p = stop;
    }
    if (((flags & FLAG_H) != 0) != (hmac >= 0)) return -2;
    return hmac;
}

/* _fastpath.fast_srh_py, byte for byte: -1 no rule can fire, the HMAC TLV offset when only
 * the HMAC verdict is left, -2 anything else (the full decoder). ``*srh``: the SRH offset. */
static Py_ssize_t simple_srh(const uint8_t *d, Py_ssize_t n, Py_ssize_t off, int draft04,
                             Py_ssize_t *srh) {
    *srh = -1;
    /* written so that no huge ``off`` (fast_srh takes it from Python) can overflow */
    if (off < 0 || off > n - IPV6_HEADER) return -2;
    uint8_t first = d[off + NEXT_HEADER_AT];
    if (first != NH_ROUTING && !IS_OPTION_HEADER(first)) return -2;
    uint8_t nh;
    Py_ssize_t upper, limit, s = simple_chain(d, n, off, &upper, &nh, &limit);
    if (s < 0) return -2;
    if (IS_CHAIN_HEADER(nh) || inner_more_headers(d, nh, upper, limit)) return -2;
    uint8_t sl = d[s + SRH_SEGMENTS_LEFT_AT], fs = d[s + SRH_FIRST_SEGMENT_AT];
    uint8_t flags = d[s + SRH_FLAGS_AT];
    uint16_t reserved = rd16(d + s + SRH_RESERVED_AT, 1);
    Py_ssize_t end = s + (((Py_ssize_t)d[s + SRH_HDR_EXT_LEN_AT] + 1) << 3);
    Py_ssize_t segments = s + SRH_FIXED_SIZE;
    Py_ssize_t listed = segments + SEGMENT_SIZE * ((Py_ssize_t)fs + 1), tlv;
    if ((Py_ssize_t)sl > (Py_ssize_t)fs + 1 || listed > end) return -2; /* SL = FS + 1: reduced */
    if (listed == end) {
        uint8_t unclean = draft04 ? CLEAN_FLAGS_DRAFT04 : FLAGS_UNUSED_RFC8754;
        if ((flags & unclean) || (draft04 && reserved)) return -2;
        tlv = -1;
    } else if (draft04 && !(flags & FLAGS_UNUSED_DRAFT04) && !reserved) {
        tlv = draft04_tlvs(d, off, segments, listed, end, flags);
        if (tlv == -2) return -2;
    } else {
        return -2;
    }
    /* active + SEGMENT_SIZE <= listed <= end <= limit <= n: every read is in the frame */
    if (sl <= fs) {
        Py_ssize_t active = segments + SEGMENT_SIZE * (Py_ssize_t)sl;
        if (memcmp(d + off + DESTINATION_AT, d + active, SEGMENT_SIZE) != 0) return -2;
    }
    if (!segments_clean(d, segments, listed)) return -2;
    *srh = s;
    return tlv;
}

/* verdicts.verdict_key, byte for byte: a new bytes object holding what the verdict on the
 * IPv6 packet at ``off`` depends on, NULL when it is not cacheable (no error set) or on an
 * error (set). */
static PyObject *cache_key(const uint8_t *d, Py_ssize_t n, Py_ssize_t off) {
    Py_ssize_t plen = rd16(d + off + PAYLOAD_LENGTH_AT, 1);
    if (plen == 0 || off > MAX_KEY_OFFSET) return NULL;
    Py_ssize_t limit = off + IPV6_HEADER + plen;
    if (limit > n) limit = n;
    uint8_t nh = d[off + NEXT_HEADER_AT];
    Py_ssize_t pos = off + IPV6_HEADER;
    int srh = 0, k;
    for (k = 0; k < MAX_CHAIN; k++) {
        if (!IS_GENERIC_EXT(nh)) break;
        if (pos + 2 > limit) return NULL;
        Py_ssize_t end = pos + (((Py_ssize_t)d[pos + 1] + 1) << 3);
        if (end > limit) return NULL;
        if (nh == NH_ROUTING && d[pos + SRH_ROUTING_TYPE_AT] == ROUTING_TYPE_SRH) srh = 1;
        nh = d[pos];
        pos = end;
    }
    if (k == MAX_CHAIN || !srh || IS_CHAIN_HEADER(nh) || pos - off > MAX_KEY ||
        inner_more_headers(d, nh, pos, limit))
        return NULL;
    Py_ssize_t tail = pos - (off + SOURCE_AT);
    PyObject *key = PyBytes_FromStringAndSize(NULL, 3 + tail);
    if (key == NULL) return NULL;
    char *k3 = PyBytes_AS_STRING(key);
    k3[0] = (char)(off >> 8);
    k3[1] = (char)(uint8_t)off;
    k3[2] = (char)d[off + NEXT_HEADER_AT];
    memcpy(k3 + 3, d + off + SOURCE_AT, (size_t)tail);
    return key;
}

/* What the audit engine's Python path (engine.AuditEngine) would do with this frame,
 * without objects, before its verdict cache. ``mode`` comes from the engine: SKIM_DRAFT04
 * for the draft-04 profile; SKIM_CSID when C-SID formats are configured, when the RFC 9800
 * rules may fire on any address, so no SRH packet is clean here and none is an HMAC
 * candidate. ``*ipv6`` gets the IPv6 header offset, ``*tlv`` and ``*srh`` what simple_srh
 * said (for an SRH-bound SLOW). */
static int verdict_at(int linktype, const uint8_t *d, Py_ssize_t n, int mode,
                      Py_ssize_t *ipv6, Py_ssize_t *tlv, Py_ssize_t *srh) {
    Py_ssize_t off = ipv6_offset(linktype, d, n);
    *ipv6 = -1;
    *tlv = -2;
    *srh = -1;
    if (off == -2) return SLOW;
    if (off < 0 || off + IPV6_HEADER > n || d[off] >> 4 != IPV6_VERSION) return NOT_IPV6;
    if (!IS_SRH_MAY_FOLLOW(d[off + NEXT_HEADER_AT])) return PLAIN_IPV6;
    *ipv6 = off;
    if (mode & SKIM_CSID) return SLOW;
    *tlv = simple_srh(d, n, off, mode & SKIM_DRAFT04, srh);
    return *tlv == -1 ? CLEAN_SRH : SLOW;
}

/* Append ``item`` (a new reference, or NULL after an error) to ``batch``: 1, or -1. */
static int append_new(PyObject *batch, PyObject *item) {
    if (item == NULL) return -1;
    int rc = PyList_Append(batch, item);
    Py_DECREF(item);
    return rc < 0 ? -1 : 1;
}

/* What one skim call consumed, and the run of memoised HMAC-only verdicts it is in the
 * middle of: consecutive repeats of one such verdict join ``batch`` as one
 * (hmac results, count) item, so a long run of a flow's HMAC packets costs Python one item. */
typedef struct {
    Py_ssize_t records, ipv6, srh;
    PyObject *run;  /* the tuple of HMAC results being repeated (a new reference), or NULL */
    Py_ssize_t run_count;
} counts_t;

static inline void count(counts_t *c, int v) {
    c->records++;
    if (v != NOT_IPV6) c->ipv6++;
    if (v == CLEAN_SRH) c->srh++;
}

/* Append the pending run, if any, to ``batch``: 0, or -1 on error. */
static int flush_run(PyObject *batch, counts_t *c) {
    if (c->run == NULL) return 0;
    PyObject *item = Py_BuildValue("(On)", c->run, c->run_count);
    Py_CLEAR(c->run);
    c->run_count = 0;
    return append_new(batch, item) < 0 ? -1 : 0;
}

/* A SLOW frame the engine's Python path would not decode either: a repeat of a header
 * chain in ``cache`` (the engine's verdict cache, a dict: None = nothing to record; a tuple
 * = HMAC results only, counted in a run; else a verdict with findings, which joins
 * ``batch`` as (frame number, verdict)), or (draft-04) a packet clean but for its HMAC,
 * which joins ``batch`` as (frame number, frame bytes, IPv6 offset, SRH offset, HMAC TLV
 * offset, verdict key or None) for Python to verify in one tight loop. 1 taken, 0 not
 * (Python decodes it), -1 error. */
static int take(counts_t *c, PyObject *batch, PyObject *cache, int hmacs, Py_ssize_t number,
                const uint8_t *d, Py_ssize_t n, Py_ssize_t off, Py_ssize_t srh, Py_ssize_t tlv) {
    if (batch == NULL || off < 0) return 0;
    PyObject *key = NULL;
    if (cache != NULL) {
        key = cache_key(d, n, off);
        if (key == NULL && PyErr_Occurred()) return -1;
        if (key != NULL) {
            PyObject *verdict = PyDict_GetItemWithError(cache, key); /* borrowed */
            if (verdict != NULL) {
                Py_DECREF(key);
                if (verdict == Py_None) return 1;
                if (PyTuple_CheckExact(verdict)) {
                    if (verdict != c->run) {
                        if (flush_run(batch, c) < 0) return -1;
                        Py_INCREF(verdict);
                        c->run = verdict;
                    }
                    c->run_count++;
                    return 1;
                }
                if (flush_run(batch, c) < 0) return -1;
                return append_new(batch, Py_BuildValue("nO", number, verdict));
            }
            if (PyErr_Occurred()) {
                Py_DECREF(key);
                return -1;
            }
        }
    }
    if (!hmacs || tlv < 0 || flush_run(batch, c) < 0) {
        Py_XDECREF(key);
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *item = Py_BuildValue("ny#nnnO", number, (const char *)d, n, off, srh, tlv,
                                   key != NULL ? key : Py_None);
    Py_XDECREF(key);
    return append_new(batch, item);
}

/* The frame d[0:n] of the record after ``number``: counted and consumed (1), left to
 * Python (0), or an error is set (-1). */
static int consume(counts_t *c, int linktype, const uint8_t *d, Py_ssize_t n, int mode,
                   PyObject *batch, PyObject *cache, Py_ssize_t number) {
    Py_ssize_t off, tlv, srh;
    int v = verdict_at(linktype, d, n, mode, &off, &tlv, &srh);
    if (v == SLOW) {
        int hmacs = (mode & SKIM_DRAFT04) && !(mode & SKIM_CSID);
        int took = take(c, batch, cache, hmacs, number + c->records + 1, d, n, off, srh, tlv);
        if (took <= 0) return took;
        v = CLEAN_SRH; /* counted as the engine counts a batched or memoised packet */
    }
    count(c, v);
    return 1;
}

/* The skim's return value (NULL after an error); the pending run goes into ``batch``. */
static PyObject *result(Py_buffer *view, Py_ssize_t pos, counts_t *c, int failed,
                        PyObject *batch) {
    PyBuffer_Release(view);
    if (!failed && batch != NULL && flush_run(batch, c) < 0) failed = 1;
    Py_CLEAR(c->run);
    if (failed) return NULL;
    return Py_BuildValue("nnnn", pos, c->records, c->ipv6, c->srh);
}

/* ``batch`` (a list, or None: nothing is batched and the cache is not used) and ``cache``
 * (a dict, or None) arguments, as NULL when None. */
static int batch_args(PyObject **batch, PyObject **cache) {
    if (*batch != Py_None && !PyList_Check(*batch)) {
        PyErr_SetString(PyExc_TypeError, "batch must be a list or None");
        return -1;
    }
    if (*cache != Py_None && !PyDict_Check(*cache)) {
        PyErr_SetString(PyExc_TypeError, "cache must be a dict or None");
        return -1;
    }
    if (*batch == Py_None) *batch = NULL;
    if (*cache == Py_None || *batch == NULL) *cache = NULL;
    return 0;
}

static int check_range(Py_buffer *view, Py_ssize_t pos, Py_ssize_t *end) {
    if (*end > view->len) *end = view->len;
    if (pos < 0) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "negative position");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(skim_pcap_doc,
"skim_pcap(buf, pos, end, limit, big_endian, caplen_cap, linktype, mode, number, batch,\n"
"          cache=None)\n"
"    -> (pos, records, ipv6, srh)\n\n"
"Consume the classic pcap records in buf[pos:end] that need no Python: not IPv6, IPv6\n"
"that cannot lead to an SRH, or a clean simple SRv6 packet. Stops at the first record\n"
"that is incomplete, starts at or after ``limit``, exceeds ``caplen_cap`` or needs the\n"
"decoder; ``pos`` is that record's header. The counts are of the consumed records.\n"
"``batch`` (a list, or None): draft-04 packets clean but for their HMAC are consumed too\n"
"and appended as (number, frame, ipv6_offset, srh_offset, tlv_offset, key or None);\n"
"``cache`` (a dict of verdict keys, or None): repeats of a cached header chain are\n"
"consumed, those with a verdict other than None appended as (number, verdict).\n"
"``number`` is the frame number of the record before ``pos``.");

static PyObject *skim_pcap(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t pos, end, limit, number;
    int big, linktype, mode, failed = 0;
    Py_ssize_t cap;
    PyObject *batch, *cache = Py_None;
    if (!PyArg_ParseTuple(args, "y*nnnpniinO|O", &view, &pos, &end, &limit, &big, &cap,
                          &linktype, &mode, &number, &batch, &cache))
        return NULL;
    if (cap < 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "negative caplen_cap");
        return NULL;
    }
    if (check_range(&view, pos, &end) < 0) return NULL;
    if (batch_args(&batch, &cache) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    const uint8_t *b = (const uint8_t *)view.buf;
    counts_t c = {0, 0, 0, NULL, 0};
    while (pos < limit && end - pos >= PCAP_RECORD_HEADER) {
        uint32_t caplen = rd32(b + pos + 8, big); /* after ts_sec, ts_usec */
        if ((Py_ssize_t)caplen > cap || (Py_ssize_t)caplen > end - pos - PCAP_RECORD_HEADER)
            break;
        int r = consume(&c, linktype, b + pos + PCAP_RECORD_HEADER, (Py_ssize_t)caplen, mode,
                        batch, cache, number);
        if (r < 0) failed = 1;
        if (r <= 0) break;
        pos += PCAP_RECORD_HEADER + (Py_ssize_t)caplen;
    }
    return result(&view, pos, &c, failed, batch);
}

/* pcapng options as pcapng._options walks them: 1 well-formed, 0 Python must raise. */
static int options_ok(const uint8_t *b, Py_ssize_t start, Py_ssize_t stop, int big) {
    while (start + OPT_HEAD <= stop) {
        uint16_t code = rd16(b + start, big), length = rd16(b + start + 2, big);
        if (code == OPT_ENDOFOPT) return 1;
        Py_ssize_t vend = start + OPT_HEAD + length;
        if (vend > stop) return 0;
        start += OPT_HEAD + ((length + 3) & ~3);
    }
    return 1;
}

PyDoc_STRVAR(skim_pcapng_doc,
"skim_pcapng(buf, pos, end, limit, big_endian, linktypes, mode, number, batch, cache=None)\n"
"    -> (pos, records, ipv6, srh)\n\n"
"Like skim_pcap, over pcapng Enhanced Packet Blocks. ``linktypes`` holds one native int32\n"
"per declared interface (array('i').tobytes()). Stops at any other block, at an EPB the\n"
"reader would reject (bad trailer, undeclared interface, overrunning caplen, malformed\n"
"options) and at packets that need the decoder.");

static PyObject *skim_pcapng(PyObject *self, PyObject *args) {
    Py_buffer view, lt;
    Py_ssize_t pos, end, limit, number;
    int big, mode, failed = 0;
    PyObject *batch, *cache = Py_None;
    if (!PyArg_ParseTuple(args, "y*nnnpy*inO|O", &view, &pos, &end, &limit, &big, &lt, &mode,
                          &number, &batch, &cache))
        return NULL;
    const int32_t *linktypes = (const int32_t *)lt.buf;
    Py_ssize_t interfaces = lt.len / (Py_ssize_t)sizeof(int32_t);
    if (check_range(&view, pos, &end) < 0) {
        PyBuffer_Release(&lt);
        return NULL;
    }
    if (batch_args(&batch, &cache) < 0) {
        PyBuffer_Release(&lt);
        PyBuffer_Release(&view);
        return NULL;
    }
    const uint8_t *b = (const uint8_t *)view.buf;
    counts_t c = {0, 0, 0, NULL, 0};
    while (pos < limit && end - pos >= EPB_HEAD) {
        uint32_t btype = rd32(b + pos, big), blen = rd32(b + pos + 4, big);
        if (btype != BT_EPB || blen < EPB_MIN_LEN || blen > MAX_BLOCK_LEN ||
            (blen & 3) || (Py_ssize_t)blen > end - pos)
            break;
        Py_ssize_t stop = pos + blen, trailer = stop - 4; /* the block length again */
        if (rd32(b + trailer, big) != blen) break;
        /* EPB head: type, length, interface id, timestamp (2 words), caplen, original length */
        uint32_t ifid = rd32(b + pos + 8, big), caplen = rd32(b + pos + EPB_HEAD - 8, big);
        if ((Py_ssize_t)ifid >= interfaces) break;
        if (caplen > blen) break; /* overruns: the reader raises */
        Py_ssize_t data_end = pos + EPB_HEAD + (Py_ssize_t)caplen;
        Py_ssize_t opt_start = data_end + ((-(Py_ssize_t)caplen) & 3);
        if (opt_start >= trailer) {
            if (data_end > trailer) break;
        } else if (!options_ok(b, opt_start, trailer, big)) {
            break;
        }
        int r = consume(&c, linktypes[ifid], b + pos + EPB_HEAD, (Py_ssize_t)caplen,
                        mode, batch, cache, number);
        if (r < 0) failed = 1;
        if (r <= 0) break;
        pos = stop;
    }
    PyBuffer_Release(&lt);
    return result(&view, pos, &c, failed, batch);
}

PyDoc_STRVAR(verdict_doc,
"verdict(linktype, frame, mode) -> int\n\n"
"0 not IPv6, 1 IPv6 without a possible SRH, 2 clean simple SRH, 3 needs the decoder.\n"
"For tests: the per-frame decision the skims make.");

static PyObject *py_verdict(PyObject *self, PyObject *args) {
    Py_buffer view;
    int linktype, mode;
    Py_ssize_t off, tlv, srh;
    if (!PyArg_ParseTuple(args, "iy*i", &linktype, &view, &mode)) return NULL;
    int v = verdict_at(linktype, (const uint8_t *)view.buf, view.len, mode, &off, &tlv, &srh);
    PyBuffer_Release(&view);
    return PyLong_FromLong(v);
}

PyDoc_STRVAR(fast_srh_doc,
"fast_srh(frame, off, draft04) -> int\n\n"
"_fastpath.fast_srh_py in C: -1 a clean SRH (no rule can fire), the HMAC TLV offset\n"
"for a draft-04 SRH clean but for its HMAC, -2 anything else (full decoder).");

static PyObject *fast_srh(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t off;
    int draft04;
    if (!PyArg_ParseTuple(args, "y*np", &view, &off, &draft04)) return NULL;
    Py_ssize_t srh, r = simple_srh((const uint8_t *)view.buf, view.len, off, draft04, &srh);
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(r);
}

PyDoc_STRVAR(cache_key_doc,
"cache_key(frame, off) -> bytes | None\n\n"
"verdicts.verdict_key in C: the verdict cache's key of the IPv6 packet at ``off``.");

static PyObject *py_cache_key(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t off;
    if (!PyArg_ParseTuple(args, "y*n", &view, &off)) return NULL;
    PyObject *key = NULL;
    if (off >= 0 && off <= view.len - IPV6_HEADER)
        key = cache_key((const uint8_t *)view.buf, view.len, off);
    PyBuffer_Release(&view);
    if (key == NULL && !PyErr_Occurred()) Py_RETURN_NONE;
    return key;
}

static PyMethodDef methods[] = {
    {"cache_key", py_cache_key, METH_VARARGS, cache_key_doc},
    {"fast_srh", fast_srh, METH_VARARGS, fast_srh_doc},
    {"skim_pcap", skim_pcap, METH_VARARGS, skim_pcap_doc},
    {"skim_pcapng", skim_pcapng, METH_VARARGS, skim_pcapng_doc},
    {"verdict", py_verdict, METH_VARARGS, verdict_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "srinspect._skim",
    "Compiled pre-filter for the audit: consumes capture records that need no Python.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__skim(void) { return PyModule_Create(&module); }
