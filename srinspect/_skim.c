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
 * decisions mirror srinspect/linklayer.py, Inspector.feed and fastpath.clean_simple_srh
 * exactly; tests/unit/test_skim.py holds the two together record by record on real,
 * crafted and randomly mutated captures.
 *
 * Every read is bounds-checked against the record's captured length, and the record
 * against the buffer; lengths come from untrusted files.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Link types handled here (linklayer.py); any other stops the skim (Python counts it). */
#define LT_NULL 0
#define LT_ETHERNET 1
#define LT_RAW 101
#define LT_LOOP 108
#define LT_LINUX_SLL 113
#define LT_IPV4 228
#define LT_IPV6 229
#define LT_LINUX_SLL2 276

#define NOT_IPV6 0    /* skipped: no IPv6 header (counted as a packet only) */
#define PLAIN_IPV6 1  /* skipped: IPv6 that cannot lead to an SRH */
#define CLEAN_SRH 2   /* skipped: a clean, simple SRv6 packet */
#define SLOW 3        /* stop: Python must look at this record */

#define MAX_BLOCK_LEN (64u << 20) /* pcapng.MAX_BLOCK_LEN */
#define BT_EPB 6u

static inline uint32_t rd32(const uint8_t *p, int big) {
    return big ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
               : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

static inline uint16_t rd16(const uint8_t *p, int big) {
    return big ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static inline int is_af_inet6(uint32_t v) { return v == 10 || v == 24 || v == 28 || v == 30; }

/* linklayer.ipv6_offset_func: IPv6 header offset, -1 not IPv6, -2 link type unsupported. */
static Py_ssize_t ipv6_offset(int linktype, const uint8_t *d, Py_ssize_t n) {
    Py_ssize_t off;
    uint16_t et;
    switch (linktype) {
    case LT_ETHERNET:
        if (n < 14) return -1;
        et = rd16(d + 12, 1);
        off = 14;
        while (et == 0x8100 || et == 0x88a8 || et == 0x9100) {
            if (off + 4 > n) return -1; /* Python: a short slice matches nothing */
            et = rd16(d + off + 2, 1);
            off += 4;
        }
        return et == 0x86dd ? off : -1;
    case LT_RAW:
        return (n >= 1 && d[0] >> 4 == 6) ? 0 : -1;
    case LT_IPV4:
        return -1;
    case LT_IPV6:
        return 0;
    case LT_LINUX_SLL:
        return (n >= 16 && d[14] == 0x86 && d[15] == 0xdd) ? 16 : -1;
    case LT_LINUX_SLL2:
        return (n >= 20 && d[0] == 0x86 && d[1] == 0xdd) ? 20 : -1;
    case LT_NULL:
        if (n < 4) return -1;
        return (is_af_inet6(rd32(d, 0)) || is_af_inet6(rd32(d, 1))) ? 4 : -1;
    case LT_LOOP:
        if (n < 4) return -1;
        return is_af_inet6(rd32(d, 1)) ? 4 : -1;
    default:
        return -2;
    }
}

/* Next Header values that make Inspector.feed look further (inspector._INTERESTING). */
static inline int interesting(uint8_t nh) {
    return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60 || nh == 41 || nh == 4;
}

/* fastpath._CHAIN: more headers to walk, so not "simple". */
static inline int chain(uint8_t nh) {
    return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60 || nh == 135 || nh == 139 ||
           nh == 140;
}

/* fastpath._l2_inner_chain: Next Header 143 (SRv6 L2 encapsulation) whose Ethernet frame
 * at ``eth`` carries IPv6 with more headers; the one Ethernet walk is ipv6_offset's. */
static int l2_inner_chain(const uint8_t *d, Py_ssize_t eth, Py_ssize_t limit) {
    Py_ssize_t at = ipv6_offset(LT_ETHERNET, d + eth, limit - eth);
    if (at < 0 || eth + at + 40 > limit) return 0;
    uint8_t inh = d[eth + at + 6];
    return chain(inh) || inh == 41 || inh == 4;
}

/* fastpath.clean_simple_srh, byte for byte. */
static int clean_simple_srh(const uint8_t *d, Py_ssize_t n, Py_ssize_t off, int draft04) {
    /* written so that no huge ``off`` (fast_srh takes it from Python) can overflow */
    if (off < 0 || off > n - 48 || d[off + 6] != 43 || d[off + 42] != 4) return 0;
    Py_ssize_t plen = rd16(d + off + 4, 1);
    if (plen == 0) return 0;
    Py_ssize_t limit = off + 40 + plen;
    if (limit > n) limit = n;
    Py_ssize_t s = off + 40;
    uint8_t nh = d[s], hel = d[s + 1], sl = d[s + 3], fs = d[s + 4], flags = d[s + 5];
    uint16_t reserved = rd16(d + s + 6, 1);
    Py_ssize_t size = ((Py_ssize_t)hel + 1) * 8;
    if (size != 8 + 16 * ((Py_ssize_t)fs + 1) || s + size > limit || sl > fs) return 0;
    if (draft04) {
        if ((flags & 0x8F) || reserved) return 0;
    } else if (flags) {
        return 0;
    }
    if (chain(nh)) return 0;
    if (nh == 41) {
        Py_ssize_t inner = s + size;
        if (inner + 40 <= limit) {
            uint8_t inh = d[inner + 6];
            if (chain(inh) || inh == 41 || inh == 4) return 0;
        }
    }
    if (nh == 143 && l2_inner_chain(d, s + size, limit)) return 0;
    Py_ssize_t seg = s + 8 + 16 * (Py_ssize_t)sl; /* seg + 16 <= s + size <= n */
    if (memcmp(d + off + 24, d + seg, 16) != 0) return 0;
    static const uint8_t zeros[10] = {0};
    Py_ssize_t p = s + 8;
    for (int i = 0; i <= fs; i++, p += 16) {
        uint8_t first = d[p];
        if (first == 0xFF) return 0;
        if (first == 0 && memcmp(d + p, zeros, 10) == 0 &&
            ((d[p + 10] == 0 && d[p + 11] == 0) || (d[p + 10] == 0xFF && d[p + 11] == 0xFF)))
            return 0;
    }
    return 1;
}

/* fastpath.simple_hmac_srh, byte for byte: the HMAC TLV offset, or -1. */
static Py_ssize_t simple_hmac_srh(const uint8_t *d, Py_ssize_t n, Py_ssize_t off) {
    if (off < 0 || off > n - 48 || d[off + 6] != 43 || d[off + 42] != 4) return -1;
    Py_ssize_t plen = rd16(d + off + 4, 1);
    if (plen == 0) return -1;
    Py_ssize_t limit = off + 40 + plen;
    if (limit > n) limit = n;
    Py_ssize_t s = off + 40;
    uint8_t nh = d[s], hel = d[s + 1], sl = d[s + 3], fs = d[s + 4], flags = d[s + 5];
    uint16_t reserved = rd16(d + s + 6, 1);
    Py_ssize_t size = ((Py_ssize_t)hel + 1) * 8;
    Py_ssize_t tlv = s + 8 + 16 * ((Py_ssize_t)fs + 1);
    if (size != 8 + 16 * ((Py_ssize_t)fs + 1) + 40 || s + size > limit || sl > fs) return -1;
    /* tlv + 40 == s + size <= n: the TLV bytes are inside the frame */
    if ((flags & 0x87) || !(flags & 0x08) || reserved || d[tlv] != 5 || d[tlv + 1] != 38)
        return -1;
    if (chain(nh)) return -1;
    if (nh == 41) {
        Py_ssize_t inner = s + size;
        if (inner + 40 <= limit) {
            uint8_t inh = d[inner + 6];
            if (chain(inh) || inh == 41 || inh == 4) return -1;
        }
    }
    if (nh == 143 && l2_inner_chain(d, s + size, limit)) return -1;
    Py_ssize_t seg = s + 8 + 16 * (Py_ssize_t)sl;
    if (memcmp(d + off + 24, d + seg, 16) != 0) return -1;
    static const uint8_t zeros[10] = {0};
    Py_ssize_t p = s + 8;
    for (int i = 0; i <= fs; i++, p += 16) {
        uint8_t first = d[p];
        if (first == 0xFF) return -1;
        if (first == 0 && memcmp(d + p, zeros, 10) == 0 &&
            ((d[p + 10] == 0 && d[p + 11] == 0) || (d[p + 10] == 0xFF && d[p + 11] == 0xFF)))
            return -1;
    }
    return tlv;
}

/* What Inspector.feed(frame, detail=False) would do with this frame, without objects.
 * ``*ipv6`` gets the IPv6 header offset (meaningful for CLEAN_SRH and an SRH-bound SLOW). */
/* ``mode`` (Inspector.skim_mode): bit 0 the draft-04 profile; bit 1 C-SID formats are
 * configured, when the RFC 9800 rules may fire on any address, so no SRH packet is clean
 * here and none is batched: all of them go to the validator. */
#define MODE_DRAFT04 1
#define MODE_CSID 2

static int verdict_at(int linktype, const uint8_t *d, Py_ssize_t n, int mode,
                      Py_ssize_t *ipv6) {
    Py_ssize_t off = ipv6_offset(linktype, d, n);
    *ipv6 = -1;
    if (off == -2) return SLOW;
    if (off < 0 || off + 40 > n || d[off] >> 4 != 6) return NOT_IPV6;
    if (!interesting(d[off + 6])) return PLAIN_IPV6;
    *ipv6 = off;
    if (mode & MODE_CSID) return SLOW;
    return clean_simple_srh(d, n, off, mode & MODE_DRAFT04) ? CLEAN_SRH : SLOW;
}

static int verdict(int linktype, const uint8_t *d, Py_ssize_t n, int draft04) {
    Py_ssize_t off;
    return verdict_at(linktype, d, n, draft04, &off);
}

/* A SLOW frame that is a simple draft-04 HMAC SRH (Inspector.feed -> _fast_hmac) goes into
 * ``batch`` as (frame number, frame bytes, IPv6 offset, HMAC TLV offset) instead of stopping
 * the skim: Python verifies a batch in one tight loop. 1 taken, 0 not, -1 error. */
static int batch_hmac(PyObject *batch, Py_ssize_t number, const uint8_t *d, Py_ssize_t n,
                      Py_ssize_t off) {
    if (batch == NULL || off < 0) return 0;
    Py_ssize_t tlv = simple_hmac_srh(d, n, off);
    if (tlv < 0) return 0;
    PyObject *item = Py_BuildValue("ny#nn", number, (const char *)d, n, off, tlv);
    if (item == NULL) return -1;
    int rc = PyList_Append(batch, item);
    Py_DECREF(item);
    return rc < 0 ? -1 : 1;
}

typedef struct {
    Py_ssize_t records, ipv6, srh;
} counts_t;

static inline void count(counts_t *c, int v) {
    c->records++;
    if (v != NOT_IPV6) c->ipv6++;
    if (v == CLEAN_SRH) c->srh++;
}

static PyObject *result(Py_buffer *view, Py_ssize_t pos, counts_t *c, int failed) {
    PyBuffer_Release(view);
    if (failed) return NULL;
    return Py_BuildValue("nnnn", pos, c->records, c->ipv6, c->srh);
}

/* ``batch`` argument: a list, or None for no batching. */
static int batch_arg(PyObject **batch) {
    if (*batch == Py_None) {
        *batch = NULL;
        return 0;
    }
    if (!PyList_Check(*batch)) {
        PyErr_SetString(PyExc_TypeError, "batch must be a list or None");
        return -1;
    }
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
"skim_pcap(buf, pos, end, limit, big_endian, caplen_cap, linktype, mode, number, batch)\n"
"    -> (pos, records, ipv6, srh)\n\n"
"Consume the classic pcap records in buf[pos:end] that need no Python: not IPv6, IPv6\n"
"that cannot lead to an SRH, or a clean simple SRv6 packet. Stops at the first record\n"
"that is incomplete, starts at or after ``limit``, exceeds ``caplen_cap`` or needs the\n"
"decoder; ``pos`` is that record's header. The counts are of the consumed records.\n"
"``batch`` (a list, or None): simple draft-04 HMAC SRH packets are consumed too and\n"
"appended as (number, frame, ipv6_offset, tlv_offset); ``number`` is the frame number\n"
"of the record before ``pos``.");

static PyObject *skim_pcap(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t pos, end, limit, number;
    int big, linktype, draft04, failed = 0;
    Py_ssize_t cap;
    PyObject *batch;
    if (!PyArg_ParseTuple(args, "y*nnnpniinO", &view, &pos, &end, &limit, &big, &cap,
                          &linktype, &draft04, &number, &batch))
        return NULL;
    if (cap < 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "negative caplen_cap");
        return NULL;
    }
    if (check_range(&view, pos, &end) < 0) return NULL;
    if (batch_arg(&batch) < 0) return result(&view, pos, NULL, 1);
    if (!(draft04 & MODE_DRAFT04) || (draft04 & MODE_CSID)) batch = NULL;
    const uint8_t *b = (const uint8_t *)view.buf;
    counts_t c = {0, 0, 0};
    while (pos < limit && end - pos >= 16) {
        uint32_t caplen = rd32(b + pos + 8, big);
        if ((Py_ssize_t)caplen > cap || (Py_ssize_t)caplen > end - pos - 16) break;
        Py_ssize_t off;
        const uint8_t *d = b + pos + 16;
        int v = verdict_at(linktype, d, (Py_ssize_t)caplen, draft04, &off);
        if (v == SLOW) {
            int took = batch_hmac(batch, number + c.records + 1, d, (Py_ssize_t)caplen, off);
            if (took < 0) failed = 1;
            if (took <= 0) break;
            v = CLEAN_SRH; /* counted as Inspector.feed counts a fast HMAC packet */
        }
        count(&c, v);
        pos += 16 + (Py_ssize_t)caplen;
    }
    return result(&view, pos, &c, failed);
}

/* pcapng options as pcapng._options walks them: 1 well-formed, 0 Python must raise. */
static int options_ok(const uint8_t *b, Py_ssize_t start, Py_ssize_t stop, int big) {
    while (start + 4 <= stop) {
        uint16_t code = rd16(b + start, big), length = rd16(b + start + 2, big);
        if (code == 0) return 1;
        Py_ssize_t vend = start + 4 + length;
        if (vend > stop) return 0;
        start += 4 + ((length + 3) & ~3);
    }
    return 1;
}

PyDoc_STRVAR(skim_pcapng_doc,
"skim_pcapng(buf, pos, end, limit, big_endian, linktypes, mode, number, batch)\n"
"    -> (pos, records, ipv6, srh)\n\n"
"Like skim_pcap, over pcapng Enhanced Packet Blocks. ``linktypes`` holds one native int32\n"
"per declared interface (array('i').tobytes()). Stops at any other block, at an EPB the\n"
"reader would reject (bad trailer, undeclared interface, overrunning caplen, malformed\n"
"options) and at packets that need the decoder.");

static PyObject *skim_pcapng(PyObject *self, PyObject *args) {
    Py_buffer view, lt;
    Py_ssize_t pos, end, limit, number;
    int big, draft04, failed = 0;
    PyObject *batch;
    if (!PyArg_ParseTuple(args, "y*nnnpy*inO", &view, &pos, &end, &limit, &big, &lt, &draft04,
                          &number, &batch))
        return NULL;
    const int32_t *linktypes = (const int32_t *)lt.buf;
    Py_ssize_t interfaces = lt.len / (Py_ssize_t)sizeof(int32_t);
    if (check_range(&view, pos, &end) < 0) {
        PyBuffer_Release(&lt);
        return NULL;
    }
    if (batch_arg(&batch) < 0) {
        PyBuffer_Release(&lt);
        return result(&view, pos, NULL, 1);
    }
    if (!(draft04 & MODE_DRAFT04) || (draft04 & MODE_CSID)) batch = NULL;
    const uint8_t *b = (const uint8_t *)view.buf;
    counts_t c = {0, 0, 0};
    while (pos < limit && end - pos >= 28) {
        uint32_t btype = rd32(b + pos, big), blen = rd32(b + pos + 4, big);
        if (btype != BT_EPB || blen < 32 || blen > MAX_BLOCK_LEN || (blen & 3) ||
            (Py_ssize_t)blen > end - pos)
            break;
        Py_ssize_t stop = pos + blen;
        if (rd32(b + stop - 4, big) != blen) break;
        uint32_t ifid = rd32(b + pos + 8, big), caplen = rd32(b + pos + 20, big);
        if ((Py_ssize_t)ifid >= interfaces) break;
        if (caplen > blen) break; /* overruns: the reader raises */
        Py_ssize_t data_end = pos + 28 + (Py_ssize_t)caplen;
        Py_ssize_t opt_start = data_end + ((-(Py_ssize_t)caplen) & 3);
        if (opt_start >= stop - 4) {
            if (data_end > stop - 4) break;
        } else if (!options_ok(b, opt_start, stop - 4, big)) {
            break;
        }
        Py_ssize_t off;
        const uint8_t *d = b + pos + 28;
        int v = verdict_at(linktypes[ifid], d, (Py_ssize_t)caplen, draft04, &off);
        if (v == SLOW) {
            int took = batch_hmac(batch, number + c.records + 1, d, (Py_ssize_t)caplen, off);
            if (took < 0) failed = 1;
            if (took <= 0) break;
            v = CLEAN_SRH;
        }
        count(&c, v);
        pos = stop;
    }
    PyBuffer_Release(&lt);
    return result(&view, pos, &c, failed);
}

PyDoc_STRVAR(verdict_doc,
"verdict(linktype, frame, mode) -> int\n\n"
"0 not IPv6, 1 IPv6 without a possible SRH, 2 clean simple SRH, 3 needs the decoder.\n"
"For tests: the per-frame decision the skims make.");

static PyObject *py_verdict(PyObject *self, PyObject *args) {
    Py_buffer view;
    int linktype, draft04;
    if (!PyArg_ParseTuple(args, "iy*i", &linktype, &view, &draft04)) return NULL;
    int v = verdict(linktype, (const uint8_t *)view.buf, view.len, draft04);
    PyBuffer_Release(&view);
    return PyLong_FromLong(v);
}

PyDoc_STRVAR(fast_srh_doc,
"fast_srh(frame, off, draft04) -> int\n\n"
"fastpath.fast_srh in C: -1 a clean simple SRH (no rule can fire), the HMAC TLV offset\n"
"for a simple draft-04 SRH whose one TLV is its HMAC, -2 anything else (full decoder).");

static PyObject *fast_srh(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t off;
    int draft04;
    if (!PyArg_ParseTuple(args, "y*np", &view, &off, &draft04)) return NULL;
    const uint8_t *d = (const uint8_t *)view.buf;
    Py_ssize_t r = -2;
    if (off >= 0) {
        if (clean_simple_srh(d, view.len, off, draft04))
            r = -1;
        else if (draft04) {
            Py_ssize_t tlv = simple_hmac_srh(d, view.len, off);
            if (tlv >= 0) r = tlv;
        }
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(r);
}

static PyMethodDef methods[] = {
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
