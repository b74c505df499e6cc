//! Source blocking: a source address that fails authentication too often within a window is
//! blocked for a while. Everything it sends meanwhile is dropped unanswered (a brute-force
//! client learns nothing, and costs us a hash look-up). Blocks and lifts are reported as
//! events so the shell logs and counts them.

use std::collections::HashMap;
use std::net::IpAddr;

/// Thresholds, from `sip.auth` in the config.
#[derive(Debug, Clone, Copy)]
pub struct GuardConfig {
    pub max_failures: u32,
    pub window_ms: i64,
    pub block_ms: i64,
}

#[derive(Debug, Clone, Copy)]
struct Source {
    failures: u32,
    window_start: i64,
    blocked_until: Option<i64>,
}

/// A change in a source's standing, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardEvent {
    Blocked { ip: IpAddr, until_ms: i64 },
    Lifted { ip: IpAddr },
}

#[derive(Debug)]
pub struct Guard {
    cfg: GuardConfig,
    sources: HashMap<IpAddr, Source>,
    blocked: usize,
}

impl Guard {
    pub fn new(cfg: GuardConfig) -> Guard {
        Guard {
            cfg,
            sources: HashMap::new(),
            blocked: 0,
        }
    }

    /// Is `ip` blocked at `now_ms`? An expired block is lifted here or in [`Guard::sweep`].
    pub fn is_blocked(&self, ip: IpAddr, now_ms: i64) -> bool {
        self.sources
            .get(&ip)
            .and_then(|s| s.blocked_until)
            .is_some_and(|until| now_ms < until)
    }

    /// Records one failed authentication; returns the block it caused, if any.
    pub fn failure(&mut self, ip: IpAddr, now_ms: i64) -> Option<GuardEvent> {
        let cfg = self.cfg;
        let s = self.sources.entry(ip).or_insert(Source {
            failures: 0,
            window_start: now_ms,
            blocked_until: None,
        });
        if s.blocked_until.is_some() {
            return None;
        }
        if now_ms - s.window_start >= cfg.window_ms {
            s.failures = 0;
            s.window_start = now_ms;
        }
        s.failures += 1;
        if s.failures >= cfg.max_failures {
            let until_ms = now_ms + cfg.block_ms;
            s.blocked_until = Some(until_ms);
            self.blocked += 1;
            return Some(GuardEvent::Blocked { ip, until_ms });
        }
        None
    }

    /// Lifts expired blocks and forgets quiet sources; returns the lifts.
    pub fn sweep(&mut self, now_ms: i64) -> Vec<GuardEvent> {
        let mut lifted = Vec::new();
        let window = self.cfg.window_ms;
        self.sources.retain(|ip, s| match s.blocked_until {
            Some(until) if now_ms >= until => {
                lifted.push(GuardEvent::Lifted { ip: *ip });
                false
            }
            Some(_) => true,
            None => now_ms - s.window_start < window,
        });
        self.blocked -= lifted.len();
        lifted
    }

    /// Sources blocked right now.
    pub fn blocked_count(&self) -> usize {
        self.blocked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::new(GuardConfig {
            max_failures: 3,
            window_ms: 10_000,
            block_ms: 60_000,
        })
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn blocks_after_threshold_within_window_and_lifts() {
        let mut g = guard();
        assert_eq!(g.failure(IP, 0), None);
        assert_eq!(g.failure(IP, 1_000), None);
        assert_eq!(
            g.failure(IP, 2_000),
            Some(GuardEvent::Blocked {
                ip: IP,
                until_ms: 62_000
            })
        );
        assert!(g.is_blocked(IP, 61_999));
        assert_eq!(g.blocked_count(), 1);
        assert_eq!(g.sweep(62_000), vec![GuardEvent::Lifted { ip: IP }]);
        assert!(!g.is_blocked(IP, 62_000));
        assert_eq!(g.blocked_count(), 0);
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let mut g = guard();
        g.failure(IP, 0);
        g.failure(IP, 5_000);
        assert_eq!(g.failure(IP, 15_000), None);
        assert!(!g.is_blocked(IP, 15_000));
    }
}
