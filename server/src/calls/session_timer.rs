//! The upkeep of one dialog's session, sans-IO: RFC 4028 session timers and RFC 3261 §14.1
//! re-INVITE glare. The call layer owns one [`DialogSession`] per dialog that needs it and
//! does the sending; this module only decides, with `now` passed in.
//!
//! Session timers run only where the peer asks (a `Session-Expires` in its INVITE,
//! re-INVITE, UPDATE or 2xx); we never impose one. A too-small interval is refused with 422
//! and our `Min-SE` ([`MIN_SE`], the RFC's floor of 90 s). When we are the refresher we send
//! a refresh at half the interval: UPDATE without a body when the peer allows UPDATE,
//! otherwise a re-INVITE offering the SDP we last sent, unchanged (§7.4). When the peer is the
//! refresher and no refresh arrives, the session expires `min(32 s, interval/3)` before its
//! end (§10) and the call layer hangs up. Any successful re-INVITE or UPDATE, either way,
//! restarts the interval; one without `Session-Expires` ends the timer.
//!
//! Glare (§14.1): while our re-INVITE is in flight, the peer's re-INVITE (or UPDATE with an
//! offer) gets 491. A 491 to ours is retried after a random wait in 10 ms steps: 2.1–4 s when
//! we own the Call-ID (we sent the dialog's first INVITE), 0–2 s otherwise.
//!
//! Invariant: at most one request of ours is in flight per dialog.

use std::time::{Duration, Instant};

use crate::sip::message::{self, HasHeaders, Method};
use crate::sip::transaction::TransactionKey;

/// The smallest session interval we accept (our `Min-SE`); RFC 4028 §5 forbids less than 90 s.
pub(super) const MIN_SE: Duration = Duration::from_secs(90);

/// Who refreshes, named relative to the transaction that negotiated it (§4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refresher {
    Uac,
    Uas,
}

impl Refresher {
    fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }
}

/// A parsed `Session-Expires` value: `delta-seconds [;refresher=uac|uas]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SessionExpires {
    pub interval: Duration,
    pub refresher: Option<Refresher>,
}

impl SessionExpires {
    pub fn parse(value: &str) -> Option<SessionExpires> {
        let mut parts = value.split(';');
        let secs: u64 = parts.next()?.trim().parse().ok()?;
        let mut refresher = None;
        for p in parts {
            if let Some((k, v)) = p.split_once('=')
                && k.trim().eq_ignore_ascii_case("refresher")
            {
                refresher = match v.trim().to_ascii_lowercase().as_str() {
                    "uac" => Some(Refresher::Uac),
                    "uas" => Some(Refresher::Uas),
                    _ => None,
                };
            }
        }
        Some(SessionExpires {
            interval: Duration::from_secs(secs),
            refresher,
        })
    }
}

/// The first header called `name` or by its compact form.
fn header_or_compact<'a>(
    msg: &'a impl HasHeaders,
    name: &str,
    compact: Option<&str>,
) -> Option<&'a str> {
    message::header(msg, name).or_else(|| compact.and_then(|c| message::header(msg, c)))
}

/// `Session-Expires` (compact `x`) of a request or response.
pub(super) fn session_expires(msg: &impl HasHeaders) -> Option<SessionExpires> {
    header_or_compact(msg, "Session-Expires", Some("x")).and_then(SessionExpires::parse)
}

