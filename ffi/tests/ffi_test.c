/*
 * End-to-end test of the acmeforward C ABI through the generated header, as the Go shim uses
 * it: every function in ffi/include/acmeforward.h, with hand-built DNS wire messages, driving
 * exchanges through the poll loop (SEND -> reply / failed -> ANSWER / FAIL) with no network.
 *
 * Run by scripts/ffi-ctest.sh (release staticlib, -Wall -Wextra -Werror, under valgrind).
 * Prints "N passed, M failed" and exits non-zero when anything failed.
 */
#include "acmeforward.h"

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int passed;
static int failed;

#define CHECK(cond)                                                               \
    do {                                                                          \
        if (cond) {                                                               \
            passed++;                                                             \
        } else {                                                                  \
            failed++;                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                         \
    } while (0)

/* Compares two integers and shows both on failure. */
#define CHECK_EQ(got, want)                                                          \
    do {                                                                             \
        long long got_ = (long long)(got), want_ = (long long)(want);                \
        if (got_ == want_) {                                                         \
            passed++;                                                                \
        } else {                                                                     \
            failed++;                                                                \
            fprintf(stderr, "%s:%d: %s = %lld, want %s = %lld\n", __FILE__, __LINE__, \
                    #got, got_, #want, want_);                                       \
        }                                                                            \
    } while (0)

/* Checks an afwd_result and shows the text of what came back on failure. */
#define CHECK_RESULT(call, want)                                                          \
    do {                                                                                  \
        afwd_result got_ = (call);                                                        \
        if (got_ == (want)) {                                                             \
            passed++;                                                                     \
        } else {                                                                          \
            failed++;                                                                     \
            fprintf(stderr, "%s:%d: %s\n    = %d (%s), want %s = %d\n", __FILE__, __LINE__, \
                    #call, (int)got_, afwd_result_text(got_), #want, (int)(want));        \
        }                                                                                 \
    } while (0)

/* A C string as a pointer + length slice. */
#define S(str) (const uint8_t *)(str), strlen(str)

static const afwd_result ALL_RESULTS[] = {
    AFWD_OK,
    AFWD_TRUNCATED,
    AFWD_ERR_NULL_ARGUMENT,
    AFWD_ERR_BUFFER_TOO_SHORT,
    AFWD_ERR_PANIC,
    AFWD_ERR_INVALID_UTF8,
    AFWD_ERR_INDEX_OUT_OF_RANGE,
    AFWD_ERR_EXCHANGE_DONE,
    AFWD_ERR_EXCHANGE_NOT_ANSWERED,
    AFWD_ERR_NAME_EMPTY,
    AFWD_ERR_NAME_EMPTY_LABEL,
    AFWD_ERR_NAME_LABEL_TOO_LONG,
    AFWD_ERR_NAME_TOO_LONG,
    AFWD_ERR_NAME_BAD_ESCAPE,
    AFWD_ERR_ADDRESS_INVALID,
    AFWD_ERR_PORT_INVALID,
    AFWD_ERR_TIMEOUT_OUT_OF_RANGE,
    AFWD_ERR_MAX_TTL_OUT_OF_RANGE,
    AFWD_ERR_NO_UPSTREAM,
    AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE,
    AFWD_ERR_UPSTREAM_MODE_INVALID,
    AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS,
    AFWD_ERR_HAIRPIN_MISSING_TARGET,
    AFWD_ERR_HAIRPIN_BAD_WILDCARD,
    AFWD_ERR_HAIRPIN_TARGET_INVALID,
    AFWD_ERR_HAIRPIN_DUPLICATE_NAME,
    AFWD_ERR_DELEGATED_ROOT,
    AFWD_ERR_PROTECTED_ROOT,
    AFWD_ERR_ZONE_PROTECTED,
    AFWD_ERR_DELEGATED_PROTECTED,
    AFWD_ERR_NET_INVALID,
    AFWD_ERR_MAX_TIME_OUT_OF_RANGE,
    AFWD_ERR_MAX_CONCURRENT_OUT_OF_RANGE,
    AFWD_ERR_HAIRPIN_ROOT_NAME,
    AFWD_ERR_LABEL_EMPTY,
    AFWD_ERR_LABEL_NO_UNDERSCORE,
    AFWD_ERR_LABEL_TOO_LONG,
    AFWD_ERR_LABEL_BAD_CHARACTER,
    AFWD_ERR_LABEL_DUPLICATE,
    AFWD_ERR_TOO_MANY_LABELS,
    AFWD_ERR_CONFIG_INVALID,
    AFWD_ERR_QUERY_MALFORMED,
    AFWD_ERR_QUERY_NOT_A_QUERY,
    AFWD_ERR_QUERY_UNSUPPORTED_OPCODE,
    AFWD_ERR_QUERY_QUESTION_COUNT,
    AFWD_ERR_QUERY_OTHER_QUESTION,
    AFWD_ERR_QUERY_NOT_CLASSIFIED,
    AFWD_ERR_REPLY_MALFORMED,
    AFWD_ERR_REPLY_NOT_A_RESPONSE,
    AFWD_ERR_REPLY_ID_MISMATCH,
    AFWD_ERR_REPLY_OPCODE_MISMATCH,
    AFWD_ERR_REPLY_QUESTION_MISMATCH,
    AFWD_ERR_REPLY_FOREIGN_RECORD,
    AFWD_ERR_REPLY_UPSTREAM_FAILURE,
    AFWD_ERR_REPLY_NOT_AUTHORITATIVE,
    AFWD_ERR_REPLY_LATE,
    AFWD_ERR_NO_REPLY,
    AFWD_ERR_SEND_LIMIT,
    AFWD_ERR_NO_NAMESERVERS,
    AFWD_ERR_HAIRPIN_TARGET_FAILED,
    AFWD_ERR_TIME_LIMIT,
    AFWD_ERR_EXCHANGE_FAILED,
};
#define N_RESULTS (sizeof ALL_RESULTS / sizeof ALL_RESULTS[0])

enum {
    TYPE_A = 1,
    TYPE_NS = 2,
    TYPE_CNAME = 5,
    TYPE_SOA = 6,
    TYPE_TXT = 16,
    TYPE_AAAA = 28,
    TYPE_OPT = 41,
    CLASS_IN = 1,
    CLASS_CH = 3
};
enum { MAX_TTL = 60 };
enum { BUF = 65535 };
/* The engines' clock in these tests (milliseconds). */
static const uint64_t NOW = 5000000;

static const char *const ZONE = "example.com.";
static const char *const CLIENT_NAME = "_Acme-Challenge.WWW.Example.com";

/* ---- DNS wire helpers ------------------------------------------------------------------- */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

static size_t put32(uint8_t *p, uint32_t v) {
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
    return 4;
}

/* Writes `name` (presentation format, no escapes) in wire format; returns its length. */
static size_t put_name(uint8_t *p, const char *name) {
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
static size_t skip_name(const uint8_t *msg, size_t len, size_t off) {
    while (off < len) {
        uint8_t l = msg[off];
        if (l == 0) return off + 1;
        if ((l & 0xc0) == 0xc0) return off + 2 <= len ? off + 2 : 0;
        off += 1 + (size_t)l;
    }
    return 0;
}

/* A query: header with `flags1` (RD = 0x01), `qdcount`, one question, optional OPT. */
static size_t build_query(uint8_t *q, uint16_t id, uint8_t flags1, uint16_t qdcount, const char *name,
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

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != v) return false;
    }
    return true;
}


/* ---- building replies ------------------------------------------------------------------------ */

/* A reply being built into p[0..n]: header and question copied from the upstream query. */
typedef struct {
    uint8_t *p;
    size_t n;
    int section; /* 0 answer, 1 authority, 2 additional: records go in this order */
} msg;

/* Starts the reply to `uq`: QR and RA set, AA as given, rcode NOERROR, no records yet. */
static void reply_start(msg *m, uint8_t *p, const uint8_t *uq, size_t uq_len, bool aa) {
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
static void reply_rr(msg *m, int section, const char *owner, uint16_t type, uint32_t ttl, const uint8_t *rdata,
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
static void reply_name_rr(msg *m, int section, const char *owner, uint16_t type, uint32_t ttl, const char *target) {
    uint8_t rdata[256];
    size_t n = put_name(rdata, target);
    reply_rr(m, section, owner, type, ttl, rdata, n);
}

/* An SOA record with the given MINIMUM. */
static void reply_soa_rr(msg *m, int section, const char *owner, uint32_t ttl, uint32_t minimum) {
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

static const uint8_t TOKEN[] = {5, 't', 'o', 'k', 'e', 'n'};

/* Finishes the reply: the query's OPT record (when it has one) at the end. Returns the length. */
static size_t reply_end(msg *m, const uint8_t *uq, size_t uq_len) {
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
static size_t build_reply(uint8_t *r, const uint8_t *uq, size_t uq_len, const char *owner, uint32_t ttl, bool aa) {
    msg m;
    reply_start(&m, r, uq, uq_len, aa);
    reply_rr(&m, 0, owner, TYPE_TXT, ttl, TOKEN, sizeof TOKEN);
    return reply_end(&m, uq, uq_len);
}

/* ---- setup -------------------------------------------------------------------------------- */

static afwd_config *make_config(afwd_upstream_mode mode, bool discovery) {
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
static afwd_engine *make_engine(afwd_upstream_mode mode, bool discovery) {
    afwd_config *c = make_config(mode, discovery);
    afwd_engine *e = (afwd_engine *)&e; /* anything but NULL */
    CHECK_RESULT(afwd_engine_new(c, &e), AFWD_OK);
    CHECK(e != NULL);
    afwd_config_free(c);
    CHECK_EQ(afwd_engine_learned_len(e), 0);
    return e;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_result_texts(void) {
    const char *unknown = afwd_result_text((afwd_result)12345);
    CHECK(unknown != NULL && unknown[0] != '\0');
    for (size_t i = 0; i < N_RESULTS; i++) {
        const char *t = afwd_result_text(ALL_RESULTS[i]);
        CHECK(t != NULL && t[0] != '\0');
        CHECK(t != NULL && strcmp(t, unknown) != 0);
        CHECK(afwd_result_text(ALL_RESULTS[i]) == t); /* static: the same string every time */
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(t, afwd_result_text(ALL_RESULTS[j])) != 0);
        }
    }
    CHECK(strcmp(afwd_result_text((afwd_result)2), unknown) == 0);
    CHECK(strcmp(afwd_result_text((afwd_result)107), unknown) == 0);
    CHECK(strcmp(afwd_result_text((afwd_result)-1), unknown) == 0);
    /* The explicit values of the contract. */
    CHECK_EQ(AFWD_OK, 0);
    CHECK_EQ(AFWD_TRUNCATED, 1);
    CHECK_EQ(AFWD_ERR_NULL_ARGUMENT, 100);
    CHECK_EQ(AFWD_ERR_INDEX_OUT_OF_RANGE, 104);
    CHECK_EQ(AFWD_ERR_EXCHANGE_NOT_ANSWERED, 106);
    CHECK_EQ(AFWD_ERR_QUERY_OTHER_QUESTION, 304);
    CHECK_EQ(AFWD_ERR_EXCHANGE_DONE, 105);
    CHECK_EQ(AFWD_ERR_NAME_EMPTY, 200);
    CHECK_EQ(AFWD_ERR_NO_UPSTREAM, 209);
    CHECK_EQ(AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE, 210);
    CHECK_EQ(AFWD_ERR_UPSTREAM_MODE_INVALID, 211);
    CHECK_EQ(AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS, 212);
    CHECK_EQ(AFWD_ERR_HAIRPIN_MISSING_TARGET, 213);
    CHECK_EQ(AFWD_ERR_HAIRPIN_BAD_WILDCARD, 214);
    CHECK_EQ(AFWD_ERR_HAIRPIN_TARGET_INVALID, 215);
    CHECK_EQ(AFWD_ERR_HAIRPIN_DUPLICATE_NAME, 216);
    CHECK_EQ(AFWD_ERR_DELEGATED_ROOT, 217);
    CHECK_EQ(AFWD_ERR_HAIRPIN_ROOT_NAME, 224);
    CHECK_EQ(AFWD_ERR_LABEL_EMPTY, 225);
    CHECK_EQ(AFWD_ERR_LABEL_NO_UNDERSCORE, 226);
    CHECK_EQ(AFWD_ERR_LABEL_TOO_LONG, 227);
    CHECK_EQ(AFWD_ERR_LABEL_BAD_CHARACTER, 228);
    CHECK_EQ(AFWD_ERR_LABEL_DUPLICATE, 229);
    CHECK_EQ(AFWD_ERR_TOO_MANY_LABELS, 230);
    CHECK(strcmp(afwd_result_text((afwd_result)231), unknown) == 0);
    CHECK_EQ(AFWD_ERR_CONFIG_INVALID, 299);
    CHECK_EQ(AFWD_ERR_HAIRPIN_TARGET_FAILED, 503);
    CHECK_EQ(AFWD_ERR_QUERY_MALFORMED, 300);
    CHECK_EQ(AFWD_ERR_QUERY_QUESTION_COUNT, 303);
    CHECK_EQ(AFWD_ERR_REPLY_MALFORMED, 400);
    CHECK_EQ(AFWD_ERR_REPLY_UPSTREAM_FAILURE, 406);
    CHECK_EQ(AFWD_ERR_REPLY_NOT_AUTHORITATIVE, 407);
    CHECK_EQ(AFWD_VERDICT_PASS, 0);
    CHECK_EQ(AFWD_VERDICT_FORWARD, 1);
    CHECK_EQ(AFWD_VERDICT_ERROR, 2);
    CHECK_EQ(AFWD_VERDICT_HAIRPIN, 3);
    CHECK_EQ(AFWD_ACTION_SEND, 1);
    CHECK_EQ(AFWD_ACTION_ANSWER, 2);
    CHECK_EQ(AFWD_ACTION_FAIL, 3);
    CHECK_EQ(AFWD_ACTION_INTERNAL, 4);
    CHECK_EQ(AFWD_UPSTREAM_RECURSIVE, 0);
    CHECK_EQ(AFWD_UPSTREAM_AUTHORITATIVE, 1);
    CHECK_EQ(AFWD_RULE_NONE, 0);
    CHECK_EQ(AFWD_RULE_CHALLENGE, 1);
    CHECK_EQ(AFWD_RULE_DISCOVERY, 2);
    CHECK_EQ(AFWD_RULE_NS_HOST, 3);
    CHECK_EQ(AFWD_RULE_DELEGATED, 4);
    CHECK_EQ(AFWD_RULE_CNAME_TARGET, 5);
    CHECK_EQ(AFWD_RULE_ANCESTOR, 6);
}

static void test_config_errors(void) {
    afwd_config_builder *b = afwd_config_builder_new();
    CHECK(b != NULL);
    char name[400];

    /* Zones. */
    CHECK_RESULT(afwd_config_builder_add_zone(b, S("")), AFWD_ERR_NAME_EMPTY);
    CHECK_RESULT(afwd_config_builder_add_zone(b, NULL, 0), AFWD_ERR_NAME_EMPTY);
    CHECK_RESULT(afwd_config_builder_add_zone(b, S("a..example.com")), AFWD_ERR_NAME_EMPTY_LABEL);
    memset(name, 'a', 64);
    strcpy(name + 64, ".example.com");
    CHECK_RESULT(afwd_config_builder_add_zone(b, S(name)), AFWD_ERR_NAME_LABEL_TOO_LONG);
    name[0] = '\0';
    for (int i = 0; i < 5; i++) strcat(name, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk.");
    CHECK_RESULT(afwd_config_builder_add_zone(b, S(name)), AFWD_ERR_NAME_TOO_LONG);
    CHECK_RESULT(afwd_config_builder_add_zone(b, S("exa\\999mple.com")), AFWD_ERR_NAME_BAD_ESCAPE);
    CHECK_RESULT(afwd_config_builder_add_zone(b, S("example.com\\")), AFWD_ERR_NAME_BAD_ESCAPE);
    CHECK_RESULT(afwd_config_builder_add_zone(b, S("exa\xffmple.com")), AFWD_ERR_INVALID_UTF8);
    CHECK_RESULT(afwd_config_builder_add_zone(b, NULL, 4), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_config_builder_add_zone(NULL, S(ZONE)), AFWD_ERR_NULL_ARGUMENT);

    /* Upstreams. */
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("")), AFWD_ERR_ADDRESS_INVALID);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("dns.example.com")), AFWD_ERR_ADDRESS_INVALID);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.256")), AFWD_ERR_ADDRESS_INVALID);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.1:0")), AFWD_ERR_PORT_INVALID);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.1:65536")), AFWD_ERR_PORT_INVALID);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.1:dns")), AFWD_ERR_PORT_INVALID);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("[::1]:0")), AFWD_ERR_PORT_INVALID);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.1\xff")), AFWD_ERR_INVALID_UTF8);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, NULL, 9), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_config_builder_add_upstream(NULL, S("127.0.0.1")), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_config_builder_add_upstream_tls(b, S("")), AFWD_ERR_ADDRESS_INVALID);
    CHECK_RESULT(afwd_config_builder_add_upstream_tls(b, S("tls://127.0.0.1")), AFWD_ERR_ADDRESS_INVALID);
    CHECK_RESULT(afwd_config_builder_add_upstream_tls(b, S("127.0.0.1:0")), AFWD_ERR_PORT_INVALID);
    CHECK_RESULT(afwd_config_builder_add_upstream_tls(b, S("127.0.0.1\xff")), AFWD_ERR_INVALID_UTF8);
    CHECK_RESULT(afwd_config_builder_add_upstream_tls(b, NULL, 9), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_config_builder_add_upstream_tls(NULL, S("127.0.0.1:853")), AFWD_ERR_NULL_ARGUMENT);

    /* Timeout: 1 ms ..= 60 s. */
    CHECK_RESULT(afwd_config_builder_set_timeout_ms(b, 0), AFWD_ERR_TIMEOUT_OUT_OF_RANGE);
    CHECK_RESULT(afwd_config_builder_set_timeout_ms(b, 60001), AFWD_ERR_TIMEOUT_OUT_OF_RANGE);
    CHECK_RESULT(afwd_config_builder_set_timeout_ms(b, UINT64_MAX), AFWD_ERR_TIMEOUT_OUT_OF_RANGE);
    CHECK_RESULT(afwd_config_builder_set_timeout_ms(b, 1), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_timeout_ms(b, 60000), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_timeout_ms(NULL, 100), AFWD_ERR_NULL_ARGUMENT);

    /* max_ttl: 0 ..= 604800. */
    CHECK_RESULT(afwd_config_builder_set_max_ttl(b, 604801), AFWD_ERR_MAX_TTL_OUT_OF_RANGE);
    CHECK_RESULT(afwd_config_builder_set_max_ttl(b, UINT32_MAX), AFWD_ERR_MAX_TTL_OUT_OF_RANGE);
    CHECK_RESULT(afwd_config_builder_set_max_ttl(b, 0), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_max_ttl(b, 604800), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_max_ttl(NULL, 30), AFWD_ERR_NULL_ARGUMENT);

    /* discovery: on or off, nothing to get wrong but the handle. */
    CHECK_RESULT(afwd_config_builder_set_discovery(b, false), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_discovery(b, true), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_discovery(NULL, true), AFWD_ERR_NULL_ARGUMENT);

    /* Delegated zones: names like the zones. */
    CHECK_RESULT(afwd_config_builder_add_delegated(b, S("auth.example.net")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_delegated(b, S("Auth.Example.NET.")), AFWD_OK); /* twice: harmless */
    CHECK_RESULT(afwd_config_builder_add_delegated(b, S("")), AFWD_ERR_NAME_EMPTY);
    CHECK_RESULT(afwd_config_builder_add_delegated(b, S(".")), AFWD_ERR_DELEGATED_ROOT);
    CHECK_RESULT(afwd_config_builder_add_delegated(b, NULL, 0), AFWD_ERR_NAME_EMPTY);
    CHECK_RESULT(afwd_config_builder_add_delegated(b, S("auth..example.net")), AFWD_ERR_NAME_EMPTY_LABEL);
    memset(name, 'b', 64);
    strcpy(name + 64, ".example.net");
    CHECK_RESULT(afwd_config_builder_add_delegated(b, S(name)), AFWD_ERR_NAME_LABEL_TOO_LONG);
    CHECK_RESULT(afwd_config_builder_add_delegated(b, S("auth\\256.example.net")), AFWD_ERR_NAME_BAD_ESCAPE);
    CHECK_RESULT(afwd_config_builder_add_delegated(b, S("auth\xfe.example.net")), AFWD_ERR_INVALID_UTF8);
    CHECK_RESULT(afwd_config_builder_add_delegated(b, NULL, 3), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_config_builder_add_delegated(NULL, S("auth.example.net")), AFWD_ERR_NULL_ARGUMENT);

    /* Upstream mode: the two enum values; anything else is refused. */
    CHECK_RESULT(afwd_config_builder_set_upstream_mode(b, AFWD_UPSTREAM_AUTHORITATIVE), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_upstream_mode(b, AFWD_UPSTREAM_RECURSIVE), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_upstream_mode(b, (afwd_upstream_mode)2), AFWD_ERR_UPSTREAM_MODE_INVALID);
    CHECK_RESULT(afwd_config_builder_set_upstream_mode(b, (afwd_upstream_mode)-1), AFWD_ERR_UPSTREAM_MODE_INVALID);
    CHECK_RESULT(afwd_config_builder_set_upstream_mode(NULL, AFWD_UPSTREAM_RECURSIVE), AFWD_ERR_NULL_ARGUMENT);

    /* max_learned: 16 ..= 1048576. */
    CHECK_RESULT(afwd_config_builder_set_max_learned(b, 0), AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE);
    CHECK_RESULT(afwd_config_builder_set_max_learned(b, 15), AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE);
    CHECK_RESULT(afwd_config_builder_set_max_learned(b, 1048577), AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE);
    CHECK_RESULT(afwd_config_builder_set_max_learned(b, SIZE_MAX), AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE);
    CHECK_RESULT(afwd_config_builder_set_max_learned(b, 16), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_max_learned(b, 1048576), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_max_learned(NULL, 4096), AFWD_ERR_NULL_ARGUMENT);

    /* Hairpin lines: NAME... TARGET... */
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("www.example.com 10.96.0.80")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("")), AFWD_ERR_HAIRPIN_MISSING_TARGET);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, NULL, 0), AFWD_ERR_HAIRPIN_MISSING_TARGET);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("app.example.com")), AFWD_ERR_HAIRPIN_MISSING_TARGET);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("10.0.0.1 10.0.0.2")), AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("app.example.com 10.0.0.1 svc.cluster.local")),
                 AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("foo.*.example.com 10.0.0.1")), AFWD_ERR_HAIRPIN_BAD_WILDCARD);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("*foo.example.com 10.0.0.1")), AFWD_ERR_HAIRPIN_BAD_WILDCARD);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("app.example.com ingress..svc.cluster.local")),
                 AFWD_ERR_HAIRPIN_TARGET_INVALID);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("WWW.Example.COM. 10.0.0.2")), AFWD_ERR_HAIRPIN_DUPLICATE_NAME);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("a..example.com 10.0.0.1")), AFWD_ERR_NAME_EMPTY_LABEL);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("app.example.com *.svc.cluster.local")),
                 AFWD_ERR_HAIRPIN_TARGET_INVALID);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("app.example.com 10.0.0.\xff")), AFWD_ERR_INVALID_UTF8);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("app\xfe.example.com 10.0.0.1")), AFWD_ERR_INVALID_UTF8);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, NULL, 5), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_config_builder_add_hairpin(NULL, S("www.example.com 10.0.0.1")), AFWD_ERR_NULL_ARGUMENT);
    /* Each hairpin code has its own text. */
    CHECK(strstr(afwd_result_text(AFWD_ERR_HAIRPIN_BAD_WILDCARD), "wildcard") != NULL);
    CHECK(strstr(afwd_result_text(AFWD_ERR_HAIRPIN_DUPLICATE_NAME), "twice") != NULL);
    CHECK(strstr(afwd_result_text(AFWD_ERR_HAIRPIN_TARGET_FAILED), "hairpin") != NULL);

    afwd_config_builder_free(b);

    /* No upstream: the config is refused and *config_out cleared. */
    b = afwd_config_builder_new();
    CHECK(b != NULL);
    CHECK_RESULT(afwd_config_builder_add_zone(b, S(ZONE)), AFWD_OK);
    afwd_config *c = (afwd_config *)&c; /* anything but NULL */
    CHECK_RESULT(afwd_config_new(b, &c), AFWD_ERR_NO_UPSTREAM);
    CHECK(c == NULL);
    CHECK_RESULT(afwd_config_new(NULL, &c), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_config_new(b, NULL), AFWD_ERR_NULL_ARGUMENT);
    afwd_config_builder_free(b);
}

