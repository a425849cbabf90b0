/*
 * The prefetch: the NS lookups of the listed and delegated zones, before any challenge, and the
 * internal view's answers about the hosts found.
 */
#include "ffi_test.h"

void test_prefetch(void) {
    static uint8_t buf[BUF], reply[BUF];
    msg m;
    afwd_engine *e = make_engine(AFWD_UPSTREAM_RECURSIVE, true);
    afwd_prefetch *p = NULL;
    CHECK_RESULT(afwd_prefetch_new(e, 42, &p), AFWD_OK);
    CHECK(p != NULL);
    CHECK(!afwd_prefetch_ready(p));
    CHECK_EQ(CLASSIFY(e, "ns1.example.net", TYPE_A), AFWD_VERDICT_PASS);
    /* One NS lookup per listed and delegated zone, each answered with an in-zone host. */
    int sends = 0, internals = 0;
    for (;;) {
        afwd_prefetch_action a;
        CHECK_RESULT(afwd_prefetch_poll(p, e, NOW, buf, BUF, &a), AFWD_OK);
        if (a.kind == AFWD_PREFETCH_SLEEP) {
            CHECK(a.until_ms > NOW && a.until_ms != UINT64_MAX);
            break;
        }
        if (a.kind == AFWD_PREFETCH_INTERNAL) {
            /* The internal view is asked each host's A and AAAA; it knows none of them. */
            CHECK_EQ(a.until_ms, NOW + 1500);
            internals++;
            reply_start(&m, reply, buf, a.len, false);
            reply[3] |= 3; /* NXDOMAIN */
            size_t r_len = reply_end(&m, buf, a.len);
            CHECK_RESULT(afwd_prefetch_reply(p, e, reply, r_len, NOW), AFWD_OK);
            continue;
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
    CHECK_EQ(internals, 6);
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
