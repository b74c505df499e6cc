//! The one place the server reads the clock (STYLE practice 1): protocol cores get [`Now`].

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::endpoint::Now;

#[allow(clippy::disallowed_methods)] // The I/O shell owns the clock.
pub fn now() -> Now {
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Now {
        mono: Instant::now(),
        unix_ms,
    }
}