static void test_builder_reuse(void) {
    /* One builder makes independent configs; it can be freed first. */
    afwd_config_builder *b = afwd_config_builder_new();
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.1")), AFWD_OK);
    afwd_config *c1 = NULL, *c2 = NULL;
    CHECK_RESULT(afwd_config_new(b, &c1), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.2")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_discovery(b, false), AFWD_OK);
    CHECK_RESULT(afwd_config_new(b, &c2), AFWD_OK);
    afwd_config_builder_free(b);
    uint8_t buf[64];
    size_t n = 0;
    CHECK_RESULT(afwd_config_upstream(c1, 1, buf, sizeof buf, &n), AFWD_ERR_INDEX_OUT_OF_RANGE);
    CHECK_RESULT(afwd_config_upstream(c2, 1, buf, sizeof buf, &n), AFWD_OK);
    CHECK(n == strlen("127.0.0.2:53") && memcmp(buf, "127.0.0.2:53", n) == 0);
    /* An engine copies its config: the config can go first. */
    afwd_engine *e1 = NULL;
    CHECK_RESULT(afwd_engine_new(c1, &e1), AFWD_OK);
    afwd_config_free(c1);
    /* No zone: the root, so every challenge name is in scope, and no name's SOA is. */
    CHECK_EQ(afwd_engine_classify(e1, S("_acme-challenge.anything.test."), TYPE_TXT, CLASS_IN, NOW, AFWD_NO_PASS_FILTER, NULL),
             AFWD_VERDICT_FORWARD);
    CHECK_EQ(afwd_engine_classify(e1, S("cluster.local."), TYPE_SOA, CLASS_IN, NOW, AFWD_NO_PASS_FILTER, NULL), AFWD_VERDICT_PASS);
    CHECK_EQ(afwd_engine_classify(e1, S("anything.test."), TYPE_NS, CLASS_IN, NOW, AFWD_NO_PASS_FILTER, NULL), AFWD_VERDICT_PASS);
    afwd_engine_free(e1);
    afwd_config_free(c2);

    /* afwd_engine_new: NULL arguments. */
    afwd_config *c = make_config(AFWD_UPSTREAM_RECURSIVE, true);
    afwd_engine *e = (afwd_engine *)&e; /* anything but NULL */
    CHECK_RESULT(afwd_engine_new(NULL, &e), AFWD_ERR_NULL_ARGUMENT);
    CHECK(e == NULL);
    CHECK_RESULT(afwd_engine_new(c, NULL), AFWD_ERR_NULL_ARGUMENT);
    CHECK_EQ(afwd_engine_learned_len(NULL), 0);
    afwd_config_free(c);
}

static void test_upstream_getter(void) {
    afwd_config *c = make_config(AFWD_UPSTREAM_RECURSIVE, true);
    uint8_t buf[64];
    size_t n = 0;

    CHECK_RESULT(afwd_config_upstream(c, 0, buf, sizeof buf, &n), AFWD_OK);
    CHECK(n == strlen("127.0.0.1:5353") && memcmp(buf, "127.0.0.1:5353", n) == 0);
    CHECK_RESULT(afwd_config_upstream(c, 1, buf, sizeof buf, &n), AFWD_OK);
    CHECK(n == strlen("[::1]:53") && memcmp(buf, "[::1]:53", n) == 0);

    /* Asking for the length, then a buffer one byte short: nothing written. */
    n = 0;
    CHECK_RESULT(afwd_config_upstream(c, 1, NULL, 0, &n), AFWD_ERR_BUFFER_TOO_SHORT);
    CHECK_EQ(n, strlen("[::1]:53"));
    memset(buf, 0xAA, sizeof buf);
    n = 0;
    CHECK_RESULT(afwd_config_upstream(c, 1, buf, 7, &n), AFWD_ERR_BUFFER_TOO_SHORT);
    CHECK_EQ(n, 8);
    CHECK(all_bytes(buf, sizeof buf, 0xAA));
    CHECK_RESULT(afwd_config_upstream(c, 1, buf, 8, &n), AFWD_OK);
    CHECK(n == 8 && memcmp(buf, "[::1]:53", 8) == 0 && buf[8] == 0xAA);

    /* Past the end. */
    n = 99;
    CHECK_RESULT(afwd_config_upstream(c, 2, buf, sizeof buf, &n), AFWD_ERR_INDEX_OUT_OF_RANGE);
    CHECK_EQ(n, 0);
    CHECK_RESULT(afwd_config_upstream(c, SIZE_MAX, buf, sizeof buf, &n), AFWD_ERR_INDEX_OUT_OF_RANGE);

    /* NULL arguments. */
    CHECK_RESULT(afwd_config_upstream(NULL, 0, buf, sizeof buf, &n), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_config_upstream(c, 0, NULL, sizeof buf, &n), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_config_upstream(c, 0, buf, sizeof buf, NULL), AFWD_ERR_NULL_ARGUMENT);
    afwd_config_free(c);
}

#define CLASSIFY(e, name, type) afwd_engine_classify((e), S(name), (type), CLASS_IN, NOW, AFWD_NO_PASS_FILTER, NULL)

static void test_classify(const afwd_engine *e) {
    /* Rule 1: challenge names in the zones, any type. */
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.www.example.com.", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.example.com", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.example.com", TYPE_CNAME), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, CLIENT_NAME, TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.a.example.net.", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "www.example.com.", TYPE_A), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "www.example.com.", TYPE_TXT), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.example.org.", TYPE_TXT), AFWD_VERDICT_PASS);
    /* dns-persist-01 and dns-account-01 by default; not any name below _acme-challenge. */
    CHECK_EQ(CLASSIFY(e, "_validation-persist.www.example.com.", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "\\095validation-persist.example.com", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "_ujmmovf2vn55tgye._acme-challenge.www.example.com.", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "_UJMMOVF2VN55TGYE._acme-challenge.www.example.com.", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "foo._acme-challenge.www.example.com.", TYPE_TXT), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "_ujmmovf2vn55tgy1._acme-challenge.www.example.com.", TYPE_TXT), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "_validation-persist.example.org.", TYPE_TXT), AFWD_VERDICT_PASS);
    CHECK_EQ(afwd_engine_classify(e, S("_acme-challenge.example.com."), TYPE_TXT, CLASS_CH, NOW, AFWD_NO_PASS_FILTER, NULL), AFWD_VERDICT_PASS);
    CHECK_EQ(afwd_engine_classify(e, NULL, 0, TYPE_TXT, CLASS_IN, NOW, AFWD_NO_PASS_FILTER, NULL), AFWD_VERDICT_PASS);
    /* Rule 2: SOA and NS inside the listed zones, and above the delegated zone (not the root). */
    CHECK_EQ(CLASSIFY(e, "example.com.", TYPE_SOA), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "www.example.com.", TYPE_SOA), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "example.net", TYPE_NS), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "example.org.", TYPE_SOA), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "auth.example.org.", TYPE_NS), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "other.example.org.", TYPE_SOA), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "www.example.org.", TYPE_A), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, ".", TYPE_SOA), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "cluster.local.", TYPE_SOA), AFWD_VERDICT_PASS);
    /* Rule 4: the check's types at or below the delegated zone, never an application's. */
    CHECK_EQ(CLASSIFY(e, "acme.auth.example.org.", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "X.Acme.Auth.Example.ORG", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "x.acme.auth.example.org", TYPE_CNAME), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "x.acme.auth.example.org", TYPE_A), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "xacme.auth.example.org", TYPE_TXT), AFWD_VERDICT_PASS);
    /* Only the given length counts, not what follows. */
    const char *longer = "_acme-challenge.example.comX";
    CHECK_EQ(afwd_engine_classify(e, (const uint8_t *)longer, strlen(longer) - 1, TYPE_TXT, CLASS_IN, NOW, AFWD_NO_PASS_FILTER, NULL),
             AFWD_VERDICT_FORWARD);
    CHECK_EQ(afwd_engine_classify(NULL, S("_acme-challenge.example.com."), TYPE_TXT, CLASS_IN, NOW, AFWD_NO_PASS_FILTER, NULL),
             AFWD_VERDICT_ERROR);
    CHECK_EQ(afwd_engine_classify(e, NULL, 5, TYPE_TXT, CLASS_IN, NOW, AFWD_NO_PASS_FILTER, NULL), AFWD_VERDICT_ERROR);
}

