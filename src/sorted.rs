//! `SortedMap` and `SortedSet`: the subset of `BTreeMap`/`BTreeSet` the model uses, over one sorted `Vec`.
//!
//! Why: every `BTreeMap<K, V>` type, and every `collect()` into one (which sorts with a stable sort
//! specialised for that call site), put its own copy of the tree and sort code into the core wasm —
//! a third of it. The model's maps hold a handful of entries (key ids, signers, KE counts, tabs), where
//! a sorted `Vec` with binary search is as fast and a fraction of the code. Iteration is in key order,
//! as with the B-tree types, so JSON output and fingerprints do not change.
//!
//! Building from an iterator sorts once (a small stable merge sort, [`stable_order`]): O(n) when the
//! input is already in key order (as anything read from a `json::Map` is), O(n log n) otherwise — a
//! hostile answer with 100 000 keys costs no more than that.

#[allow(unused_imports)]
use crate::prelude::*;
use core::borrow::Borrow;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap { entries: Vec::new() }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    pub fn new() -> Self {
        SortedMap::default()
    }

    fn position<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.position(key).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.position(key).ok().map(|i| &mut self.entries[i].1)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.position(key).is_ok()
    }

    /// Sets `key`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            Ok(i) => Some(core::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// The value of `key`, inserted as `default()` first if missing (`entry(key).or_insert_with`).
    pub fn get_or_insert_with(&mut self, key: K, default: impl FnOnce() -> V) -> &mut V {
        let i = match self.position(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, default()));
                i
            }
        };
        &mut self.entries[i].1
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.position(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// Keeps the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    /// Sorts once (stable): for a repeated key the last one wins, as with `BTreeMap` and `JSON.parse`.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let entries: Vec<(K, V)> = iter.into_iter().collect();
        if entries.windows(2).all(|w| w[0].0 < w[1].0) {
            return SortedMap { entries };
        }
        let order = stable_order(entries.len(), |a, b| entries[a].0 < entries[b].0);
        let mut slots: Vec<Option<(K, V)>> = entries.into_iter().map(Some).collect();
        let mut kept: Vec<(K, V)> = Vec::with_capacity(slots.len());
        for i in order {
            let Some(entry) = slots[i].take() else { continue };
            match kept.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => kept.push(entry),
            }
        }
        SortedMap { entries: kept }
    }
}

impl<K: Ord, V> Extend<(K, V)> for SortedMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a, K, V> IntoIterator for &'a SortedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = core::iter::Map<core::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = alloc::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: Ord + Borrow<Q>, Q: Ord + ?Sized, V> core::ops::Index<&Q> for SortedMap<K, V> {
    type Output = V;
    /// Panics on a missing key, as `BTreeMap`'s index does (tests only; the model uses `get`).
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry for the key")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SortedSet<T> {
    items: Vec<T>,
}

impl<T> Default for SortedSet<T> {
    fn default() -> Self {
        SortedSet { items: Vec::new() }
    }
}

impl<T: Ord> SortedSet<T> {
    pub fn new() -> Self {
        SortedSet::default()
    }

    /// Adds `item`; false if it was there already.
    pub fn insert(&mut self, item: T) -> bool {
        match self.items.binary_search(&item) {
            Ok(_) => false,
            Err(i) => {
                self.items.insert(i, item);
                true
            }
        }
    }

    pub fn contains<Q: Ord + ?Sized>(&self, item: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        self.items.binary_search_by(|t| t.borrow().cmp(item)).is_ok()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> core::slice::Iter<'_, T> {
        self.items.iter()
    }

    /// The items of both sets, in order, each once.
    pub fn union(&self, other: &SortedSet<T>) -> SortedSet<T>
    where
        T: Clone,
    {
        let mut out = self.clone();
        for item in &other.items {
            out.insert(item.clone());
        }
        out
    }
}

impl<T: Ord> FromIterator<T> for SortedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let map: SortedMap<T, ()> = iter.into_iter().map(|item| (item, ())).collect();
        SortedSet { items: map.entries.into_iter().map(|(item, ())| item).collect() }
    }
}

impl<T: Ord> Extend<T> for SortedSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for item in iter {
            self.insert(item);
        }
    }
}

