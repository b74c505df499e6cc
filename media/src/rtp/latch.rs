//! Symmetric-RTP latching (RFC 4961's "send to where it comes from"), as a pure decision.
//!
//! Phones behind NAT advertise an address in SDP that we cannot reach; we send to the
//! address their RTP actually comes from. The socket shell asks [`Latch::observe`] for every
//! datagram and drops what it is told to drop.
//!
//! Rules (the invariants):
//! 1. The first packet latches its source address and SSRC.
//! 2. Packets from the latched address are accepted; if their SSRC changed, the peer
//!    restarted its stream at the same place: accepted at once, the new SSRC remembered.
//! 3. Packets from any other address are dropped, but `threshold` consecutive packets from
//!    one new (address, SSRC) with nothing from the latched address in between re-latch
//!    to it (NAT rebinding, or a far end that moved its media). A stray or spoofed stream
//!    interleaved with the real one never gets `threshold` in a row, so cannot steal it.
//! 4. [`Latch::expect_new_source`] (after a re-INVITE moved the media) makes the next packet
//!    latch as in rule 1.

/// What to do with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatchDecision<A> {
    /// From the latched source: use it.
    Accept,
    /// First packet (or first after `expect_new_source`): latched to it; use it.
    Latched,
    /// A new source proved itself: now latched to it; use it. Holds the previous address.
    Relatched { previous: A },
    /// Not from the latched source: drop it.
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Candidate<A> {
    addr: A,
    ssrc: u32,
    count: u32,
}

/// The latch for one leg. `A` is the address type (`SocketAddr` in the shell).
#[derive(Debug, Clone)]
pub struct Latch<A> {
    latched: Option<(A, u32)>,
    candidate: Option<Candidate<A>>,
    threshold: u32,
}

impl<A: Copy + Eq> Latch<A> {
    /// Default re-latch threshold: three consecutive packets (60 ms of 20 ms audio).
    pub const DEFAULT_THRESHOLD: u32 = 3;

    pub fn new(threshold: u32) -> Latch<A> {
        Latch {
            latched: None,
            candidate: None,
            threshold: threshold.max(1),
        }
    }

    /// Where to send: the latched address, if any packet has arrived yet.
    pub fn remote(&self) -> Option<A> {
        self.latched.map(|(a, _)| a)
    }

    /// Forget the latch; the next packet from anywhere latches.
    pub fn expect_new_source(&mut self) {
        self.latched = None;
        self.candidate = None;
    }

    pub fn observe(&mut self, from: A, ssrc: u32) -> LatchDecision<A> {
        let Some((addr, latched_ssrc)) = self.latched else {
            self.latched = Some((from, ssrc));
            self.candidate = None;
            return LatchDecision::Latched;
        };
        if from == addr {
            if ssrc != latched_ssrc {
                self.latched = Some((addr, ssrc));
            }
            self.candidate = None;
            return LatchDecision::Accept;
        }
        let count = match self.candidate {
            Some(c) if c.addr == from && c.ssrc == ssrc => c.count + 1,
            _ => 1,
        };
        if count >= self.threshold {
            self.latched = Some((from, ssrc));
            self.candidate = None;
            return LatchDecision::Relatched { previous: addr };
        }
        self.candidate = Some(Candidate {
            addr: from,
            ssrc,
            count,
        });
        LatchDecision::Drop
    }
}

impl<A: Copy + Eq> Default for Latch<A> {
    fn default() -> Self {
        Latch::new(Self::DEFAULT_THRESHOLD)
    }
}
