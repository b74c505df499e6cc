//! SIP dialogs (RFC 3261 §12): the state two user agents share for the life of a call, and
//! the in-dialog requests built from it (ACK for a 2xx, BYE, re-INVITE, INFO, ...).
//!
//! A [`Dialog`] is created on the UAS side from an INVITE we answer, or on the UAC side from
//! an INVITE we sent and a 2xx (or 1xx with a To tag) we received. It is plain data: it never
//! sends anything, it only builds requests for the transaction layer (or, for an ACK to a
//! 2xx, for `Transactions::send_stateless`). Route sets from Record-Route are kept and
//! replayed; loose routing only (`;lr`), as every phone made this century does.

use std::fmt::Write as _;

use super::message::{self, HeadersExt, Method, Request, Response, ToTypedHeader};
use super::transaction::Peer;

/// Which side of the dialog we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// We answered the INVITE (the customer's call to us).
    Uas,
    /// We sent the INVITE (our call to an agent or a third party).
    Uac,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub side: Side,
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
    /// Our From (as UAC) or To (as UAS) header value, without the tag.
    pub local_uri: String,
    /// The peer's header value, without the tag.
    pub remote_uri: String,
    /// Where in-dialog requests go: the peer's Contact URI.
    pub remote_target: String,
    /// Record-Route values, in the order our requests must carry them as Route.
    pub route_set: Vec<String>,
    pub local_cseq: u32,
    pub remote_cseq: Option<u32>,
    /// Our Contact URI, put in every request and 2xx we send.
    pub local_contact: String,
    /// Where to send requests: the transport address of the peer.
    pub peer: Peer,
}

/// A header value with its `;tag=...` parameter removed.
fn without_tag(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (head, params) = match value.rfind('>') {
        Some(i) => value.split_at(i + 1),
        None => (value, ""),
    };
    out.push_str(head);
    for p in params.split(';').skip(1) {
        if !p.trim().to_ascii_lowercase().starts_with("tag=") {
            out.push(';');
            out.push_str(p);
        }
    }
    out
}

fn contact_uri(msg: &impl HeadersExt) -> Option<String> {
    let c = msg.contact_header().ok()?;
    let typed = c.typed().ok()?;
    Some(typed.uri.to_string())
}

