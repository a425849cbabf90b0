/*
 * Authoritative mode: the challenge goes to the zone's nameservers, found through the resolvers.
 */
#include "ffi_test.h"

void test_authoritative(void) {
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
