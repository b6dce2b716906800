//! fusionrt-testkit: test support shared by the stage crates' tests.
//!
//! [`CountingAllocator`] forwards to the system allocator and counts allocations, so a test
//! can show that a per-frame path allocates nothing in steady state. A test binary installs
//! it with `#[global_allocator] static A: CountingAllocator = CountingAllocator;` and reads
//! [`allocations`] before and after the frames it watches.
//!
//! Depends on nothing. Used as a dev-dependency only.

// A global allocator is an `unsafe` trait: allowed in this crate only.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

/// Allocations (and reallocations) so far in this process, when [`CountingAllocator`] is the
/// global allocator.
pub fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::SeqCst)
}

/// The system allocator, counting.
pub struct CountingAllocator;

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
