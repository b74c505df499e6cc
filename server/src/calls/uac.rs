//! Our side of the INVITEs we send (agents' phones, third parties, managers' phones, outbound
//! customers): the 2xx that makes the dialog is ACKed at once (RFC 3261 §13.2.2.4), the
//! branches still ringing are CANCELled (§9.1), and the SDP answer configures the media leg.

use std::net::SocketAddr;
use std::time::Instant;

use switchboard_media::engine::{LegId, MediaEngine};
use switchboard_media::sdp::{self, Direction, SdpSession};

use super::CODECS;
use super::agent::{Fork, cancel_for};
use crate::sip::dialog::Dialog;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::{Peer, Transactions};

/// The dialog a 2xx to our `invite` (sent to `peer`) makes, its ACK sent with `ack_branch`;
/// `None` when the 2xx cannot make one.
pub(super) fn ack_2xx(
    tx: &mut Transactions,
    local_sip: SocketAddr,
    ack_branch: &str,
    invite: &Request,
    resp: &Response,
    peer: Peer,
) -> Option<Dialog> {
    let mut dialog = Dialog::uac(invite, resp, &format!("sip:switchboard@{local_sip}"), peer)?;
    let invite_cseq = dialog.local_cseq;
    let ack = dialog.request(
        Method::Ack,
        &local_sip.to_string(),
        ack_branch,
        Some(invite_cseq),
        &[],
        None,
    );
    tx.send_stateless(peer, ack.to_bytes().into());
    Some(dialog)
}

/// CANCELs the branches of `forks` still ringing (the first answer won) and marks them done.
pub(super) fn cancel_ringing(now: Instant, tx: &mut Transactions, forks: &mut [Fork]) {
    for f in forks.iter_mut().filter(|f| !f.done) {
        f.done = true;
        if let Some(cancel) = cancel_for(&f.invite) {
            let _ = tx.send_request(now, cancel, f.peer);
        }
    }
}

/// Configures `leg` from the SDP answer in `resp` to `session`'s offer; false (and a warning
/// naming the `party`) when the answer is missing or unusable or the leg cannot take it.
pub(super) fn apply_answer(
    media: &MediaEngine,
    session: &mut SdpSession,
    leg: LegId,
    resp: &Response,
    party: &str,
) -> bool {
    let negotiated = std::str::from_utf8(&resp.body)
        .ok()
        .and_then(|s| sdp::parse(s).ok())
        .and_then(|a| session.accept_answer(&a, &CODECS, Direction::SendRecv).ok());
    match negotiated {
        Some(n) => match media.update_leg(leg, (&n).into()) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, party, "cannot configure the leg");
                false
            }
        },
        None => {
            tracing::warn!(party, "answered without a usable SDP answer");
            false
        }
    }
}
