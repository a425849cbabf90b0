/*
 * The helpers the C tests share (declared in ffi_test.h): the check counters, DNS wire
 * encoding, building upstream replies, the standard config and engine, and driving the poll loop.
 */
#include "ffi_test.h"

#include <ctype.h>

int checks_passed;
int checks_failed;

const uint64_t NOW = 5000000;
const char *const ZONE = "example.com.";
const char *const CLIENT_NAME = "_Acme-Challenge.WWW.Example.com";
const uint8_t TOKEN[6] = {5, 't', 'o', 'k', 'e', 'n'};
const uint8_t LOOPBACK4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
const uint8_t LOOPBACK6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

/* ---- DNS wire helpers ------------------------------------------------------------------- */

uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

size_t put32(uint8_t *p, uint32_t v) {
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
    return 4;
}

/* Writes `name` (presentation format, no escapes) in wire format; returns its length. */
size_t put_name(uint8_t *p, const char *name) {
    size_t n = 0;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        p[n++] = (uint8_t)len;
        memcpy(p + n, name, len);
        n += len;
        name += len + (dot ? 1 : 0);
    }
    p[n++] = 0;
    return n;
}

/*
 * Offset just past the (possibly compressed) name at `off` in msg[0..len], or 0 when it runs
 * off the end.
 */
size_t skip_name(const uint8_t *msg, size_t len, size_t off) {
    while (off < len) {
        uint8_t l = msg[off];
        if (l == 0) return off + 1;
        if ((l & 0xc0) == 0xc0) return off + 2 <= len ? off + 2 : 0;
        off += 1 + (size_t)l;
    }
    return 0;
}

/* A query: header with `flags1` (RD = 0x01), `qdcount`, one question, optional OPT. */
size_t build_query(uint8_t *q, uint16_t id, uint8_t flags1, uint16_t qdcount, const char *name,
                          uint16_t qtype, bool edns) {
    size_t n = 0;
    n += put16(q + n, id);
    q[n++] = flags1;
    q[n++] = 0;
    n += put16(q + n, qdcount);
    n += put16(q + n, 0);
    n += put16(q + n, 0);
    n += put16(q + n, edns ? 1 : 0);
    n += put_name(q + n, name);
    n += put16(q + n, qtype);
    n += put16(q + n, CLASS_IN);
    if (edns) {
        q[n++] = 0; /* root owner */
        n += put16(q + n, TYPE_OPT);
        n += put16(q + n, 4096); /* UDP payload */
        n += put32(q + n, 0);    /* ext-rcode, version, flags */
        n += put16(q + n, 0);    /* no options */
    }
    return n;
}

/* Case-insensitive comparison of two byte ranges. */
static bool equal_fold(const uint8_t *a, const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (tolower(a[i]) != tolower(b[i])) return false;
    }
    return true;
}

bool all_bytes(const uint8_t *p, size_t n, uint8_t v) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != v) return false;
    }
    return true;
}

/* ---- building replies ------------------------------------------------------------------------ */

/* Starts the reply to `uq`: QR and RA set, AA as given, rcode NOERROR, no records yet. */
void reply_start(msg *m, uint8_t *p, const uint8_t *uq, size_t uq_len, bool aa) {
    size_t qend = skip_name(uq, uq_len, 12) + 4;
    memcpy(p, uq, qend);
    p[2] |= 0x80; /* QR */
    if (aa) p[2] |= 0x04;
    p[3] = 0x80; /* RA, NOERROR */
    put16(p + 6, 0);
    put16(p + 8, 0);
    put16(p + 10, 0);
    m->p = p;
    m->n = qend;
    m->section = 0;
}

/* Appends a record to `section`; `owner` NULL is a compression pointer to the question name. */
void reply_rr(msg *m, int section, const char *owner, uint16_t type, uint32_t ttl, const uint8_t *rdata,
                     size_t rdlen) {
    CHECK(section >= m->section); /* a test bug otherwise */
    m->section = section;
    if (owner) {
        m->n += put_name(m->p + m->n, owner);
    } else {
        m->n += put16(m->p + m->n, 0xc000 | 12);
    }
    m->n += put16(m->p + m->n, type);
    m->n += put16(m->p + m->n, CLASS_IN);
    m->n += put32(m->p + m->n, ttl);
    m->n += put16(m->p + m->n, (uint16_t)rdlen);
    memcpy(m->p + m->n, rdata, rdlen);
    m->n += rdlen;
    uint8_t *count = m->p + 6 + 2 * section;
    put16(count, (uint16_t)(get16(count) + 1));
}

