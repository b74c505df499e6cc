//! The call layer's side of dialog upkeep for a contact's dialogs (the customer's, the
//! agent's, a third party's, a manager's): the order of in-dialog requests (RFC 3261 §12.2.2:
//! a CSeq not above the last one gets 500), re-INVITE glare (§14.1) and session timers
//! (RFC 4028). The decisions are [`session_timer::DialogSession`]'s; this module finds the
//! dialog, sends the refreshes, ACKs their 2xx, and hangs up a session that expired.
//!
//! A dialog has upkeep state only once a session timer was negotiated in it; the state is
//! keyed by Call-ID and our tag, and dropped when the dialog's Call-ID leaves the contact.
//! We answer every re-INVITE at once (never pending), so the only glare there can be is the
//! peer's offer crossing our refresh re-INVITE.

use std::time::Instant;

use switchboard_media::engine::LegId;
use switchboard_media::sdp::{self, SdpSession};
use uuid::Uuid;

use super::session_timer::{self, Action, DialogSession, EndCause, MIN_SE, Negotiated, UasAnswer};
use super::{CODECS, Calls, Party, respond};
use crate::endpoint::Now;
use crate::sip::dialog::{Dialog, Side};
use crate::sip::message::{self, HasHeaders, Method, Request, Response};
use crate::sip::transaction::{TransactionKey, Transactions};
use crate::store::DisconnectReason;

/// One dialog: its Call-ID and our tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct DialogKey {
    call_id: String,
    local_tag: String,
}

impl DialogKey {
    pub fn of(d: &Dialog) -> DialogKey {
        DialogKey {
            call_id: d.call_id.clone(),
            local_tag: d.local_tag.clone(),
        }
    }

    /// The dialog an incoming in-dialog request names (our tag is in its To).
    pub fn of_request(req: &Request) -> Option<DialogKey> {
        Some(DialogKey {
            call_id: message::header(req, "Call-ID")?.trim().to_string(),
            local_tag: message::tag_of(message::header(req, "To")?)?.to_string(),
        })
    }
}

/// Where a dialog lives: its contact, whose it is, and for a manager's, which manager.
#[derive(Debug, Clone)]
struct Located {
    id: Uuid,
    party: Party,
    monitor: Option<String>,
}

impl Calls {
    /// Finds the contact dialog `key` names.
    fn locate(&self, key: &DialogKey) -> Option<Located> {
        let id = *self.by_call_id.get(&key.call_id)?;
        let c = self.contacts.get(&id)?;
        let is = |d: &Dialog| d.call_id == key.call_id && d.local_tag == key.local_tag;
        let (party, monitor) = if is(&c.dialog) {
            (Party::Customer, None)
        } else if c
            .agent
            .as_ref()
            .and_then(|a| a.dialog.as_ref())
            .is_some_and(is)
        {
            (Party::Agent, None)
        } else if c
            .third
            .as_ref()
            .and_then(|t| t.dialog.as_ref())
            .is_some_and(is)
        {
            (Party::Third, None)
        } else {
            let m = c
                .monitors
                .iter()
                .find(|m| m.dialog.as_ref().is_some_and(is))?;
            (Party::Monitor, Some(m.username.clone()))
        };
        Some(Located { id, party, monitor })
    }

    /// The located dialog, its media leg and that leg's SDP session.
    fn dialog_mut(&mut self, at: &Located) -> Option<(&mut Dialog, LegId, &SdpSession)> {
        let c = self.contacts.get_mut(&at.id)?;
        match at.party {
            Party::Customer => Some((&mut c.dialog, c.leg, &c.session)),
            Party::Agent => {
                let a = c.agent.as_mut()?;
                Some((a.dialog.as_mut()?, a.leg, &a.session))
            }
            Party::Third => {
                let t = c.third.as_mut()?;
                Some((t.dialog.as_mut()?, t.leg, &t.session))
            }
            Party::Monitor => {
                let m = c
                    .monitors
                    .iter_mut()
                    .find(|m| Some(&m.username) == at.monitor.as_ref())?;
                Some((m.dialog.as_mut()?, m.leg, &m.session))
            }
        }
    }

    /// An in-dialog request must carry a CSeq above the last one (§12.2.2); one that does
    /// not is answered 500 here and the caller drops it.
    pub(super) fn in_order(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        req: &Request,
    ) -> bool {
        let Some(at) = DialogKey::of_request(req).and_then(|k| self.locate(&k)) else {
            return true;
        };
        let Some((dialog, ..)) = self.dialog_mut(&at) else {
            return true;
        };
        if dialog.accept_remote_cseq(req) {
            return true;
        }
        let last = dialog.remote_cseq.unwrap_or(0);
        tracing::info!(contact = %at.id, party = ?at.party, method = %req.method, last, "in-dialog request out of order (CSeq not above the last); 500");
        respond(
            tx,
            now,
            key,
            req,
            500,
            Some("CSeq out of order (RFC 3261 12.2.2)"),
        );
        false
    }

