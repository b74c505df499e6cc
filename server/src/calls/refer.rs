//! Transfers from the agent's phone (RFC 3515): a REFER in the contact's dialog.
//!
//! Blind: `Refer-To: <sip:NUMBER@...>`. We accept (202), dial the number as the contact's
//! third party exactly as a panel transfer does (the customer hears music meanwhile), and
//! report progress with NOTIFY `message/sipfrag` bodies: `100 Trying` at once, then the
//! final status. On success the agent's phone is hung up and the customer stays with the
//! third party (Leave); on failure the customer stays on hold with the agent.
//!
//! Attended: `Refer-To: <...?Replaces=CALL-ID;to-tag=..;from-tag=..>` (RFC 3891) names the
//! phone's consultation call, which it dialed through us while the customer was on hold: that
//! call's far end becomes the contact's third party and the agent leaves.

use uuid::Uuid;

use super::Calls;
use crate::config::Permission;
use crate::endpoint::Now;
use crate::sip::message::{self, Method, Request};
use crate::sip::transaction::{TransactionKey, Transactions};

/// What a `Refer-To` asks for.
#[derive(Debug, PartialEq, Eq)]
enum ReferTo {
    /// The user part of the target URI, as the phone sent it.
    Number(String),
    /// The consultation dialog to take the far end of.
    Replaces {
        call_id: String,
        to_tag: String,
        from_tag: String,
    },
}

