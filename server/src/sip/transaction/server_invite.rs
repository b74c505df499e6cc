//! INVITE server transaction, RFC 3261 §17.2.1 (Figure 7) with RFC 6026's Accepted
//! state: Proceeding → Completed → Confirmed, or Proceeding → Accepted, then Terminated.
//!
//! Each state is its own struct holding only what is valid in it; transitions consume
//! the state. The transaction sends `100 Trying` itself when the TU is silent for 200 ms,
//! retransmits a non-2xx final response on Timer G until the ACK, and never retransmits
//! a 2xx (that is the TU's job, §13.3.1.4): in Accepted it only passes the TU's own 2xx
//! retransmissions through and absorbs INVITE retransmissions until Timer L.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::sip::message::{Header, Request, Response, StatusCode, Version, headers};

use super::timer::backoff;
use super::{Ctx, Life, Timer, TransactionError};

#[derive(Debug)]
pub(crate) struct ServerInvite {
    /// `None` only transiently, while a transition consumes the old state.
    state: Option<State>,
}

/// What to do with an ACK that matched this transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckDisposition {
    /// The ACK to our non-2xx final response (or a retransmission of it).
    Absorbed,
    /// An ACK in Accepted: RFC 6026 §8.7 says pass it to the TU.
    ToTu,
}

#[derive(Debug)]
enum State {
    Proceeding(Proceeding),
    Completed(Completed),
    Confirmed(Confirmed),
    Accepted(Accepted),
}

#[derive(Debug)]
struct Proceeding {
    /// The automatic `100 Trying` and its deadline, until it is sent or the TU answers.
    auto_trying: Option<(Bytes, Instant)>,
    /// The last provisional response, replayed on INVITE retransmissions.
    last: Option<Bytes>,
}

#[derive(Debug)]
struct Completed {
    response: Bytes,
    /// Timer G deadline and its current interval; `None` on reliable transports.
    g: Option<(Instant, Duration)>,
    h_at: Instant,
}

#[derive(Debug)]
struct Confirmed {
    i_at: Instant,
}

#[derive(Debug)]
struct Accepted {
    l_at: Instant,
}

impl ServerInvite {
    /// A new INVITE: arm the 200 ms `100 Trying` timer (§17.2.1).
    pub fn new(ctx: &mut Ctx<'_>, req: &Request) -> Self {
        let at = ctx.arm(Timer::Send100, ctx.cfg.trying_delay);
        let proceeding = Proceeding {
            auto_trying: Some((trying_for(req), at)),
            last: None,
        };
        Self {
            state: Some(State::Proceeding(proceeding)),
        }
    }

    /// Whether a final response has been sent (a CANCEL then has no effect, §9.2).
    pub fn is_answered(&self) -> bool {
        !matches!(self.state, Some(State::Proceeding(_)))
    }

    /// An INVITE retransmission.
    pub fn on_request(&mut self, ctx: &mut Ctx<'_>) {
        match &self.state {
            Some(State::Proceeding(Proceeding {
                last: Some(last), ..
            })) => ctx.send(last.clone()),
            Some(State::Completed(c)) => ctx.send(c.response.clone()),
            _ => {}
        }
    }

    pub fn on_ack(&mut self, ctx: &mut Ctx<'_>) -> (AckDisposition, Life) {
        match self.state.take() {
            Some(State::Completed(c)) => (AckDisposition::Absorbed, self.enter(c.ack(ctx))),
            Some(State::Accepted(a)) => {
                self.state = Some(State::Accepted(a));
                (AckDisposition::ToTu, Life::Alive)
            }
            other => {
                // Confirmed: an ACK retransmission; Proceeding: an ACK before any final
                // response is meaningless. Both are absorbed.
                self.state = other;
                (AckDisposition::Absorbed, Life::Alive)
            }
        }
    }

