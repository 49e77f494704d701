//! Ids interned by hash and a union-find over them, shared by `check` (which predicts the
//! merges of a file) and `import --resolve-chains` (which finds each cluster's user).
//!
//! Memory stays small at tens of millions of rows: an id is kept as a 64-bit hash of its
//! text (rustc-hash's), not the text: two ids of a file of 20 million share a hash with
//! odds of about one in 100,000, which would at worst join them in one cluster. Each id
//! costs a few `u32`s more.

use std::hash::{Hash, Hasher};

use rustc_hash::FxHasher;

/// The ids seen, by hash: open addressing with linear probing in one array of 12-byte
/// slots (the hash as two `u32` halves, then the id), so that a lookup costs one cache
/// miss where a general map costs two (its control bytes, then its entry).
#[derive(Debug, Default)]
struct IdTable {
    slots: Vec<[u32; 3]>,
    len: usize,
}

impl IdTable {
    /// The id of `hash`, `next` if it is new.
    fn id(&mut self, hash: u64, next: u32) -> u32 {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow_to(self.len + 1);
        }
        let (at, found) = self.probe(hash);
        if found {
            return self.slots[at][2];
        }
        self.slots[at] = [(hash >> 32) as u32, hash as u32, next];
        self.len += 1;
        next
    }

    /// The id of `hash` if it is in the table.
    fn get(&self, hash: u64) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let (at, found) = self.probe(hash);
        found.then(|| self.slots[at][2])
    }

    /// The slot that holds `hash`, or else the empty slot where it would go, and which of
    /// the two it is. The table must have a slot, and an empty one.
    fn probe(&self, hash: u64) -> (usize, bool) {
        // The halves of the hash, split losslessly.
        let key = [(hash >> 32) as u32, hash as u32];
        let mask = self.slots.len() - 1;
        let mut at = Self::start(hash, mask);
        loop {
            let slot = &self.slots[at];
            if slot[2] == NONE {
                return (at, false);
            }
            if slot[..2] == key {
                return (at, true);
            }
            at = (at + 1) & mask;
        }
    }

    /// The id in the slot where `hash` starts probing, whatever it is.
    fn peek(&self, hash: u64) -> u32 {
        match self.slots.len() {
            0 => NONE,
            len => self.slots[Self::start(hash, len - 1)][2],
        }
    }

    /// Where `hash` starts probing in a table of `mask + 1` slots.
    fn start(hash: u64, mask: usize) -> usize {
        // A multiplicative hash's best bits are its high ones: fold some into the low.
        ((hash ^ (hash >> 29)) as usize) & mask
    }

    /// Room for `ids` ids at most three quarters full: the slots are rebuilt once.
    fn grow_to(&mut self, ids: usize) {
        let wanted = (ids.saturating_mul(4) / 3 + 1).next_power_of_two().max(16);
        if wanted <= self.slots.len() {
            return;
        }
        let old = std::mem::replace(&mut self.slots, vec![[0, 0, NONE]; wanted]);
        let mask = wanted - 1;
        for slot in old.into_iter().filter(|slot| slot[2] != NONE) {
            let hash = u64::from(slot[0]) << 32 | u64::from(slot[1]);
            let mut at = Self::start(hash, mask);
            while self.slots[at][2] != NONE {
                at = (at + 1) & mask;
            }
            self.slots[at] = slot;
        }
    }
}
/// The hash an id is kept as.
pub(crate) fn hash(role: Role, text: &str) -> u64 {
    let mut hasher = FxHasher::default();
    role.hash(&mut hasher);
    text.hash(&mut hasher);
    hasher.finish()
}

/// What an id stands for: under Simplified ID Merge a device and a user of the same text
/// are different ids.
#[derive(Debug, Clone, Copy, Hash)]
pub(crate) enum Role {
    /// An id of Original or Legacy ID Merge, or of a chain being resolved.
    Id,
    /// A Simplified device.
    Device,
    /// A Simplified user.
    User,
}

/// No id.
pub(crate) const NONE: u32 = u32::MAX;

/// Ids by hash, numbered in order of first appearance, and the clusters they form.
#[derive(Debug, Default)]
pub(crate) struct Clusters {
    ids: IdTable,
    /// Union-find parent of each id.
    parent: Vec<u32>,
    /// Size of each root's cluster.
    size: Vec<u32>,
}