/// `Min-SE` of a request or response.
pub(super) fn min_se(msg: &impl HasHeaders) -> Option<Duration> {
    let secs: u64 = message::header(msg, "Min-SE")?
        .split(';')
        .next()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

/// Whether a comma-separated list header (every instance of `name` or `compact`) holds `token`.
fn lists(msg: &impl HasHeaders, name: &str, compact: Option<&str>, token: &str) -> bool {
    let mut values: Vec<&str> = message::headers_named(msg, name).collect();
    if let Some(c) = compact {
        values.extend(message::headers_named(msg, c));
    }
    values
        .iter()
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// The UAC of this request supports session timers (`Supported: timer` or `Require: timer`).
pub(super) fn supports_timer(msg: &impl HasHeaders) -> bool {
    lists(msg, "Supported", Some("k"), "timer") || lists(msg, "Require", None, "timer")
}

/// The peer's `Allow` lists UPDATE.
pub(super) fn allows_update(msg: &impl HasHeaders) -> bool {
    lists(msg, "Allow", None, "UPDATE")
}

/// A timer both sides agreed on, seen from our side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Negotiated {
    pub interval: Duration,
    pub we_refresh: bool,
}

/// Our answer, as the UAS, to a request that may set or refresh the session (INVITE,
/// re-INVITE, UPDATE): §9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UasAnswer {
    /// The request asks for no session timer: none from now on.
    NoTimer,
    /// Refuse with 422 Session Interval Too Small and `Min-SE: min_se`.
    TooSmall { min_se: Duration },
    /// Accept: the 2xx carries `Session-Expires: interval;refresher=...`, and
    /// `Require: timer` when `require` (the UAC supports timers).
    Timer {
        interval: Duration,
        refresher: Refresher,
        require: bool,
    },
}

impl UasAnswer {
    /// What we answer to `req`, accepting intervals of at least `local_min`.
    pub fn for_request(req: &impl HasHeaders, local_min: Duration) -> UasAnswer {
        let Some(se) = session_expires(req) else {
            return UasAnswer::NoTimer;
        };
        // The peer's own Min-SE may only raise the floor (and never above what it asks).
        let floor = min_se(req).map_or(local_min, |m| m.max(local_min));
        if se.interval < floor {
            return UasAnswer::TooSmall { min_se: floor };
        }
        let supported = supports_timer(req);
        // A UAC without timer support cannot refresh: the refresher is then us (§9). Without a
        // `refresher` parameter the choice is ours: the peer asked, so the peer refreshes.
        let refresher = match (supported, se.refresher) {
            (false, _) => Refresher::Uas,
            (true, Some(r)) => r,
            (true, None) => Refresher::Uac,
        };
        UasAnswer::Timer {
            interval: se.interval,
            refresher,
            require: supported,
        }
    }

    /// The headers the response carries (the 2xx, or the 422).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match *self {
            UasAnswer::NoTimer => Vec::new(),
            UasAnswer::TooSmall { min_se } => vec![("Min-SE", min_se.as_secs().to_string())],
            UasAnswer::Timer {
                interval,
                refresher,
                require,
            } => {
                let mut h = vec![(
                    "Session-Expires",
                    format!("{};refresher={}", interval.as_secs(), refresher.as_str()),
                )];
                if require {
                    h.push(("Require", "timer".to_string()));
                }
                h
            }
        }
    }

    /// The timer in force once our 2xx is sent (`None`: no timer).
    pub fn negotiated(&self) -> Option<Negotiated> {
        match *self {
            UasAnswer::Timer {
                interval,
                refresher,
                ..
            } => Some(Negotiated {
                interval,
                we_refresh: refresher == Refresher::Uas,
            }),
            UasAnswer::NoTimer | UasAnswer::TooSmall { .. } => None,
        }
    }
}

/// The timer a 2xx to our INVITE, re-INVITE or UPDATE sets (§7.2): none without
/// `Session-Expires`; otherwise `refresher=uac` (or none given) makes us the refresher.
pub(super) fn from_2xx(resp: &impl HasHeaders) -> Option<Negotiated> {
    let se = session_expires(resp)?;
    Some(Negotiated {
        interval: se.interval,
        we_refresh: se.refresher != Some(Refresher::Uas),
    })
}

/// The headers of a refresh we send, as its UAC, asking to stay the refresher.
pub(super) fn refresh_headers(interval: Duration) -> Vec<(&'static str, String)> {
    vec![
        (
            "Session-Expires",
            format!("{};refresher=uac", interval.as_secs()),
        ),
        ("Min-SE", MIN_SE.as_secs().to_string()),
        ("Supported", "timer".to_string()),
    ]
}

/// How long to wait before sending a re-INVITE again after a 491 (§14.1), from a random
/// number: 2.1–4 s when we own the Call-ID, 0–2 s otherwise, in 10 ms steps.
pub(super) fn glare_wait(owns_call_id: bool, random: u64) -> Duration {
    let ms = if owns_call_id {
        2_100 + 10 * (random % 191)
    } else {
        10 * (random % 201)
    };
    Duration::from_millis(ms)
}