    /// The gate for the peer's re-INVITE or UPDATE: glare with our re-INVITE gets 491, a
    /// session interval under our minimum gets 422 with Min-SE. Otherwise the session-timer
    /// answer its 2xx must carry.
    pub(super) fn session_gate(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        req: &Request,
    ) -> Option<UasAnswer> {
        let dialog = DialogKey::of_request(req);
        let offer = req.method == Method::Invite || !req.body.is_empty();
        if offer
            && dialog
                .as_ref()
                .and_then(|d| self.sessions.get(d))
                .is_some_and(DialogSession::offer_in_flight)
        {
            tracing::info!(method = %req.method, "glare: our re-INVITE is in flight; 491 Request Pending");
            respond(tx, now, key, req, 491, None);
            return None;
        }
        let answer = UasAnswer::for_request(req, MIN_SE);
        if let UasAnswer::TooSmall { min_se } = answer {
            tracing::info!(method = %req.method, min_se = min_se.as_secs(), "session interval too small; 422");
            let mut resp = message::response(req, 422, Some(&self.next_token()));
            for (name, value) in answer.headers() {
                message::push_header(&mut resp, name, value);
            }
            if let Err(e) = tx.respond(now.mono, key, resp) {
                tracing::warn!(error = %e, "cannot answer 422");
            }
            return None;
        }
        Some(answer)
    }

    /// Records what a 2xx we sent, or received, negotiated in `dialog`: the timer restarts,
    /// starts or stops. `peer` is the peer's request or response (its Allow); `local_sdp` the
    /// SDP we sent in the exchange, if any.
    pub(super) fn session_refreshed(
        &mut self,
        now: Now,
        dialog: &DialogKey,
        peer: &impl HasHeaders,
        negotiated: Option<Negotiated>,
        local_sdp: Option<&str>,
    ) {
        let update = session_timer::allows_update(peer)
            || message::header(peer, "CSeq").is_some_and(|c| c.ends_with("UPDATE"));
        if !self.sessions.contains_key(dialog) {
            if negotiated.is_none() {
                return;
            }
            let owns = self
                .locate(dialog)
                .and_then(|at| self.dialog_mut(&at).map(|(d, ..)| d.side == Side::Uac))
                .unwrap_or(false);
            self.sessions
                .insert(dialog.clone(), DialogSession::new(owns, false, None));
        }
        if let Some(s) = self.sessions.get_mut(dialog) {
            s.peer_allows_update |= update;
            if let Some(sdp) = local_sdp {
                s.local_sdp = Some(sdp.to_string());
            }
            s.refreshed(now.mono, negotiated);
            if let Some(n) = negotiated {
                tracing::info!(
                    call_id = %dialog.call_id,
                    interval_s = n.interval.as_secs(),
                    we_refresh = n.we_refresh,
                    "session timer"
                );
            }
        }
    }

    /// The earliest upkeep deadline of any dialog.
    pub(super) fn sessions_timeout(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(DialogSession::poll_timeout)
            .min()
    }

