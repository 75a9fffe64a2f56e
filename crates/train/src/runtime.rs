//! Process-level tuning for training on CPU.
//!
//! libtorch's CPU tensors come from glibc `malloc`. With glibc's defaults, every buffer above the
//! (dynamic) mmap threshold is a fresh `mmap` that is unmapped on free, so a training loop that
//! allocates the same activations every step page-faults and zero-fills them again every step
//! (`perf` on `bench realnvp`: ~10% of the cycles in the kernel's `clear_page`/`exc_page_fault`).
//! [`tune_allocator`] keeps freed memory in the heap instead (the same effect as starting the
//! process with `MALLOC_MMAP_THRESHOLD_` and `MALLOC_TRIM_THRESHOLD_` set, or with jemalloc, as
//! PyTorch's CPU performance guide suggests). The cost: the process keeps its peak heap instead of
//! returning it to the OS between steps.

/// What [`tune_allocator`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocatorTuning {
    /// glibc's mmap and trim thresholds were raised.
    Applied,
    /// Not glibc, or the user set `GENZOO_MALLOC=default` (or glibc's own `MALLOC_*` variables).
    Skipped,
}

/// Keeps large freed buffers in the heap for reuse (glibc only; idempotent). Binaries call it once
/// at start-up, before the first tensor; library code never calls it on its own.
pub fn tune_allocator() -> AllocatorTuning {
    let user_choice = std::env::var_os("GENZOO_MALLOC").is_some_and(|v| v == "default")
        || std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
        || std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_some();
    if user_choice {
        return AllocatorTuning::Skipped;
    }
    apply()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // the one FFI call of the crate: glibc's mallopt
fn apply() -> AllocatorTuning {
    // glibc caps an explicit mmap threshold at HEAP_MAX/2 = 32 MiB on 64-bit (larger values are
    // rejected); fixing it there also turns off the dynamic rule that starts at 128 KiB.
    const MMAP_THRESHOLD: libc::c_int = 32 << 20;
    // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
    let mmap_ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 };
    // SAFETY: as above.
    let trim_ok = unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1 };
    if mmap_ok && trim_ok {
        AllocatorTuning::Applied
    } else {
        AllocatorTuning::Skipped
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> AllocatorTuning {
    AllocatorTuning::Skipped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuning_applies_on_glibc_and_is_idempotent() {
        let first = tune_allocator();
        let second = tune_allocator();
        assert_eq!(first, second);
        if cfg!(all(target_os = "linux", target_env = "gnu"))
            && std::env::var_os("GENZOO_MALLOC").is_none()
            && std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none()
            && std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_none()
        {
            assert_eq!(first, AllocatorTuning::Applied);
        }
    }
}
