/*
 * Hairpin: names answered with the cluster's own addresses, IP targets at once, name targets
 * through an INTERNAL lookup.
 */
#include "ffi_test.h"

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

void test_hairpin(void) {
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
