//! The QPACK dynamic table (RFC 9204 §3.2), shared by the encoder and the decoder.
//!
//! Entries are kept oldest first. Absolute index 0 is the first entry ever inserted
//! (§3.2.4); `insert_count` is the total number of insertions, so the oldest live entry has
//! absolute index `insert_count - len`.

use alloc::collections::VecDeque;
use bytes::Bytes;

/// Bytes each entry costs beyond its name and value (RFC 9204 §3.2.1).
pub const ENTRY_OVERHEAD: usize = 32;

/// One dynamic table entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Field name.
    pub name: Bytes,
    /// Field value.
    pub value: Bytes,
}

impl Entry {
    /// The entry's size as RFC 9204 §3.2.1 defines it.
    pub fn size(&self) -> usize {
        entry_size(&self.name, &self.value)
    }
}

/// Size of an entry with this name and value (RFC 9204 §3.2.1).
pub fn entry_size(name: &[u8], value: &[u8]) -> usize {
    name.len()
        .saturating_add(value.len())
        .saturating_add(ENTRY_OVERHEAD)
}

/// A dynamic table with a capacity; insertion evicts the oldest entries to make room.
#[derive(Clone, Debug, Default)]
pub struct DynamicTable {
    entries: VecDeque<Entry>,
    size: usize,
    capacity: usize,
    insert_count: u64,
}

impl DynamicTable {
    /// An empty table with capacity 0 (RFC 9204 §3.2.3: the initial capacity is zero).
    pub fn new() -> Self {
        Self::default()
    }

    /// Current capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Sum of entry sizes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total number of insertions since the connection began.
    pub fn insert_count(&self) -> u64 {
        self.insert_count
    }

    /// Absolute index of the oldest live entry (equal to `insert_count` when empty).
    pub fn oldest(&self) -> u64 {
        self.insert_count - self.entries.len() as u64
    }

    /// The entry with absolute index `abs`, if it is still in the table.
    pub fn get(&self, abs: u64) -> Option<&Entry> {
        let rel = abs.checked_sub(self.oldest())?;
        self.entries.get(usize::try_from(rel).ok()?)
    }

    /// Sets the capacity, evicting the oldest entries until the size fits.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict_to(capacity);
    }

    /// Evicts oldest entries until the size is at most `target`.
    pub fn evict_to(&mut self, target: usize) {
        while self.size > target {
            match self.entries.pop_front() {
                Some(e) => self.size -= e.size(),
                None => break,
            }
        }
    }

    /// Inserts an entry, evicting as needed. Fails (changing nothing) if the entry is larger
    /// than the capacity (RFC 9204 §3.2.2).
    pub fn insert(&mut self, entry: Entry) -> Result<u64, Entry> {
        let size = entry.size();
        if size > self.capacity {
            return Err(entry);
        }
        self.evict_to(self.capacity - size);
        self.entries.push_back(entry);
        self.size += size;
        self.insert_count += 1;
        Ok(self.insert_count - 1)
    }

    /// Size that evicting every entry with absolute index below `before` would free, added
    /// to the current free space. Used by the encoder to see whether an insertion may proceed.
    pub fn space_if_evicting_below(&self, before: u64) -> usize {
        let mut free = self.capacity - self.size;
        for (i, e) in self.entries.iter().enumerate() {
            if self.oldest() + i as u64 >= before {
                break;
            }
            free += e.size();
        }
        free
    }

    /// Number of oldest entries that would be evicted to insert an entry of `size`.
    pub fn evictions_for(&self, size: usize) -> usize {
        let mut need = (self.size + size).saturating_sub(self.capacity);
        let mut n = 0;
        for e in &self.entries {
            if need == 0 {
                break;
            }
            need = need.saturating_sub(e.size());
            n += 1;
        }
        n
    }

    /// Live entries, oldest first, with their absolute indices.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, &Entry)> {
        let oldest = self.oldest();
        self.entries
            .iter()
            .enumerate()
            .map(move |(i, e)| (oldest + i as u64, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(n: &'static str, v: &'static str) -> Entry {
        Entry {
            name: Bytes::from_static(n.as_bytes()),
            value: Bytes::from_static(v.as_bytes()),
        }
    }

    #[test]
    fn insertion_evicts_oldest_and_keeps_absolute_indices() {
        let mut t = DynamicTable::new();
        t.set_capacity(100);
        assert_eq!(t.insert(e("a", "1")), Ok(0)); // 34 bytes
        assert_eq!(t.insert(e("b", "2")), Ok(1));
        assert_eq!(t.insert(e("c", "3")), Ok(2)); // 102 > 100: evicts "a"
        assert_eq!(t.size(), 68);
        assert!(t.get(0).is_none());
        assert_eq!(t.get(2).unwrap().name, "c");
        assert!(t.insert(e("toolong", "x")).is_ok());
        let big = Entry {
            name: Bytes::from_static(&[b'x'; 80]),
            value: Bytes::new(),
        };
        assert!(t.insert(big).is_err());
        t.set_capacity(0);
        assert!(t.is_empty());
        assert_eq!(t.oldest(), 4);
    }
}
