//! transfer_to_phone_number: a contact's flow dials a number through the trunk and connects
//! the caller to it, with no agent involved.
//!
//! The number is the contact's third party ([`super::third::ThirdParty`] with `by_flow`), so
//! the INVITE's responses, the far end's BYE, CANCEL when the caller hangs up first, and who
//! hears whom ([`Calls::apply_room`]) are `third`'s. What is the flow's:
//! - dialing: a room with the customer leg and the new leg; prompts stop, and the caller hears
//!   silence while the number rings (nobody is connected yet);
//! - answer: the flow's transfer succeeded (its run ends), but the contact goes on, under a new
//!   contact id linked to the flow's, as `leave` does for an agent: the first record closes
//!   with reason `flow`, the second (initiation `transfer`, `system_endpoint` the number) ends
//!   when either party hangs up;
//! - failure (a final response of 300 or more, or no answer from the trunk at all): the leg
//!   and the room go, and the flow takes `on_error` with the caller back out of any room, so its
//!   prompts play as before.

use switchboard_media::room::Role;
use uuid::Uuid;

use super::Calls;
use super::third::ThirdParty;
use crate::control::CommandError;
use crate::endpoint::Now;
use crate::flow::{FlowInput, TransferResult};
use crate::sip::transaction::Transactions;
use crate::store::{DisconnectReason, InitiationMethod};

impl Calls {
    /// The flow asked to transfer the contact to `number` (E.164), presenting `caller_id`, or
    /// the number the customer dialed when the flow gives none. A dial that cannot start is
    /// answered at once with a Transfer error.
    pub(super) fn dial_from_flow(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        number: &str,
        caller_id: Option<&str>,
    ) {
        if let Err(e) = self.start_flow_dial(now, tx, id, number, caller_id) {
            tracing::warn!(contact = %id, %number, error = %e, "transfer_to_phone_number failed");
            self.pending
                .push_back((id, FlowInput::Transfer(TransferResult::Error)));
        }
    }

    fn start_flow_dial(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        number: &str,
        caller_id: Option<&str>,
    ) -> Result<(), CommandError> {
        let c = self
            .contacts
            .get(&id)
            .ok_or_else(|| CommandError::NotFound(format!("no contact {id}")))?;
        if c.third.is_some() {
            return Err(CommandError::Conflict(
                "a third party is already on this contact".into(),
            ));
        }
        if c.agent.is_some() || c.queued.is_some() {
            // A customer queue flow: the queue (and an agent it offers to) owns the contact.
            return Err(CommandError::Conflict(
                "the contact is queued or with an agent; a flow transfers to a number before it \
                 queues the contact"
                    .into(),
            ));
        }
        let caller_id = caller_id
            .map(str::to_string)
            .or_else(|| c.record.system_endpoint.clone())
            .unwrap_or_else(|| "anonymous".into());
        let customer_leg = c.leg;
        let (leg, session, local_rtp, fork) = self.invite_via_trunk(now, tx, number, &caller_id)?;
        // Silence while it rings: no prompt, and nobody to hear in the room yet.
        let _ = self.media.stop_play(customer_leg);
        let room = self.media.create_room();
        for (l, role) in [(customer_leg, Role::Customer), (leg, Role::ThirdParty)] {
            if let Err(e) = self.media.add_to_room(room, l, role) {
                tracing::warn!(contact = %id, error = %e, "cannot add a leg to the transfer room");
            }
        }
        self.by_third.insert(fork.key.clone(), id);
        self.by_leg.insert(leg, id);
        if let Some(c) = self.contacts.get_mut(&id) {
            c.playing = false;
            c.room = Some(room);
            let mut third =
                ThirdParty::new(number.to_string(), leg, session, local_rtp, now.unix_ms);
            third.fork = Some(fork);
            third.by_flow = true;
            c.third = Some(third);
        }
        tracing::info!(contact = %id, %number, %caller_id, "flow dialing a number");
        self.apply_room(id);
        self.save(id, now);
        Ok(())
    }

    /// The number the flow dialed answered (`third` has set up its dialog and the room): the
    /// flow's transfer succeeded and its run ends; the contact continues as a transfer.
    pub(super) fn flow_dial_answered(&mut self, now: Now, tx: &mut Transactions, id: Uuid) {
        self.pending
            .push_back((id, FlowInput::Transfer(TransferResult::Ok)));
        self.drain(now, tx);
        let Some(number) = self
            .contacts
            .get(&id)
            .and_then(|c| c.third.as_ref())
            .filter(|t| t.dialog.is_some())
            .map(|t| t.number.clone())
        else {
            return;
        };
        let next =
            self.transfer_record(now, id, InitiationMethod::Transfer, DisconnectReason::Flow);
        if let Some(c) = self.contacts.get_mut(&next) {
            c.record.system_endpoint = Some(number.clone());
        }
        self.save(next, now);
        tracing::info!(contact = %id, next = %next, %number, "flow transfer to a number connected");
    }

    /// The number the flow dialed did not answer (`third` has removed its leg): the room goes
    /// and the flow takes its error branch.
    pub(super) fn flow_dial_failed(&mut self, now: Now, tx: &mut Transactions, id: Uuid) {
        if let Some(room) = self.contacts.get_mut(&id).and_then(|c| c.room.take()) {
            let _ = self.media.destroy_room(room);
        }
        self.save(id, now);
        self.pending
            .push_back((id, FlowInput::Transfer(TransferResult::Error)));
        self.drain(now, tx);
    }
}
