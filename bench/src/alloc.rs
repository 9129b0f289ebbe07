//! A counting global allocator: current and peak heap bytes, and allocation counts, per thread.
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
    cell::Cell,
};

// Counters of the current thread. Const-initialised cells without destructors live in plain
// thread-local storage, so touching them never allocates (which would recurse into the
// allocator). The benchmark runs on one thread; per-thread counts keep tests that run in
// parallel from disturbing each other's figures. Memory freed on another thread than the one
// that allocated it shows up as a decrease there, hence signed.
thread_local! {
    static CURRENT: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator with byte and call counters per thread.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc;

fn counted(delta: i64, calls: u64) {
    // `try_with` fails only while the thread is being torn down; nothing is measured then.
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
    let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + calls));
}

fn grew(by: u64) {
    counted(by as i64, 1);
}

fn shrank(by: u64) {
    counted(-(by as i64), 0);
}

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counters are thread-local cells and never touch the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's; forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size() as u64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's; forwarded as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
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
            counted(new_size as i64 - layout.size() as i64, 1);
        }
        p
    }
}

/// A reading of the calling thread's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes this thread allocated minus bytes it freed; only differences between two
    /// readings mean anything (a thread may free what another allocated).
    pub current: i64,
    /// Highest `current` since the last [`reset_peak`].
    pub peak: i64,
    /// Allocation and reallocation calls this thread made.
    pub allocations: u64,
}

/// Reads the calling thread's counters.
pub fn stats() -> HeapStats {
    HeapStats {
        current: CURRENT.with(Cell::get),
        peak: PEAK.with(Cell::get),
        allocations: ALLOCATIONS.with(Cell::get),
    }
}

/// Starts a new peak measurement from the current heap size.
pub fn reset_peak() {
    let now = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(now));
}

/// Whether a [`CountingAlloc`] is the global allocator (this thread's allocation was counted).
pub fn installed() -> bool {
    let before = ALLOCATIONS.with(Cell::get);
    let probe = std::hint::black_box(Box::new(0u64));
    let seen = ALLOCATIONS.with(Cell::get) > before;
    drop(probe);
    seen
}