static void test_classify_discovery_off(void) {
    afwd_engine *e = make_engine(AFWD_UPSTREAM_RECURSIVE, false);
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.www.example.com.", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.www.example.com.", TYPE_SOA), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "x.acme.auth.example.org", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "example.com.", TYPE_SOA), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "example.com.", TYPE_NS), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "example.org.", TYPE_SOA), AFWD_VERDICT_PASS);
    afwd_engine_free(e);
}

static void test_malformed_queries(const afwd_engine *e) {
    uint8_t q[512];
    size_t n;
    afwd_exchange *x = (afwd_exchange *)&x; /* anything but NULL */

    CHECK_RESULT(afwd_exchange_new(e, NULL, (const uint8_t *)"\x12\x34\x01", 3, false, 1, NOW, &x), AFWD_ERR_QUERY_MALFORMED);
    CHECK(x == NULL);
    CHECK_RESULT(afwd_exchange_new(e, NULL, NULL, 0, false, 1, NOW, &x), AFWD_ERR_QUERY_MALFORMED);

    n = build_query(q, 1, 0x81, 1, CLIENT_NAME, TYPE_TXT, false); /* QR set */
    CHECK_RESULT(afwd_exchange_new(e, NULL, q, n, false, 1, NOW, &x), AFWD_ERR_QUERY_NOT_A_QUERY);
    n = build_query(q, 1, 0x01 | (5 << 3), 1, CLIENT_NAME, TYPE_TXT, false); /* UPDATE */
    CHECK_RESULT(afwd_exchange_new(e, NULL, q, n, false, 1, NOW, &x), AFWD_ERR_QUERY_UNSUPPORTED_OPCODE);
    n = build_query(q, 1, 0x01, 0, CLIENT_NAME, TYPE_TXT, false);
    CHECK_RESULT(afwd_exchange_new(e, NULL, q, 12, false, 1, NOW, &x), AFWD_ERR_QUERY_QUESTION_COUNT); /* header only */
    CHECK_RESULT(afwd_exchange_new(e, NULL, q, n, false, 1, NOW, &x), AFWD_ERR_QUERY_QUESTION_COUNT);
    n = build_query(q, 1, 0x01, 2, CLIENT_NAME, TYPE_TXT, false);
    CHECK_RESULT(afwd_exchange_new(e, NULL, q, n, true, 1, NOW, &x), AFWD_ERR_QUERY_QUESTION_COUNT);
    /* The question cut short. */
    n = build_query(q, 1, 0x01, 1, CLIENT_NAME, TYPE_TXT, false);
    CHECK_RESULT(afwd_exchange_new(e, NULL, q, n - 6, false, 1, NOW, &x), AFWD_ERR_QUERY_MALFORMED);
    /* A label running past the end. */
    q[12] = 60;
    CHECK_RESULT(afwd_exchange_new(e, NULL, q, n, false, 1, NOW, &x), AFWD_ERR_QUERY_MALFORMED);
    CHECK(x == NULL);

    /* NULL arguments. */
    n = build_query(q, 1, 0x01, 1, CLIENT_NAME, TYPE_TXT, false);
    CHECK_RESULT(afwd_exchange_new(NULL, NULL, q, n, false, 1, NOW, &x), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_new(e, NULL, NULL, n, false, 1, NOW, &x), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_new(e, NULL, q, n, false, 1, NOW, NULL), AFWD_ERR_NULL_ARGUMENT);
}

