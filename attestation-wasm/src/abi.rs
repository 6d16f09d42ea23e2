//! The module's exports: a C ABI small enough to call from plain JavaScript, with no
//! bindings generator and no imports.
//!
//! The page (`frontend/src/attestation/verifier.ts`):
//! 1. `alloc(len)` for the request's UTF-8 bytes and copies them into memory;
//! 2. `verify(ptr, len)` returns `(ptr << 32) | len` of the UTF-8 JSON verdict;
//! 3. reads the verdict, then `dealloc`s both the request and the verdict.
//!
//! Both buffers are plain `[u8]` allocations of exactly `len` bytes (alignment 1),
//! so one `dealloc(ptr, len)` frees either. A request of 0 bytes needs no buffer:
//! `alloc(0)` returns a dangling non-null pointer and `dealloc(_, 0)` does nothing.
//!
//! `unsafe` is allowed in this module only: the pointers come from JavaScript, which
//! must pass back exactly what `alloc` and `verify` gave it.
#![allow(unsafe_code)]

use std::alloc::Layout;

/// Allocates `len` bytes for the caller to fill (null when the allocation fails).
#[unsafe(no_mangle)]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let Ok(layout) = Layout::array::<u8>(len) else {
        return std::ptr::null_mut();
    };
    if len == 0 {
        return std::ptr::NonNull::<u8>::dangling().as_ptr();
    }
    // SAFETY: `layout` has a non-zero size.
    unsafe { std::alloc::alloc(layout) }
}

/// Frees `len` bytes at `ptr`, which `alloc(len)` or `verify` returned.
///
/// # Safety
/// `ptr` and `len` must be exactly an allocation this module handed out, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, len: usize) {
    if ptr.is_null() || len == 0 {
        return;
    }
    if let Ok(layout) = Layout::array::<u8>(len) {
        // SAFETY: the caller passes back an allocation of `len` bytes (alignment 1)
        // made by `alloc` or by the boxed slice `verify` leaked, both through the
        // global allocator with this same layout.
        unsafe { std::alloc::dealloc(ptr, layout) }
    }
}

/// Verifies the JSON request in `len` bytes at `ptr` (which stays the caller's to
/// free) and returns `(ptr << 32) | len` of the JSON verdict, which the caller
/// frees with `dealloc`.
///
/// # Safety
/// `ptr` must point to `len` readable bytes (an `alloc(len)` buffer the caller
/// filled).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn verify(ptr: *const u8, len: usize) -> u64 {
    let input: &[u8] = if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller guarantees `len` readable bytes at `ptr`, not mutated
        // while this runs (WebAssembly is single-threaded here).
        unsafe { std::slice::from_raw_parts(ptr, len) }
    };
    let verdict = crate::verify_json(input).into_bytes().into_boxed_slice();
    // Lossless on wasm32: pointers and lengths are 32 bits (this module is only
    // compiled there).
    let out_len = verdict.len() as u64;
    let out_ptr = Box::into_raw(verdict).cast::<u8>() as usize as u64;
    (out_ptr << 32) | out_len
}
