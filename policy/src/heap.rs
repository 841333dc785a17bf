//! Estimates of the heap memory a compiled policy holds, for
//! [`Policy::approx_bytes`](crate::Policy::approx_bytes).

use std::mem::size_of;

/// What the allocator keeps per allocation beyond the bytes asked for: its
/// header and the rounding up to its size classes (glibc malloc: 8 to 23 bytes).
const ALLOCATION_OVERHEAD: usize = 16;

/// The heap a value owns, beyond its own `size_of`.
pub(crate) trait HeapSize {
    fn heap_bytes(&self) -> usize;
}

/// One allocation of `bytes`, or none when empty.
pub(crate) fn allocation(bytes: usize) -> usize {
    if bytes == 0 {
        0
    } else {
        bytes + ALLOCATION_OVERHEAD
    }
}

impl HeapSize for String {
    fn heap_bytes(&self) -> usize {
        allocation(self.capacity())
    }
}

impl HeapSize for str {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl<T: HeapSize> HeapSize for [T] {
    fn heap_bytes(&self) -> usize {
        self.iter().map(HeapSize::heap_bytes).sum()
    }
}

impl<T: HeapSize> HeapSize for Vec<T> {
    fn heap_bytes(&self) -> usize {
        allocation(self.capacity() * size_of::<T>()) + self.as_slice().heap_bytes()
    }
}

impl<T: HeapSize + ?Sized> HeapSize for Box<T> {
    fn heap_bytes(&self) -> usize {
        allocation(size_of_val::<T>(self)) + T::heap_bytes(self)
    }
}

impl<T: HeapSize> HeapSize for Option<T> {
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, HeapSize::heap_bytes)
    }
}
