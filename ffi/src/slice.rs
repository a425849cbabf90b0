//! Pointer + length slices in, caller-owned buffers out.

use std::{ptr, slice};

use crate::result::afwd_result;

/// Borrows the C input slice `ptr[..len]`.
///
/// `None` when `ptr` is null and `len` is not 0; a null `ptr` with `len == 0` is the empty slice.
///
/// # Safety
///
/// If `ptr` is non-null it must point to `len` initialised bytes that stay valid and unmodified
/// for `'a`.
pub(crate) unsafe fn input<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if ptr.is_null() {
        return (len == 0).then_some(&[]);
    }
    // SAFETY: non-null, and the caller guarantees `len` readable bytes that live for 'a.
    Some(unsafe { slice::from_raw_parts(ptr, len) })
}

/// A caller-owned output buffer `ptr[..len]`, checked for null but not yet written.
pub(crate) struct OutBuf {
    ptr: *mut u8,
    len: usize,
}

impl OutBuf {
    /// `None` when `ptr` is null and `len` is not 0. A null `ptr` with `len == 0` is a valid
    /// (empty) buffer: the call then only reports the needed length.
    pub(crate) fn new(ptr: *mut u8, len: usize) -> Option<OutBuf> {
        (!ptr.is_null() || len == 0).then_some(OutBuf { ptr, len })
    }

    /// Copies `data` into the buffer and sets `*out_n = data.len()`.
    ///
    /// `AFWD_ERR_BUFFER_TOO_SHORT` (nothing written, `*out_n` still the needed length) when it
    /// does not fit.
    ///
    /// # Safety
    ///
    /// The buffer given to [`OutBuf::new`] must be valid for writes of `len` bytes and must not
    /// overlap `data`.
    pub(crate) unsafe fn write(self, data: &[u8], out_n: &mut usize) -> afwd_result {
        *out_n = data.len();
        if data.len() > self.len {
            return afwd_result::AFWD_ERR_BUFFER_TOO_SHORT;
        }
        if !data.is_empty() {
            // SAFETY: `data.len() <= self.len`, so `self.ptr` is non-null (see `new`) and, by the
            // caller's guarantee, writable for `data.len()` bytes that do not overlap `data`.
            unsafe { ptr::copy_nonoverlapping(data.as_ptr(), self.ptr, data.len()) };
        }
        afwd_result::AFWD_OK
    }
}
