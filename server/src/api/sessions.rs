//! Panel sessions, sans-IO: opaque tokens mapped to a user name, with an idle limit (renewed
//! by use) and an absolute limit (from log-in). Nothing else is kept: what the user may do
//! is read from the live config on every request, so a config reload takes effect at once.
//!
//! Tokens are made by the caller (random, see [`new_token`]); time is passed in as unix ms.
//! The store lives in memory: a restart logs everyone out.

use std::collections::HashMap;

/// How long a session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session not used for this long ends.
    pub idle_ms: i64,
    /// A session ends this long after log-in, used or not.
    pub absolute_ms: i64,
}

impl SessionLimits {
    /// 12 hours idle, 24 hours in all: a working day, and the next morning starts afresh.
    pub const DEFAULT: SessionLimits = SessionLimits {
        idle_ms: 12 * 3_600_000,
        absolute_ms: 24 * 3_600_000,
    };
}

#[derive(Debug, Clone)]
struct Session {
    username: String,
    created_ms: i64,
    last_used_ms: i64,
}

/// A live session as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub username: String,
    /// When it ends if not used again (unix ms).
    pub expires_ms: i64,
}

#[derive(Debug)]
pub struct Sessions {
    limits: SessionLimits,
    by_token: HashMap<String, Session>,
}

/// 256 random bits from the thread's CSPRNG, hex: what the cookie and the bearer header carry.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl Sessions {
    pub fn new(limits: SessionLimits) -> Sessions {
        Sessions {
            limits,
            by_token: HashMap::new(),
        }
    }

    pub fn limits(&self) -> SessionLimits {
        self.limits
    }

    /// Starts a session for `username` under `token`; forgets expired ones on the way.
    pub fn create(&mut self, token: String, username: &str, now_ms: i64) -> SessionInfo {
        self.sweep(now_ms);
        let s = Session {
            username: username.to_string(),
            created_ms: now_ms,
            last_used_ms: now_ms,
        };
        let info = SessionInfo {
            username: s.username.clone(),
            expires_ms: expires(self.limits, &s),
        };
        self.by_token.insert(token, s);
        info
    }

    /// The session behind `token` if it is live at `now_ms`, marking it used. An expired one
    /// is removed.
    pub fn touch(&mut self, token: &str, now_ms: i64) -> Option<SessionInfo> {
        let limits = self.limits;
        let s = self.by_token.get_mut(token)?;
        if now_ms >= expires(limits, s) {
            self.by_token.remove(token);
            return None;
        }
        s.last_used_ms = s.last_used_ms.max(now_ms);
        Some(SessionInfo {
            username: s.username.clone(),
            expires_ms: expires(limits, s),
        })
    }

    /// Ends the session behind `token`; whether there was one.
    pub fn remove(&mut self, token: &str) -> bool {
        self.by_token.remove(token).is_some()
    }

    /// Forgets every session expired at `now_ms`.
    pub fn sweep(&mut self, now_ms: i64) {
        let limits = self.limits;
        self.by_token.retain(|_, s| now_ms < expires(limits, s));
    }

    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }
}

/// When `s` ends if not used again.
fn expires(limits: SessionLimits, s: &Session) -> i64 {
    (s.last_used_ms + limits.idle_ms).min(s.created_ms + limits.absolute_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Sessions {
        Sessions::new(SessionLimits {
            idle_ms: 1_000,
            absolute_ms: 5_000,
        })
    }

    #[test]
    fn a_session_is_found_by_its_token_until_idle_too_long() {
        let mut s = store();
        let info = s.create("t1".into(), "alice", 0);
        assert_eq!(info.expires_ms, 1_000);
        assert_eq!(s.touch("t1", 999).map(|i| i.username), Some("alice".into()));
        // Used at 999: good until 1999.
        assert!(s.touch("t1", 1_998).is_some());
        assert!(s.touch("t1", 2_998).is_none(), "idle for 1000 ms");
        assert!(s.is_empty(), "an expired session is forgotten when met");
        assert!(s.touch("nope", 0).is_none());
    }

    #[test]
    fn use_does_not_extend_a_session_past_its_absolute_limit() {
        let mut s = store();
        s.create("t".into(), "bob", 0);
        let mut last = None;
        for now in (500..5_000).step_by(500) {
            last = s.touch("t", now);
            assert!(last.is_some(), "still live at {now}");
        }
        assert_eq!(last.map(|i| i.expires_ms), Some(5_000));
        assert!(s.touch("t", 5_000).is_none());
    }

    #[test]
    fn logout_and_sweep_forget_sessions() {
        let mut s = store();
        s.create("a".into(), "alice", 0);
        s.create("b".into(), "alice", 0);
        assert!(s.remove("a"));
        assert!(!s.remove("a"));
        assert!(s.touch("a", 1).is_none());
        assert!(s.touch("b", 1).is_some(), "other sessions of the user stay");
        s.sweep(1_000);
        assert_eq!(s.len(), 1, "b was used at 1: live until 1001");
        s.sweep(1_001);
        assert!(s.is_empty());
        // Creating sweeps too.
        s.create("c".into(), "carol", 0);
        s.create("d".into(), "dave", 10_000);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn tokens_are_long_and_different() {
        let a = new_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_token());
    }
}
