//! Non-INVITE client transaction, RFC 3261 §17.1.2 (Figure 6): Trying → Proceeding →
//! Completed → Terminated.
//!
//! On UDP the request is retransmitted on Timer E (T1, doubling to T2; T2 once a
//! provisional arrived) until a final response or Timer F (64·T1). Completed only
//! absorbs response retransmissions for T4 (Timer K), zero on TCP.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::sip::message::Response;

use super::timer::backoff;
use super::{Ctx, Life, Timer};

#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    /// The request as sent, replayed on Timer E.
    request: Bytes,
    state: State,
}

#[derive(Debug)]
enum State {
    Trying(Waiting),
    Proceeding(Waiting),
    Completed { k_at: Instant },
}

/// Timers running while no final response has arrived.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    /// Timer E deadline and interval; `None` on reliable transports.
    e: Option<(Instant, Duration)>,
    f_at: Instant,
}

impl ClientNonInvite {
    /// Sends the request and arms E (UDP only) and F.
    pub fn start(ctx: &mut Ctx<'_>, request: Bytes) -> Self {
        ctx.send(request.clone());
        let e = (!ctx.reliable()).then(|| (ctx.arm(Timer::E, ctx.cfg.t1), ctx.cfg.t1));
        let f_at = ctx.arm(Timer::F, ctx.cfg.timeout());
        Self {
            request,
            state: State::Trying(Waiting { e, f_at }),
        }
    }

    /// Returns whether the response went to the TU, and whether the machine lives on.
    pub fn on_response(&mut self, ctx: &mut Ctx<'_>, status: u16, resp: Response) -> (bool, Life) {
        let waiting = match self.state {
            State::Trying(w) | State::Proceeding(w) => w,
            // A retransmitted final response: absorbed (§17.1.2.2).
            State::Completed { .. } => return (false, Life::Alive),
        };
        ctx.deliver(resp);
        if status < 200 {
            self.state = State::Proceeding(waiting);
            return (true, Life::Alive);
        }
        let wait = ctx.cfg.t4_or_zero(ctx.reliable());
        if wait.is_zero() {
            return (true, Life::Terminated);
        }
        self.state = State::Completed {
            k_at: ctx.arm(Timer::K, wait),
        };
        (true, Life::Alive)
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer, at: Instant) -> Life {
        match (&mut self.state, timer) {
            (State::Trying(w) | State::Proceeding(w), Timer::F) if w.f_at == at => {
                ctx.timed_out(Timer::F);
                Life::Terminated
            }
            (State::Trying(w), Timer::E) => {
                if let Some(next) = retransmit(ctx, &self.request, w.e, at, |i, cfg| {
                    backoff(i, Some(cfg.t2))
                }) {
                    w.e = Some(next);
                }
                Life::Alive
            }
            (State::Proceeding(w), Timer::E) => {
                if let Some(next) = retransmit(ctx, &self.request, w.e, at, |_, cfg| cfg.t2) {
                    w.e = Some(next);
                }
                Life::Alive
            }
            (State::Completed { k_at }, Timer::K) if *k_at == at => Life::Terminated,
            _ => Life::Alive,
        }
    }
}

/// Timer E fired at `at`: if it is the armed one, resend and re-arm with the next interval.
fn retransmit(
    ctx: &mut Ctx<'_>,
    request: &Bytes,
    armed: Option<(Instant, Duration)>,
    at: Instant,
    next: impl FnOnce(Duration, &super::TimerConfig) -> Duration,
) -> Option<(Instant, Duration)> {
    let (e_at, interval) = armed?;
    if e_at != at {
        return None;
    }
    ctx.send(request.clone());
    let interval = next(interval, ctx.cfg);
    Some((ctx.arm(Timer::E, interval), interval))
}
