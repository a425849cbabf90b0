/*
 * End-to-end test of the acmeforward C ABI through the generated header, as the Go shim uses
 * it: every function in ffi/include/acmeforward.h, with hand-built DNS wire messages.
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
    AFWD_ERR_CONFIG_INVALID,
    AFWD_ERR_QUERY_MALFORMED,
    AFWD_ERR_QUERY_NOT_A_QUERY,
    AFWD_ERR_QUERY_UNSUPPORTED_OPCODE,
    AFWD_ERR_QUERY_QUESTION_COUNT,
    AFWD_ERR_REPLY_MALFORMED,
    AFWD_ERR_REPLY_NOT_A_RESPONSE,
    AFWD_ERR_REPLY_ID_MISMATCH,
    AFWD_ERR_REPLY_OPCODE_MISMATCH,
    AFWD_ERR_REPLY_QUESTION_MISMATCH,
    AFWD_ERR_REPLY_FOREIGN_RECORD,
    AFWD_ERR_REPLY_UPSTREAM_FAILURE,
};
#define N_RESULTS (sizeof ALL_RESULTS / sizeof ALL_RESULTS[0])

enum { TYPE_TXT = 16, TYPE_A = 1, TYPE_OPT = 41, CLASS_IN = 1, CLASS_CH = 3 };
enum { MAX_TTL = 60 };

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

/*
 * The upstream's reply to `uq` (the upstream query): QR and RA set, one TXT answer with `ttl`,
 * owned by `owner` (NULL: a compression pointer to the question name), inserted after the
 * question; the rest of the query (its OPT record) is kept.
 */
