//! The engine's playout queue: reorders RTP payloads by sequence number and hands one per
//! tick after a fixed hold-back of `depth` frames.
//!
//! This is the shell's minimal stand-in until `crate::jitter` (the adaptive buffer with
//! concealment) lands; it keeps the same seam: push (sequence, payload) on arrival, pop one
//! [`Pop`] per 20 ms tick. Invariants: a payload is played at most once; one older than the
//! next to play, or a duplicate, is counted late and dropped; a gap is reported as
//! [`Pop::Lost`] exactly once per missing packet; a queue that grows past `depth + 8`
//! (sender clock faster than ours) drops its oldest entries. After 25 missing packets in a
//! row (0.5 s: the far end stopped, or paused for DTX) it rebuffers instead of counting loss.

use std::collections::BTreeMap;

/// What a tick gets.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Pop {
    /// The payload due now.
    Payload(Vec<u8>),
    /// The payload due now never came: conceal.
    Lost,
    /// Not playing (before the first packets, or rebuffering): silence, no loss counted.
    Idle,
}

#[derive(Debug)]
pub(super) struct Playout {
    depth: usize,
    queue: BTreeMap<u64, Vec<u8>>,
    /// Extended sequence of the highest packet seen.
    highest: Option<u64>,
    /// Extended sequence due at the next pop, once playing.
    next: Option<u64>,
    missing_run: u32,
    pub late: u64,
    pub lost: u64,
}

const MAX_MISSING_RUN: u32 = 25;
const SLACK: usize = 8;

impl Playout {
    pub fn new(depth: usize) -> Playout {
        Playout {
            depth: depth.max(1),
            queue: BTreeMap::new(),
            highest: None,
            next: None,
            missing_run: 0,
            late: 0,
            lost: 0,
        }
    }

    /// Extend a 16-bit sequence number to 64 bits around the highest seen (RFC 3550 A.1).
    fn extend(&mut self, seq: u16) -> u64 {
        let Some(h) = self.highest else {
            let e = (1u64 << 16) + u64::from(seq);
            self.highest = Some(e);
            return e;
        };
        let delta = i64::from(seq.wrapping_sub(h as u16) as i16);
        let e = (h as i64 + delta).max(0) as u64;
        if e > h {
            self.highest = Some(e);
        }
        e
    }

    /// Holds at least its hold-back depth: reading more now would not change this tick.
    pub fn is_full(&self) -> bool {
        self.queue.len() >= self.depth
    }

    /// A packet arrived. Returns false if it was late or a duplicate (dropped).
    pub fn push(&mut self, seq: u16, payload: &[u8]) -> bool {
        let e = self.extend(seq);
        if self.next.is_some_and(|n| e < n) || self.queue.contains_key(&e) {
            self.late += 1;
            return false;
        }
        self.queue.insert(e, payload.to_vec());
        while self.queue.len() > self.depth + SLACK {
            if let Some((k, _)) = self.queue.pop_first() {
                self.next = Some(k + 1);
            }
        }
        true
    }

    /// The frame for this tick.
    pub fn pop(&mut self) -> Pop {
        let next = match self.next {
            Some(n) => n,
            None => {
                if self.queue.len() < self.depth {
                    return Pop::Idle;
                }
                match self.queue.first_key_value() {
                    Some((&k, _)) => k,
                    None => return Pop::Idle,
                }
            }
        };
        self.next = Some(next + 1);
        if let Some(p) = self.queue.remove(&next) {
            self.missing_run = 0;
            return Pop::Payload(p);
        }
        self.missing_run += 1;
        if self.missing_run >= MAX_MISSING_RUN && self.queue.is_empty() {
            // Nothing is coming: stop counting loss and rebuffer on the next packets.
            self.next = None;
            self.missing_run = 0;
            return Pop::Idle;
        }
        self.lost += 1;
        Pop::Lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: u8) -> Pop {
        Pop::Payload(vec![x])
    }

    #[test]
    fn holds_back_then_reorders_and_reports_gaps() {
        let mut q = Playout::new(2);
        assert!(q.push(10, &[10]));
        assert_eq!(q.pop(), Pop::Idle);
        assert!(q.push(12, &[12]));
        assert_eq!(q.pop(), p(10));
        assert!(q.push(11, &[11]));
        assert_eq!(q.pop(), p(11));
        assert_eq!(q.pop(), p(12));
        assert_eq!(q.pop(), Pop::Lost);
        assert!(!q.push(13, &[13]), "too late");
        assert!(q.push(14, &[14]));
        assert!(!q.push(14, &[14]), "duplicate");
        assert_eq!(q.pop(), p(14));
        assert_eq!((q.lost, q.late), (1, 2));
    }

    #[test]
    fn sequence_wraps() {
        let mut q = Playout::new(1);
        q.push(65_535, &[1]);
        q.push(0, &[2]);
        assert_eq!(q.pop(), p(1));
        assert_eq!(q.pop(), p(2));
    }

    #[test]
    fn silence_from_the_peer_rebuffers_instead_of_counting_loss_forever() {
        let mut q = Playout::new(1);
        q.push(1, &[1]);
        assert_eq!(q.pop(), p(1));
        for _ in 0..MAX_MISSING_RUN - 1 {
            assert_eq!(q.pop(), Pop::Lost);
        }
        assert_eq!(q.pop(), Pop::Idle);
        assert_eq!(q.pop(), Pop::Idle);
        q.push(500, &[5]);
        assert_eq!(q.pop(), p(5));
    }

    #[test]
    fn a_runaway_queue_drops_its_oldest() {
        let mut q = Playout::new(2);
        for s in 0..20u16 {
            q.push(s, &[s as u8]);
        }
        assert_eq!(q.queue.len(), 2 + SLACK);
        assert_eq!(q.pop(), p(10));
    }
}
