//! The panic boundary.
//!
//! A panic must never unwind into C (it would abort the process, or worse with an older
//! toolchain). Every `extern "C"` function runs its body inside [`ffi_boundary!`], which catches
//! the panic and returns the type's [`PanicValue`] instead.

/// What an entry point returns when its body panicked. The result codes, the verdict and the
/// result text implement it in result.rs, so that this module, the lowest, imports nothing.
pub(crate) trait PanicValue {
    fn panic_value() -> Self;
}

/// `afwd_engine_learned_len`: 0.
impl PanicValue for usize {
    fn panic_value() -> Self {
        0
    }
}

/// `afwd_engine_refused`: 0.
impl PanicValue for u64 {
    fn panic_value() -> Self {
        0
    }
}

/// `afwd_prefetch_ready`: not ready.
impl PanicValue for bool {
    fn panic_value() -> Self {
        false
    }
}

impl PanicValue for () {
    fn panic_value() -> Self {}
}

impl<T> PanicValue for *mut T {
    fn panic_value() -> Self {
        std::ptr::null_mut()
    }
}

/// Runs `$body` (a block) under `catch_unwind`; a panic becomes
/// `PanicValue::panic_value()` of the function's return type. `return` inside the body returns
/// from the closure, so early returns work as in a plain function body.
///
/// `AssertUnwindSafe`: after a caught panic the C caller only gets an error code; the handles it
/// holds are still memory-safe to use or free (safe Rust cannot make them otherwise), at worst
/// holding a half-applied change.
macro_rules! ffi_boundary {
    ($body:block) => {{
        let caught = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| {
            #[cfg(test)]
            $crate::boundary::inject::check();
            $body
        }));
        match caught {
            Ok(value) => value,
            Err(_) => $crate::boundary::PanicValue::panic_value(),
        }
    }};
}

pub(crate) use ffi_boundary;

/// Test-only fault injection: makes the next boundary on this thread panic, so the tests can
/// check that every entry point really is wrapped.
#[cfg(test)]
pub(crate) mod inject {
    use std::cell::Cell;
    use std::sync::Once;

    pub(crate) const MESSAGE: &str = "afwd test: injected panic";

    thread_local! {
        static ARMED: Cell<bool> = const { Cell::new(false) };
    }

    /// Called first thing inside every boundary (test builds only).
    pub(crate) fn check() {
        if ARMED.with(|armed| armed.replace(false)) {
            std::panic::panic_any(MESSAGE);
        }
    }

    /// Arms a panic for the next boundary entered on this thread.
    pub(crate) fn arm() {
        quiet_hook();
        ARMED.with(|armed| armed.set(true));
    }

    /// Whether an armed panic has not fired yet.
    pub(crate) fn armed() -> bool {
        ARMED.with(Cell::get)
    }

    /// Keeps injected panics out of the test output; any other panic is reported as usual.
    fn quiet_hook() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if info.payload().downcast_ref::<&str>() != Some(&MESSAGE) {
                    previous(info);
                }
            }));
        });
    }
}