/* A record whose RDATA is one name (NS, CNAME). */
void reply_name_rr(msg *m, int section, const char *owner, uint16_t type, uint32_t ttl, const char *target) {
    uint8_t rdata[256];
    size_t n = put_name(rdata, target);
    reply_rr(m, section, owner, type, ttl, rdata, n);
}

/* An SOA record with the given MINIMUM. */
void reply_soa_rr(msg *m, int section, const char *owner, uint32_t ttl, uint32_t minimum) {
    uint8_t rdata[512];
    size_t n = put_name(rdata, "ns1.example.com");
    n += put_name(rdata + n, "hostmaster.example.com");
    n += put32(rdata + n, 2026010101);
    n += put32(rdata + n, 3600);
    n += put32(rdata + n, 600);
    n += put32(rdata + n, 86400);
    n += put32(rdata + n, minimum);
    reply_rr(m, section, owner, TYPE_SOA, ttl, rdata, n);
}

/* Finishes the reply: the query's OPT record (when it has one) at the end. Returns the length. */
size_t reply_end(msg *m, const uint8_t *uq, size_t uq_len) {
    size_t qend = skip_name(uq, uq_len, 12) + 4;
    if (get16(uq + 10) == 1) {
        memcpy(m->p + m->n, uq + qend, uq_len - qend);
        m->n += uq_len - qend;
        put16(m->p + 10, (uint16_t)(get16(m->p + 10) + 1));
    }
    return m->n;
}

/*
 * The upstream's reply to `uq`: one TXT "token" answer with `ttl`, owned by `owner` (NULL: a
 * compression pointer to the question name), AA as given; the query's OPT kept.
 */
size_t build_reply(uint8_t *r, const uint8_t *uq, size_t uq_len, const char *owner, uint32_t ttl, bool aa) {
    msg m;
    reply_start(&m, r, uq, uq_len, aa);
    reply_rr(&m, 0, owner, TYPE_TXT, ttl, TOKEN, sizeof TOKEN);
    return reply_end(&m, uq, uq_len);
}

/* ---- setup -------------------------------------------------------------------------------- */

afwd_config *make_config(afwd_upstream_mode mode, bool discovery) {
    afwd_config_builder *b = afwd_config_builder_new();
    CHECK(b != NULL);
    CHECK_RESULT(afwd_config_builder_add_zone(b, S(ZONE)), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_zone(b, S("example.net")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.1:5353")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("[::1]")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_timeout_ms(b, 1500), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_max_ttl(b, MAX_TTL), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_discovery(b, discovery), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_delegated(b, S("acme.auth.example.org")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_upstream_mode(b, mode), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_max_learned(b, 64), AFWD_OK);
    /* The nameservers of these tests live on loopback, which authoritative mode refuses
       unless allowed. */
    CHECK_RESULT(afwd_config_builder_add_allow_ns(b, S("127.0.0.0/8")), AFWD_OK);
    afwd_config *c = NULL;
    CHECK_RESULT(afwd_config_new(b, &c), AFWD_OK);
    CHECK(c != NULL);
    afwd_config_builder_free(b);
    return c;
}

/* An engine from make_config; the config is freed at once (the engine has its own copy). */
afwd_engine *make_engine(afwd_upstream_mode mode, bool discovery) {
    afwd_config *c = make_config(mode, discovery);
    afwd_engine *e = (afwd_engine *)&e; /* anything but NULL */
    CHECK_RESULT(afwd_engine_new(c, &e), AFWD_OK);
    CHECK(e != NULL);
    afwd_config_free(c);
    CHECK_EQ(afwd_engine_learned_len(e), 0);
    return e;
}

/* ---- the poll loop -------------------------------------------------------------------------- */

/* Polls into buf (BUF bytes); checks the action's basic shape and returns it. */
afwd_action poll_action(const afwd_exchange *x, uint8_t *buf) {
    afwd_action a;
    memset(&a, 0x5A, sizeof a); /* garbage: poll must set every field */
    memset(buf, 0xAA, BUF);
    CHECK_RESULT(afwd_exchange_poll(x, buf, BUF, &a), AFWD_OK);
    if (a.kind == AFWD_ACTION_FAIL) {
        CHECK_EQ(a.len, 0);
        CHECK(a.fail_reason != AFWD_OK);
    } else {
        CHECK(a.len > 12 && a.len < BUF);
        CHECK(a.len < BUF && buf[a.len] == 0xAA); /* not a byte past len */
        CHECK_EQ(a.fail_reason, AFWD_OK);
    }
    return a;
}

/* Answers the pending INTERNAL (the question about a CNAME target) with `rcode`: NXDOMAIN (3)
   says the internal view does not know the name, so the target may be learned. */
void internal_says(afwd_exchange *x, uint8_t rcode) {
    static uint8_t buf[BUF], reply[BUF];
    afwd_action a;
    CHECK_RESULT(afwd_exchange_poll(x, buf, BUF, &a), AFWD_OK);
    CHECK_EQ(a.kind, AFWD_ACTION_INTERNAL);
    msg m;
    reply_start(&m, reply, buf, a.len, false);
    reply[3] = (uint8_t)(0x80 | rcode);
    size_t r_len = reply_end(&m, buf, a.len);
    afwd_result want = rcode == 0 || rcode == 3 ? AFWD_OK : AFWD_ERR_REPLY_UPSTREAM_FAILURE;
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), want);
}

