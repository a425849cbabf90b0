/*
 * End-to-end test of the acmeforward C ABI through the generated header, as the Go shim uses
 * it: every function in ffi/include/acmeforward.h, with hand-built DNS wire messages, driving
 * exchanges through the poll loop (SEND -> reply / failed -> ANSWER / FAIL) with no network.
 * The tests live one concern per file (ffi_test_*.c, declared in ffi_test.h); main runs them all.
 *
 * Run by scripts/ffi-ctest.sh (release staticlib, -Wall -Wextra -Werror, under valgrind).
 * Prints "N passed, M failed" and exits non-zero when anything failed.
 */
#include "ffi_test.h"

static void test_free_null(void) {
    /* No-ops: a crash, or an invalid free under valgrind, fails the run. */
    afwd_config_builder_free(NULL);
    afwd_config_free(NULL);
    afwd_engine_free(NULL);
    afwd_exchange_free(NULL);
    afwd_prefetch_free(NULL);
}

int main(void) {
    test_result_texts();
    test_config_errors();
    test_builder_reuse();
    test_upstream_getter();
    afwd_engine *e = make_engine(AFWD_UPSTREAM_RECURSIVE, true);
    if (e != NULL) {
        test_classify(e);
        test_classification(e);
        test_malformed_queries(e);
        test_exchange(e, false, false);
        test_exchange(e, true, false);
        test_exchange(e, false, true);
        test_exchange(e, true, true);
        test_pass_filter(e);
        test_shared_answer(e);
        test_bad_replies(e);
        test_all_fail(e);
        test_exchange_null_arguments(e);
        afwd_engine_free(e);
    }
    test_classify_discovery_off();
    test_exchange_outlives_engine();
    test_tls_upstream();
    test_learning();
    test_authoritative();
    test_hairpin();
    test_public_data_rules();
    test_prefetch();
    test_labels();
    test_free_null();
    printf("%d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}