/// Parses a `Refer-To` value: `<sip:user@host;params?Replaces=...>` or a bare URI.
fn parse_refer_to(value: &str) -> Option<ReferTo> {
    let v = value.trim();
    let uri = match (v.find('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.split(';').next()?,
    };
    let (uri, headers) = match uri.split_once('?') {
        Some((u, h)) => (u, Some(h)),
        None => (uri, None),
    };
    if let Some(h) = headers
        && let Some(rep) = h.split('&').find_map(|kv| {
            kv.strip_prefix("Replaces=")
                .or(kv.strip_prefix("replaces="))
        })
    {
        let decoded = percent_decode(rep);
        let mut parts = decoded.split(';');
        let call_id = parts.next()?.trim().to_string();
        let (mut to_tag, mut from_tag) = (None, None);
        for p in parts {
            match p.split_once('=') {
                Some(("to-tag", t)) => to_tag = Some(t.trim().to_string()),
                Some(("from-tag", t)) => from_tag = Some(t.trim().to_string()),
                _ => {}
            }
        }
        return Some(ReferTo::Replaces {
            call_id,
            to_tag: to_tag?,
            from_tag: from_tag?,
        });
    }
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    let user = rest.split(['@', ';']).next()?;
    (!user.is_empty()).then(|| ReferTo::Number(percent_decode(user)))
}

/// `%3B` → `;` and so on; invalid escapes are kept as they are.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Calls {
    /// A REFER in contact `id`'s dialog; only the agent's phone may transfer.
    pub(super) fn on_refer(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        req: &Request,
        id: Uuid,
        from_agent: bool,
    ) {
        if !from_agent {
            super::respond(
                tx,
                now,
                key,
                req,
                403,
                Some("only the agent can transfer this call"),
            );
            return;
        }
        let Some(target) = message::header(req, "Refer-To").and_then(parse_refer_to) else {
            super::respond(
                tx,
                now,
                key,
                req,
                400,
                Some("missing or unreadable Refer-To"),
            );
            return;
        };
        let Some(username) = self
            .contacts
            .get(&id)
            .and_then(|c| c.agent.as_ref())
            .map(|a| a.username.clone())
        else {
            return;
        };
        let Some(user) = self.config.users.get(&username).cloned() else {
            return;
        };
        match target {
            ReferTo::Number(dialed) => {
                if !user.has(Permission::OutboundCallAccess) {
                    super::respond(
                        tx,
                        now,
                        key,
                        req,
                        403,
                        Some("OutboundCallAccess is required to transfer to a number"),
                    );
                    return;
                }
                let country = user
                    .country
                    .clone()
                    .unwrap_or_else(|| self.config.instance.default_country.clone());
                let number = match crate::numbers::to_e164(&dialed, &country) {
                    Ok(n) => n,
                    Err(e) => {
                        super::respond(tx, now, key, req, 400, Some(&format!("{dialed}: {e}")));
                        return;
                    }
                };
                if let Err(e) = self.dial_third_party(now, tx, id, &number) {
                    super::respond(tx, now, key, req, 403, Some(&e.to_string()));
                    return;
                }
                super::respond(tx, now, key, req, 202, None);
                if let Some(c) = self.contacts.get_mut(&id) {
                    c.refer_pending = true;
                }
                tracing::info!(contact = %id, agent = %username, %number, "blind transfer by REFER");
                self.notify_refer(now, tx, id, "SIP/2.0 100 Trying", false);
            }
            ReferTo::Replaces {
                call_id,
                to_tag,
                from_tag,
            } => self.attended_transfer(now, tx, key, req, id, &call_id, &to_tag, &from_tag),
        }
    }

    /// REFER with Replaces: the far end of the agent's consultation call (dialog `call_id`)
    /// becomes contact `id`'s third party, connected at once, and the agent leaves both calls.
    #[allow(clippy::too_many_arguments)]
    fn attended_transfer(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        key: &TransactionKey,
        req: &Request,
        id: Uuid,
        call_id: &str,
        to_tag: &str,
        from_tag: &str,
    ) {
        let consult = self.by_call_id.get(call_id).copied().filter(|b| {
            *b != id
                && self.consults.contains(b)
                && self.contacts.get(b).is_some_and(|c| {
                    c.agent
                        .as_ref()
                        .and_then(|a| a.dialog.as_ref())
                        .is_some_and(|d| {
                            d.call_id == call_id
                                && ((d.local_tag == to_tag && d.remote_tag == from_tag)
                                    || (d.local_tag == from_tag && d.remote_tag == to_tag))
                        })
                })
        });
        let Some(b) = consult else {
            super::respond(
                tx,
                now,
                key,
                req,
                481,
                Some("Replaces names no consultation call of yours"),
            );
            return;
        };
        let room = self.contacts.get(&id).and_then(|c| c.room());
        let (Some(room), true) = (
            room,
            self.contacts.get(&id).is_some_and(|c| c.third.is_none()),
        ) else {
            super::respond(
                tx,
                now,
                key,
                req,
                403,
                Some("the contact already has a third party or is not connected"),
            );
            return;
        };
        let Some(mut consult) = self.contacts.remove(&b) else {
            return;
        };
        super::respond(tx, now, key, req, 202, None);
        // The consultation's far end moves into the contact's room as its third party.
        if let Err(e) =
            self.media
                .add_to_room(room, consult.leg, switchboard_media::room::Role::ThirdParty)
        {
            tracing::warn!(error = %e, "cannot move the consulted party into the contact's room");
        }
        self.by_call_id.insert(consult.dialog.call_id.clone(), id);
        self.by_leg.insert(consult.leg, id);
        let number = consult.record.customer_endpoint.clone().unwrap_or_default();
        if let Some(agent) = consult.agent.take() {
            // Our leg to the agent's phone for the consultation is done.
            self.hang_up_agent(now, tx, agent, b, true);
        }
        consult.record.disconnect_unix_ms = Some(now.unix_ms);
        consult.record.disconnect_reason = Some(crate::store::DisconnectReason::Agent);
        consult.record.updated_at_unix_ms = now.unix_ms;
        self.records_out.push(consult.record);
        if let Some(c) = self.contacts.get_mut(&id) {
            let mut third = super::third::ThirdParty::new(
                number.clone(),
                consult.leg,
                consult.session,
                consult.local_rtp,
                now.unix_ms,
            );
            third.dialog = Some(consult.dialog);
            c.third = Some(third);
        }
        tracing::info!(contact = %id, consultation = %b, %number, "attended transfer by REFER with Replaces");
        self.notify_refer(now, tx, id, "SIP/2.0 200 OK", true);
        if let Err(e) = self.leave(now, tx, id, true) {
            tracing::warn!(contact = %id, error = %e, "attended transfer: cannot leave");
        }
    }

    /// NOTIFY the agent's phone of the transfer's progress (RFC 3515 §2.4.4).
    pub(super) fn notify_refer(
        &mut self,
        now: Now,
        tx: &mut Transactions,
        id: Uuid,
        status_line: &str,
        terminated: bool,
    ) {
        let local_sip = self.local_sip.to_string();
        let branch = format!("z9hG4bK{}", self.next_token());
        let Some(d) = self
            .contacts
            .get_mut(&id)
            .and_then(|c| c.agent.as_mut())
            .and_then(|a| a.dialog.as_mut())
        else {
            return;
        };
        let state = if terminated {
            "terminated;reason=noresource".to_string()
        } else {
            "active;expires=60".to_string()
        };
        let body = format!("{status_line}\r\n");
        let notify = d.request(
            Method::Notify,
            &local_sip,
            &branch,
            None,
            &[
                ("Event", "refer".to_string()),
                ("Subscription-State", state),
            ],
            Some(("message/sipfrag;version=2.0", body.as_bytes())),
        );
        let peer = d.peer;
        if let Err(e) = tx.send_request(now.mono, notify, peer) {
            tracing::warn!(error = %e, "cannot send the transfer NOTIFY");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn refer_to_a_number_or_a_dialog_to_replace() {
        assert_eq!(
            parse_refer_to("<sip:+15550199@demo.switchboard.test>"),
            Some(ReferTo::Number("+15550199".into()))
        );
        assert_eq!(
            parse_refer_to("sip:2025550143@10.0.0.1;user=phone"),
            Some(ReferTo::Number("2025550143".into()))
        );
        assert_eq!(
            parse_refer_to("<sip:x@h?Replaces=abc%40host%3Bto-tag%3D7743%3Bfrom-tag%3D6472>"),
            Some(ReferTo::Replaces {
                call_id: "abc@host".into(),
                to_tag: "7743".into(),
                from_tag: "6472".into(),
            })
        );
        assert_eq!(parse_refer_to("<mailto:a@b>"), None);
        assert_eq!(parse_refer_to("<sip:x@h?Replaces=abc%3Bto-tag%3D1>"), None);
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode("a%3Bb%3db"), "a;b=b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