/* ---- the poll loop -------------------------------------------------------------------------- */

static const uint8_t LOOPBACK4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
static const uint8_t LOOPBACK6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

/* Polls into buf (BUF bytes); checks the action's basic shape and returns it. */
static afwd_action poll_action(const afwd_exchange *x, uint8_t *buf) {
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
static void internal_says(afwd_exchange *x, uint8_t rcode) {
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
static void internal_unknown(afwd_exchange *x) {
    static uint8_t buf[BUF];
    for (int i = 0; i < 16 && poll_action(x, buf).kind == AFWD_ACTION_INTERNAL; i++) {
        internal_says(x, 3);
    }
}


/* Polls, expecting a SEND to server ip:port over tcp, and checks the query against the question
   (name up to letter case, type) and the RD bit. Returns the query length (the query is in buf). */
static size_t expect_send(const afwd_exchange *x, uint8_t *buf, const uint8_t ip[16], uint16_t port, bool tcp,
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
static void check_client_reply(const uint8_t *r, size_t n, const uint8_t *q, size_t q_len, bool edns) {
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
static void expect_answer(const afwd_exchange *x, uint8_t *buf, const uint8_t *q, size_t q_len, bool edns) {
    afwd_action a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_ANSWER);
    if (a.kind == AFWD_ACTION_ANSWER) check_client_reply(buf, a.len, q, q_len, edns);
}

/* A new exchange for the challenge TXT query q. */
static afwd_exchange *start(const afwd_engine *e, const uint8_t *q, size_t q_len, bool over_tcp) {
    afwd_exchange *x = NULL;
    CHECK_RESULT(afwd_exchange_new(e, NULL, q, q_len, over_tcp, 0x0123456789abcdefULL, NOW, &x), AFWD_OK);
    CHECK(x != NULL);
    return x;
}

static void test_exchange(const afwd_engine *e, bool edns, bool over_tcp) {
    const uint16_t client_id = 0xabcd;
    static uint8_t q[512], uq[BUF], buf[BUF], reply[BUF];
    size_t q_len = build_query(q, client_id, 0x01, 1, CLIENT_NAME, TYPE_TXT, edns);
    size_t qq_len = skip_name(q, q_len, 12) + 4 - 12;

    afwd_exchange *x = start(e, q, q_len, over_tcp);
    if (x == NULL) return;

    /* SEND to the first upstream: TCP when the client came over TCP; a new ID, RD, the question
       up to letter case, an OPT record with the 1232-byte payload. */
    size_t uq_len = expect_send(x, uq, LOOPBACK4, 5353, over_tcp, true, CLIENT_NAME, TYPE_TXT);
    CHECK(get16(uq) != client_id);
    CHECK_EQ(get16(uq + 10), 1);
    size_t opt = 12 + qq_len;
    CHECK(uq_len == opt + 11 && uq[opt] == 0 && get16(uq + opt + 1) == TYPE_OPT && get16(uq + opt + 3) == 1232);

    /* The short-buffer protocol of poll: the needed length, nothing written. */
    afwd_action a;
    CHECK_RESULT(afwd_exchange_poll(x, NULL, 0, &a), AFWD_ERR_BUFFER_TOO_SHORT);
    CHECK_EQ(a.kind, AFWD_ACTION_SEND);
    CHECK_EQ(a.len, uq_len);
    memset(buf, 0xAA, BUF);
    CHECK_RESULT(afwd_exchange_poll(x, buf, uq_len - 1, &a), AFWD_ERR_BUFFER_TOO_SHORT);
    CHECK_EQ(a.len, uq_len);
    CHECK_EQ(a.server_port, 5353);
    CHECK(all_bytes(buf, BUF, 0xAA));
    CHECK_RESULT(afwd_exchange_poll(x, buf, uq_len, &a), AFWD_OK);
    CHECK_EQ(a.len, uq_len);
    CHECK(memcmp(buf, uq, uq_len) == 0); /* polling again: the same query */

    /* A good reply: ANSWER with the client's ID and letter case. */
    size_t r_len = build_reply(reply, uq, uq_len, NULL, 3600, false);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);
    a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_ANSWER);
    size_t need = a.len;
    check_client_reply(buf, a.len, q, q_len, edns);
    /* Short buffer on ANSWER too. */
    memset(buf, 0xAA, BUF);
    CHECK_RESULT(afwd_exchange_poll(x, buf, need - 1, &a), AFWD_ERR_BUFFER_TOO_SHORT);
    CHECK_EQ(a.kind, AFWD_ACTION_ANSWER);
    CHECK_EQ(a.len, need);
    CHECK(all_bytes(buf, BUF, 0xAA));
    CHECK_RESULT(afwd_exchange_poll(x, NULL, 0, &a), AFWD_ERR_BUFFER_TOO_SHORT);
    CHECK_EQ(a.len, need);
    CHECK_RESULT(afwd_exchange_poll(x, buf, need, &a), AFWD_OK);
    check_client_reply(buf, a.len, q, q_len, edns);

    /* Done: nothing more is taken, and the answer stays. */
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_ERR_EXCHANGE_DONE);
    CHECK_RESULT(afwd_exchange_failed(x, NOW), AFWD_ERR_EXCHANGE_DONE);
    expect_answer(x, buf, q, q_len, edns);
    afwd_exchange_free(x);
}

/* The label bit of afwd_pass_filter, written from the header's description alone. */
static unsigned label_bit(const char *label) {
    const uint64_t K = 0xf1357aea2e62a9c5ULL;
    size_t n = strlen(label);
    uint64_t h = (uint64_t)n * K;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        for (size_t j = 0; j < 8 && i + j < n; j++) {
            unsigned char c = (unsigned char)label[i + j];
            if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
            w |= (uint64_t)c << (8 * j);
        }
        h = (((h << 26) | (h >> 38)) ^ w) * K;
    }
    h ^= h >> 29;
    h *= K;
    return (unsigned)(h >> 52);
}

static bool filter_has_label(const afwd_pass_filter *f, const char *label) {
    unsigned bit = label_bit(label);
    return (f->labels[bit / 64] >> (bit % 64)) & 1;
}

/* The pass filter: the zone's last label is in it, a cluster's is not; TXT may be forwarded. */
static void test_pass_filter(const afwd_engine *e) {
    afwd_pass_filter f;
    memset(&f, 0, sizeof f);
    CHECK_RESULT(afwd_engine_pass_filter(e, &f), AFWD_OK);
    CHECK((f.types[0] >> TYPE_TXT) & 1);
    CHECK(filter_has_label(&f, "com"));
    CHECK(filter_has_label(&f, "COM"));
    CHECK(!filter_has_label(&f, "local"));
    CHECK_EQ(afwd_engine_pass_filter_generation(NULL), 0);
    CHECK_EQ(afwd_engine_pass_filter_generation(e), afwd_engine_pass_filter_generation(e));
    CHECK_RESULT(afwd_engine_pass_filter(e, NULL), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_engine_pass_filter(NULL, &f), AFWD_ERR_NULL_ARGUMENT);
    CHECK(f.types[0] == UINT64_MAX && f.labels[63] == UINT64_MAX);
}

/* Identical questions in flight share one exchange: once it is answered, each other client with
   the same question gets its own answer (its ID, its letter case, its OPT), and nobody else. */
static void test_shared_answer(const afwd_engine *e) {
    static uint8_t q[512], q2[512], other[512], uq[BUF], buf[BUF], reply[BUF];
    size_t q_len = build_query(q, 0x1001, 0x01, 1, CLIENT_NAME, TYPE_TXT, false);
    size_t q2_len = build_query(q2, 0x2002, 0x01, 1, "_acme-challenge.www.EXAMPLE.com", TYPE_TXT, true);
    size_t other_len = build_query(other, 0x3003, 0x01, 1, CLIENT_NAME, TYPE_A, false);
    afwd_exchange *x = start(e, q, q_len, false);
    if (x == NULL) return;
    size_t n = 99;
    CHECK_RESULT(afwd_exchange_answer_for(x, q2, q2_len, false, buf, BUF, &n), AFWD_ERR_EXCHANGE_NOT_ANSWERED);
    CHECK_EQ(n, 0);
    size_t uq_len = expect_send(x, uq, LOOPBACK4, 5353, false, true, CLIENT_NAME, TYPE_TXT);
    size_t r_len = build_reply(reply, uq, uq_len, NULL, 3600, false);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);
    expect_answer(x, buf, q, q_len, false);

    /* The short-buffer protocol, then the answer for the second client. */
    CHECK_RESULT(afwd_exchange_answer_for(x, q2, q2_len, false, NULL, 0, &n), AFWD_ERR_BUFFER_TOO_SHORT);
    size_t need = n;
    memset(buf, 0xAA, BUF);
    CHECK_RESULT(afwd_exchange_answer_for(x, q2, q2_len, false, buf, need - 1, &n), AFWD_ERR_BUFFER_TOO_SHORT);
    CHECK(all_bytes(buf, BUF, 0xAA));
    CHECK_RESULT(afwd_exchange_answer_for(x, q2, q2_len, false, buf, need, &n), AFWD_OK);
    CHECK_EQ(n, need);
    check_client_reply(buf, n, q2, q2_len, true);
    /* The first client's answer is unchanged. */
    expect_answer(x, buf, q, q_len, false);

    CHECK_RESULT(afwd_exchange_answer_for(x, other, other_len, false, buf, BUF, &n), AFWD_ERR_QUERY_OTHER_QUESTION);
    CHECK_RESULT(afwd_exchange_answer_for(x, q2, 5, false, buf, BUF, &n), AFWD_ERR_QUERY_MALFORMED);
    CHECK_RESULT(afwd_exchange_answer_for(NULL, q2, q2_len, false, buf, BUF, &n), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_answer_for(x, q2, q2_len, false, buf, BUF, NULL), AFWD_ERR_NULL_ARGUMENT);
    afwd_exchange_free(x);
}

/* Each bad reply to the first upstream is rejected with its own code, and the exchange moves on:
   to the second upstream ([::1]:53), or for TC over UDP to the first again over TCP. */
