//! A counting global allocator: current and peak heap bytes, and allocation counts.
//!
//! The workspace forbids unsafe code. This crate lowers that to `deny` in its own `[lints]`
//! table (a `forbid` cannot be lifted further down) and allows it on this module alone, because
//! implementing [`GlobalAlloc`] is unsafe by definition. The implementation only forwards to
//! [`System`] and updates atomic counters.
//!
//! The benchmark binary installs [`CountingAlloc`] with `#[global_allocator]`; so do this
//! crate's unit tests. Without it installed, every reading is zero.
#![allow(unsafe_code)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicU64, Ordering::Relaxed},
};

static CURRENT: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// The system allocator with byte and call counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc;

fn grew(by: u64) {
    let now = CURRENT.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(now, Relaxed);
}

fn shrank(by: u64) {
    CURRENT.fetch_sub(by, Relaxed);
}

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counters are plain atomics and never touch the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's; forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            ALLOCATIONS.fetch_add(1, Relaxed);
            grew(layout.size() as u64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's; forwarded as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            ALLOCATIONS.fetch_add(1, Relaxed);
            grew(layout.size() as u64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (hence from `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size() as u64);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            ALLOCATIONS.fetch_add(1, Relaxed);
            let old = layout.size() as u64;
            let new = new_size as u64;
            if new >= old {
                grew(new - old);
            } else {
                shrank(old - new);
            }
        }
        p
    }
}

/// A reading of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes allocated and not yet freed.
    pub current: u64,
    /// Highest `current` since the last [`reset_peak`].
    pub peak: u64,
    /// Allocation and reallocation calls since the process started.
    pub allocations: u64,
}

/// Reads the counters.
pub fn stats() -> HeapStats {
    HeapStats {
        current: CURRENT.load(Relaxed),
        peak: PEAK.load(Relaxed),
        allocations: ALLOCATIONS.load(Relaxed),
    }
}

/// Starts a new peak measurement from the current heap size.
pub fn reset_peak() {
    PEAK.store(CURRENT.load(Relaxed), Relaxed);
}

/// Whether a [`CountingAlloc`] is the global allocator (something has been counted).
pub fn installed() -> bool {
    let probe = std::hint::black_box(Box::new(0u64));
    let seen = ALLOCATIONS.load(Relaxed) > 0;
    drop(probe);
    seen
}
