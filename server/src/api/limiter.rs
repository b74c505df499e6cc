//! Log-in rate limiting, sans-IO: a source that fails to log in `max_failures` times within
//! `window` is refused for `block` (429 with Retry-After), even with the right password,
//! so guessing passwords from one place is slow. The same idea and the same thresholds
//! (`sip.auth` in the config) as the SIP registrar's guard, kept apart so a phone's failed
//! REGISTERs and a browser's failed log-ins do not block each other's source.
//!
//! Sources are IPv4 addresses, and IPv6 /64 networks (one host usually owns a whole /64).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

use crate::config::AuthConfig;

/// Thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitConfig {
    pub max_failures: u32,
    pub window_ms: i64,
    pub block_ms: i64,
}

impl From<&AuthConfig> for LimitConfig {
    fn from(a: &AuthConfig) -> LimitConfig {
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        LimitConfig {
            max_failures: a.max_failures.max(1),
            window_ms: ms(a.failure_window),
            block_ms: ms(a.block_for),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Source {
    failures: u32,
    window_start: i64,
    blocked_until: Option<i64>,
}

/// Above this many tracked sources, each failure first forgets the quiet ones.
const SWEEP_ABOVE: usize = 4096;

#[derive(Debug)]
pub struct LoginLimiter {
    cfg: LimitConfig,
    sources: HashMap<IpAddr, Source>,
}

/// The key a source is counted under.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl LoginLimiter {
    pub fn new(cfg: LimitConfig) -> LoginLimiter {
        LoginLimiter {
            cfg,
            sources: HashMap::new(),
        }
    }

    /// Takes new thresholds (after a config reload); counts so far are kept.
    pub fn set_config(&mut self, cfg: LimitConfig) {
        self.cfg = cfg;
    }

    /// If `ip` is refused at `now_ms`: for how many more milliseconds.
    pub fn blocked_for(&self, ip: IpAddr, now_ms: i64) -> Option<i64> {
        self.sources
            .get(&source_key(ip))
            .and_then(|s| s.blocked_until)
            .map(|until| until - now_ms)
            .filter(|left| *left > 0)
    }

    /// Counts one failed log-in; returns the end of the block it started, if it did.
    pub fn failure(&mut self, ip: IpAddr, now_ms: i64) -> Option<i64> {
        if self.sources.len() > SWEEP_ABOVE {
            self.sweep(now_ms);
        }
        let cfg = self.cfg;
        let s = self.sources.entry(source_key(ip)).or_insert(Source {
            failures: 0,
            window_start: now_ms,
            blocked_until: None,
        });
        match s.blocked_until {
            Some(until) if now_ms < until => return None,
            Some(_) => {
                s.blocked_until = None;
                s.failures = 0;
                s.window_start = now_ms;
            }
            None => {}
        }
        if now_ms - s.window_start >= cfg.window_ms {
            s.failures = 0;
            s.window_start = now_ms;
        }
        s.failures += 1;
        if s.failures >= cfg.max_failures {
            let until = now_ms.saturating_add(cfg.block_ms);
            s.blocked_until = Some(until);
            return Some(until);
        }
        None
    }

    /// Forgets sources whose block has ended or whose window has passed.
    pub fn sweep(&mut self, now_ms: i64) {
        let window = self.cfg.window_ms;
        self.sources.retain(|_, s| match s.blocked_until {
            Some(until) => now_ms < until,
            None => now_ms - s.window_start < window,
        });
    }

    /// Sources tracked now (failing or blocked).
    pub fn tracked(&self) -> usize {
        self.sources.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LimitConfig {
            max_failures: 3,
            window_ms: 10_000,
            block_ms: 60_000,
        })
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn blocks_after_max_failures_within_the_window_then_lifts() {
        let mut l = limiter();
        assert_eq!(l.failure(IP, 0), None);
        assert_eq!(l.failure(IP, 1_000), None);
        assert_eq!(l.blocked_for(IP, 1_500), None);
        assert_eq!(l.failure(IP, 2_000), Some(62_000));
        assert_eq!(l.blocked_for(IP, 2_000), Some(60_000));
        assert_eq!(l.blocked_for(IP, 61_999), Some(1));
        assert_eq!(l.blocked_for(OTHER, 2_000), None, "only the failing source");
        // Failures while blocked do not extend the block.
        assert_eq!(l.failure(IP, 30_000), None);
        assert_eq!(l.blocked_for(IP, 62_000), None);
        // After the block the count starts again.
        assert_eq!(l.failure(IP, 62_000), None);
        assert_eq!(l.blocked_for(IP, 62_000), None);
    }

    #[test]
    fn failures_spread_wider_than_the_window_do_not_add_up() {
        let mut l = limiter();
        l.failure(IP, 0);
        l.failure(IP, 5_000);
        assert_eq!(l.failure(IP, 10_000), None, "a new window began at 10 s");
        assert_eq!(l.failure(IP, 11_000), None);
        assert_eq!(l.failure(IP, 12_000), Some(72_000));
    }

    #[test]
    fn ipv6_sources_are_counted_per_64_and_mapped_v4_as_v4() {
        let mut l = limiter();
        let a: IpAddr = "2001:db8:1:2::10".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2::20".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::10".parse().unwrap();
        l.failure(a, 0);
        l.failure(b, 0);
        assert!(l.failure(a, 0).is_some());
        assert!(l.blocked_for(b, 1).is_some());
        assert!(l.blocked_for(elsewhere, 1).is_none());
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        l.failure(IP, 0);
        l.failure(IP, 0);
        l.failure(mapped, 0);
        assert!(l.blocked_for(IP, 1).is_some());
    }

    #[test]
    fn sweep_forgets_quiet_and_unblocked_sources() {
        let mut l = limiter();
        l.failure(OTHER, 0);
        for _ in 0..3 {
            l.failure(IP, 0);
        }
        l.sweep(10_000);
        assert_eq!(l.tracked(), 1, "the blocked one stays");
        l.sweep(60_000);
        assert_eq!(l.tracked(), 0);
    }
}