impl<'a, T> IntoIterator for &'a SortedSet<T> {
    type Item = &'a T;
    type IntoIter = core::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<T> IntoIterator for SortedSet<T> {
    type Item = T;
    type IntoIter = alloc::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// The order that sorts `len` items stably by `less` (given two indices), as a list of indices: a small
/// bottom-up merge sort. The standard library's sort puts several KB of code into the wasm for every
/// call site; the model sorts only twice (an object's keys, the journal's last entries).
pub fn stable_order(len: usize, mut less: impl FnMut(usize, usize) -> bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut merged = vec![0; len];
    let mut width = 1;
    while width < len {
        let mut start = 0;
        while start < len {
            let mid = (start + width).min(len);
            let end = (start + 2 * width).min(len);
            let (mut i, mut j, mut k) = (start, mid, start);
            while i < mid && j < end {
                // Equal items keep their order: the right one goes first only when strictly less.
                if less(order[j], order[i]) {
                    merged[k] = order[j];
                    j += 1;
                } else {
                    merged[k] = order[i];
                    i += 1;
                }
                k += 1;
            }
            merged[k..k + (mid - i)].copy_from_slice(&order[i..mid]);
            k += mid - i;
            merged[k..k + (end - j)].copy_from_slice(&order[j..end]);
            start = end;
        }
        core::mem::swap(&mut order, &mut merged);
        width *= 2;
    }
    order
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for SortedMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

// The model's unit tests pin each hand-written JSON shape against a serde derive of the same type.
#[cfg(test)]
impl<K: serde::Serialize, V: serde::Serialize> serde::Serialize for SortedMap<K, V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.entries.iter().map(|(k, v)| (k, v)))
    }
}

#[cfg(test)]
impl<'de, K: Ord + serde::Deserialize<'de>, V: serde::Deserialize<'de>> serde::Deserialize<'de> for SortedMap<K, V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<K, V>::deserialize(d)?;
        Ok(map.into_iter().collect())
    }
}

#[cfg(test)]
impl<T: serde::Serialize> serde::Serialize for SortedSet<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.items.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    proptest! {
        /// The same operations give the same contents, in the same order, as the B-tree types.
        #[test]
        fn behaves_like_btreemap(ops in prop::collection::vec((0u8..3, 0u8..20, any::<u16>()), 0..200)) {
            let (mut ours, mut theirs) = (SortedMap::new(), BTreeMap::new());
            for (op, k, v) in ops {
                match op {
                    0 => prop_assert_eq!(ours.insert(k, v), theirs.insert(k, v)),
                    1 => prop_assert_eq!(ours.remove(&k), theirs.remove(&k)),
                    _ => {
                        let mine = ours.get_or_insert_with(k, || 0);
                        *mine = mine.wrapping_add(1);
                        let other = theirs.entry(k).or_insert(0);
                        *other = other.wrapping_add(1);
                    }
                }
                prop_assert_eq!(ours.iter().collect::<Vec<_>>(), theirs.iter().collect::<Vec<_>>());
                prop_assert_eq!(ours.get(&k), theirs.get(&k));
            }
        }

        #[test]
        fn collects_like_btree_types(items in prop::collection::vec((0u8..30, any::<u8>()), 0..60)) {
            let ours: SortedMap<u8, u8> = items.iter().copied().collect();
            let theirs: BTreeMap<u8, u8> = items.iter().copied().collect();
            prop_assert_eq!(ours.into_iter().collect::<Vec<_>>(), theirs.into_iter().collect::<Vec<_>>());
            let ours: SortedSet<u8> = items.iter().map(|p| p.0).collect();
            let theirs: BTreeSet<u8> = items.iter().map(|p| p.0).collect();
            prop_assert_eq!(ours.iter().collect::<Vec<_>>(), theirs.iter().collect::<Vec<_>>());
        }
    }

    proptest! {
        #[test]
        fn stable_order_sorts_like_the_standard_stable_sort(keys in prop::collection::vec(0u8..8, 0..300)) {
            let ours: Vec<usize> = stable_order(keys.len(), |a, b| keys[a] < keys[b]);
            let mut theirs: Vec<usize> = (0..keys.len()).collect();
            theirs.sort_by_key(|&i| keys[i]);
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn union_and_lookups_by_borrowed_keys() {
        let a: SortedSet<String> = ["b", "a"].iter().map(|s| s.to_string()).collect();
        let b: SortedSet<String> = ["c", "a"].iter().map(|s| s.to_string()).collect();
        assert_eq!(a.union(&b).iter().map(String::as_str).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(a.contains("a") && !a.contains("c"));
        let m: SortedMap<String, u32> = [("x".to_string(), 1)].into_iter().collect();
        assert_eq!(m.get("x"), Some(&1));
        assert_eq!(m["x"], 1);
    }
}