static void test_bad_replies(const afwd_engine *e) {
    static uint8_t q[512], uq[BUF], buf[BUF], reply[BUF], bad[BUF];
    size_t q_len = build_query(q, 0x1111, 0x01, 1, CLIENT_NAME, TYPE_TXT, true);

#define BAD_REPLY(mutate, want)                                                               \
    do {                                                                                      \
        afwd_exchange *x = start(e, q, q_len, false);                                         \
        if (x == NULL) break;                                                                 \
        size_t uq_len = expect_send(x, uq, LOOPBACK4, 5353, false, true, CLIENT_NAME, TYPE_TXT); \
        size_t r_len = build_reply(reply, uq, uq_len, NULL, 3600, false);                     \
        size_t b_len = r_len;                                                                 \
        memcpy(bad, reply, r_len);                                                            \
        mutate;                                                                               \
        CHECK_RESULT(afwd_exchange_reply(x, bad, b_len, NOW, NULL), want);                       \
        if ((want) == AFWD_TRUNCATED) {                                                       \
            uq_len = expect_send(x, uq, LOOPBACK4, 5353, true, true, CLIENT_NAME, TYPE_TXT);  \
        } else if ((want) >= AFWD_ERR_REPLY_NOT_A_RESPONSE &&                                 \
                   (want) <= AFWD_ERR_REPLY_QUESTION_MISMATCH) {                              \
            /* No reply to this query (forged or stray): the same try keeps waiting. */       \
            uq_len = expect_send(x, uq, LOOPBACK4, 5353, false, true, CLIENT_NAME, TYPE_TXT); \
        } else {                                                                              \
            uq_len = expect_send(x, uq, LOOPBACK6, 53, false, true, CLIENT_NAME, TYPE_TXT);   \
        }                                                                                     \
        r_len = build_reply(reply, uq, uq_len, NULL, 3600, false);                            \
        CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);                  \
        expect_answer(x, buf, q, q_len, true);                                                \
        afwd_exchange_free(x);                                                                \
    } while (0)
    size_t qq_len = skip_name(q, q_len, 12) + 4 - 12;
    BAD_REPLY(bad[1] ^= 0x01, AFWD_ERR_REPLY_ID_MISMATCH);
    BAD_REPLY(bad[2] |= 0x02, AFWD_TRUNCATED);
    BAD_REPLY(bad[2] &= (uint8_t)~0x80, AFWD_ERR_REPLY_NOT_A_RESPONSE);
    BAD_REPLY(bad[2] |= 2 << 3, AFWD_ERR_REPLY_OPCODE_MISMATCH);
    BAD_REPLY(bad[3] = (uint8_t)((bad[3] & 0xf0) | 2), AFWD_ERR_REPLY_UPSTREAM_FAILURE); /* SERVFAIL */
    BAD_REPLY(bad[3] = (uint8_t)((bad[3] & 0xf0) | 5), AFWD_ERR_REPLY_UPSTREAM_FAILURE); /* REFUSED */
    /* The question's letter case changed (the 0x20 check): a letter of the first label. */
    BAD_REPLY(bad[14] ^= 0x20, AFWD_ERR_REPLY_QUESTION_MISMATCH);
    BAD_REPLY(bad[12 + qq_len - 3] ^= 0x01, AFWD_ERR_REPLY_QUESTION_MISMATCH); /* qtype */
    /* An answer on another name. */
    BAD_REPLY(b_len = build_reply(bad, uq, uq_len, "_acme-challenge.other.example.com", 3600, false),
              AFWD_ERR_REPLY_FOREIGN_RECORD);
    /* The reply cut in the middle of its answer; garbage; nothing at all. */
    BAD_REPLY(b_len = r_len - 12, AFWD_ERR_REPLY_MALFORMED);
    BAD_REPLY((memcpy(bad, "garbage", 7), b_len = 7), AFWD_ERR_REPLY_NOT_A_RESPONSE);
    BAD_REPLY(b_len = 0, AFWD_ERR_REPLY_NOT_A_RESPONSE);
#undef BAD_REPLY
}

/* Timeouts everywhere: first upstream, second upstream, then FAIL. */
static void test_all_fail(const afwd_engine *e) {
    static uint8_t q[512], uq[BUF], buf[BUF], reply[BUF];
    size_t q_len = build_query(q, 0x2222, 0x01, 1, CLIENT_NAME, TYPE_TXT, false);
    afwd_exchange *x = start(e, q, q_len, false);
    if (x == NULL) return;
    expect_send(x, uq, LOOPBACK4, 5353, false, true, CLIENT_NAME, TYPE_TXT);
    CHECK_RESULT(afwd_exchange_failed(x, NOW), AFWD_OK);
    size_t uq_len = expect_send(x, uq, LOOPBACK6, 53, false, true, CLIENT_NAME, TYPE_TXT);
    /* The last one answers SERVFAIL. */
    size_t r_len = build_reply(reply, uq, uq_len, NULL, 3600, false);
    reply[3] = (uint8_t)((reply[3] & 0xf0) | 2);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_ERR_REPLY_UPSTREAM_FAILURE);
    afwd_action a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_FAIL);
    CHECK_EQ(a.fail_reason, AFWD_ERR_REPLY_UPSTREAM_FAILURE);
    /* FAIL writes nothing: no buffer needed. */
    CHECK_RESULT(afwd_exchange_poll(x, NULL, 0, &a), AFWD_OK);
    CHECK_EQ(a.kind, AFWD_ACTION_FAIL);
    CHECK_EQ(a.len, 0);
    CHECK_RESULT(afwd_exchange_failed(x, NOW), AFWD_ERR_EXCHANGE_DONE);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_ERR_EXCHANGE_DONE);
    afwd_exchange_free(x);

    /* Only timeouts: FAIL all the same. */
    x = start(e, q, q_len, true);
    if (x == NULL) return;
    expect_send(x, uq, LOOPBACK4, 5353, true, true, CLIENT_NAME, TYPE_TXT);
    CHECK_RESULT(afwd_exchange_failed(x, NOW), AFWD_OK);
    expect_send(x, uq, LOOPBACK6, 53, true, true, CLIENT_NAME, TYPE_TXT);
    CHECK_RESULT(afwd_exchange_failed(x, NOW), AFWD_OK);
    a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_FAIL);
    afwd_exchange_free(x);
}

/* A TLS upstream: every SEND to it is TCP, even for a UDP client; a plain one after it gets the
   client's UDP. The upstream getter lists it like any other. */
static void test_tls_upstream(void) {
    static uint8_t q[512], uq[BUF], buf[BUF], reply[BUF];
    afwd_config_builder *b = afwd_config_builder_new();
    CHECK(b != NULL);
    CHECK_RESULT(afwd_config_builder_add_zone(b, S(ZONE)), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_upstream_tls(b, S("[::1]:853")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.1:5353")), AFWD_OK);
    afwd_config *c = NULL;
    CHECK_RESULT(afwd_config_new(b, &c), AFWD_OK);
    afwd_config_builder_free(b);
    uint8_t text[64];
    size_t n = 0;
    CHECK_RESULT(afwd_config_upstream(c, 0, text, sizeof text, &n), AFWD_OK);
    CHECK(n == strlen("[::1]:853") && memcmp(text, "[::1]:853", n) == 0);
    afwd_engine *e = NULL;
    CHECK_RESULT(afwd_engine_new(c, &e), AFWD_OK);
    afwd_config_free(c);
    if (e == NULL) return;

    size_t q_len = build_query(q, 0x4444, 0x01, 1, CLIENT_NAME, TYPE_TXT, false);
    afwd_exchange *x = start(e, q, q_len, false);
    if (x != NULL) {
        expect_send(x, uq, LOOPBACK6, 853, true, true, CLIENT_NAME, TYPE_TXT);
        CHECK_RESULT(afwd_exchange_failed(x, NOW), AFWD_OK);
        expect_send(x, uq, LOOPBACK4, 5353, false, true, CLIENT_NAME, TYPE_TXT);
        afwd_exchange_free(x);
    }
    /* Its reply answers the UDP client. */
    x = start(e, q, q_len, false);
    if (x != NULL) {
        size_t uq_len = expect_send(x, uq, LOOPBACK6, 853, true, true, CLIENT_NAME, TYPE_TXT);
        size_t r_len = build_reply(reply, uq, uq_len, NULL, 3600, false);
        CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);
        CHECK_EQ(poll_action(x, buf).kind, AFWD_ACTION_ANSWER);
        afwd_exchange_free(x);
    }
    afwd_engine_free(e);
}

static void test_exchange_null_arguments(const afwd_engine *e) {
    static uint8_t q[512], uq[BUF], reply[BUF];
    size_t q_len = build_query(q, 0x3333, 0x01, 1, CLIENT_NAME, TYPE_TXT, false);
    afwd_exchange *x = start(e, q, q_len, false);
    if (x == NULL) return;
    afwd_action a;
    CHECK_RESULT(afwd_exchange_poll(x, uq, BUF, NULL), AFWD_ERR_NULL_ARGUMENT);
    memset(&a, 0x5A, sizeof a);
    CHECK_RESULT(afwd_exchange_poll(NULL, uq, BUF, &a), AFWD_ERR_NULL_ARGUMENT);
    CHECK_EQ(a.kind, AFWD_ACTION_FAIL); /* an error poll reads as FAIL */
    CHECK_EQ(a.fail_reason, AFWD_ERR_NULL_ARGUMENT);
    CHECK_EQ(a.len, 0);
    CHECK_RESULT(afwd_exchange_poll(x, NULL, 16, &a), AFWD_ERR_NULL_ARGUMENT);
    CHECK_EQ(a.kind, AFWD_ACTION_FAIL);
    size_t uq_len = expect_send(x, uq, LOOPBACK4, 5353, false, true, CLIENT_NAME, TYPE_TXT);
    size_t r_len = build_reply(reply, uq, uq_len, NULL, 3600, false);
    CHECK_RESULT(afwd_exchange_reply(NULL, reply, r_len, NOW, NULL), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_reply(x, NULL, r_len, NOW, NULL), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_failed(NULL, NOW), AFWD_ERR_NULL_ARGUMENT);
    /* After all that, the exchange still waits for this reply. */
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);
    expect_answer(x, uq, q, q_len, false);
    afwd_exchange_free(x);
}

static void test_exchange_outlives_engine(void) {
    /* An exchange co-owns its engine: free the handle (a reload), and the exchange still
     * finishes, reporting the engine's state with each reply; valgrind sees the core freed with
     * the exchange. */
    afwd_engine *e = make_engine(AFWD_UPSTREAM_RECURSIVE, true);
    static uint8_t q[512], uq[BUF], reply[BUF], buf[BUF];
    size_t q_len = build_query(q, 0x0102, 0x01, 1, CLIENT_NAME, TYPE_TXT, false);
    afwd_exchange *x = start(e, q, q_len, false);
    size_t learned = afwd_engine_learned_len(e);
    uint64_t generation = afwd_engine_pass_filter_generation(e);
    afwd_engine_free(e);
    if (x == NULL) return;
    size_t uq_len = expect_send(x, uq, LOOPBACK4, 5353, false, true, CLIENT_NAME, TYPE_TXT);
    size_t r_len = build_reply(reply, uq, uq_len, NULL, 3600, false);
    afwd_engine_state state = {.pass_filter_generation = 99, .learned_len = 99};
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, &state), AFWD_OK);
    CHECK_EQ(state.pass_filter_generation, generation);
    CHECK_EQ(state.learned_len, learned);
    expect_answer(x, buf, q, q_len, false);
    afwd_exchange_free(x);
}

