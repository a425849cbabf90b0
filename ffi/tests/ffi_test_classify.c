/*
 * Classification: the rules' verdicts, with discovery on and off, the pass filter, and an
 * exchange started from its classification.
 */
#include "ffi_test.h"

void test_classify(const afwd_engine *e) {
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

void test_classify_discovery_off(void) {
    afwd_engine *e = make_engine(AFWD_UPSTREAM_RECURSIVE, false);
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.www.example.com.", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "_acme-challenge.www.example.com.", TYPE_SOA), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "x.acme.auth.example.org", TYPE_TXT), AFWD_VERDICT_FORWARD);
    CHECK_EQ(CLASSIFY(e, "example.com.", TYPE_SOA), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "example.com.", TYPE_NS), AFWD_VERDICT_PASS);
    CHECK_EQ(CLASSIFY(e, "example.org.", TYPE_SOA), AFWD_VERDICT_PASS);
    afwd_engine_free(e);
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
void test_pass_filter(const afwd_engine *e) {
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

void test_classification(const afwd_engine *e) {
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
