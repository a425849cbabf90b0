/*
 * What the C tests of the ABI share: the CHECK macros and their counters, DNS constants, the
 * standard fixtures, and the helpers that build wire messages and drive the poll loop (defined
 * in ffi_test_util.c). Like the Go shim, the tests see the library only through acmeforward.h.
 */
#ifndef FFI_TEST_H
#define FFI_TEST_H

#include "acmeforward.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- checks ------------------------------------------------------------------------------- */

extern int checks_passed;
extern int checks_failed;

#define CHECK(cond)                                                               \
    do {                                                                          \
        if (cond) {                                                               \
            checks_passed++;                                                      \
        } else {                                                                  \
            checks_failed++;                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                         \
    } while (0)

/* Compares two integers and shows both on failure. */
#define CHECK_EQ(got, want)                                                          \
    do {                                                                             \
        long long got_ = (long long)(got), want_ = (long long)(want);                \
        if (got_ == want_) {                                                         \
            checks_passed++;                                                         \
        } else {                                                                     \
            checks_failed++;                                                         \
            fprintf(stderr, "%s:%d: %s = %lld, want %s = %lld\n", __FILE__, __LINE__, \
                    #got, got_, #want, want_);                                       \
        }                                                                            \
    } while (0)

/* Checks an afwd_result and shows the text of what came back on failure. */
#define CHECK_RESULT(call, want)                                                          \
    do {                                                                                  \
        afwd_result got_ = (call);                                                        \
        if (got_ == (want)) {                                                             \
            checks_passed++;                                                              \
        } else {                                                                          \
            checks_failed++;                                                              \
            fprintf(stderr, "%s:%d: %s\n    = %d (%s), want %s = %d\n", __FILE__, __LINE__, \
                    #call, (int)got_, afwd_result_text(got_), #want, (int)(want));        \
        }                                                                                 \
    } while (0)

/* A C string as a pointer + length slice. */
#define S(str) (const uint8_t *)(str), strlen(str)

/* ---- constants and fixtures --------------------------------------------------------------- */

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
extern const uint64_t NOW;

extern const char *const ZONE;
extern const char *const CLIENT_NAME;
/* The RDATA of the upstreams' TXT answer: "token". */
extern const uint8_t TOKEN[6];
/* 127.0.0.1 (v4-mapped) and ::1, as afwd_action.server_ip shows them. */
extern const uint8_t LOOPBACK4[16];
extern const uint8_t LOOPBACK6[16];

#define CLASSIFY(e, name, type) afwd_engine_classify((e), S(name), (type), CLASS_IN, NOW, AFWD_NO_PASS_FILTER, NULL)

/* ---- DNS wire helpers --------------------------------------------------------------------- */

uint16_t get16(const uint8_t *p);
uint32_t get32(const uint8_t *p);
size_t put16(uint8_t *p, uint16_t v);
size_t put32(uint8_t *p, uint32_t v);
size_t put_name(uint8_t *p, const char *name);
size_t skip_name(const uint8_t *msg, size_t len, size_t off);
size_t build_query(uint8_t *q, uint16_t id, uint8_t flags1, uint16_t qdcount, const char *name, uint16_t qtype,
                   bool edns);
bool all_bytes(const uint8_t *p, size_t n, uint8_t v);

/* ---- building replies --------------------------------------------------------------------- */

/* A reply being built into p[0..n]: header and question copied from the upstream query. */
typedef struct {
    uint8_t *p;
    size_t n;
    int section; /* 0 answer, 1 authority, 2 additional: records go in this order */
} msg;

void reply_start(msg *m, uint8_t *p, const uint8_t *uq, size_t uq_len, bool aa);
void reply_rr(msg *m, int section, const char *owner, uint16_t type, uint32_t ttl, const uint8_t *rdata,
              size_t rdlen);
void reply_name_rr(msg *m, int section, const char *owner, uint16_t type, uint32_t ttl, const char *target);
void reply_soa_rr(msg *m, int section, const char *owner, uint32_t ttl, uint32_t minimum);
size_t reply_end(msg *m, const uint8_t *uq, size_t uq_len);
size_t build_reply(uint8_t *r, const uint8_t *uq, size_t uq_len, const char *owner, uint32_t ttl, bool aa);

/* ---- setup and the poll loop -------------------------------------------------------------- */

afwd_config *make_config(afwd_upstream_mode mode, bool discovery);
afwd_engine *make_engine(afwd_upstream_mode mode, bool discovery);
afwd_action poll_action(const afwd_exchange *x, uint8_t *buf);
void internal_says(afwd_exchange *x, uint8_t rcode);
void internal_unknown(afwd_exchange *x);
size_t expect_send(const afwd_exchange *x, uint8_t *buf, const uint8_t ip[16], uint16_t port, bool tcp, bool rd,
                   const char *qname, uint16_t qtype);
void check_client_reply(const uint8_t *r, size_t n, const uint8_t *q, size_t q_len, bool edns);
void expect_answer(const afwd_exchange *x, uint8_t *buf, const uint8_t *q, size_t q_len, bool edns);
afwd_exchange *start(const afwd_engine *e, const uint8_t *q, size_t q_len, bool over_tcp);

/* ---- the tests, one file per concern; main runs them in this order ------------------------ */

/* ffi_test_results.c */
void test_result_texts(void);
/* ffi_test_config.c */
void test_config_errors(void);
void test_builder_reuse(void);
void test_upstream_getter(void);
void test_labels(void);
/* ffi_test_classify.c */
void test_classify(const afwd_engine *e);
void test_classify_discovery_off(void);
void test_pass_filter(const afwd_engine *e);
void test_classification(const afwd_engine *e);
/* ffi_test_exchange.c */
void test_malformed_queries(const afwd_engine *e);
void test_exchange(const afwd_engine *e, bool edns, bool over_tcp);
void test_shared_answer(const afwd_engine *e);
void test_bad_replies(const afwd_engine *e);
void test_all_fail(const afwd_engine *e);
void test_tls_upstream(void);
void test_exchange_null_arguments(const afwd_engine *e);
void test_exchange_outlives_engine(void);
/* ffi_test_learning.c */
void test_learning(void);
void test_public_data_rules(void);
/* ffi_test_authoritative.c */
void test_authoritative(void);
/* ffi_test_hairpin.c */
void test_hairpin(void);
/* ffi_test_prefetch.c */
void test_prefetch(void);

#endif