fn cseq_number(msg: &impl message::HasHeaders) -> Option<u32> {
    message::header(msg, "CSeq")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Dialog {
    /// The dialog we enter by answering `invite` with a To tag of `local_tag`.
    pub fn uas(
        invite: &Request,
        local_tag: &str,
        local_contact: &str,
        peer: Peer,
    ) -> Option<Dialog> {
        let from = message::header(invite, "From")?;
        let to = message::header(invite, "To")?;
        let mut route_set: Vec<String> = message::headers_named(invite, "Record-Route")
            .flat_map(split_list)
            .collect();
        // UAS: the route set is the Record-Route list in order (§12.1.1).
        route_set.retain(|r| !r.is_empty());
        Some(Dialog {
            side: Side::Uas,
            call_id: message::header(invite, "Call-ID")?.trim().to_string(),
            local_tag: local_tag.to_string(),
            remote_tag: message::tag_of(from)?.to_string(),
            local_uri: without_tag(to),
            remote_uri: without_tag(from),
            remote_target: contact_uri(invite)?,
            route_set,
            local_cseq: 1,
            remote_cseq: cseq_number(invite),
            local_contact: local_contact.to_string(),
            peer,
        })
    }

    /// The dialog a response with a To tag establishes for the INVITE we sent.
    pub fn uac(
        invite: &Request,
        resp: &Response,
        local_contact: &str,
        peer: Peer,
    ) -> Option<Dialog> {
        let from = message::header(invite, "From")?;
        let to = message::header(resp, "To")?;
        // UAC: the route set is the Record-Route list reversed (§12.1.2).
        let mut route_set: Vec<String> = message::headers_named(resp, "Record-Route")
            .flat_map(split_list)
            .collect();
        route_set.reverse();
        Some(Dialog {
            side: Side::Uac,
            call_id: message::header(invite, "Call-ID")?.trim().to_string(),
            local_tag: message::tag_of(from)?.to_string(),
            remote_tag: message::tag_of(to)?.to_string(),
            local_uri: without_tag(from),
            remote_uri: without_tag(to),
            remote_target: contact_uri(resp).unwrap_or_else(|| invite.uri.to_string()),
            route_set,
            local_cseq: cseq_number(invite).unwrap_or(1),
            remote_cseq: None,
            local_contact: local_contact.to_string(),
            peer,
        })
    }

    /// Does `msg` belong to this dialog? (Call-ID and both tags, §12.2.)
    pub fn matches(&self, msg: &impl message::HasHeaders, incoming_request: bool) -> bool {
        let call_id = message::header(msg, "Call-ID").map(str::trim);
        let from_tag = message::header(msg, "From").and_then(message::tag_of);
        let to_tag = message::header(msg, "To").and_then(message::tag_of);
        let (ours, theirs) = if incoming_request {
            (to_tag, from_tag)
        } else {
            (from_tag, to_tag)
        };
        call_id == Some(self.call_id.as_str())
            && ours == Some(self.local_tag.as_str())
            && theirs == Some(self.remote_tag.as_str())
    }

    /// Builds an in-dialog request; `branch` must be fresh (`z9hG4bK...`). `via_host` is
    /// our address as the peer reaches it. ACK reuses the INVITE's CSeq: pass it as
    /// `ack_cseq`; any other method takes the next local CSeq.
    pub fn request(
        &mut self,
        method: Method,
        via_host: &str,
        branch: &str,
        ack_cseq: Option<u32>,
        extra_headers: &[(&str, String)],
        body: Option<(&str, &[u8])>,
    ) -> Request {
        let cseq = match (method, ack_cseq) {
            (Method::Ack, Some(n)) => n,
            _ => {
                self.local_cseq += 1;
                self.local_cseq
            }
        };
        let transport = match self.peer.transport {
            super::transaction::Transport::Udp => "UDP",
            super::transaction::Transport::Tcp => "TCP",
        };
        let mut text = String::with_capacity(512);
        let _ = write!(text, "{method} {} SIP/2.0\r\n", self.remote_target);
        let _ = write!(
            text,
            "Via: SIP/2.0/{transport} {via_host};branch={branch};rport\r\n"
        );
        let _ = write!(text, "Max-Forwards: 70\r\n");
        let _ = write!(text, "From: {};tag={}\r\n", self.local_uri, self.local_tag);
        let _ = write!(text, "To: {};tag={}\r\n", self.remote_uri, self.remote_tag);
        let _ = write!(text, "Call-ID: {}\r\n", self.call_id);
        let _ = write!(text, "CSeq: {cseq} {method}\r\n");
        for r in &self.route_set {
            let _ = write!(text, "Route: {r}\r\n");
        }
        if method != Method::Ack && method != Method::Bye {
            let _ = write!(text, "Contact: <{}>\r\n", self.local_contact);
        }
        for (name, value) in extra_headers {
            let _ = write!(text, "{name}: {value}\r\n");
        }
        let (ctype, bytes) = body.unwrap_or(("", &[]));
        if !bytes.is_empty() {
            let _ = write!(text, "Content-Type: {ctype}\r\n");
        }
        let _ = write!(text, "Content-Length: {}\r\n\r\n", bytes.len());
        let mut raw = text.into_bytes();
        raw.extend_from_slice(bytes);
        match message::parse(&raw) {
            Ok(message::SipMessage::Request(r)) => r,
            // Everything above comes from values we parsed before; a failure here would be
            // our own bug, so fall back to a bare request rather than panic on a peer's input.
            _ => Request {
                method,
                uri: self
                    .remote_target
                    .as_str()
                    .try_into()
                    .unwrap_or_else(|_| invite_uri_fallback()),
                version: message::Version::V2,
                headers: message::Headers::default(),
                body: Vec::new(),
            },
        }
    }

    /// Records the CSeq of an incoming in-dialog request; false if it is out of order
    /// (§12.2.2: answer 500).
    pub fn accept_remote_cseq(&mut self, req: &Request) -> bool {
        let Some(n) = cseq_number(req) else {
            return false;
        };
        if req.method == Method::Ack {
            return true;
        }
        match self.remote_cseq {
            Some(prev) if n <= prev => false,
            _ => {
                self.remote_cseq = Some(n);
                true
            }
        }
    }
}

fn invite_uri_fallback() -> message::Uri {
    message::Uri::default()
}

/// Splits a comma-separated list of name-addr values, respecting `<...>` and quotes.
fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0u32;
    let mut quoted = false;
    let mut cur = String::new();
    for ch in value.chars() {
        match ch {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::SipMessage;
    use crate::sip::transaction::Transport;

    fn peer() -> Peer {
        Peer {
            transport: Transport::Udp,
            addr: "192.0.2.5:5060".parse().expect("addr"),
        }
    }

    fn req(text: &str) -> Request {
        match message::parse(text.as_bytes()).expect("parses") {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => panic!("response"),
        }
    }

    const INVITE: &str = "INVITE sip:+15550100@switchboard.test SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKc1\r\n\
        Record-Route: <sip:p1.example.net;lr>, <sip:p2.example.net;lr>\r\n\
        From: \"Carol\" <sip:carol@example.net>;tag=c1\r\n\
        To: <sip:+15550100@switchboard.test>\r\n\
        Call-ID: call-1\r\n\
        CSeq: 7 INVITE\r\n\
        Contact: <sip:carol@192.0.2.5:5060>\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn uas_dialog_builds_a_bye_the_peer_will_match() {
        let invite = req(INVITE);
        let mut d = Dialog::uas(&invite, "sb1", "sip:switchboard@198.51.100.1:5060", peer())
            .expect("dialog");
        assert_eq!(d.remote_tag, "c1");
        assert_eq!(d.remote_cseq, Some(7));
        assert_eq!(d.route_set.len(), 2);
        let bye = d.request(
            Method::Bye,
            "198.51.100.1:5060",
            "z9hG4bKb1",
            None,
            &[],
            None,
        );
        let text = String::from_utf8(bye.to_bytes()).expect("utf8");
        assert!(
            text.starts_with("BYE sip:carol@192.0.2.5:5060 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(
            text.contains("From: <sip:+15550100@switchboard.test>;tag=sb1\r\n"),
            "{text}"
        );
        assert!(
            text.contains("To: \"Carol\" <sip:carol@example.net>;tag=c1\r\n"),
            "{text}"
        );
        assert!(text.contains("CSeq: 2 BYE\r\n"), "{text}");
        let routes: Vec<&str> = text.lines().filter(|l| l.starts_with("Route:")).collect();
        assert_eq!(
            routes,
            [
                "Route: <sip:p1.example.net;lr>",
                "Route: <sip:p2.example.net;lr>"
            ]
        );
        // The peer's own BYE to us matches the dialog.
        let theirs = req(&INVITE
            .replace("INVITE sip", "BYE sip")
            .replace("CSeq: 7 INVITE", "CSeq: 8 BYE")
            .replace(
                "To: <sip:+15550100@switchboard.test>",
                "To: <sip:+15550100@switchboard.test>;tag=sb1",
            ));
        assert!(d.matches(&theirs, true));
        assert!(d.accept_remote_cseq(&theirs));
        assert!(
            !d.accept_remote_cseq(&theirs),
            "same CSeq again is out of order"
        );
    }

    #[test]
    fn uac_dialog_from_a_2xx() {
        let invite = req(&INVITE.replace(
            "From: \"Carol\" <sip:carol@example.net>;tag=c1",
            "From: <sip:switchboard@switchboard.test>;tag=us1",
        ));
        let ok = match message::parse(
            b"SIP/2.0 200 OK\r\n\
              Via: SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKc1\r\n\
              Record-Route: <sip:p1.example.net;lr>, <sip:p2.example.net;lr>\r\n\
              From: <sip:switchboard@switchboard.test>;tag=us1\r\n\
              To: <sip:+15550100@switchboard.test>;tag=them\r\n\
              Call-ID: call-1\r\n\
              CSeq: 7 INVITE\r\n\
              Contact: <sip:agent@203.0.113.9:5062>\r\n\
              Content-Length: 0\r\n\r\n",
        )
        .expect("parses")
        {
            SipMessage::Response(r) => r,
            SipMessage::Request(_) => panic!("request"),
        };
        let mut d =
            Dialog::uac(&invite, &ok, "sip:switchboard@198.51.100.1", peer()).expect("dialog");
        assert_eq!(
            d.route_set,
            ["<sip:p2.example.net;lr>", "<sip:p1.example.net;lr>"]
        );
        let ack = d.request(
            Method::Ack,
            "198.51.100.1:5060",
            "z9hG4bKa1",
            Some(7),
            &[],
            None,
        );
        let text = String::from_utf8(ack.to_bytes()).expect("utf8");
        assert!(
            text.starts_with("ACK sip:agent@203.0.113.9:5062 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("CSeq: 7 ACK\r\n"), "{text}");
        assert!(
            text.contains("To: <sip:+15550100@switchboard.test>;tag=them\r\n"),
            "{text}"
        );
    }
}
