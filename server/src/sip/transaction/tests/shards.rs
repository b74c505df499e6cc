//! The sharded map under the transaction table: every key found again, the count kept, and
//! sequential branches (as sipp and many phones make them) spread over all shards.

use super::util::*;
use crate::sip::transaction::TransactionKey;
use crate::sip::transaction::shards::Shards;

fn key(i: usize) -> TransactionKey {
    TransactionKey::for_request(&request("REGISTER", &format!("z9hG4bK-{i}-1-0"))).unwrap()
}

#[test]
fn keys_are_found_counted_and_removed() {
    let mut map = Shards::default();
    let n = 10_000;
    for i in 0..n {
        assert_eq!(map.insert(key(i), i), None);
    }
    assert_eq!(map.len(), n);
    // Replacing a value is not a new entry.
    assert_eq!(map.insert(key(7), 70), Some(7));
    assert_eq!(map.len(), n);
    for i in 0..n {
        let want = if i == 7 { 70 } else { i };
        assert_eq!(map.get(&key(i)), Some(&want), "key {i}");
        assert!(map.contains_key(&key(i)));
    }
    assert_eq!(map.get(&key(n)), None);
    if let Some(v) = map.get_mut(&key(8)) {
        *v = 80;
    }
    assert_eq!(map.get(&key(8)), Some(&80));
    for i in 0..n {
        assert!(map.remove(&key(i)).is_some(), "key {i}");
    }
    assert_eq!(map.remove(&key(0)), None);
    assert!(map.is_empty());
}

#[test]
fn sequential_branches_spread_over_every_shard() {
    let mut map = Shards::default();
    let n = 64_000;
    for i in 0..n {
        map.insert(key(i), ());
    }
    let lens = map.shard_lens();
    let mean = n / lens.len();
    let (min, max) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
    // Each shard grows (and so stalls) on its own only if none holds much more than its share.
    assert!(
        *min > mean / 2 && *max < mean * 2,
        "shard sizes {min}..{max}, mean {mean}"
    );
}