/// When a session whose peer refreshes expires for us: `min(32 s, interval/3)` before its end.
fn expiry_after(interval: Duration) -> Duration {
    interval - Duration::from_secs(32).min(interval / 3)
}

/// The timer of a dialog, from the last successful refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timer {
    interval: Duration,
    we_refresh: bool,
    /// When we send the next refresh (we refresh, nothing in flight); `None` otherwise.
    refresh_at: Option<Instant>,
    /// When the session is over without a refresh, whoever refreshes.
    expire_at: Instant,
}

impl Timer {
    fn new(now: Instant, n: Negotiated) -> Timer {
        Timer {
            interval: n.interval,
            we_refresh: n.we_refresh,
            refresh_at: n.we_refresh.then(|| now + n.interval / 2),
            expire_at: now + expiry_after(n.interval),
        }
    }
}

/// The named timers of a dialog session (each fires once, then is re-armed or dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimerKind {
    /// We refresh: half the interval after the last refresh (or half the time left after a
    /// refresh failed).
    Refresh,
    /// Our refresh got 491: send it again after the §14.1 wait.
    GlareRetry,
    /// No refresh came: `min(32 s, interval/3)` before the session's end.
    Expire,
}

/// Our request in the dialog, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outgoing {
    Idle,
    /// Sent; waiting for its final response. A re-INVITE carries an offer, an UPDATE none.
    InFlight {
        key: TransactionKey,
        method: Method,
    },
    /// A 491 came back: send again at this time.
    RetryAt(Instant),
}

/// What the call layer must do for a dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    /// Send a session refresh now (then [`DialogSession::sent`]), asking for `interval`.
    Refresh { method: Method, interval: Duration },
    /// The session is over: send BYE and end the call.
    End(EndCause),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EndCause {
    /// The peer was to refresh and did not.
    Expired,
    /// Our refresh timed out or got 408 or 481 (§10).
    RefreshFailed(u16),
}

/// The upkeep state of one dialog. See the module docs for what it does.
#[derive(Debug, Clone)]
pub(super) struct DialogSession {
    timer: Option<Timer>,
    outgoing: Outgoing,
    /// We sent the dialog's first INVITE: the Call-ID is ours (§14.1 wait).
    owns_call_id: bool,
    /// The peer accepts UPDATE: refreshes need no SDP.
    pub peer_allows_update: bool,
    /// The SDP we last sent in the dialog; a refresh re-INVITE offers it again unchanged.
    pub local_sdp: Option<String>,
    /// The interval our refreshes ask for (raised by a 422's Min-SE).
    ask: Duration,
}

impl DialogSession {
    pub fn new(owns_call_id: bool, peer_allows_update: bool, local_sdp: Option<String>) -> Self {
        DialogSession {
            timer: None,
            outgoing: Outgoing::Idle,
            owns_call_id,
            peer_allows_update,
            local_sdp,
            ask: MIN_SE,
        }
    }

    /// Our re-INVITE (an offer) is in flight: the peer's re-INVITE or offer now is glare.
    pub fn offer_in_flight(&self) -> bool {
        matches!(
            &self.outgoing,
            Outgoing::InFlight {
                method: Method::Invite,
                ..
            }
        )
    }

    /// The transaction of our request in flight, if any.
    pub fn in_flight(&self) -> Option<&TransactionKey> {
        match &self.outgoing {
            Outgoing::InFlight { key, .. } => Some(key),
            _ => None,
        }
    }

    /// A re-INVITE or UPDATE succeeded (ours or the peer's): the interval restarts with what
    /// it negotiated, or the timer stops (`None`). A glare retry is no longer needed.
    pub fn refreshed(&mut self, now: Instant, negotiated: Option<Negotiated>) {
        self.timer = negotiated.map(|n| Timer::new(now, n));
        if let Some(n) = negotiated {
            self.ask = self.ask.max(n.interval);
        }
        if matches!(self.outgoing, Outgoing::RetryAt(_)) {
            self.outgoing = Outgoing::Idle;
        }
    }