static void test_classification(const afwd_engine *e) {
    /* The classification starts the exchange of its own question, and no other. */
    static uint8_t q[512], uq[BUF];
    afwd_classification c = {.verdict = AFWD_VERDICT_ERROR, .rule = 9, .check = 9};
    CHECK_EQ(afwd_engine_classify(e, S(CLIENT_NAME), TYPE_TXT, CLASS_IN, NOW, AFWD_NO_PASS_FILTER, &c),
             AFWD_VERDICT_FORWARD);
    CHECK_EQ(c.verdict, AFWD_VERDICT_FORWARD);
    CHECK_EQ(c.rule, AFWD_RULE_CHALLENGE);
    CHECK(c.check != 0);
    afwd_exchange *x = NULL;
    size_t q_len = build_query(q, 0x0203, 0x01, 1, "_acme-challenge.www.example.COM.", TYPE_TXT, false);
    CHECK_RESULT(afwd_exchange_new(e, &c, q, q_len, false, 7, NOW, &x), AFWD_OK);
    if (x != NULL) CHECK(!afwd_exchange_is_authoritative(x));
    if (x != NULL) expect_send(x, uq, LOOPBACK4, 5353, false, true, CLIENT_NAME, TYPE_TXT);
    afwd_exchange_free(x);
    q_len = build_query(q, 0x0203, 0x01, 1, CLIENT_NAME, TYPE_A, false);
    CHECK_RESULT(afwd_exchange_new(e, &c, q, q_len, false, 7, NOW, &x), AFWD_ERR_QUERY_NOT_CLASSIFIED);
    CHECK(x == NULL);
    /* PASS starts nothing; the filter generation the caller applied changes no verdict. */
    uint64_t current = afwd_engine_pass_filter_generation(e);
    CHECK_EQ(afwd_engine_classify(e, S("www.example.com."), TYPE_A, CLASS_IN, NOW, current, &c), AFWD_VERDICT_PASS);
    CHECK_EQ(c.check, 0);
    q_len = build_query(q, 0x0203, 0x01, 1, "www.example.com.", TYPE_A, false);
    CHECK_RESULT(afwd_exchange_new(e, &c, q, q_len, false, 7, NOW, &x), AFWD_ERR_QUERY_NOT_CLASSIFIED);
    CHECK_EQ(afwd_engine_classify(e, S(CLIENT_NAME), TYPE_TXT, CLASS_IN, NOW, current, NULL), AFWD_VERDICT_FORWARD);
    CHECK_EQ(afwd_engine_classify(NULL, S(CLIENT_NAME), TYPE_TXT, CLASS_IN, NOW, current, &c), AFWD_VERDICT_ERROR);
    CHECK_EQ(c.verdict, AFWD_VERDICT_ERROR);
}

/* ---- learning ------------------------------------------------------------------------------- */

/* Discovery: an NS answer makes A/AAAA of its targets forwarded; a CNAME in a challenge answer
   makes its target forwarded (any type) and the target's ancestors' SOA/NS. */
static void test_learning(void) {
    afwd_engine *e = make_engine(AFWD_UPSTREAM_RECURSIVE, true);
    static uint8_t q[512], uq[BUF], buf[BUF], reply[BUF];
    msg m;

    CHECK_EQ(CLASSIFY(e, "ns1.example.com.", TYPE_A), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "x.target.example.org.", TYPE_TXT), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "target.example.org.", TYPE_SOA), AFWD_VERDICT_PASS);

    /* NS example.com (rule 2) -> NS ns1.example.com, ns2.example.com. */
    size_t q_len = build_query(q, 0x4444, 0x01, 1, "Example.COM", TYPE_NS, false);
    CHECK_EQ(afwd_engine_classify(e, q + 12, 0, TYPE_NS, CLASS_IN, NOW, AFWD_NO_PASS_FILTER, NULL), AFWD_VERDICT_PASS); /* empty name */
    CHECK_EQ(CLASSIFY(e, "Example.COM", TYPE_NS), AFWD_VERDICT_FORWARD);
    afwd_exchange *x = start(e, q, q_len, false);
    if (x == NULL) return;
    size_t uq_len = expect_send(x, uq, LOOPBACK4, 5353, false, true, "example.com", TYPE_NS);
    reply_start(&m, reply, uq, uq_len, false);
    reply_name_rr(&m, 0, NULL, TYPE_NS, 3600, "ns1.example.com");
    reply_name_rr(&m, 0, NULL, TYPE_NS, 3600, "ns2.example.com");
    size_t r_len = reply_end(&m, uq, uq_len);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);
    /* The internal view is asked about both hosts first; it knows neither. */
    internal_unknown(x);
    afwd_action a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_ANSWER);
    CHECK_EQ(get16(buf), 0x4444);
    CHECK_EQ(get16(buf + 6), 2); /* both NS records */
    afwd_exchange_free(x);
    CHECK(afwd_engine_learned_len(e) >= 2);
    CHECK_EQ(CLASSIFY(e, "ns1.example.com.", TYPE_A), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "NS2.example.com", TYPE_AAAA), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "ns1.example.com.", TYPE_TXT), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "ns3.example.com.", TYPE_A), AFWD_VERDICT_PASS);
    /* Until the NS TTL runs out. */
    CHECK_EQ(afwd_engine_classify(e, S("ns1.example.com."), TYPE_A, CLASS_IN, NOW + 3599 * 1000, AFWD_NO_PASS_FILTER, NULL), AFWD_VERDICT_FORWARD);
    CHECK_EQ(afwd_engine_classify(e, S("ns1.example.com."), TYPE_A, CLASS_IN, NOW + 3601 * 1000, AFWD_NO_PASS_FILTER, NULL), AFWD_VERDICT_PASS);

    /* A challenge answered with a CNAME into another zone. */
    size_t before = afwd_engine_learned_len(e);
    q_len = build_query(q, 0x5555, 0x01, 1, CLIENT_NAME, TYPE_TXT, false);
    x = start(e, q, q_len, false);
    if (x == NULL) return;
    uq_len = expect_send(x, uq, LOOPBACK4, 5353, false, true, CLIENT_NAME, TYPE_TXT);
    reply_start(&m, reply, uq, uq_len, false);
    reply_name_rr(&m, 0, NULL, TYPE_CNAME, 300, "x.target.example.org");
    reply_rr(&m, 0, "x.target.example.org", TYPE_TXT, 300, TOKEN, sizeof TOKEN);
    r_len = reply_end(&m, uq, uq_len);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);
    /* The internal view is asked about the target first; it does not know it. */
    internal_says(x, 3);
    a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_ANSWER);
    CHECK_EQ(get16(buf), 0x5555);
    CHECK_EQ(get16(buf + 6), 2); /* CNAME and TXT */
    afwd_exchange_free(x);
    CHECK(afwd_engine_learned_len(e) > before);
    CHECK_EQ(CLASSIFY(e, "x.target.example.org.", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "X.Target.Example.Org", TYPE_CNAME), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "target.example.org.", TYPE_SOA), AFWD_VERDICT_FORWARD); /* the walk up */
    CHECK_EQ(CLASSIFY(e, "y.target.example.org.", TYPE_TXT), AFWD_VERDICT_PASS);
    CHECK_EQ(afwd_engine_classify(e, S("x.target.example.org."), TYPE_TXT, CLASS_IN, NOW + 86400ULL * 1000 + 1, AFWD_NO_PASS_FILTER, NULL),
             AFWD_VERDICT_PASS);

    /* The TXT for the target goes out like any forwarded question. */
    q_len = build_query(q, 0x6666, 0x01, 1, "x.target.example.org", TYPE_TXT, false);
    x = start(e, q, q_len, false);
    if (x == NULL) return;
    uq_len = expect_send(x, uq, LOOPBACK4, 5353, false, true, "x.target.example.org", TYPE_TXT);
    r_len = build_reply(reply, uq, uq_len, NULL, 3600, false);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);
    expect_answer(x, buf, q, q_len, false);
    afwd_exchange_free(x);
    afwd_engine_free(e);

    /* discovery off: NS targets are not learned, CNAME targets still are. */
    e = make_engine(AFWD_UPSTREAM_RECURSIVE, false);
    q_len = build_query(q, 0x7777, 0x01, 1, CLIENT_NAME, TYPE_TXT, false);
    x = start(e, q, q_len, false);
    if (x == NULL) return;
    uq_len = expect_send(x, uq, LOOPBACK4, 5353, false, true, CLIENT_NAME, TYPE_TXT);
    reply_start(&m, reply, uq, uq_len, false);
    reply_name_rr(&m, 0, NULL, TYPE_CNAME, 300, "x.target.example.org");
    reply_name_rr(&m, 1, "example.com", TYPE_NS, 300, "ns1.example.com");
    r_len = reply_end(&m, uq, uq_len);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);
    internal_says(x, 3);
    CHECK_EQ(poll_action(x, buf).kind, AFWD_ACTION_ANSWER);
    afwd_exchange_free(x);
    CHECK_EQ(CLASSIFY(e, "x.target.example.org.", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "ns1.example.com.", TYPE_A), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "target.example.org.", TYPE_SOA), AFWD_VERDICT_PASS);
    afwd_engine_free(e);
}

/* ---- authoritative mode --------------------------------------------------------------------- */

static void test_authoritative(void) {
    afwd_engine *e = make_engine(AFWD_UPSTREAM_AUTHORITATIVE, true);
    static uint8_t q[512], uq[BUF], buf[BUF], reply[BUF];
    static const uint8_t NS1[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 53, 1};
    static const uint8_t NS2[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 53, 2};
    static const uint8_t A_NS1[4] = {127, 0, 53, 1};
    static const uint8_t A_NS2[4] = {127, 0, 53, 2};
    msg m;
    size_t q_len = build_query(q, 0x8888, 0x01, 1, CLIENT_NAME, TYPE_TXT, true);
    afwd_exchange *x = start(e, q, q_len, false);
    if (x == NULL) return;
    /* Its sends to the resolvers are discovery lookups (what the shim labels its metrics with). */
    CHECK(afwd_exchange_is_authoritative(x));
    CHECK(!afwd_exchange_is_authoritative(NULL));

    /* 1. SOA of the challenge name, to the first resolver, RD set: NXDOMAIN with the zone's SOA. */
    size_t uq_len = expect_send(x, uq, LOOPBACK4, 5353, false, true, CLIENT_NAME, TYPE_SOA);
    reply_start(&m, reply, uq, uq_len, false);
    reply[3] = 0x83; /* RA, NXDOMAIN */
    reply_soa_rr(&m, 1, "example.com", 3600, 300);
    size_t r_len = reply_end(&m, uq, uq_len);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);

    /* 2. NS of the apex: ns1 with glue, ns2 without. */
    uq_len = expect_send(x, uq, LOOPBACK4, 5353, false, true, "example.com", TYPE_NS);
    reply_start(&m, reply, uq, uq_len, false);
    reply_name_rr(&m, 0, NULL, TYPE_NS, 3600, "ns1.example.com");
    reply_name_rr(&m, 0, NULL, TYPE_NS, 3600, "ns2.example.com");
    reply_rr(&m, 2, "ns1.example.com", TYPE_A, 3600, A_NS1, 4);
    r_len = reply_end(&m, uq, uq_len);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);

    /* 3. The challenge to ns1's glue address on port 53, RD clear; a reply without AA is
       refused and the exchange moves on: the A lookup of ns2 through the resolvers. */
    uq_len = expect_send(x, uq, NS1, 53, false, false, CLIENT_NAME, TYPE_TXT);
    r_len = build_reply(reply, uq, uq_len, NULL, 3600, false);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_ERR_REPLY_NOT_AUTHORITATIVE);
    uq_len = expect_send(x, uq, LOOPBACK4, 5353, false, true, "ns2.example.com", TYPE_A);
    reply_start(&m, reply, uq, uq_len, false);
    reply_rr(&m, 0, NULL, TYPE_A, 3600, A_NS2, 4);
    r_len = reply_end(&m, uq, uq_len);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);

    /* 4. ns2 answers with AA: the client gets it. */
    uq_len = expect_send(x, uq, NS2, 53, false, false, CLIENT_NAME, TYPE_TXT);
    r_len = build_reply(reply, uq, uq_len, NULL, 3600, true);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);
    expect_answer(x, buf, q, q_len, true);
    afwd_exchange_free(x);
    CHECK(afwd_engine_learned_len(e) > 0);

    /* The zone's nameservers are learned: the next challenge goes straight to ns2 (the one that
       answered), over TCP as the client came. */
    q_len = build_query(q, 0x9999, 0x01, 1, "_acme-challenge.other.example.com", TYPE_TXT, false);
    x = start(e, q, q_len, true);
    if (x == NULL) return;
    uq_len = expect_send(x, uq, NS2, 53, true, false, "_acme-challenge.other.example.com", TYPE_TXT);
    r_len = build_reply(reply, uq, uq_len, NULL, 3600, true);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);
    expect_answer(x, buf, q, q_len, false);
    afwd_exchange_free(x);

    /* Discovery questions still go to the resolvers, with RD. */
    q_len = build_query(q, 0xaaaa, 0x01, 1, "example.com", TYPE_SOA, false);
    x = start(e, q, q_len, false);
    if (x == NULL) return;
    expect_send(x, uq, LOOPBACK4, 5353, false, true, "example.com", TYPE_SOA);
    afwd_exchange_free(x); /* freed while waiting: fine */
    afwd_engine_free(e);
}

