//! Non-INVITE server transaction, RFC 3261 §17.2.2 (Figure 8): Trying → Proceeding →
//! Completed → Terminated.
//!
//! The hot path of the registrar: one per REGISTER, alive 32 s on UDP (Timer J). It holds
//! only the last response as `Bytes`, replayed on every request retransmission.

use std::time::Instant;

use bytes::Bytes;

use super::{Ctx, Life, Timer, TransactionError};

#[derive(Debug)]
pub(crate) enum ServerNonInvite {
    /// Request received, the TU has not answered; retransmissions are absorbed silently.
    Trying,
    /// The TU sent a provisional response; retransmissions get it again.
    Proceeding { last: Bytes },
    /// The TU sent the final response; retransmissions get it again until Timer J.
    Completed { last: Bytes, j_at: Instant },
}

impl ServerNonInvite {
    pub fn new() -> Self {
        Self::Trying
    }

    /// Not answered yet.
    pub fn is_trying(&self) -> bool {
        matches!(self, Self::Trying)
    }

    /// A retransmission of the request.
    pub fn on_request(&mut self, ctx: &mut Ctx<'_>) {
        match self {
            Self::Trying => {}
            Self::Proceeding { last } | Self::Completed { last, .. } => ctx.send(last.clone()),
        }
    }

    /// The TU's response, already serialised.
    pub fn on_respond(
        &mut self,
        ctx: &mut Ctx<'_>,
        status: u16,
        bytes: Bytes,
    ) -> Result<Life, TransactionError> {
        if matches!(self, Self::Completed { .. }) {
            return Err(TransactionError::InvalidState(
                "final response already sent",
            ));
        }
        ctx.send(bytes.clone());
        if status < 200 {
            *self = Self::Proceeding { last: bytes };
            return Ok(Life::Alive);
        }
        let wait = ctx.cfg.j(ctx.reliable());
        if wait.is_zero() {
            return Ok(Life::Terminated);
        }
        let j_at = ctx.arm(Timer::J, wait);
        *self = Self::Completed { last: bytes, j_at };
        Ok(Life::Alive)
    }

    pub fn on_timer(&mut self, _ctx: &mut Ctx<'_>, timer: Timer, at: Instant) -> Life {
        match self {
            Self::Completed { j_at, .. } if timer == Timer::J && *j_at == at => Life::Terminated,
            _ => Life::Alive,
        }
    }
}
