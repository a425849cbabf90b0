/*
 * What an engine learns from answers (NS hosts, CNAME targets) and what it refuses to learn
 * (names the internal view knows, protected names).
 */
#include "ffi_test.h"

/* Discovery: an NS answer makes A/AAAA of its targets forwarded; a CNAME in a challenge answer
   makes its target forwarded (any type) and the target's ancestors' SOA/NS. */
void test_learning(void) {
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

/* ---- the rules on public data ----------------------------------------------------------- */

void test_public_data_rules(void) {
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