impl Clusters {
    /// Makes room for `ids` ids in all, at most [`NONE`]; gives how many more that is.
    pub(crate) fn reserve(&mut self, ids: usize) -> usize {
        let more = ids.min(NONE as usize).saturating_sub(self.parent.len());
        self.ids.grow_to(self.parent.len() + more);
        self.parent.reserve_exact(more);
        self.size.reserve_exact(more);
        more
    }

    /// How many ids.
    pub(crate) fn len(&self) -> usize {
        self.parent.len()
    }

    /// Reads the slot where `hash` starts probing, for [`IdTable::peek`]'s reason.
    pub(crate) fn peek(&self, hash: u64) -> u32 {
        self.ids.peek(hash)
    }

    /// The id of `hash`, and whether it is new (numbered [`Clusters::len`] before).
    pub(crate) fn intern(&mut self, hash: u64) -> (u32, bool) {
        let next = u32::try_from(self.parent.len()).unwrap_or(NONE);
        let id = self.ids.id(hash, next);
        let new = id == next;
        if new {
            self.parent.push(id);
            self.size.push(1);
        }
        (id, new)
    }

    /// The id of `hash` if it was seen.
    pub(crate) fn get(&self, hash: u64) -> Option<u32> {
        self.ids.get(hash)
    }

    /// The root of `id`'s cluster.
    pub(crate) fn find(&mut self, mut id: u32) -> u32 {
        // Path halving.
        while self.parent[id as usize] != id {
            let grandparent = self.parent[self.parent[id as usize] as usize];
            self.parent[id as usize] = grandparent;
            id = grandparent;
        }
        id
    }

    /// Joins the clusters of `a` and `b` (union by size); gives the new root and the old
    /// one it absorbed, or `None` when they were one already.
    pub(crate) fn union(&mut self, a: u32, b: u32) -> Option<(u32, u32)> {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return None;
        }
        let (big, small) = if self.size[a as usize] >= self.size[b as usize] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
        Some((big, small))
    }

    /// Whether `id` is its cluster's root.
    pub(crate) fn is_root(&self, id: u32) -> bool {
        self.parent[id as usize] == id
    }

    /// The size of the cluster of which `root` is the root.
    pub(crate) fn size(&self, root: u32) -> u32 {
        self.size[root as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_table_keeps_every_id_through_growth_and_shared_start_slots() {
        let mut table = IdTable::default();
        // Hashes that differ only in bits the start slot ignores probe the same slots.
        let hashes: Vec<u64> = (0..1000_u64).map(|i| i << 40).collect();
        for (id, hash) in hashes.iter().enumerate() {
            assert_eq!(table.id(*hash, id as u32), id as u32);
        }
        for (id, hash) in hashes.iter().enumerate() {
            assert_eq!(table.id(*hash, 9999), id as u32);
        }
        assert_eq!(table.len, 1000);
        assert!(table.slots.len() * 3 >= table.len * 4);
        table.grow_to(100_000);
        assert_eq!(table.id(hashes[777], 9999), 777);
        assert_eq!(table.id(u64::MAX, 1000), 1000);
    }

    /// The table against the simple way, a `HashMap`: hashes from a small pool, looked up
    /// and added in random order, with their low bits cleared so that probes run long.
    #[test]
    fn the_id_table_gives_the_ids_a_hash_map_gives() {
        for seed in 0..20 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let pool: Vec<u64> = (0..500).map(|_| rng.u64(..) & !0xffff_u64).collect();
            let mut table = IdTable::default();
            let mut map = std::collections::HashMap::new();
            for _ in 0..5_000 {
                let hash = pool[rng.usize(..pool.len())];
                assert_eq!(table.get(hash), map.get(&hash).copied(), "seed {seed}");
                let next = map.len() as u32;
                let id = *map.entry(hash).or_insert(next);
                assert_eq!(table.id(hash, next), id, "seed {seed}");
            }
            assert_eq!(table.len, map.len());
        }
    }

    #[test]
    fn clusters_join_by_size_and_number_ids_in_order() {
        let mut clusters = Clusters::default();
        let ids: Vec<u32> = (0..4_u64).map(|i| clusters.intern(i).0).collect();
        assert_eq!(ids, [0, 1, 2, 3]);
        assert_eq!(clusters.intern(2), (2, false));
        assert_eq!(clusters.get(9), None);
        assert_eq!(clusters.union(0, 1), Some((0, 1)));
        assert_eq!(clusters.union(2, 1), Some((0, 2)));
        assert_eq!(clusters.union(1, 2), None);
        assert_eq!(clusters.find(2), 0);
        assert_eq!(clusters.size(0), 3);
        assert!(clusters.is_root(3) && !clusters.is_root(1));
    }
}