    pub fn on_respond(
        &mut self,
        ctx: &mut Ctx<'_>,
        status: u16,
        bytes: Bytes,
    ) -> Result<Life, TransactionError> {
        match self.state.take() {
            Some(State::Proceeding(p)) => Ok(self.enter(p.respond(ctx, status, bytes))),
            Some(State::Accepted(a)) if (200..300).contains(&status) => {
                // The TU retransmitting its 2xx (§13.3.1.4): pass it through.
                ctx.send(bytes);
                self.state = Some(State::Accepted(a));
                Ok(Life::Alive)
            }
            other => {
                self.state = other;
                Err(TransactionError::InvalidState(
                    "final response already sent",
                ))
            }
        }
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer, at: Instant) -> Life {
        let next = match self.state.take() {
            Some(State::Proceeding(mut p)) => {
                if timer == Timer::Send100 {
                    p.send_trying(ctx, at);
                }
                Some(State::Proceeding(p))
            }
            Some(State::Completed(c)) => c.on_timer(ctx, timer, at),
            Some(State::Confirmed(c)) if timer == Timer::I && c.i_at == at => None,
            Some(State::Accepted(a)) if timer == Timer::L && a.l_at == at => None,
            other => other,
        };
        self.enter(next)
    }

    /// Installs the next state; `None` is Terminated.
    fn enter(&mut self, next: Option<State>) -> Life {
        match next {
            Some(state) => {
                self.state = Some(state);
                Life::Alive
            }
            None => Life::Terminated,
        }
    }
}

impl Proceeding {
    fn send_trying(&mut self, ctx: &mut Ctx<'_>, at: Instant) {
        if let Some((bytes, due)) = self.auto_trying.take() {
            if due == at {
                ctx.send(bytes.clone());
                self.last = Some(bytes);
            } else {
                self.auto_trying = Some((bytes, due));
            }
        }
    }

    fn respond(mut self, ctx: &mut Ctx<'_>, status: u16, bytes: Bytes) -> Option<State> {
        ctx.send(bytes.clone());
        self.auto_trying = None;
        match status {
            100..=199 => {
                self.last = Some(bytes);
                Some(State::Proceeding(self))
            }
            200..=299 => Some(State::Accepted(Accepted {
                l_at: ctx.arm(Timer::L, ctx.cfg.timeout()),
            })),
            _ => {
                let g = (!ctx.reliable()).then(|| (ctx.arm(Timer::G, ctx.cfg.t1), ctx.cfg.t1));
                let h_at = ctx.arm(Timer::H, ctx.cfg.timeout());
                Some(State::Completed(Completed {
                    response: bytes,
                    g,
                    h_at,
                }))
            }
        }
    }
}

impl Completed {
    fn ack(self, ctx: &mut Ctx<'_>) -> Option<State> {
        let wait = ctx.cfg.t4_or_zero(ctx.reliable());
        if wait.is_zero() {
            return None;
        }
        Some(State::Confirmed(Confirmed {
            i_at: ctx.arm(Timer::I, wait),
        }))
    }

    fn on_timer(mut self, ctx: &mut Ctx<'_>, timer: Timer, at: Instant) -> Option<State> {
        match (timer, self.g) {
            (Timer::G, Some((g_at, interval))) if g_at == at => {
                ctx.send(self.response.clone());
                let interval = backoff(interval, Some(ctx.cfg.t2));
                self.g = Some((ctx.arm(Timer::G, interval), interval));
                Some(State::Completed(self))
            }
            (Timer::H, _) if self.h_at == at => {
                ctx.timed_out(Timer::H);
                None
            }
            _ => Some(State::Completed(self)),
        }
    }
}

/// `100 Trying` for an INVITE (§8.2.6): Via, From, To, Call-ID, CSeq and Timestamp
/// copied, no To tag added, no body.
fn trying_for(req: &Request) -> Bytes {
    let mut copied: Vec<Header> = req
        .headers
        .iter()
        .filter(|h| {
            matches!(
                h,
                Header::Via(_)
                    | Header::From(_)
                    | Header::To(_)
                    | Header::CallId(_)
                    | Header::CSeq(_)
                    | Header::Timestamp(_)
            )
        })
        .cloned()
        .collect();
    copied.push(Header::ContentLength(headers::ContentLength::from(0u32)));
    let resp = Response {
        status_code: StatusCode::Trying,
        wire_reason: None,
        version: Version::V2,
        headers: copied.into(),
        body: Vec::new(),
    };
    Bytes::from(crate::sip::message::response_bytes(&resp, None))
}
