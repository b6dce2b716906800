//! The real-time set-up of the node's process (feature `ros2`), done first thing in `main` so
//! that every thread inherits it: no transparent huge pages ([`no_transparent_huge_pages`]),
//! both heaps grown and touched at start-up and kept ([`prefault_heaps`]), and optionally a
//! SCHED_FIFO priority ([`set_fifo_priority`]).
//!
//! A sweep moves a 2 MB PointCloud2 through the middleware (glibc's malloc: the DDS reader's
//! payload pool, the buffer rcl takes each serialized message into) and then through Rust
//! (mimalloc: the CDR bytes, the decoded cloud). On a fresh process the first sweeps land in
//! fresh pages, faulted in one by one while the sweep waits, and both allocators hand freed
//! memory back to the kernel, so a pause brings the faults back. Measured on the CI test
//! (`perf record -e page-faults`, timestamps in the node): about 2000 faults in the spin and
//! DDS threads on the first sweeps, and 10 ms to decode the first cloud against 0.5 ms later.
//!
//! [`prefault_heaps`] is the usual real-time recipe (ros2/realtime_support's
//! `lock_and_prefault_dynamic`, without the memory lock): for glibc, one arena for every
//! thread, no block served by mmap, no trimming; for mimalloc, no purging; then each heap grown
//! by a block that is touched page by page and freed, so later blocks reuse those pages.

#![allow(unsafe_code)]

use std::ffi::c_int;

/// Page size assumed when touching a block (a larger page is touched more than once).
const PAGE_BYTES: usize = 4096;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (v2 and v3 headers of
/// libmimalloc-sys 0.1.49); its Rust bindings leave it out. -1: never purge.
const MI_OPTION_PURGE_DELAY: c_int = 15;

/// Turns transparent huge pages off for this process (`PR_SET_THP_DISABLE`): the first touch
/// of a page then costs the kernel one 4 KiB page, not a 2 MiB one. mimalloc asks for huge
/// pages on its arenas, and a thread's first allocation in a fresh region had the kernel zero
/// 2 MiB while a sweep waited: on this VM the first sweep's lidar stage took 5-25 ms instead of
/// 4, and fusion and the tracker 5.5 ms each instead of 0.3, with nothing but such faults in
/// their threads (`perf record -e page-faults`). Without: sweep 0 at 13-19 ms from its stamp to
/// the rclpy subscriber, not 23-55 ms. Returns false when the kernel refused.
pub fn no_transparent_huge_pages() -> bool {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and changes only this process's flag.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
}

/// The highest SCHED_FIFO priority Linux allows.
pub const MAX_FIFO_PRIORITY: u8 = 99;

/// Runs the calling thread, and every thread it starts afterwards, under SCHED_FIFO at
/// `priority` (1-99): a sweep's work then preempts the other processes on the machine (a
/// viewer, a recorder, a Python test), as a perception node on a vehicle is set up. Linux
/// keeps 5% of each second for normal tasks (`sched_rt_runtime_us`). Fails without
/// CAP_SYS_NICE or an rtprio limit (`ulimit -r`); the node then runs at normal priority.
pub fn set_fifo_priority(priority: u8) -> Result<(), String> {
    if priority == 0 || priority > MAX_FIFO_PRIORITY {
        return Err(format!(
            "SCHED_FIFO priority {priority}: expected 1 to {MAX_FIFO_PRIORITY}"
        ));
    }
    let param = libc::sched_param {
        sched_priority: c_int::from(priority),
    };
    // SAFETY: `param` is a valid sched_param that outlives the call; pid 0 is this thread.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "SCHED_FIFO priority {priority}: {} (needs CAP_SYS_NICE or `ulimit -r {priority}`)",
            std::io::Error::last_os_error()
        ))
    }
}

/// What [`prefault_heaps`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefault {
    /// glibc accepted every tunable.
    pub c_tuned: bool,
    /// Bytes grown and touched in glibc's heap (0 when the block could not be allocated).
    pub c_bytes: usize,
    /// Bytes grown and touched in mimalloc's heap.
    pub rust_bytes: usize,
}

/// Tunes both allocators for a long-running node and grows each heap by `bytes`, touched.
/// Call it first thing in `main`, before any thread starts (glibc's arena limit applies to
/// threads created after it). The memory stays with the process: it is the node's working set.
pub fn prefault_heaps(bytes: usize) -> Prefault {
    // SAFETY: mallopt and mi_option_set only change the allocators' tunables; this runs before
    // other threads exist.
    let c_tuned = unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        // Every thread in the main arena, the one prefaulted below.
        let arenas = libc::mallopt(libc::M_ARENA_MAX, 1) == 1;
        // No block from mmap: large blocks come from the heap and return to it.
        let no_mmap = libc::mallopt(libc::M_MMAP_MAX, 0) == 1;
        // Freed memory is never handed back to the kernel.
        let no_trim = libc::mallopt(libc::M_TRIM_THRESHOLD, -1) == 1;
        arenas && no_mmap && no_trim
    };
    // SAFETY: the block is written only within its `bytes`, through the pointer malloc
    // returned, then freed once.
    let c_bytes = unsafe {
        let block = libc::malloc(bytes).cast::<u8>();
        if block.is_null() {
            0
        } else {
            for offset in (0..bytes).step_by(PAGE_BYTES) {
                block.add(offset).write_volatile(1);
            }
            libc::free(block.cast());
            bytes
        }
    };
    // Written with a non-zero byte: a zeroed allocation may be fresh memory left untouched.
    let block = vec![1u8; bytes];
    let rust_bytes = std::hint::black_box(block).len();
    Prefault {
        c_tuned,
        c_bytes,
        rust_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_priority_outside_1_to_99_is_refused_before_the_kernel_is_asked() {
        for bad in [0, 100, 255] {
            let e = set_fifo_priority(bad).unwrap_err();
            assert!(e.contains("expected 1 to 99"), "{e}");
        }
    }

    #[test]
    fn huge_pages_can_be_turned_off() {
        assert!(no_transparent_huge_pages());
        // SAFETY: PR_GET_THP_DISABLE takes no pointer.
        assert_eq!(
            unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) },
            1
        );
    }

    #[test]
    fn both_heaps_are_tuned_and_grown() {
        let done = prefault_heaps(8 << 20);
        assert_eq!(
            done,
            Prefault {
                c_tuned: true,
                c_bytes: 8 << 20,
                rust_bytes: 8 << 20
            }
        );
    }
}
