//! Left-right double buffering (Ramalhete & Correia, "Left-Right: A Concurrency
//! Control Technique with Wait-Free Population Oblivious Reads").
//!
//! There are two copies of `T`. Readers use the *front* copy. The single writer
//! (serialised by the pipeline's writer mutex, proven by holding the unique
//! [`WriterToken`]) mutates the *back* copy, publishes it by swapping front and back,
//! waits until no reader can still be in the old front, then replays the same
//! operations there. Readers take no lock. Per read section they do two atomic
//! increments/decrements on their own cache-line-padded stripe of a read indicator
//! (once per burst, not per packet).
//!
//! Publishing is one atomic store, so a reader sees either every operation of a
//! batch or none of them.

use std::cell::UnsafeCell;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering::*};

const STRIPES: usize = 16;

#[repr(align(128))]
struct Padded(AtomicUsize);

/// Counts the readers of one version, striped to avoid cache-line ping-pong.
struct ReadIndicator {
    stripes: [Padded; STRIPES],
}

impl ReadIndicator {
    fn new() -> Self {
        ReadIndicator { stripes: std::array::from_fn(|_| Padded(AtomicUsize::new(0))) }
    }

    #[inline]
    fn arrive(&self, stripe: usize) {
        self.stripes[stripe % STRIPES].0.fetch_add(1, SeqCst);
    }

    #[inline]
    fn depart(&self, stripe: usize) {
        self.stripes[stripe % STRIPES].0.fetch_sub(1, Release);
    }

    fn is_empty(&self) -> bool {
        self.stripes.iter().all(|s| s.0.load(SeqCst) == 0)
    }
}

/// Proof of being the (only) writer of one [`LeftRight`].
pub(crate) struct WriterToken(());

/// Two copies of `T`, read without locks, written by one writer.
pub(crate) struct LeftRight<T> {
    inst: [UnsafeCell<T>; 2],
    front: AtomicUsize,
    version: AtomicUsize,
    ind: [ReadIndicator; 2],
}

// SAFETY: readers only get `&T` to the front copy; the writer gets `&mut T` to the back
// copy only while holding the unique `WriterToken`, and the protocol below guarantees
// no reader is in the back copy then. So `T` must be Sync (shared reads from many
// threads) and Send (the writer mutates from any thread).
unsafe impl<T: Send + Sync> Sync for LeftRight<T> {}
// SAFETY: owning the structure owns both `T`s.
unsafe impl<T: Send> Send for LeftRight<T> {}

/// A read section on the front copy.
pub(crate) struct ReadGuard<'a, T> {
    lr: &'a LeftRight<T>,
    version: usize,
    stripe: usize,
    inst: &'a T,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        self.inst
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lr.ind[self.version].depart(self.stripe);
    }
}

impl<T> LeftRight<T> {
    /// Two copies made by `make`, and the writer token.
    pub(crate) fn new(mut make: impl FnMut() -> T) -> (Self, WriterToken) {
        let lr = LeftRight {
            inst: [UnsafeCell::new(make()), UnsafeCell::new(make())],
            front: AtomicUsize::new(0),
            version: AtomicUsize::new(0),
            ind: [ReadIndicator::new(), ReadIndicator::new()],
        };
        (lr, WriterToken(()))
    }

    /// Enters a read section (lock-free; `stripe` spreads concurrent readers).
    #[inline]
    pub(crate) fn read(&self, stripe: usize) -> ReadGuard<'_, T> {
        let version = self.version.load(SeqCst);
        self.ind[version].arrive(stripe);
        let f = self.front.load(SeqCst);
        // SAFETY: after arriving on the current version's indicator, the writer will not
        // touch copy `f` (the front we observed) until we depart: it only mutates the
        // copy that is not front after waiting for both indicators to drain.
        let inst = unsafe { &*self.inst[f].get() };
        ReadGuard { lr: self, version, stripe, inst }
    }

    /// The back copy, for the writer.
    pub(crate) fn back_mut<'a>(&'a self, _tok: &'a mut WriterToken) -> &'a mut T {
        let b = 1 - self.front.load(Relaxed);
        // SAFETY: the token is unique and borrowed mutably for 'a, so there is one writer
        // and no other `&mut`. No reader is in the back copy: readers only enter the
        // front copy, and `publish` (the only thing that changes which copy is front)
        // waited for every reader of the old front to leave before returning.
        unsafe { &mut *self.inst[b].get() }
    }

    /// A shared view of the back copy (identical to the front between batches).
    pub(crate) fn back<'a>(&'a self, _tok: &'a WriterToken) -> &'a T {
        let b = 1 - self.front.load(Relaxed);
        // SAFETY: as in `back_mut`; the shared borrow of the token excludes `back_mut`.
        unsafe { &*self.inst[b].get() }
    }

    /// Makes the back copy the front and waits until no reader is in the old front,
    /// which is then the back copy.
    pub(crate) fn publish(&self, _tok: &mut WriterToken) {
        let f = self.front.load(Relaxed);
        self.front.store(1 - f, SeqCst);
        let prev = self.version.load(Relaxed);
        let next = 1 - prev;
        wait_empty(&self.ind[next]);
        self.version.store(next, SeqCst);
        wait_empty(&self.ind[prev]);
    }
}

fn wait_empty(ind: &ReadIndicator) {
    let mut spins = 0u32;
    while !ind.is_empty() {
        if spins < 64 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn readers_never_see_torn_pairs() {
        // Each copy holds (a, b) with the invariant a == b; the writer bumps both.
        let (lr, mut tok) = LeftRight::new(|| (0u64, 0u64));
        let lr = Arc::new(lr);
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|i| {
                let lr = lr.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut seen = 0;
                    while !stop.load(Relaxed) {
                        let g = lr.read(i);
                        assert_eq!(g.0, g.1);
                        seen = seen.max(g.0);
                    }
                    seen
                })
            })
            .collect();
        for n in 1..=2000u64 {
            let b = lr.back_mut(&mut tok);
            b.0 = n;
            b.1 = n;
            lr.publish(&mut tok);
            let b = lr.back_mut(&mut tok);
            b.0 = n;
            b.1 = n;
        }
        stop.store(true, Relaxed);
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(*lr.read(0), (2000, 2000));
        assert_eq!(*lr.back(&tok), (2000, 2000));
    }
}