/* ---- hairpin ------------------------------------------------------------------ */

static const char *const INGRESS = "ingress-nginx-controller.ingress-nginx.svc.cluster.local";

/* An engine with the zone, one upstream, max_ttl MAX_TTL and hairpin lines: IP targets (an exact
   name and a wildcard), and a name target. */
static afwd_engine *make_hairpin_engine(void) {
    afwd_config_builder *b = afwd_config_builder_new();
    CHECK(b != NULL);
    char line[256];
    snprintf(line, sizeof line, "svc.example.com *.svc.example.net %s", INGRESS);
    CHECK_RESULT(afwd_config_builder_add_zone(b, S(ZONE)), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.1:5353")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_max_ttl(b, MAX_TTL), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("www.example.com *.example.net 10.96.0.80 fd00::80")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("v4only.example.com  10.96.0.81\t10.96.0.82")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S(line)), AFWD_OK);
    afwd_config *c = NULL;
    afwd_engine *e = NULL;
    CHECK_RESULT(afwd_config_new(b, &c), AFWD_OK);
    afwd_config_builder_free(b);
    CHECK_RESULT(afwd_engine_new(c, &e), AFWD_OK);
    afwd_config_free(c);
    return e;
}

/* Checks a hairpin client reply to q: the client's ID and question, QR RA and the client's RD,
   AA clear, NOERROR, `n_addrs` answers of `type` owned by the question name (a pointer to it, no
   CNAME) each with `ttl` and one of the addresses in `addrs` (each `rdlen` bytes), in order. */
static void check_hairpin_reply(const uint8_t *r, size_t n, const uint8_t *q, size_t q_len, uint16_t type,
                                uint32_t ttl, const uint8_t *addrs, size_t rdlen, uint16_t n_addrs) {
    CHECK(n > 12);
    if (n <= 12) return;
    CHECK_EQ(get16(r), get16(q));
    CHECK_EQ(r[2] & 0x80, 0x80);        /* QR */
    CHECK_EQ(r[2] & 0x04, 0);           /* AA clear */
    CHECK_EQ(r[2] & 0x01, q[2] & 0x01); /* RD copied */
    CHECK_EQ(r[3] & 0x80, 0x80);        /* RA */
    CHECK_EQ(r[3] & 0x0f, 0);           /* NOERROR */
    CHECK_EQ(get16(r + 4), 1);
    CHECK_EQ(get16(r + 6), n_addrs);
    CHECK_EQ(get16(r + 8), 0);
    size_t qq_len = skip_name(q, q_len, 12) + 4 - 12;
    CHECK(n >= 12 + qq_len && memcmp(r + 12, q + 12, qq_len) == 0);
    size_t at = 12 + qq_len;
    for (uint16_t i = 0; i < n_addrs; i++) {
        CHECK(at + 12 + rdlen <= n);
        if (at + 12 + rdlen > n) return;
        CHECK_EQ(get16(r + at), 0xc000 | 12); /* owner: the client's name */
        CHECK_EQ(get16(r + at + 2), type);
        CHECK_EQ(get16(r + at + 4), CLASS_IN);
        CHECK_EQ(get32(r + at + 6), ttl);
        CHECK_EQ(get16(r + at + 10), rdlen);
        CHECK(memcmp(r + at + 12, addrs + i * rdlen, rdlen) == 0);
        at += 12 + rdlen;
    }
}

static void test_hairpin(void) {
    static uint8_t q[512], iq[BUF], buf[BUF], reply[BUF];
    static const uint8_t V4[] = {10, 96, 0, 80};
    static const uint8_t V4_PAIR[] = {10, 96, 0, 81, 10, 96, 0, 82};
    static const uint8_t V6[] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80};
    static const uint8_t SVC[] = {10, 96, 0, 10};
    afwd_engine *e = make_hairpin_engine();
    if (e == NULL) return;

    /* Classification: A and AAAA of hairpin names; challenges and other types are not. */
    CHECK_EQ(CLASSIFY(e, "www.example.com.", TYPE_A), AFWD_VERDICT_HAIRPIN);
    CHECK_EQ(CLASSIFY(e, "WWW.Example.COM", TYPE_AAAA), AFWD_VERDICT_HAIRPIN);
    CHECK_EQ(CLASSIFY(e, "a.b.example.net", TYPE_A), AFWD_VERDICT_HAIRPIN);
    CHECK_EQ(CLASSIFY(e, "x.svc.example.net", TYPE_A), AFWD_VERDICT_HAIRPIN); /* longest wildcard */
    CHECK_EQ(CLASSIFY(e, "svc.example.com", TYPE_A), AFWD_VERDICT_HAIRPIN);
    CHECK_EQ(CLASSIFY(e, "example.net", TYPE_A), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "www.example.com", TYPE_TXT), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.www.example.com", TYPE_A), AFWD_VERDICT_FORWARD);
    CHECK_EQ(afwd_engine_classify(e, S("www.example.com"), TYPE_A, CLASS_CH, NOW, AFWD_NO_PASS_FILTER, NULL), AFWD_VERDICT_PASS);

    /* IP targets: the classification carries the answer's addresses; a name target does not. */
    afwd_classification c;
    CHECK_EQ(afwd_engine_classify(e, S("WWW.Example.COM"), TYPE_A, CLASS_IN, NOW, AFWD_NO_PASS_FILTER, &c),
             AFWD_VERDICT_HAIRPIN);
    CHECK(c.hairpin_ready);
    CHECK_EQ(c.addr_count, 1);
    CHECK_EQ(c.ttl, MAX_TTL);
    CHECK(memcmp(c.addrs[0] + 12, V4, 4) == 0 && c.addrs[0][10] == 0xff && c.addrs[0][11] == 0xff);
    CHECK_EQ(afwd_engine_classify(e, S("a.example.net"), TYPE_AAAA, CLASS_IN, NOW, AFWD_NO_PASS_FILTER, &c),
             AFWD_VERDICT_HAIRPIN);
    CHECK(c.hairpin_ready && c.addr_count == 1 && memcmp(c.addrs[0], V6, 16) == 0);
    CHECK_EQ(afwd_engine_classify(e, S("svc.example.com"), TYPE_A, CLASS_IN, NOW, AFWD_NO_PASS_FILTER, &c),
             AFWD_VERDICT_HAIRPIN);
    CHECK(!c.hairpin_ready && c.addr_count == 0);
    CHECK_EQ(AFWD_EDNS_UDP_PAYLOAD, 1232);

    /* IP target, A, client RD clear: the first poll is the ANSWER. */
    size_t q_len = build_query(q, 0x1234, 0x00, 1, "WwW.Example.COM", TYPE_A, false);
    afwd_exchange *x = start(e, q, q_len, false);
    if (x == NULL) goto out;
    afwd_action a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_ANSWER);
    check_hairpin_reply(buf, a.len, q, q_len, TYPE_A, MAX_TTL, V4, 4, 1);
    CHECK_RESULT(afwd_exchange_failed(x, NOW), AFWD_ERR_EXCHANGE_DONE);
    afwd_exchange_free(x);

    /* AAAA of the same target, over TCP; two addresses of a v4-only target; NODATA. */
    q_len = build_query(q, 0x1235, 0x01, 1, "a.example.net", TYPE_AAAA, true);
    x = start(e, q, q_len, true);
    a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_ANSWER);
    check_hairpin_reply(buf, a.len, q, q_len, TYPE_AAAA, MAX_TTL, V6, 16, 1);
    CHECK_EQ(get16(buf + 10), 1); /* the client's OPT */
    afwd_exchange_free(x);
    q_len = build_query(q, 0x1236, 0x01, 1, "v4only.example.com", TYPE_A, false);
    x = start(e, q, q_len, false);
    a = poll_action(x, buf);
    check_hairpin_reply(buf, a.len, q, q_len, TYPE_A, MAX_TTL, V4_PAIR, 4, 2);
    afwd_exchange_free(x);
    q_len = build_query(q, 0x1237, 0x01, 1, "v4only.example.com", TYPE_AAAA, false);
    x = start(e, q, q_len, false);
    a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_ANSWER);
    check_hairpin_reply(buf, a.len, q, q_len, TYPE_AAAA, 0, NULL, 16, 0);
    afwd_exchange_free(x);

    /* Name target: INTERNAL with the target's A (lower case, RD, no network address). */
    q_len = build_query(q, 0x4321, 0x01, 1, "Svc.Example.COM", TYPE_A, false);
    x = start(e, q, q_len, false);
    a = poll_action(x, iq);
    CHECK_EQ(a.kind, AFWD_ACTION_INTERNAL);
    CHECK_EQ(a.server_port, 0);
    CHECK_EQ(a.tcp, false);
    CHECK(all_bytes(a.server_ip, 16, 0));
    size_t iq_len = a.len;
    uint8_t want[300];
    size_t wn = put_name(want, INGRESS);
    CHECK(iq_len >= 12 + wn + 4 && memcmp(iq + 12, want, wn) == 0);
    CHECK_EQ(get16(iq + 12 + wn), TYPE_A);
    CHECK_EQ(iq[2] & 0x81, 0x01); /* a query, RD */
    /* The short-buffer protocol on INTERNAL. */
    CHECK_RESULT(afwd_exchange_poll(x, NULL, 0, &a), AFWD_ERR_BUFFER_TOO_SHORT);
    CHECK_EQ(a.kind, AFWD_ACTION_INTERNAL);
    CHECK_EQ(a.len, iq_len);
    /* The chain answers: a CNAME, then the A at its target with TTL 5 (below max_ttl), and an A on
       the target name with TTL 3600 (capped). */
    msg m;
    reply_start(&m, reply, iq, iq_len, true);
    reply_name_rr(&m, 0, NULL, TYPE_CNAME, 300, "alias.ingress-nginx.svc.cluster.local");
    reply_rr(&m, 0, "alias.ingress-nginx.svc.cluster.local", TYPE_A, 5, SVC, 4);
    size_t r_len = reply_end(&m, iq, iq_len);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);
    a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_ANSWER);
    check_hairpin_reply(buf, a.len, q, q_len, TYPE_A, 5, SVC, 4, 1);
    CHECK_EQ(afwd_engine_learned_len(e), 0);
    afwd_exchange_free(x);

    /* The chain wrote nothing: FAIL. */
    x = start(e, q, q_len, false);
    CHECK_EQ(poll_action(x, iq).kind, AFWD_ACTION_INTERNAL);
    CHECK_RESULT(afwd_exchange_failed(x, NOW), AFWD_OK);
    a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_FAIL);
    CHECK_EQ(a.fail_reason, AFWD_ERR_HAIRPIN_TARGET_FAILED);
    CHECK_RESULT(afwd_exchange_failed(x, NOW), AFWD_ERR_EXCHANGE_DONE);
    afwd_exchange_free(x);

    /* NXDOMAIN from the chain: a valid reply, but FAIL (no negative answer for the public name). */
    x = start(e, q, q_len, false);
    a = poll_action(x, iq);
    reply_start(&m, reply, iq, a.len, true);
    reply[3] |= 3;
    r_len = reply_end(&m, iq, a.len);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);
    a = poll_action(x, buf);
    CHECK_EQ(a.kind, AFWD_ACTION_FAIL);
    CHECK_EQ(a.fail_reason, AFWD_ERR_HAIRPIN_TARGET_FAILED);
    afwd_exchange_free(x);

    /* SERVFAIL, and a reply with another ID: rejected with their codes, then FAIL. */
    x = start(e, q, q_len, false);
    a = poll_action(x, iq);
    reply_start(&m, reply, iq, a.len, false);
    reply[3] |= 2;
    r_len = reply_end(&m, iq, a.len);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_ERR_REPLY_UPSTREAM_FAILURE);
    CHECK_EQ(poll_action(x, buf).fail_reason, AFWD_ERR_HAIRPIN_TARGET_FAILED);
    afwd_exchange_free(x);
    x = start(e, q, q_len, false);
    a = poll_action(x, iq);
    reply_start(&m, reply, iq, a.len, false);
    reply_rr(&m, 0, NULL, TYPE_A, 30, SVC, 4);
    r_len = reply_end(&m, iq, a.len);
    reply[1] ^= 1;
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_ERR_REPLY_ID_MISMATCH);
    CHECK_EQ(poll_action(x, buf).kind, AFWD_ACTION_FAIL);
    afwd_exchange_free(x);
