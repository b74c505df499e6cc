//! INVITE client transaction, RFC 3261 §17.1.1 (Figure 5) with RFC 6026's Accepted
//! state: Calling → Proceeding → Completed, or → Accepted, then Terminated.
//!
//! On UDP the INVITE is retransmitted on Timer A (T1, doubling, no cap) while Calling;
//! Timer B (64·T1) gives up while Calling. For a 3xx–6xx the transaction builds and sends
//! the ACK itself (§17.1.1.3) and re-sends it for every retransmitted final response
//! until Timer D. A 2xx goes to the TU, which ACKs it end-to-end; further 2xx (from other
//! forks, or retransmitted) also go to the TU until Timer M.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::sip::message::{
    Header, HeadersExt, Method, Request, Response, ToTypedHeader, Version, headers, typed,
};

use super::timer::backoff;
use super::{Ctx, Life, Timer};

#[derive(Debug)]
pub(crate) struct ClientInvite {
    /// The INVITE as sent, replayed on Timer A.
    request: Bytes,
    ack: AckTemplate,
    state: State,
}

#[derive(Debug)]
enum State {
    Calling {
        a: Option<(Instant, Duration)>,
        b_at: Instant,
    },
    Proceeding,
    /// The ACK we sent, replayed for each retransmitted final response.
    Completed {
        ack: Bytes,
        d_at: Instant,
    },
    Accepted {
        m_at: Instant,
    },
}

/// The parts of the INVITE an ACK to a non-2xx reuses (§17.1.1.3): Request-URI, the top
/// Via only, Route, From, Call-ID and the CSeq number. The To comes from the response.
#[derive(Debug)]
pub(crate) struct AckTemplate {
    request: Request,
}

impl AckTemplate {
    pub fn from_invite(invite: &Request) -> Self {
        let mut kept: Vec<Header> = Vec::with_capacity(8);
        if let Ok(via) = invite.top_via_header() {
            kept.push(Header::Via(via));
        }
        kept.push(Header::MaxForwards(headers::MaxForwards::from(70u32)));
        kept.extend(
            invite
                .headers
                .iter()
                .filter(|h| matches!(h, Header::Route(_)))
                .cloned(),
        );
        kept.extend(
            invite
                .headers
                .iter()
                .filter(|h| matches!(h, Header::From(_) | Header::To(_) | Header::CallId(_)))
                .cloned(),
        );
        if let Ok(seq) = invite.cseq_header().and_then(|c| c.typed()).map(|c| c.seq) {
            kept.push(
                typed::CSeq {
                    seq,
                    method: Method::Ack,
                }
                .into(),
            );
        }
        kept.push(Header::ContentLength(headers::ContentLength::from(0u32)));
        let request = Request {
            method: Method::Ack,
            uri: invite.uri.clone(),
            version: Version::V2,
            headers: kept.into(),
            body: Vec::new(),
        };
        Self { request }
    }

    /// The ACK for `resp`: the template with the response's To (it carries the tag).
    fn build(&self, resp: &Response) -> Bytes {
        let mut ack = self.request.clone();
        if let (Ok(to), Ok(slot)) = (resp.to_header(), ack.to_header_mut()) {
            *slot = to.clone();
        }
        Bytes::from(ack.to_bytes())
    }
}

impl ClientInvite {
    /// Sends the INVITE and arms A (UDP only) and B.
    pub fn start(ctx: &mut Ctx<'_>, request: Bytes, ack: AckTemplate) -> Self {
        ctx.send(request.clone());
        let a = (!ctx.reliable()).then(|| (ctx.arm(Timer::A, ctx.cfg.t1), ctx.cfg.t1));
        let b_at = ctx.arm(Timer::B, ctx.cfg.timeout());
        Self {
            request,
            ack,
            state: State::Calling { a, b_at },
        }
    }

    /// Returns whether the response went to the TU, and whether the machine lives on.
    pub fn on_response(&mut self, ctx: &mut Ctx<'_>, status: u16, resp: Response) -> (bool, Life) {
        match (&self.state, status) {
            (State::Calling { .. } | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                ctx.deliver(resp);
                (true, Life::Alive)
            }
            (State::Calling { .. } | State::Proceeding, 200..=299) => {
                self.state = State::Accepted {
                    m_at: ctx.arm(Timer::M, ctx.cfg.timeout()),
                };
                ctx.deliver(resp);
                (true, Life::Alive)
            }
            (State::Calling { .. } | State::Proceeding, _) => {
                let ack = self.ack.build(&resp);
                ctx.send(ack.clone());
                ctx.deliver(resp);
                let wait = ctx.cfg.d(ctx.reliable());
                if wait.is_zero() {
                    return (true, Life::Terminated);
                }
                self.state = State::Completed {
                    ack,
                    d_at: ctx.arm(Timer::D, wait),
                };
                (true, Life::Alive)
            }
            (State::Completed { ack, .. }, 300..=699) => {
                ctx.send(ack.clone());
                (false, Life::Alive)
            }
            (State::Accepted { .. }, 200..=299) => {
                ctx.deliver(resp);
                (true, Life::Alive)
            }
            // Provisional after final, or a 2xx after a non-2xx: nothing to do.
            _ => (false, Life::Alive),
        }
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer, at: Instant) -> Life {
        match (&mut self.state, timer) {
            (State::Calling { a, .. }, Timer::A) => {
                if let Some((a_at, interval)) = *a
                    && a_at == at
                {
                    ctx.send(self.request.clone());
                    let interval = backoff(interval, None);
                    *a = Some((ctx.arm(Timer::A, interval), interval));
                }
                Life::Alive
            }
            (State::Calling { b_at, .. }, Timer::B) if *b_at == at => {
                ctx.timed_out(Timer::B);
                Life::Terminated
            }
            (State::Completed { d_at, .. }, Timer::D) if *d_at == at => Life::Terminated,
            (State::Accepted { m_at }, Timer::M) if *m_at == at => Life::Terminated,
            _ => Life::Alive,
        }
    }
}