/* Answers every pending INTERNAL NXDOMAIN: the internal view knows none of the names. */
void internal_unknown(afwd_exchange *x) {
    static uint8_t buf[BUF];
    for (int i = 0; i < 16 && poll_action(x, buf).kind == AFWD_ACTION_INTERNAL; i++) {
        internal_says(x, 3);
    }
}

/* Polls, expecting a SEND to server ip:port over tcp, and checks the query against the question
   (name up to letter case, type) and the RD bit. Returns the query length (the query is in buf). */
size_t expect_send(const afwd_exchange *x, uint8_t *buf, const uint8_t ip[16], uint16_t port, bool tcp,
                          bool rd, const char *qname, uint16_t qtype) {
    afwd_action a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_SEND);
    CHECK(memcmp(a.server_ip, ip, 16) == 0);
    CHECK_EQ(a.server_port, port);
    CHECK_EQ(a.tcp, tcp);
    if (a.kind != AFWD_ACTION_SEND) return 0;
    CHECK((buf[2] & 0x80) == 0);       /* a query */
    CHECK_EQ(buf[2] & 0x01, rd ? 1 : 0); /* RD */
    CHECK_EQ(get16(buf + 4), 1);
    uint8_t want[300];
    size_t wn = put_name(want, qname);
    CHECK(a.len >= 12 + wn + 4 && equal_fold(buf + 12, want, wn));
    CHECK_EQ(get16(buf + 12 + wn), qtype);
    CHECK_EQ(get16(buf + 12 + wn + 2), CLASS_IN);
    return a.len;
}

/* Checks a client reply: ID, QR, question exactly as the client asked, one TXT answer. */
void check_client_reply(const uint8_t *r, size_t n, const uint8_t *q, size_t q_len, bool edns) {
    CHECK(n > 12);
    if (n <= 12) return;
    CHECK_EQ(get16(r), get16(q));           /* the client's ID */
    CHECK((r[2] & 0x80) != 0);              /* QR */
    CHECK_EQ(r[2] & 0x78, 0);               /* opcode QUERY */
    CHECK_EQ(r[2] & 0x01, q[2] & 0x01);     /* RD as the client sent it */
    CHECK_EQ(r[3] & 0x0f, 0);               /* NOERROR */
    CHECK_EQ(get16(r + 4), 1);
    CHECK_EQ(get16(r + 6), 1);
    CHECK_EQ(get16(r + 10), edns ? 1 : 0);  /* OPT only when the client sent one */
    /* The question, byte for byte: the client's letter case, not the 0x20 mix. */
    size_t qq_len = skip_name(q, q_len, 12) + 4 - 12;
    CHECK(n >= 12 + qq_len && memcmp(r + 12, q + 12, qq_len) == 0);
    size_t a = skip_name(r, n, 12 + qq_len);
    CHECK(a != 0 && a + 10 + 6 <= n);
    if (a == 0 || a + 10 + 6 > n) return;
    CHECK_EQ(get16(r + a), TYPE_TXT);
    CHECK_EQ(get16(r + a + 2), CLASS_IN);
    CHECK_EQ(get32(r + a + 4), MAX_TTL);    /* 3600 capped by max_ttl */
    CHECK_EQ(get16(r + a + 8), 6);
    CHECK(memcmp(r + a + 10, "\x05token", 6) == 0);
}

/* Polls, expecting ANSWER, and checks it as the reply to client query q. */
void expect_answer(const afwd_exchange *x, uint8_t *buf, const uint8_t *q, size_t q_len, bool edns) {
    afwd_action a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_ANSWER);
    if (a.kind == AFWD_ACTION_ANSWER) check_client_reply(buf, a.len, q, q_len, edns);
}

/* A new exchange for the challenge TXT query q. */
afwd_exchange *start(const afwd_engine *e, const uint8_t *q, size_t q_len, bool over_tcp) {
    afwd_exchange *x = NULL;
    CHECK_RESULT(afwd_exchange_new(e, NULL, q, q_len, over_tcp, 0x0123456789abcdefULL, NOW, &x), AFWD_OK);
    CHECK(x != NULL);
    return x;
}
