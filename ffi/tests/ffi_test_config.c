/*
 * The config builder: every setter's errors, reusing a builder, the upstream getter, and the
 * challenge labels.
 */
#include "ffi_test.h"

void test_config_errors(void) {
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
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("app.example.com 10.1.2.3:443")),
                 AFWD_ERR_HAIRPIN_TARGET_NOT_HOST_NAME);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("app.example.com 10.1.2.3:443 10.0.0.1")),
                 AFWD_ERR_HAIRPIN_NAME_NOT_HOST_NAME);
    CHECK_RESULT(afwd_config_builder_add_hairpin(b, S("api.svc.cluster.local 10.0.0.1")), AFWD_ERR_HAIRPIN_PROTECTED);
    CHECK_RESULT(afwd_config_builder_add_protected(b, S("example.com")), AFWD_ERR_HAIRPIN_PROTECTED);
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

void test_builder_reuse(void) {
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

void test_upstream_getter(void) {
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

void test_labels(void) {
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
    CHECK_RESULT(afwd_config_builder_add_public_host(b, S("ns1.example.com")), AFWD_OK);
    CHECK_RESULT(afwd_config_builder_add_public_host(b, S(".")), AFWD_ERR_PUBLIC_HOST_ROOT);
    CHECK_RESULT(afwd_config_builder_add_public_host(b, S("ns.svc.cluster.local")), AFWD_ERR_PUBLIC_HOST_PROTECTED);
    CHECK_RESULT(afwd_config_builder_add_public_host(NULL, S("ns1.example.com")), AFWD_ERR_NULL_ARGUMENT);
    afwd_config_builder_free(b);
}