    /// Sends the refreshes that are due and hangs up sessions that expired.
    pub(super) fn handle_session_timeouts(&mut self, now: Now, tx: &mut Transactions) {
        // Dialogs whose Call-ID left its contact are over.
        let by_call_id = &self.by_call_id;
        self.sessions
            .retain(|k, _| by_call_id.contains_key(&k.call_id));
        let due: Vec<DialogKey> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.poll_timeout().is_some_and(|t| t <= now.mono))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            let action = self
                .sessions
                .get_mut(&key)
                .and_then(|s| s.handle_timeout(now.mono));
            match action {
                Some(Action::Refresh { method, interval }) => {
                    self.send_refresh(now, tx, &key, method, interval);
                }
                Some(Action::End(cause)) => self.session_over(now, tx, &key, cause),
                None => {}
            }
        }
    }

    /// Sends our session refresh in `key`'s dialog.
    fn send_refresh(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &DialogKey,
        method: Method,
        interval: std::time::Duration,
    ) {
        let Some(at) = self.locate(key) else {
            self.sessions.remove(key);
            return;
        };
        let branch = format!("z9hG4bK{}", self.next_token());
        let via = self.local_sip.to_string();
        let sdp = match method {
            Method::Invite => self.sessions.get(key).and_then(|s| s.local_sdp.clone()),
            _ => None,
        };
        let Some((dialog, ..)) = self.dialog_mut(&at) else {
            return;
        };
        let mut headers = session_timer::refresh_headers(interval);
        headers.push(("Allow", super::ALLOW.to_string()));
        let req = dialog.request(
            method,
            &via,
            &branch,
            None,
            &headers,
            sdp.as_deref().map(|s| ("application/sdp", s.as_bytes())),
        );
        let peer = dialog.peer;
        match tx.send_request(now.mono, req, peer) {
            Ok(tkey) => {
                tracing::info!(contact = %at.id, party = ?at.party, %method, interval_s = interval.as_secs(), "session refresh sent");
                self.by_refresh.insert(tkey.clone(), key.clone());
                if let Some(s) = self.sessions.get_mut(key) {
                    s.sent(tkey, method);
                }
            }
            Err(e) => tracing::warn!(contact = %at.id, error = %e, "cannot send a session refresh"),
        }
    }

    /// A response or timeout for one of our session refreshes; false when `tkey` is not one.
    pub(super) fn on_refresh_tx(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        tkey: &TransactionKey,
        response: Option<&Response>,
    ) -> bool {
        let Some(key) = self.by_refresh.get(tkey).cloned() else {
            return false;
        };
        let code = response.map(|r| r.status_code.code());
        if code.is_some_and(|c| c < 200) {
            return true;
        }
        let ok = code.is_some_and(|c| (200..300).contains(&c));
        let at = self.locate(&key);
        if ok
            && tkey.method() == Method::Invite
            && let (Some(resp), Some(at)) = (response, at.as_ref())
        {
            // The ACK to a 2xx is ours to send, for every copy of it (§13.2.2.4).
            self.ack_2xx(tx, at, resp);
        }
        let Some(s) = self.sessions.get(&key) else {
            return true;
        };
        if s.in_flight() != Some(tkey) {
            return true; // a retransmitted 2xx
        }
        if ok
            && tkey.method() == Method::Invite
            && let (Some(resp), Some(at)) = (response, at.as_ref())
        {
            self.apply_refresh_answer(at, &key, resp);
        }
        let negotiated = response.filter(|_| ok).and_then(session_timer::from_2xx);
        let min_se = response.and_then(session_timer::min_se);
        let random = self.next_random();
        let Some(s) = self.sessions.get_mut(&key) else {
            return true;
        };
        let action = s.on_final(now.mono, code, negotiated, min_se, random);
        if code == Some(491) {
            let wait = s
                .poll_timeout()
                .map(|t| t.saturating_duration_since(now.mono))
                .unwrap_or_default();
            tracing::info!(
                call_id = %key.call_id,
                owns_call_id = s.owns_call_id(),
                wait_ms = wait.as_millis() as u64,
                "re-INVITE glare (491): trying again after the random wait"
            );
        } else if !ok {
            tracing::info!(call_id = %key.call_id, code = code.unwrap_or(408), "session refresh refused");
        }
        if let Some(Action::End(cause)) = action {
            self.session_over(now, tx, &key, cause);
        }
        true
    }

    /// ACKs a 2xx to our re-INVITE.
    fn ack_2xx(&mut self, tx: &mut Transactions, at: &Located, resp: &Response) {
        let cseq: Option<u32> = message::header(resp, "CSeq")
            .and_then(|c| c.split_whitespace().next())
            .and_then(|n| n.parse().ok());
        let branch = format!("z9hG4bK{}", self.next_token());
        let via = self.local_sip.to_string();
        let Some((dialog, ..)) = self.dialog_mut(at) else {
            return;
        };
        let ack = dialog.request(Method::Ack, &via, &branch, cseq, &[], None);
        tx.send_stateless(dialog.peer, ack.to_bytes().into());
    }

    /// The peer's SDP answer to a refresh re-INVITE: normally what it was, applied anyway.
    fn apply_refresh_answer(&mut self, at: &Located, key: &DialogKey, resp: &Response) {
        let ours = self
            .sessions
            .get(key)
            .and_then(|s| s.local_sdp.as_deref())
            .and_then(|s| sdp::parse(s).ok())
            .map(|d| d.direction);
        let media = std::sync::Arc::clone(&self.media);
        let Some((_, leg, session)) = self.dialog_mut(at) else {
            return;
        };
        let negotiated = std::str::from_utf8(&resp.body)
            .ok()
            .and_then(|s| sdp::parse(s).ok())
            .zip(ours)
            .and_then(|(answer, dir)| session.accept_answer(&answer, &CODECS, dir).ok());
        if let Some(n) = negotiated
            && let Err(e) = media.update_leg(leg, (&n).into())
        {
            tracing::warn!(error = %e, "cannot apply the refresh answer to the leg");
        }
    }

    /// A session expired or its refresh failed: BYE that dialog and end what it carries.
    fn session_over(&mut self, now: Now, tx: &mut Transactions, key: &DialogKey, cause: EndCause) {
        self.sessions.remove(key);
        let Some(at) = self.locate(key) else {
            return;
        };
        match cause {
            EndCause::Expired => tracing::warn!(
                contact = %at.id,
                party = ?at.party,
                call_id = %key.call_id,
                "session expired: no refresh within the session interval (RFC 4028); hanging up"
            ),
            EndCause::RefreshFailed(code) => tracing::warn!(
                contact = %at.id,
                party = ?at.party,
                call_id = %key.call_id,
                code,
                "session refresh failed (RFC 4028); hanging up"
            ),
        }
        match at.party {
            Party::Customer | Party::Agent => self.end(now, tx, at.id, DisconnectReason::Error),
            Party::Third => {
                self.hang_up_third_party(now, tx, at.id);
                self.after_third_party_gone(now, tx, at.id);
            }
            Party::Monitor => {
                if let Some(user) = at.monitor.as_deref() {
                    self.hang_up_monitor(now, tx, at.id, user, true);
                }
            }
        }
    }
}
