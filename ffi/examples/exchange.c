/*
 * Embedding acmeforward through its C ABI (ffi/include/acmeforward.h): build a config, classify
 * a few questions, and run a challenge lookup through an exchange for one step (SEND, the
 * upstream's reply, ANSWER). No network: the example plays the upstream itself and prints what
 * a real program would send and answer.
 *
 *     cc -std=c11 -o exchange ffi/examples/exchange.c $(pkg-config --cflags --libs --static acmeforward)
 *
 * docs/BUILDING.md has the steps; scripts/embed-test.sh builds and runs it against `make install`.
 */
#include <acmeforward.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TYPE_A = 1, TYPE_TXT = 16, CLASS_IN = 1, BUF = 65535 };

static const char ZONE[] = "example.com";
static const char UPSTREAM[] = "127.0.0.1:5353";
static const char CHALLENGE[] = "_acme-challenge.www.example.com";
static const char TOKEN[] = "example-token";
static const uint32_t TOKEN_TTL = 3600; /* the upstream's; the client sees it capped to max_ttl */

/* The example's clock: a program passes its own monotonic milliseconds. */
static const uint64_t NOW_MS = 1000;

/* Exits with the result's text unless `r` is AFWD_OK. */
static void ok(afwd_result r, const char *what) {
    if (r != AFWD_OK) {
        fprintf(stderr, "%s: %s\n", what, afwd_result_text(r));
        exit(1);
    }
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static size_t put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

/* Offset just past the (possibly compressed) name at `off` in msg[0..len]; 0 past the end. */
static size_t skip_name(const uint8_t *msg, size_t len, size_t off) {
    while (off < len) {
        uint8_t l = msg[off];
        if (l == 0) return off + 1;
        if ((l & 0xc0) == 0xc0) return off + 2 <= len ? off + 2 : 0;
        off += 1 + (size_t)l;
    }
    return 0;
}

/* A client query: ID `id`, RD, one question `name` (no escapes) of type `qtype`, class IN. */
static size_t build_query(uint8_t *q, uint16_t id, const char *name, uint16_t qtype) {
    size_t n = put16(q, id);
    q[n++] = 0x01; /* RD */
    q[n++] = 0;
    n += put16(q + n, 1); /* QDCOUNT */
    memset(q + n, 0, 6);  /* no records */
    n += 6;
    while (*name) {
        size_t len = strcspn(name, ".");
        q[n++] = (uint8_t)len;
        memcpy(q + n, name, len);
        n += len;
        name += len + (name[len] == '.');
    }
    q[n++] = 0;
    n += put16(q + n, qtype);
    n += put16(q + n, CLASS_IN);
    return n;
}

/*
 * The upstream's reply to query uq: its header and question, QR and RA, one TXT answer and
 * nothing else (the query's EDNS record is not echoed: an upstream may leave it out).
 */
static size_t build_reply(uint8_t *r, const uint8_t *uq, size_t uq_len, const char *text, uint32_t ttl) {
    size_t n = skip_name(uq, uq_len, 12) + 4;
    memcpy(r, uq, n);
    r[2] |= 0x80; /* QR */
    r[3] = 0x80;  /* RA, NOERROR */
    put16(r + 6, 1);  /* ANCOUNT */
    put16(r + 8, 0);  /* NSCOUNT */
    put16(r + 10, 0); /* ARCOUNT */
    n += put16(r + n, 0xc000 | 12); /* owner: the question name */
    n += put16(r + n, TYPE_TXT);
    n += put16(r + n, CLASS_IN);
    n += put16(r + n, (uint16_t)(ttl >> 16));
    n += put16(r + n, (uint16_t)ttl);
    size_t len = strlen(text);
    n += put16(r + n, (uint16_t)(len + 1));
    r[n++] = (uint8_t)len;
    memcpy(r + n, text, len);
    return n + len;
}

static const char *verdict_name(afwd_verdict v) {
    switch (v) {
    case AFWD_VERDICT_PASS: return "pass";
    case AFWD_VERDICT_FORWARD: return "forward";
    case AFWD_VERDICT_HAIRPIN: return "hairpin";
    default: return "error";
    }
}

/* Classifies one question (no pass filter applied by the caller) and prints the verdict; the
   classification is what starts the question's exchange. */
static afwd_classification classify(const afwd_engine *e, const char *name, uint16_t qtype, const char *type_name) {
    afwd_classification c;
    afwd_verdict v = afwd_engine_classify(e, (const uint8_t *)name, strlen(name), qtype, CLASS_IN, NOW_MS,
                                          AFWD_NO_PASS_FILTER, &c);
    printf("classify %s %s: %s\n", name, type_name, verdict_name(v));
    return c;
}

/* Prints the client reply: rcode, and each TXT answer with its TTL. */
static void print_answer(const uint8_t *r, size_t len) {
    static const char *const rcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN"};
    unsigned rcode = r[3] & 0x0f;
    unsigned answers = get16(r + 6);
    printf("answer: %s, %u record%s\n", rcode < 4 ? rcodes[rcode] : "other", answers, answers == 1 ? "" : "s");
    size_t off = skip_name(r, len, 12) + 4;
    for (unsigned i = 0; i < answers && off != 0 && off < len; i++) {
        off = skip_name(r, len, off);
        if (off == 0 || off + 10 > len) break;
        uint16_t type = get16(r + off);
        uint32_t ttl = (uint32_t)get16(r + off + 4) << 16 | get16(r + off + 6);
        uint16_t rdlen = get16(r + off + 8);
        off += 10;
        if (off + rdlen > len) break;
        if (type == TYPE_TXT && rdlen > 0 && r[off] < rdlen) {
            printf("answer: TXT \"%.*s\" ttl %u\n", (int)r[off], (const char *)r + off + 1, (unsigned)ttl);
        }
        off += rdlen;
    }
}

int main(void) {
    /* 1. The configuration: the Corefile's `acmeforward example.com { to 127.0.0.1:5353 }`. */
    afwd_config_builder *b = afwd_config_builder_new();
    if (b == NULL) return 1;
    ok(afwd_config_builder_add_zone(b, (const uint8_t *)ZONE, strlen(ZONE)), "add_zone");
    ok(afwd_config_builder_add_upstream(b, (const uint8_t *)UPSTREAM, strlen(UPSTREAM)), "add_upstream");
    afwd_config *config = NULL;
    ok(afwd_config_new(b, &config), "config_new");
    afwd_config_builder_free(b);
    afwd_engine *engine = NULL;
    ok(afwd_engine_new(config, &engine), "engine_new");
    afwd_config_free(config); /* the engine keeps its own copy */

    /* 2. Which questions acmeforward takes. */
    afwd_classification challenge = classify(engine, CHALLENGE, TYPE_TXT, "TXT");
    classify(engine, "_acme-challenge.example.org", TYPE_TXT, "TXT");
    classify(engine, "www.example.com", TYPE_A, "A");

    /* 3. One exchange for the challenge: the client's query in, the upstream query out. */
    static uint8_t query[512], buf[BUF], reply[BUF];
    size_t query_len = build_query(query, 0x1234, CHALLENGE, TYPE_TXT);
    afwd_exchange *x = NULL;
    uint64_t random = 0x9e3779b97f4a7c15u; /* a program passes 64 fresh random bits per query */
    ok(afwd_exchange_new(engine, &challenge, query, query_len, false, random, NOW_MS, &x), "exchange_new");
    afwd_action action;
    ok(afwd_exchange_poll(x, buf, sizeof buf, &action), "exchange_poll");
    if (action.kind != AFWD_ACTION_SEND) {
        fprintf(stderr, "first action %d, want SEND\n", (int)action.kind);
        return 1;
    }
    const uint8_t *ip = action.server_ip + 12; /* IPv4-mapped */
    printf("send: %zu bytes over %s to %u.%u.%u.%u:%u\n", action.len, action.tcp ? "tcp" : "udp", ip[0], ip[1],
           ip[2], ip[3], action.server_port);

    /* 4. The upstream's reply (here made up: the token with a one-hour TTL), then the answer. */
    size_t reply_len = build_reply(reply, buf, action.len, TOKEN, TOKEN_TTL);
    afwd_result r = afwd_exchange_reply(x, reply, reply_len, NOW_MS + 5, NULL);
    printf("reply: %s\n", afwd_result_text(r));
    ok(afwd_exchange_poll(x, buf, sizeof buf, &action), "exchange_poll");
    if (action.kind != AFWD_ACTION_ANSWER) {
        fprintf(stderr, "action %d after the reply, want ANSWER (%s)\n", (int)action.kind,
                afwd_result_text(action.fail_reason));
        return 1;
    }
    printf("answer: ID %s the client's\n", get16(buf) == get16(query) ? "is" : "is not");
    print_answer(buf, action.len);

    afwd_exchange_free(x);
    afwd_engine_free(engine);
    return 0;
}
