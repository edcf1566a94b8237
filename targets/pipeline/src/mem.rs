//! Large arrays backed by transparent huge pages where the OS allows it.
//!
//! The hash tables and counter shards are several MiB and are accessed at random,
//! so with 4 KiB pages a lookup often pays a TLB miss on top of its cache miss.
//! On Linux, arrays of 2 MiB or more are `madvise(MADV_HUGEPAGE)`d before their
//! first touch, so that THP (even in `madvise` mode) backs them with 2 MiB pages.
//! Elsewhere, or if the kernel refuses, they are ordinary allocations.

/// Allocations at least this large are advised.
const HUGE_MIN: usize = 2 << 20;

/// Advises the kernel to back `[ptr, ptr + len)` with huge pages (best effort).
/// Not under Miri, which cannot call `madvise` (a paging hint: nothing to check).
#[cfg(all(target_os = "linux", not(miri)))]
fn advise(ptr: *const u8, len: usize) {
    const PAGE: usize = 4096;
    let start = (ptr as usize).div_ceil(PAGE) * PAGE;
    let end = (ptr as usize + len) / PAGE * PAGE;
    if end > start {
        // SAFETY: madvise only changes paging hints for whole pages that lie inside
        // an allocation we own; it never invalidates memory with MADV_HUGEPAGE.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(any(not(target_os = "linux"), miri))]
fn advise(_ptr: *const u8, _len: usize) {}

/// A fixed-size array: cache-line aligned, and 2 MiB-aligned and huge-page advised
/// when large, so that every 2 MiB of it can be one TLB entry. Only constructible for
/// `Copy` values ([`HugeBuf::new`]) and zeroed atomics ([`HugeBuf::zeroed`]), i.e.
/// types without drop glue, so dropping it never needs to drop elements.
pub(crate) struct HugeBuf<T> {
    ptr: std::ptr::NonNull<T>,
    len: usize,
    layout: std::alloc::Layout,
}

// SAFETY: HugeBuf owns its elements like a Box<[T]>.
unsafe impl<T: Send> Send for HugeBuf<T> {}
// SAFETY: shared access only hands out `&[T]`.
unsafe impl<T: Sync> Sync for HugeBuf<T> {}

impl<T> HugeBuf<T> {
    /// Allocates room for `n` elements (cache-line aligned; 2 MiB-aligned and
    /// advised when large). `init` gets the raw pointer and must initialise all `n`
    /// elements, or the allocation must already be valid (`zeroed`).
    ///
    /// # Safety
    /// `init` must leave `n` initialised elements behind the pointer, unless
    /// `zeroed` is true and all-zero bytes are a valid `T`.
    unsafe fn alloc_with(n: usize, zeroed: bool, init: impl FnOnce(*mut T)) -> Self {
        use std::alloc::{alloc, alloc_zeroed, handle_alloc_error, Layout};
        let layout = Layout::array::<T>(n).expect("array layout");
        if layout.size() == 0 {
            return HugeBuf { ptr: std::ptr::NonNull::dangling(), len: n, layout };
        }
        let align = if layout.size() >= HUGE_MIN { HUGE_MIN } else { 64 };
        let layout = layout.align_to(align).expect("alignment");
        // SAFETY: non-zero size; the caller initialises the elements.
        unsafe {
            let p = if zeroed { alloc_zeroed(layout) } else { alloc(layout) }.cast::<T>();
            let Some(ptr) = std::ptr::NonNull::new(p) else {
                handle_alloc_error(layout);
            };
            if layout.size() >= HUGE_MIN {
                advise(p.cast::<u8>(), layout.size());
            }
            init(p);
            HugeBuf { ptr, len: n, layout }
        }
    }
}

impl<T: Copy> HugeBuf<T> {
    /// `n` copies of `value`.
    pub(crate) fn new(n: usize, value: T) -> Self {
        // SAFETY: every element is written.
        unsafe {
            Self::alloc_with(n, false, |p| {
                for i in 0..n {
                    p.add(i).write(value);
                }
            })
        }
    }
}

impl HugeBuf<std::sync::atomic::AtomicU64> {
    /// `n` zeroed atomics. Untouched pages cost no memory.
    pub(crate) fn zeroed(n: usize) -> Self {
        // SAFETY: all-zero bytes are a valid AtomicU64 (0).
        unsafe { Self::alloc_with(n, true, |_| {}) }
    }
}

impl<T> std::ops::Deref for HugeBuf<T> {
    type Target = [T];
    #[inline(always)]
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` points to `len` initialised elements (or is dangling with size 0).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> std::ops::DerefMut for HugeBuf<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` is exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for HugeBuf<T> {
    fn drop(&mut self) {
        if self.layout.size() != 0 {
            // SAFETY: allocated in `alloc_with` with exactly this layout; the element
            // types the constructors allow have no drop glue.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr().cast::<u8>(), self.layout) }
        }
    }
}

/// Hints the CPU to load the cache line at `p`. No effect on other architectures.
#[inline(always)]
pub(crate) fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch never faults and has no architectural effect; `p` is a valid reference anyway.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((p as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_buf() {
        // Under Miri, the smallest advised size (every element is written and read).
        let n = if cfg!(miri) { HUGE_MIN / 8 } else { 1 << 20 };
        let mut b = HugeBuf::new(n, 7u64);
        assert_eq!(b.len(), n);
        assert!(b.iter().all(|&x| x == 7));
        b[12345] = 1;
        assert_eq!(b[12345], 1);
        assert_eq!(b.as_ptr() as usize % HUGE_MIN, 0);
        let small = HugeBuf::new(3, 1u8);
        assert_eq!(&small[..], &[1, 1, 1]);
        let empty: HugeBuf<u32> = HugeBuf::new(0, 0);
        assert!(empty.is_empty());
        let z = HugeBuf::zeroed(1 << 19);
        assert_eq!(z[77].load(std::sync::atomic::Ordering::Relaxed), 0);
        assert_eq!(z.as_ptr() as usize % HUGE_MIN, 0);
    }
}
