/*
 * Exchanges through the poll loop with recursive upstreams: malformed queries (and the FORMERR
 * for a query with two OPT records), SEND -> reply ->
 * ANSWER with the short-buffer protocol, one answer shared by identical questions, bad replies,
 * failures, a TLS upstream, NULL arguments, and an exchange outliving its engine handle.
 */
#include "ffi_test.h"

void test_malformed_queries(const afwd_engine *e) {
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

    /* Two OPT records (RFC 6891 6.1.1): refused, then answered FORMERR with the query's ID, RD
       and question, no records, no OPT. */
    n = build_query(q, 0x4a7d, 0x01, 1, CLIENT_NAME, TYPE_TXT, true);
    memcpy(q + n, q + n - 11, 11);
    q[11] = 2;
    CHECK_RESULT(afwd_exchange_new(e, NULL, q, n + 11, false, 1, NOW, &x), AFWD_ERR_QUERY_MALFORMED);
    CHECK(x == NULL);
    uint8_t formerr[512];
    size_t f_len = 99, q_end = skip_name(q, n, 12) + 4;
    CHECK_RESULT(afwd_query_formerr(q, n + 11, NULL, 0, &f_len), AFWD_ERR_BUFFER_TOO_SHORT);
    CHECK_EQ(f_len, q_end);
    CHECK_RESULT(afwd_query_formerr(q, n + 11, formerr, sizeof formerr, &f_len), AFWD_OK);
    CHECK_EQ(f_len, q_end);
    CHECK(get16(formerr) == 0x4a7d && formerr[2] == 0x81 && formerr[3] == 0x01);
    CHECK(get16(formerr + 4) == 1 && get16(formerr + 6) == 0 && get16(formerr + 8) == 0 && get16(formerr + 10) == 0);
    CHECK(memcmp(formerr + 12, q + 12, q_end - 12) == 0);
    CHECK_RESULT(afwd_query_formerr(q, 11, formerr, sizeof formerr, &f_len), AFWD_ERR_QUERY_MALFORMED);
    CHECK_EQ(f_len, 0);
    CHECK_RESULT(afwd_query_formerr(q, n + 11, formerr, sizeof formerr, NULL), AFWD_ERR_NULL_ARGUMENT);

    /* NULL arguments. */
    n = build_query(q, 1, 0x01, 1, CLIENT_NAME, TYPE_TXT, false);
    CHECK_RESULT(afwd_exchange_new(NULL, NULL, q, n, false, 1, NOW, &x), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_new(e, NULL, NULL, n, false, 1, NOW, &x), AFWD_ERR_NULL_ARGUMENT);
    CHECK_RESULT(afwd_exchange_new(e, NULL, q, n, false, 1, NOW, NULL), AFWD_ERR_NULL_ARGUMENT);
}

void test_exchange(const afwd_engine *e, bool edns, bool over_tcp) {
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

/* Identical questions in flight share one exchange: once it is answered, each other client with
   the same question gets its own answer (its ID, its letter case, its OPT), and nobody else. */
void test_shared_answer(const afwd_engine *e) {
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
void test_bad_replies(const afwd_engine *e) {
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
void test_all_fail(const afwd_engine *e) {
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
void test_tls_upstream(void) {
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

void test_exchange_null_arguments(const afwd_engine *e) {
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

void test_exchange_outlives_engine(void) {
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