static size_t build_reply(uint8_t *r, const uint8_t *uq, size_t uq_len, const char *owner, uint32_t ttl) {
    size_t qend = skip_name(uq, uq_len, 12) + 4;
    size_t n = qend;
    memcpy(r, uq, qend);
    r[2] |= 0x80; /* QR */
    r[3] |= 0x80; /* RA */
    put16(r + 6, 1);
    if (owner) {
        n += put_name(r + n, owner);
    } else {
        n += put16(r + n, 0xc000 | 12);
    }
    n += put16(r + n, TYPE_TXT);
    n += put16(r + n, CLASS_IN);
    n += put32(r + n, ttl);
    n += put16(r + n, 6);
    r[n++] = 5;
    memcpy(r + n, "token", 5);
    n += 5;
    memcpy(r + n, uq + qend, uq_len - qend);
    return n + (uq_len - qend);
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

/* ---- setup -------------------------------------------------------------------------------- */

static afwd_config *make_config(void) {
    afwd_config_builder *b = afwd_config_builder_new();
    CHECK(b != NULL);
    CHECK_RESULT(afwd_config_builder_add_zone(b, S(ZONE)), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_zone(b, S("example.net")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("127.0.0.1:5353")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_upstream(b, S("[::1]")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_timeout_ms(b, 1500), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_set_max_ttl(b, MAX_TTL), AFWD_OK);
    afwd_config *c = NULL;
    CHECK_RESULT(afwd_config_new(b, &c), AFWD_OK);
    CHECK(c != NULL);
    afwd_config_builder_free(b);
    return c;
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
    CHECK(strcmp(afwd_result_text((afwd_result)-1), unknown) == 0);
    /* The explicit values of the contract. */
    CHECK_EQ(AFWD_OK, 0);
    CHECK_EQ(AFWD_TRUNCATED, 1);
    CHECK_EQ(AFWD_ERR_NULL_ARGUMENT, 100);
    CHECK_EQ(AFWD_ERR_INDEX_OUT_OF_RANGE, 104);
    CHECK_EQ(AFWD_ERR_NAME_EMPTY, 200);
    CHECK_EQ(AFWD_ERR_NO_UPSTREAM, 209);
    CHECK_EQ(AFWD_ERR_QUERY_MALFORMED, 300);
    CHECK_EQ(AFWD_ERR_QUERY_QUESTION_COUNT, 303);
    CHECK_EQ(AFWD_ERR_REPLY_MALFORMED, 400);
    CHECK_EQ(AFWD_ERR_REPLY_UPSTREAM_FAILURE, 406);
    CHECK_EQ(AFWD_VERDICT_PASS, 0);
    CHECK_EQ(AFWD_VERDICT_FORWARD, 1);
    CHECK_EQ(AFWD_VERDICT_ERROR, 2);
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
    CHECK_RESULT(afwd_config_new(b, &c2), AFWD_OK);
    afwd_config_builder_free(b);
    uint8_t buf[64];
    size_t n = 0;
    CHECK_RESULT(afwd_config_upstream(c1, 1, buf, sizeof buf, &n), AFWD_ERR_INDEX_OUT_OF_RANGE);
    CHECK_RESULT(afwd_config_upstream(c2, 1, buf, sizeof buf, &n), AFWD_OK);
    CHECK(n == strlen("127.0.0.2:53") && memcmp(buf, "127.0.0.2:53", n) == 0);
    /* No zone: the root, so every challenge name is in scope. */
    CHECK_EQ(afwd_config_classify(c1, S("_acme-challenge.anything.test."), TYPE_TXT, CLASS_IN), AFWD_VERDICT_FORWARD);
    afwd_config_free(c1);
    afwd_config_free(c2);
}

static void test_upstream_getter(const afwd_config *c) {
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
}

static void test_classify(const afwd_config *c) {
    CHECK_EQ(afwd_config_classify(c, S("_acme-challenge.www.example.com."), TYPE_TXT, CLASS_IN), AFWD_VERDICT_FORWARD);
    CHECK_EQ(afwd_config_classify(c, S("_acme-challenge.example.com"), TYPE_TXT, CLASS_IN), AFWD_VERDICT_FORWARD);
    CHECK_EQ(afwd_config_classify(c, S(CLIENT_NAME), TYPE_TXT, CLASS_IN), AFWD_VERDICT_FORWARD);
    CHECK_EQ(afwd_config_classify(c, S("_acme-challenge.a.example.net."), TYPE_TXT, CLASS_IN), AFWD_VERDICT_FORWARD);
    CHECK_EQ(afwd_config_classify(c, S("www.example.com."), TYPE_A, CLASS_IN), AFWD_VERDICT_PASS);
    CHECK_EQ(afwd_config_classify(c, S("_acme-challenge.example.org."), TYPE_TXT, CLASS_IN), AFWD_VERDICT_PASS);
    CHECK_EQ(afwd_config_classify(c, S("_acme-challenge.example.com."), TYPE_TXT, CLASS_CH), AFWD_VERDICT_PASS);
    CHECK_EQ(afwd_config_classify(c, NULL, 0, TYPE_TXT, CLASS_IN), AFWD_VERDICT_PASS);
    /* Only the given length counts, not what follows. */
    const char *longer = "_acme-challenge.example.comX";
    CHECK_EQ(afwd_config_classify(c, (const uint8_t *)longer, strlen(longer) - 1, TYPE_TXT, CLASS_IN),
             AFWD_VERDICT_FORWARD);
    CHECK_EQ(afwd_config_classify(NULL, S("_acme-challenge.example.com."), TYPE_TXT, CLASS_IN), AFWD_VERDICT_ERROR);
    CHECK_EQ(afwd_config_classify(c, NULL, 5, TYPE_TXT, CLASS_IN), AFWD_VERDICT_ERROR);
}

static void test_malformed_queries(const afwd_config *c) {
    uint8_t q[512];
    size_t n;
    afwd_exchange *e = (afwd_exchange *)&e; /* anything but NULL */

    CHECK_RESULT(afwd_exchange_new(c, (const uint8_t *)"\x12\x34\x01", 3, 1, &e), AFWD_ERR_QUERY_MALFORMED);
    CHECK(e == NULL);
    CHECK_RESULT(afwd_exchange_new(c, NULL, 0, 1, &e), AFWD_ERR_QUERY_MALFORMED);

    n = build_query(q, 1, 0x81, 1, CLIENT_NAME, TYPE_TXT, false); /* QR set */
    CHECK_RESULT(afwd_exchange_new(c, q, n, 1, &e), AFWD_ERR_QUERY_NOT_A_QUERY);
    n = build_query(q, 1, 0x01 | (5 << 3), 1, CLIENT_NAME, TYPE_TXT, false); /* UPDATE */
    CHECK_RESULT(afwd_exchange_new(c, q, n, 1, &e), AFWD_ERR_QUERY_UNSUPPORTED_OPCODE);
    n = build_query(q, 1, 0x01, 0, CLIENT_NAME, TYPE_TXT, false);
    CHECK_RESULT(afwd_exchange_new(c, q, 12, 1, &e), AFWD_ERR_QUERY_QUESTION_COUNT); /* header only */
    CHECK_RESULT(afwd_exchange_new(c, q, n, 1, &e), AFWD_ERR_QUERY_QUESTION_COUNT);
    n = build_query(q, 1, 0x01, 2, CLIENT_NAME, TYPE_TXT, false);
    CHECK_RESULT(afwd_exchange_new(c, q, n, 1, &e), AFWD_ERR_QUERY_QUESTION_COUNT);
    /* The question cut short. */
    n = build_query(q, 1, 0x01, 1, CLIENT_NAME, TYPE_TXT, false);
    CHECK_RESULT(afwd_exchange_new(c, q, n - 6, 1, &e), AFWD_ERR_QUERY_MALFORMED);
    /* A label running past the end. */
    q[12] = 60;
    CHECK_RESULT(afwd_exchange_new(c, q, n, 1, &e), AFWD_ERR_QUERY_MALFORMED);
    CHECK(e == NULL);

    /* NULL arguments. */
    n = build_query(q, 1, 0x01, 1, CLIENT_NAME, TYPE_TXT, false);
    CHECK_RESULT(afwd_exchange_new(NULL, q, n, 1, &e), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_new(c, NULL, n, 1, &e), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_new(c, q, n, 1, NULL), AFWD_ERR_NULL_ARGUMENT);
}

/* Reads the upstream query of `e` into uq (4096 bytes), checking the short-buffer protocol. */
static size_t read_upstream_query(const afwd_exchange *e, uint8_t *uq) {
    size_t need = 0, n = 0;
    CHECK_RESULT(afwd_exchange_upstream_query(e, NULL, 0, &need), AFWD_ERR_BUFFER_TOO_SHORT);
    CHECK(need > 12 && need < 4096);
    memset(uq, 0xAA, 4096);
    CHECK_RESULT(afwd_exchange_upstream_query(e, uq, need - 1, &n), AFWD_ERR_BUFFER_TOO_SHORT);
    CHECK_EQ(n, need);
    CHECK(all_bytes(uq, 4096, 0xAA));
    CHECK_RESULT(afwd_exchange_upstream_query(e, uq, 4096, &n), AFWD_OK);
    CHECK_EQ(n, need);
    CHECK(uq[n] == 0xAA);
    return n;
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

static void test_exchange(const afwd_config *c, bool edns, bool over_tcp) {
    const uint16_t client_id = 0xabcd;
    uint8_t q[512], uq[4096], reply[4096], bad[4096], out[4096];
    size_t q_len = build_query(q, client_id, 0x01, 1, CLIENT_NAME, TYPE_TXT, edns);

    afwd_exchange *e = NULL;
    CHECK_RESULT(afwd_exchange_new(c, q, q_len, 0x0123456789abcdefULL, &e), AFWD_OK);
    CHECK(e != NULL);
    if (e == NULL) return;

    /* The upstream query: new ID, RD, the question up to letter case, an OPT record. */
    size_t uq_len = read_upstream_query(e, uq);
    size_t qq_len = skip_name(q, q_len, 12) + 4 - 12;
    CHECK(get16(uq) != client_id);
    CHECK((uq[2] & 0x80) == 0);
    CHECK((uq[2] & 0x01) != 0);
    CHECK_EQ(get16(uq + 4), 1);
    CHECK(uq_len >= 12 + qq_len && equal_fold(uq + 12, q + 12, qq_len));
    CHECK_EQ(get16(uq + 10), 1);
    size_t opt = 12 + qq_len;
    CHECK(uq_len == opt + 11 && uq[opt] == 0 && get16(uq + opt + 1) == TYPE_OPT && get16(uq + opt + 3) == 1232);

    /* A good reply. */
    size_t r_len = build_reply(reply, uq, uq_len, NULL, 3600);
    size_t n = 0;
    memset(out, 0xAA, sizeof out);
    CHECK_RESULT(afwd_exchange_finish(e, reply, r_len, over_tcp, out, sizeof out, &n), AFWD_OK);
    check_client_reply(out, n, q, q_len, edns);
    CHECK(n < sizeof out && out[n] == 0xAA);

    /* Short output buffer: the needed length, nothing written; the exchange is still usable. */
    size_t need = n, n2 = 0;
    memset(out, 0xAA, sizeof out);
    CHECK_RESULT(afwd_exchange_finish(e, reply, r_len, over_tcp, out, need - 1, &n2), AFWD_ERR_BUFFER_TOO_SHORT);
    CHECK_EQ(n2, need);
    CHECK(all_bytes(out, sizeof out, 0xAA));
    CHECK_RESULT(afwd_exchange_finish(e, reply, r_len, over_tcp, NULL, 0, &n2), AFWD_ERR_BUFFER_TOO_SHORT);
    CHECK_EQ(n2, need);
    CHECK_RESULT(afwd_exchange_finish(e, reply, r_len, over_tcp, out, need, &n2), AFWD_OK);
    CHECK_EQ(n2, need);
    check_client_reply(out, n2, q, q_len, edns);

    /* Bad replies: each rejected with its own code, *out_n 0. */
#define BAD_REPLY(mutate, want)                                                                  \
    do {                                                                                         \
        memcpy(bad, reply, r_len);                                                               \
        mutate;                                                                                  \
        n2 = 99;                                                                                 \
        CHECK_RESULT(afwd_exchange_finish(e, bad, r_len, over_tcp, out, sizeof out, &n2), want); \
        CHECK_EQ(n2, 0);                                                                         \
    } while (0)
    BAD_REPLY(bad[1] ^= 0x01, AFWD_ERR_REPLY_ID_MISMATCH);
    BAD_REPLY(bad[2] |= 0x02, AFWD_TRUNCATED);
    BAD_REPLY(bad[2] &= (uint8_t)~0x80, AFWD_ERR_REPLY_NOT_A_RESPONSE);
    BAD_REPLY(bad[2] |= 2 << 3, AFWD_ERR_REPLY_OPCODE_MISMATCH);
    BAD_REPLY(bad[3] = (uint8_t)((bad[3] & 0xf0) | 2), AFWD_ERR_REPLY_UPSTREAM_FAILURE); /* SERVFAIL */
    BAD_REPLY(bad[3] = (uint8_t)((bad[3] & 0xf0) | 5), AFWD_ERR_REPLY_UPSTREAM_FAILURE); /* REFUSED */
    /* The question's letter case changed (the 0x20 check): a letter of the first label. */
    BAD_REPLY(bad[14] ^= 0x20, AFWD_ERR_REPLY_QUESTION_MISMATCH);
    BAD_REPLY(bad[12 + qq_len - 3] ^= 0x01, AFWD_ERR_REPLY_QUESTION_MISMATCH); /* qtype */
#undef BAD_REPLY
    /* An answer on another name. */
    size_t f_len = build_reply(bad, uq, uq_len, "_acme-challenge.other.example.com", 3600);
    CHECK_RESULT(afwd_exchange_finish(e, bad, f_len, over_tcp, out, sizeof out, &n2), AFWD_ERR_REPLY_FOREIGN_RECORD);
    /* The reply cut in the middle of its answer. */
    CHECK_RESULT(afwd_exchange_finish(e, reply, r_len - 12, over_tcp, out, sizeof out, &n2), AFWD_ERR_REPLY_MALFORMED);
    /* Garbage, and nothing at all. */
    CHECK_RESULT(afwd_exchange_finish(e, (const uint8_t *)"garbage", 7, over_tcp, out, sizeof out, &n2),
                 AFWD_ERR_REPLY_MALFORMED);
    CHECK_RESULT(afwd_exchange_finish(e, NULL, 0, over_tcp, out, sizeof out, &n2), AFWD_ERR_REPLY_MALFORMED);

    /* NULL arguments. */
    CHECK_RESULT(afwd_exchange_upstream_query(NULL, uq, sizeof uq, &n2), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_upstream_query(e, NULL, 16, &n2), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_upstream_query(e, uq, sizeof uq, NULL), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_finish(NULL, reply, r_len, over_tcp, out, sizeof out, &n2), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_finish(e, NULL, r_len, over_tcp, out, sizeof out, &n2), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_finish(e, reply, r_len, over_tcp, NULL, sizeof out, &n2), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_finish(e, reply, r_len, over_tcp, out, sizeof out, NULL), AFWD_ERR_NULL_ARGUMENT);

    /* After every error above, the good reply still goes through. */
    CHECK_RESULT(afwd_exchange_finish(e, reply, r_len, over_tcp, out, sizeof out, &n2), AFWD_OK);
    CHECK_EQ(n2, need);
    afwd_exchange_free(e);
}

static void test_exchange_outlives_config(void) {
    /* An exchange keeps nothing of its config: free the config first, then finish. */
    afwd_config *c = make_config();
    uint8_t q[512], uq[4096], reply[4096], out[4096];
    size_t q_len = build_query(q, 0x0102, 0x01, 1, CLIENT_NAME, TYPE_TXT, false);
    afwd_exchange *e = NULL;
    CHECK_RESULT(afwd_exchange_new(c, q, q_len, 42, &e), AFWD_OK);
    afwd_config_free(c);
    if (e == NULL) return;
    size_t uq_len = read_upstream_query(e, uq);
    size_t r_len = build_reply(reply, uq, uq_len, NULL, 3600);
    size_t n = 0;
    CHECK_RESULT(afwd_exchange_finish(e, reply, r_len, false, out, sizeof out, &n), AFWD_OK);
    check_client_reply(out, n, q, q_len, false);
    afwd_exchange_free(e);
}

static void test_free_null(void) {
    /* No-ops: a crash, or an invalid free under valgrind, fails the run. */
    afwd_config_builder_free(NULL);
    afwd_config_free(NULL);
    afwd_exchange_free(NULL);
}

int main(void) {
    test_result_texts();
    test_config_errors();
    test_builder_reuse();
    afwd_config *c = make_config();
    if (c != NULL) {
        test_upstream_getter(c);
        test_classify(c);
        test_malformed_queries(c);
        test_exchange(c, false, false);
        test_exchange(c, true, false);
        test_exchange(c, false, true);
        afwd_config_free(c);
    }
    test_exchange_outlives_config();
    test_free_null();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