    /// The earliest timer and which one it is.
    pub fn next_timer(&self) -> Option<(Instant, TimerKind)> {
        let mut next: Option<(Instant, TimerKind)> = None;
        let mut consider = |at: Instant, kind: TimerKind| {
            if next.is_none_or(|(n, _)| at < n) {
                next = Some((at, kind));
            }
        };
        if let Outgoing::RetryAt(at) = self.outgoing {
            consider(at, TimerKind::GlareRetry);
        }
        if let Some(t) = &self.timer {
            if let (Some(at), Outgoing::Idle) = (t.refresh_at, &self.outgoing) {
                consider(at, TimerKind::Refresh);
            }
            consider(t.expire_at, TimerKind::Expire);
        }
        next
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_timer().map(|(at, _)| at)
    }

    /// Fires the timer due at `now`, if any, and says what to do.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Action> {
        let (at, kind) = self.next_timer()?;
        if at > now {
            return None;
        }
        match kind {
            TimerKind::Expire => {
                self.timer = None;
                self.outgoing = Outgoing::Idle;
                Some(Action::End(EndCause::Expired))
            }
            TimerKind::GlareRetry => {
                self.outgoing = Outgoing::Idle;
                Some(self.refresh_action())
            }
            TimerKind::Refresh => {
                if let Some(t) = self.timer.as_mut() {
                    t.refresh_at = None;
                }
                Some(self.refresh_action())
            }
        }
    }

    fn refresh_action(&self) -> Action {
        let method = if self.peer_allows_update || self.local_sdp.is_none() {
            Method::Update
        } else {
            Method::Invite
        };
        let interval = self.timer.map_or(self.ask, |t| t.interval.max(self.ask));
        Action::Refresh { method, interval }
    }

    /// Our refresh went out as transaction `key`.
    pub fn sent(&mut self, key: TransactionKey, method: Method) {
        self.outgoing = Outgoing::InFlight { key, method };
    }

    /// The final response to our refresh (`None`: the transaction timed out). A 2xx carries
    /// the timer it sets. `random` draws the glare wait; `min_se` is a 422's `Min-SE`.
    pub fn on_final(
        &mut self,
        now: Instant,
        code: Option<u16>,
        negotiated: Option<Negotiated>,
        min_se: Option<Duration>,
        random: u64,
    ) -> Option<Action> {
        self.outgoing = Outgoing::Idle;
        match code {
            Some(200..=299) => {
                self.refreshed(now, negotiated);
                None
            }
            Some(491) => {
                self.outgoing = Outgoing::RetryAt(now + glare_wait(self.owns_call_id, random));
                None
            }
            Some(422) => {
                self.ask = self.ask.max(min_se.unwrap_or(MIN_SE));
                self.outgoing = Outgoing::RetryAt(now);
                None
            }
            None => Some(Action::End(EndCause::RefreshFailed(408))),
            Some(c @ (408 | 481)) => Some(Action::End(EndCause::RefreshFailed(c))),
            Some(_) => {
                // Refused for another reason: the session was not refreshed. Try once more
                // halfway to its end; if that fails too, it expires.
                if let Some(t) = self.timer.as_mut()
                    && t.we_refresh
                    && now < t.expire_at
                {
                    let next = now + (t.expire_at - now) / 2;
                    t.refresh_at = (next + Duration::from_secs(1) < t.expire_at).then_some(next);
                }
                None
            }
        }
    }

    /// The glare wait this dialog draws from (for logs).
    pub fn owns_call_id(&self) -> bool {
        self.owns_call_id
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    //! Every behaviour in virtual time: a fixed `t0` plus offsets.
    use super::*;
    use crate::sip::message::{Request, SipMessage};

    fn req(extra: &str) -> Request {
        let text = format!(
            "INVITE sip:+15550100@switchboard.test SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKst1\r\n\
             From: <sip:carol@example.net>;tag=c1\r\n\
             To: <sip:+15550100@switchboard.test>\r\n\
             Call-ID: st-1\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:carol@192.0.2.5:5060>\r\n\
             {extra}Content-Length: 0\r\n\r\n"
        );
        match message::parse(text.as_bytes()).expect("parses") {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => panic!("a response"),
        }
    }

    fn key(n: u32) -> TransactionKey {
        let r = req("").clone();
        let text = String::from_utf8(r.to_bytes())
            .unwrap()
            .replace("z9hG4bKst1", &format!("z9hG4bKout{n}"));
        let r = match message::parse(text.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => unreachable!(),
        };
        TransactionKey::for_outgoing(&r).unwrap()
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    /// The one place these tests read the real clock: a base instant, then only additions.
    #[allow(clippy::disallowed_methods)]
    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn session_expires_parses_with_and_without_refresher() {
        assert_eq!(
            SessionExpires::parse("1800;refresher=uac"),
            Some(SessionExpires {
                interval: S(1800),
                refresher: Some(Refresher::Uac)
            })
        );
        assert_eq!(
            SessionExpires::parse(" 90 ; Refresher = UAS"),
            Some(SessionExpires {
                interval: S(90),
                refresher: Some(Refresher::Uas)
            })
        );
        assert_eq!(SessionExpires::parse("120").unwrap().refresher, None);
        assert_eq!(SessionExpires::parse("soon"), None);
        // The compact form is read too.
        assert_eq!(
            session_expires(&req("x: 300\r\n")).map(|s| s.interval),
            Some(S(300))
        );
    }

    #[test]
    fn no_session_expires_means_no_timer() {
        let r = req("Supported: timer\r\n");
        assert_eq!(UasAnswer::for_request(&r, MIN_SE), UasAnswer::NoTimer);
        assert!(UasAnswer::NoTimer.headers().is_empty());
    }

    #[test]
    fn too_small_an_interval_gets_422_with_our_min_se() {
        let r = req("Supported: timer\r\nSession-Expires: 60\r\n");
        let a = UasAnswer::for_request(&r, MIN_SE);
        assert_eq!(a, UasAnswer::TooSmall { min_se: S(90) });
        assert_eq!(a.headers(), vec![("Min-SE", "90".to_string())]);
        // The peer's own larger Min-SE raises the floor.
        let r = req("Supported: timer\r\nSession-Expires: 100\r\nMin-SE: 120\r\n");
        assert_eq!(
            UasAnswer::for_request(&r, MIN_SE),
            UasAnswer::TooSmall { min_se: S(120) }
        );
    }

    #[test]
    fn the_refresher_follows_the_request_and_require_follows_support() {
        let r = req("Supported: timer\r\nSession-Expires: 90;refresher=uas\r\n");
        let a = UasAnswer::for_request(&r, MIN_SE);
        assert_eq!(
            a.headers(),
            vec![
                ("Session-Expires", "90;refresher=uas".to_string()),
                ("Require", "timer".to_string())
            ]
        );
        assert_eq!(
            a.negotiated(),
            Some(Negotiated {
                interval: S(90),
                we_refresh: true
            })
        );
        // No refresher asked: the peer that asked refreshes.
        let r = req("Supported: replaces, timer\r\nSession-Expires: 1800\r\n");
        let a = UasAnswer::for_request(&r, MIN_SE);
        assert_eq!(a.negotiated().map(|n| n.we_refresh), Some(false));
        // A UAC without timer support cannot refresh (a proxy asked for it): we do, and the
        // 2xx carries no Require.
        let r = req("Session-Expires: 1800;refresher=uac\r\n");
        let a = UasAnswer::for_request(&r, MIN_SE);
        assert_eq!(
            a.headers(),
            vec![("Session-Expires", "1800;refresher=uas".to_string())]
        );
        assert_eq!(a.negotiated().map(|n| n.we_refresh), Some(true));
    }

    #[test]
    fn a_2xx_sets_the_timer_of_our_request() {
        let ok = req("Session-Expires: 600;refresher=uas\r\n");
        assert_eq!(
            from_2xx(&ok),
            Some(Negotiated {
                interval: S(600),
                we_refresh: false
            })
        );
        assert_eq!(
            from_2xx(&req("Session-Expires: 600\r\n")).map(|n| n.we_refresh),
            Some(true)
        );
        assert_eq!(from_2xx(&req("")), None);
    }

    #[test]
    fn the_glare_wait_depends_on_who_owns_the_call_id() {
        for r in [0, 1, 190, 191, 12_345, u64::MAX] {
            let ours = glare_wait(true, r);
            assert!(
                ours >= Duration::from_millis(2_100) && ours <= S(4),
                "{ours:?}"
            );
            let theirs = glare_wait(false, r);
            assert!(theirs <= S(2), "{theirs:?}");
            assert_eq!(ours.as_millis() % 10, 0);
            assert_eq!(theirs.as_millis() % 10, 0);
        }
        assert_eq!(glare_wait(true, 190), S(4));
        assert_eq!(glare_wait(false, 200), S(2));
    }

    #[test]
    fn we_refresh_at_half_the_interval_and_each_success_restarts_it() {
        let t0 = t0();
        let mut s = DialogSession::new(false, false, Some("v=0".into()));
        s.refreshed(
            t0,
            Some(Negotiated {
                interval: S(90),
                we_refresh: true,
            }),
        );
        assert_eq!(s.next_timer(), Some((t0 + S(45), TimerKind::Refresh)));
        assert_eq!(s.handle_timeout(t0 + S(44)), None);
        assert_eq!(
            s.handle_timeout(t0 + S(45)),
            Some(Action::Refresh {
                method: Method::Invite,
                interval: S(90)
            })
        );
        s.sent(key(1), Method::Invite);
        assert!(s.offer_in_flight());
        // Nothing but the expiry while the refresh is in flight.
        assert_eq!(s.next_timer(), Some((t0 + S(60), TimerKind::Expire)));
        let t1 = t0 + S(46);
        let ok = Some(Negotiated {
            interval: S(90),
            we_refresh: true,
        });
        assert_eq!(s.on_final(t1, Some(200), ok, None, 0), None);
        assert!(!s.offer_in_flight());
        assert_eq!(s.next_timer(), Some((t1 + S(45), TimerKind::Refresh)));
    }

    #[test]
    fn a_peer_that_allows_update_is_refreshed_with_update() {
        let t0 = t0();
        let mut s = DialogSession::new(true, true, Some("v=0".into()));
        s.refreshed(
            t0,
            Some(Negotiated {
                interval: S(1800),
                we_refresh: true,
            }),
        );
        assert_eq!(
            s.handle_timeout(t0 + S(900)),
            Some(Action::Refresh {
                method: Method::Update,
                interval: S(1800)
            })
        );
        s.sent(key(1), Method::Update);
        // An UPDATE carries no offer: the peer's re-INVITE meanwhile is no glare.
        assert!(!s.offer_in_flight());
    }

    #[test]
    fn a_491_is_retried_after_the_random_wait_then_the_refresh_goes_again() {
        let t0 = t0();
        let mut s = DialogSession::new(false, false, Some("v=0".into()));
        s.refreshed(
            t0,
            Some(Negotiated {
                interval: S(90),
                we_refresh: true,
            }),
        );
        let _ = s.handle_timeout(t0 + S(45));
        s.sent(key(1), Method::Invite);
        let t1 = t0 + S(45);
        assert_eq!(s.on_final(t1, Some(491), None, None, 150), None);
        let wait = glare_wait(false, 150);
        assert_eq!(s.next_timer(), Some((t1 + wait, TimerKind::GlareRetry)));
        assert_eq!(s.handle_timeout(t1 + wait - Duration::from_millis(1)), None);
        assert!(matches!(
            s.handle_timeout(t1 + wait),
            Some(Action::Refresh {
                method: Method::Invite,
                ..
            })
        ));
        // When we own the Call-ID the wait is 2.1-4 s.
        let mut ours = DialogSession::new(true, false, Some("v=0".into()));
        ours.sent(key(2), Method::Invite);
        let _ = ours.on_final(t1, Some(491), None, None, 0);
        assert_eq!(ours.poll_timeout(), Some(t1 + Duration::from_millis(2_100)));
    }

    #[test]
    fn a_peer_refresh_during_the_glare_wait_makes_the_retry_moot() {
        let t0 = t0();
        let mut s = DialogSession::new(false, false, Some("v=0".into()));
        let n = Some(Negotiated {
            interval: S(90),
            we_refresh: true,
        });
        s.refreshed(t0, n);
        let _ = s.handle_timeout(t0 + S(45));
        s.sent(key(1), Method::Invite);
        let _ = s.on_final(t0 + S(45), Some(491), None, None, 7);
        s.refreshed(t0 + S(46), n);
        assert_eq!(s.next_timer(), Some((t0 + S(46 + 45), TimerKind::Refresh)));
    }

    #[test]
    fn a_422_retries_at_once_with_the_larger_interval() {
        let t0 = t0();
        let mut s = DialogSession::new(false, false, Some("v=0".into()));
        s.refreshed(
            t0,
            Some(Negotiated {
                interval: S(90),
                we_refresh: true,
            }),
        );
        let _ = s.handle_timeout(t0 + S(45));
        s.sent(key(1), Method::Invite);
        let _ = s.on_final(t0 + S(45), Some(422), None, Some(S(300)), 0);
        assert_eq!(
            s.handle_timeout(t0 + S(45)),
            Some(Action::Refresh {
                method: Method::Invite,
                interval: S(300)
            })
        );
    }

    #[test]
    fn a_timeout_408_or_481_to_our_refresh_ends_the_session() {
        let t0 = t0();
        for code in [None, Some(408), Some(481)] {
            let mut s = DialogSession::new(false, false, Some("v=0".into()));
            s.sent(key(1), Method::Invite);
            assert_eq!(
                s.on_final(t0, code, None, None, 0),
                Some(Action::End(EndCause::RefreshFailed(code.unwrap_or(408))))
            );
        }
    }

    #[test]
    fn another_refusal_tries_again_halfway_to_the_end_then_expires() {
        let t0 = t0();
        let mut s = DialogSession::new(false, false, Some("v=0".into()));
        s.refreshed(
            t0,
            Some(Negotiated {
                interval: S(90),
                we_refresh: true,
            }),
        );
        let _ = s.handle_timeout(t0 + S(45));
        s.sent(key(1), Method::Invite);
        let t1 = t0 + S(46);
        assert_eq!(s.on_final(t1, Some(500), None, None, 0), None);
        // Expiry at 60 s: the retry halfway, at 53 s.
        assert_eq!(s.next_timer(), Some((t0 + S(53), TimerKind::Refresh)));
        let _ = s.handle_timeout(t0 + S(53));
        s.sent(key(2), Method::Invite);
        let _ = s.on_final(
            t0 + S(59) + Duration::from_millis(500),
            Some(500),
            None,
            None,
            0,
        );
        assert_eq!(s.next_timer(), Some((t0 + S(60), TimerKind::Expire)));
        assert_eq!(
            s.handle_timeout(t0 + S(60)),
            Some(Action::End(EndCause::Expired))
        );
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn when_the_peer_refreshes_silence_expires_the_session_before_its_end() {
        let t0 = t0();
        let mut s = DialogSession::new(false, false, None);
        s.refreshed(
            t0,
            Some(Negotiated {
                interval: S(90),
                we_refresh: false,
            }),
        );
        // min(32, 90/3) = 30 s before the end.
        assert_eq!(s.next_timer(), Some((t0 + S(60), TimerKind::Expire)));
        // A refresh from the peer at 50 s moves it.
        s.refreshed(
            t0 + S(50),
            Some(Negotiated {
                interval: S(90),
                we_refresh: false,
            }),
        );
        assert_eq!(s.handle_timeout(t0 + S(60)), None);
        assert_eq!(
            s.handle_timeout(t0 + S(110)),
            Some(Action::End(EndCause::Expired))
        );
        // A long interval expires 32 s before its end.
        let mut long = DialogSession::new(false, false, None);
        long.refreshed(
            t0,
            Some(Negotiated {
                interval: S(1800),
                we_refresh: false,
            }),
        );
        assert_eq!(long.poll_timeout(), Some(t0 + S(1768)));
        // A re-INVITE without Session-Expires stops the timer.
        long.refreshed(t0 + S(10), None);
        assert_eq!(long.poll_timeout(), None);
    }
}
