//! Unit tests of `afwd_engine_pass_filter`, called as C would.

use std::ptr::{null, null_mut};

use crate::testutil::{engine, with_injected_panic};
use crate::*;

use afwd_result::*;

fn filled(v: u64) -> afwd_pass_filter {
    afwd_pass_filter {
        types: [v; 4],
        labels: [v; 64],
        hairpin_labels: [v; 64],
        pairs: [v; 64],
    }
}

#[test]
fn the_filter_is_the_engines() {
    let e = engine();
    let mut f = filled(7);
    // SAFETY: `e` is live; `f` is writable storage for one filter.
    assert_eq!(unsafe { afwd_engine_pass_filter(e, &mut f) }, AFWD_OK);
    // SAFETY: `e` is live.
    let core = unsafe { &*e }.core().pass_filter();
    assert_eq!(
        (f.types, f.labels, f.hairpin_labels, f.pairs),
        (core.types, core.labels, core.hairpin_labels, core.pairs)
    );
    // TXT (16) may be forwarded for names under the zone's last label; A for cluster names not.
    assert_ne!(f.types[0] & (1 << 16), 0);
    assert!(core.passes(b"api.svc.cluster.local.", 1, 1));
    assert!(!core.passes(b"www.example.com.", 6, 1));
    // SAFETY: `e` is live and freed once.
    unsafe { afwd_engine_free(e) };
}

#[test]
fn null_arguments_and_panics_are_reported() {
    let e = engine();
    let mut f = filled(7);
    // SAFETY: every pointer is NULL or valid for the call.
    unsafe {
        assert_eq!(
            afwd_engine_pass_filter(e, null_mut()),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            afwd_engine_pass_filter(null(), &mut f),
            AFWD_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            f,
            filled(u64::MAX),
            "a NULL engine's filter rules nothing out"
        );
        f = filled(7);
        assert_eq!(
            with_injected_panic(|| afwd_engine_pass_filter(e, &mut f)),
            AFWD_ERR_PANIC
        );
        assert_eq!(f, filled(7), "nothing written on a panic");
        assert_eq!(afwd_engine_pass_filter_generation(null()), 0);
        assert_eq!(
            with_injected_panic(|| afwd_engine_pass_filter_generation(e)),
            0
        );
        assert_eq!(
            afwd_engine_pass_filter_generation(e),
            (*e).core().pass_filter_generation()
        );
        afwd_engine_free(e);
    }
}