out:
    afwd_engine_free(e);
}

/* ---- the rules on public data, and the prefetch ------------------------------------------ */

static void test_public_data_rules(void) {
    static uint8_t q[512], uq[BUF], buf[BUF], reply[BUF];
    msg m;
    afwd_config_builder *b = afwd_config_builder_new();
    CHECK_RESULT(afwd_config_builder_add_protected(b, S(".")), AFWD_ERR_PROTECTED_ROOT);
    CHECK_RESULT(afwd_config_builder_add_protected(b, S("corp.internal")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_allow_ns(b, S("10.0.0.0/33")), AFWD_ERR_NET_INVALID);
    CHECK_RESULT(afwd_config_builder_add_allow_ns(b, S("fd00::/8")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.1:5353")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_delegated(b, S("acme.corp.internal")), AFWD_ERR_DELEGATED_PROTECTED);
    CHECK_RESULT(afwd_config_builder_add_zone(b, S("svc.cluster.local")), AFWD_ERR_ZONE_PROTECTED);
    CHECK_RESULT(afwd_config_builder_add_zone(b, S("example.com")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_protected(b, S("com")), AFWD_ERR_ZONE_PROTECTED);
    afwd_config *c = NULL;
    afwd_config_builder_free(b);

    /* No zones listed: every challenge name, but never a protected one. */
    b = afwd_config_builder_new();
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.1:5353")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_protected(b, S("corp.internal")), AFWD_OK);
    CHECK_RESULT(afwd_config_new(b, &c), AFWD_OK);
    afwd_config_builder_free(b);
    afwd_engine *e = NULL;
    CHECK_RESULT(afwd_engine_new(c, &e), AFWD_OK);
    afwd_config_free(c);
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.attacker.net", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.svc.cluster.local", TYPE_TXT), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.db.corp.internal", TYPE_TXT), AFWD_VERDICT_PASS);

    /* A public CNAME onto a name the internal view knows: the client gets the answer, the
       target is not learned, and the refusal is counted. */
    size_t q_len = build_query(q, 0x1357, 0x01, 1, "_acme-challenge.attacker.net", TYPE_TXT, false);
    afwd_exchange *x = start(e, q, q_len, false);
    if (x == NULL) return;
    size_t uq_len = expect_send(x, uq, LOOPBACK4, 5353, false, true, "_acme-challenge.attacker.net", TYPE_TXT);
    reply_start(&m, reply, uq, uq_len, false);
    reply_name_rr(&m, 0, NULL, TYPE_CNAME, 300, "intranet.example.com");
    size_t r_len = reply_end(&m, uq, uq_len);
    CHECK_RESULT(afwd_exchange_reply(x, reply, r_len, NOW, NULL), AFWD_OK);
    internal_says(x, 0);
    CHECK_EQ(poll_action(x, buf).kind, AFWD_ACTION_ANSWER);
    afwd_exchange_free(x);
    CHECK_EQ(CLASSIFY(e, "intranet.example.com", TYPE_TXT), AFWD_VERDICT_PASS);
    CHECK_EQ(afwd_engine_refused(e, AFWD_REFUSAL_INTERNAL_NAME), 1);
    CHECK_EQ(afwd_engine_refused(e, AFWD_REFUSAL_PROTECTED), 0);
    CHECK_EQ(afwd_engine_refused(e, AFWD_REFUSAL_COUNT), 0);
    CHECK_EQ(afwd_engine_refused(NULL, AFWD_REFUSAL_INTERNAL_NAME), 0);
    CHECK(strcmp(afwd_refusal_label(AFWD_REFUSAL_INTERNAL_NAME), "internal_name") == 0);
    CHECK(strcmp(afwd_refusal_label(AFWD_REFUSAL_COUNT), "unknown") == 0);
    afwd_engine_free(e);
}

static void test_prefetch(void) {
    static uint8_t buf[BUF], reply[BUF];
    msg m;
    afwd_engine *e = make_engine(AFWD_UPSTREAM_RECURSIVE, true);
    afwd_prefetch *p = NULL;
    CHECK_RESULT(afwd_prefetch_new(e, 42, &p), AFWD_OK);
    CHECK(p != NULL);
    CHECK(!afwd_prefetch_ready(p));
    CHECK_EQ(CLASSIFY(e, "ns1.example.net", TYPE_A), AFWD_VERDICT_PASS);
    /* One NS lookup per listed and delegated zone, each answered with an in-zone host. */
    int sends = 0;
    for (;;) {
        afwd_prefetch_action a;
        CHECK_RESULT(afwd_prefetch_poll(p, e, NOW, buf, BUF, &a), AFWD_OK);
        if (a.kind == AFWD_PREFETCH_SLEEP) {
            CHECK(a.until_ms > NOW && a.until_ms != UINT64_MAX);
            break;
        }
        CHECK_EQ(a.kind, AFWD_PREFETCH_SEND);
        CHECK_EQ(a.until_ms, NOW + 1500); /* the core's deadline: the timeout */
        CHECK_EQ(a.server_port, 5353);
        if (++sends > 3) break;
        char zone[256], host[300];
        size_t off = 12, n = 0;
        while (buf[off] != 0 && n < sizeof zone - 70) {
            memcpy(zone + n, buf + off + 1, buf[off]);
            n += buf[off];
            zone[n++] = '.';
            off += 1u + buf[off];
        }
        zone[n ? n - 1 : 0] = 0;
        snprintf(host, sizeof host, "ns1.%s", zone);
        reply_start(&m, reply, buf, a.len, false);
        reply_name_rr(&m, 0, NULL, TYPE_NS, 3600, host);
        size_t r_len = reply_end(&m, buf, a.len);
        CHECK_RESULT(afwd_prefetch_reply(p, e, reply, r_len, NOW), AFWD_OK);
    }
    CHECK_EQ(sends, 3);
    CHECK(afwd_prefetch_ready(p));
    CHECK_EQ(CLASSIFY(e, "ns1.example.net", TYPE_A), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "ns1.acme.auth.example.org", TYPE_AAAA), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "ns1.example.net", TYPE_TXT), AFWD_VERDICT_PASS);
    CHECK_EQ(afwd_engine_learned_len(e), 0); /* prefetched, not learned */
    CHECK_RESULT(afwd_prefetch_failed(p, NOW), AFWD_OK);
    CHECK_RESULT(afwd_prefetch_failed(NULL, NOW), AFWD_ERR_NULL_ARGUMENT);
    afwd_prefetch_free(p);
    afwd_engine_free(e);
}

static void test_labels(void) {
    afwd_config_builder *b = afwd_config_builder_new();
    CHECK(b != NULL);
    char label[80];
    /* The first label replaces the defaults. */
    CHECK_RESULT(afwd_config_builder_add_label(b, S("_Custom")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_label(b, S("")), AFWD_ERR_LABEL_EMPTY);
    CHECK_RESULT(afwd_config_builder_add_label(b, NULL, 0), AFWD_ERR_LABEL_EMPTY);
    CHECK_RESULT(afwd_config_builder_add_label(b, S("custom")), AFWD_ERR_LABEL_NO_UNDERSCORE);
    label[0] = '_';
    memset(label + 1, 'a', 63);
    label[64] = '\0';
    CHECK_RESULT(afwd_config_builder_add_label(b, S(label)), AFWD_ERR_LABEL_TOO_LONG);
    label[63] = '\0';
    CHECK_RESULT(afwd_config_builder_add_label(b, S(label)), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_label(b, S("_a.example")), AFWD_ERR_LABEL_BAD_CHARACTER);
    CHECK_RESULT(afwd_config_builder_add_label(b, S("_a\\046b")), AFWD_ERR_LABEL_BAD_CHARACTER);
    CHECK_RESULT(afwd_config_builder_add_label(b, S("_CUSTOM")), AFWD_ERR_LABEL_DUPLICATE);
    CHECK_RESULT(afwd_config_builder_add_label(b, S("_x\xff")), AFWD_ERR_INVALID_UTF8);
    CHECK_RESULT(afwd_config_builder_add_label(b, NULL, 3), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_config_builder_add_label(NULL, S("_x")), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.1:5353")), AFWD_OK);
    afwd_config *c = NULL;
    CHECK_RESULT(afwd_config_new(b, &c), AFWD_OK);
    afwd_engine *e = NULL;
    CHECK_RESULT(afwd_engine_new(c, &e), AFWD_OK);
    afwd_config_free(c);
    CHECK_EQ(CLASSIFY(e, "_custom.www.example.com.", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.www.example.com.", TYPE_TXT), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "_validation-persist.www.example.com.", TYPE_TXT), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "_ujmmovf2vn55tgye._acme-challenge.www.example.com.", TYPE_TXT), AFWD_VERDICT_PASS);
    afwd_engine_free(e);
    /* At most 16: two so far. */
    for (int i = 0; i < 14; i++) {
        snprintf(label, sizeof label, "_l%d", i);
        CHECK_RESULT(afwd_config_builder_add_label(b, S(label)), AFWD_OK);
    }
    CHECK_RESULT(afwd_config_builder_add_label(b, S("_one-more")), AFWD_ERR_TOO_MANY_LABELS);
    afwd_config_builder_free(b);
}

static void test_free_null(void) {
    /* No-ops: a crash, or an invalid free under valgrind, fails the run. */
    afwd_config_builder_free(NULL);
    afwd_config_free(NULL);
    afwd_engine_free(NULL);
    afwd_exchange_free(NULL);
    afwd_prefetch_free(NULL);
}

int main(void) {
    test_result_texts();
    test_config_errors();
    test_builder_reuse();
    test_upstream_getter();
    afwd_engine *e = make_engine(AFWD_UPSTREAM_RECURSIVE, true);
    if (e != NULL) {
        test_classify(e);
        test_classification(e);
        test_malformed_queries(e);
        test_exchange(e, false, false);
        test_exchange(e, true, false);
        test_exchange(e, false, true);
        test_exchange(e, true, true);
        test_pass_filter(e);
        test_shared_answer(e);
        test_bad_replies(e);
        test_all_fail(e);
        test_exchange_null_arguments(e);
        afwd_engine_free(e);
    }
    test_classify_discovery_off();
    test_exchange_outlives_engine();
    test_tls_upstream();
    test_learning();
    test_authoritative();
    test_hairpin();
    test_public_data_rules();
    test_prefetch();
    test_labels();
    test_free_null();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
