//! The edge: what one datagram (or one framed TCP message) becomes before any state is touched.
//!
//! STYLE practice 5, "route at the edge": bytes become a well-formed request for the
//! transaction layer, a response for a client transaction, a stateless reply straight back to
//! the sender (400 for a malformed request, 501 for a method we do not know, 505 for another
//! SIP version), or nothing at all (keep-alives, and garbage that is not SIP, which is counted
//! but never answered). Nothing here panics on any input: the fuzz target `sip_message` feeds
//! arbitrary bytes to [`classify`].
//!
//! Requests that pass get RFC 3581 `received`/`rport` written into their top Via, so every
//! later response is routed back the way the request came (RFC 3261 §18.2.2).

use std::net::SocketAddr;

use super::message::{
    self, Header, HeadersExt, Method, Request, Response, SipMessage, ToTypedHeader,
};

/// Methods RFC 3261 and its extensions define; anything else is answered 501 here.
const KNOWN_METHODS: [&str; 14] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "INFO",
    "REFER",
    "MESSAGE",
    "UPDATE",
];

/// Why bytes were dropped without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// CRLF keep-alive (RFC 5626 §4.4.1); nothing to do over UDP.
    KeepAlive,
    /// Not a SIP message at all.
    NotSip,
    /// A malformed request we cannot even route a reply for (no Via), or a malformed response.
    Unroutable,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::KeepAlive => "keepalive",
            DropReason::NotSip => "not_sip",
            DropReason::Unroutable => "unroutable",
        }
    }
}

/// What the bytes turned out to be.
#[derive(Debug)]
pub enum Inbound {
    Request(Box<Request>),
    Response(Box<Response>),
    /// Answer the sender with these bytes and do nothing else. `code` is for metrics.
    Reply {
        code: u16,
        reason: String,
        bytes: Vec<u8>,
    },
    Drop(DropReason),
}

/// Classifies one complete message received from `source`.
pub fn classify(data: &[u8], source: SocketAddr) -> Inbound {
    if data
        .iter()
        .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
    {
        return Inbound::Drop(DropReason::KeepAlive);
    }
    let first_line = first_line(data);
    let Some(kind) = start_line_kind(first_line) else {
        return Inbound::Drop(DropReason::NotSip);
    };
    if let StartLine::Request { method, version } = kind {
        if version != "SIP/2.0" {
            return reply(data, 505, "Version Not Supported");
        }
        if !KNOWN_METHODS.contains(&method) {
            return reply(data, 501, "Not Implemented");
        }
    }
    let parsed = match message::parse(data) {
        Ok(m) => m,
        Err(e) => {
            return match kind {
                StartLine::Request { .. } => reply(data, 400, &format!("Bad Request ({e})")),
                StartLine::Response => Inbound::Drop(DropReason::Unroutable),
            };
        }
    };
    match parsed {
        SipMessage::Response(r) => match check_response(&r) {
            Ok(()) => Inbound::Response(Box::new(r)),
            Err(_) => Inbound::Drop(DropReason::Unroutable),
        },
        SipMessage::Request(mut r) => {
            if let Err(why) = check_request(&r, data) {
                return reply(data, 400, &format!("Bad Request ({why})"));
            }
            stamp_received(&mut r, source);
            Inbound::Request(Box::new(r))
        }
    }
}

enum StartLine<'a> {
    Request { method: &'a str, version: &'a str },
    Response,
}

fn first_line(data: &[u8]) -> &str {
    let end = data
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(data.len());
    std::str::from_utf8(&data[..end]).unwrap_or("")
}

fn start_line_kind(line: &str) -> Option<StartLine<'_>> {
    if line.starts_with("SIP/") {
        return Some(StartLine::Response);
    }
    // Method SP Request-URI SP SIP-Version; a broken URI in the middle is still a request
    // (and earns a 400), so split at the first and the last space.
    let (method, rest) = line.split_once(' ')?;
    let (uri, version) = rest.rsplit_once(' ')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
    };
    if uri.trim().is_empty() || !token(method) || !version.starts_with("SIP/") {
        return None;
    }
    Some(StartLine::Request { method, version })
}

/// RFC 3261 §8.1.1's mandatory headers, each well-formed enough to act on.
fn check_request(r: &Request, raw: &[u8]) -> Result<(), String> {
    let via = r.via_header().map_err(|_| "missing Via".to_string())?;
    let via = via
        .typed()
        .map_err(|_| "unparseable Via header".to_string())?;
    if via.branch().is_none() {
        return Err("Via has no branch parameter".into());
    }
    for name in ["From", "To", "Call-ID"] {
        match message::header(r, name) {
            Some(v) if !v.trim().is_empty() => {}
            _ => return Err(format!("missing {name}")),
        }
    }
    for name in ["From", "To"] {
        let value = message::header(r, name).unwrap_or_default();
        if !value.contains("sip:") && !value.contains("sips:") && !value.contains("tel:") {
            return Err(format!("{name} has no SIP URI"));
        }
    }
    let cseq = message::header(r, "CSeq").ok_or("missing CSeq")?;
    let (num, method) = cseq.trim().split_once(' ').ok_or("malformed CSeq")?;
    num.trim()
        .parse::<u32>()
        .map_err(|_| format!("CSeq number `{}` is not a 32-bit integer", num.trim()))?;
    if !method.trim().eq_ignore_ascii_case(&r.method.to_string()) {
        return Err("CSeq method does not match the request method".into());
    }
    if let Some(mf) = message::header(r, "Max-Forwards") {
        mf.trim()
            .parse::<u8>()
            .map_err(|_| "Max-Forwards is not a number from 0 to 255".to_string())?;
    }
    if let Some(cl) = message::header(r, "Content-Length") {
        let declared: usize = cl
            .trim()
            .parse()
            .map_err(|_| "Content-Length is not a number".to_string())?;
        let body_len = body_len(raw);
        if declared > body_len {
            return Err("Content-Length is larger than the body".into());
        }
    }
    if r.method == Method::Register && message::header(r, "Contact").is_some() {
        for c in message::headers_named(r, "Contact") {
            if c.trim() != "*" && !c.contains("sip:") && !c.contains("sips:") {
                return Err("Contact has no SIP URI".into());
            }
        }
    }
    Ok(())
}

fn check_response(r: &Response) -> Result<(), ()> {
    let via = r.via_header().map_err(|_| ())?;
    via.typed().map_err(|_| ())?;
    message::header(r, "CSeq").ok_or(())?;
    Ok(())
}

fn body_len(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| raw.len() - (i + 4))
        .unwrap_or(0)
}

/// RFC 3581 §4: record where the request really came from in its top Via.
fn stamp_received(r: &mut Request, source: SocketAddr) {
    let Some(pos) = r.headers.iter().position(|h| matches!(h, Header::Via(_))) else {
        return;
    };
    let value = r.headers.0[pos].value().to_string();
    let mut out = String::with_capacity(value.len() + 40);
    let mut has_received = false;
    for (i, part) in value.split(';').enumerate() {
        let key = part.split('=').next().unwrap_or("").trim();
        if i > 0 {
            if key.eq_ignore_ascii_case("rport") {
                out.push_str(&format!(";rport={}", source.port()));
                continue;
            }
            if key.eq_ignore_ascii_case("received") {
                has_received = true;
                out.push_str(&format!(";received={}", source.ip()));
                continue;
            }
            out.push(';');
        }
        out.push_str(part);
    }
    if !has_received {
        out.push_str(&format!(";received={}", source.ip()));
    }
    r.headers.0[pos] = Header::Via(out.into());
}

/// A stateless reply built from the raw header lines, for requests the parser rejected.
fn reply(data: &[u8], code: u16, reason: &str) -> Inbound {
    match raw_reply(data, code, reason) {
        Some(bytes) => Inbound::Reply {
            code,
            reason: reason.to_string(),
            bytes,
        },
        None => Inbound::Drop(DropReason::Unroutable),
    }
}

fn raw_reply(data: &[u8], code: u16, reason: &str) -> Option<Vec<u8>> {
    let head_end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(data.len());
    let head = String::from_utf8_lossy(&data[..head_end]);
    let reason: String = reason
        .chars()
        .filter(|c| !c.is_control())
        .take(160)
        .collect();
    let mut out = format!("SIP/2.0 {code} {reason}\r\n");
    let mut have_via = false;
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        let value = value.trim();
        let canonical = match name.to_ascii_lowercase().as_str() {
            "via" | "v" => "Via",
            "from" | "f" => "From",
            "to" | "t" => "To",
            "call-id" | "i" => "Call-ID",
            "cseq" => "CSeq",
            _ => continue,
        };
        if value.chars().any(|c| c.is_control()) {
            continue;
        }
        have_via |= canonical == "Via";
        if canonical == "To" && message::tag_of(value).is_none() {
            out.push_str(&format!("To: {value};tag=sb-{code}\r\n"));
        } else {
            out.push_str(&format!("{canonical}: {value}\r\n"));
        }
    }
    if !have_via {
        return None;
    }
    out.push_str("Server: switchboard\r\nContent-Length: 0\r\n\r\n");
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> SocketAddr {
        "192.0.2.7:5099".parse().expect("addr")
    }

    fn options(extra: &str) -> String {
        format!(
            "OPTIONS sip:switchboard.test SIP/2.0\r\n\
             Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa1;rport\r\n\
             From: <sip:alice@switchboard.test>;tag=1\r\n\
             To: <sip:switchboard.test>\r\n\
             Call-ID: abc\r\n\
             {extra}Content-Length: 0\r\n\r\n"
        )
    }

    fn reply_text(i: Inbound) -> (u16, String) {
        match i {
            Inbound::Reply { code, bytes, .. } => {
                (code, String::from_utf8(bytes).expect("utf8 reply"))
            }
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn good_request_gets_received_and_rport() {
        let msg = options("CSeq: 1 OPTIONS\r\n");
        let Inbound::Request(r) = classify(msg.as_bytes(), src()) else {
            panic!("not a request");
        };
        let via = message::header(r.as_ref(), "Via").expect("via");
        assert!(via.contains(";rport=5099"), "{via}");
        assert!(via.contains(";received=192.0.2.7"), "{via}");
    }

    #[test]
    fn missing_cseq_is_400_with_reason() {
        let (code, text) = reply_text(classify(options("").as_bytes(), src()));
        assert_eq!(code, 400);
        assert!(
            text.starts_with("SIP/2.0 400 Bad Request (missing CSeq)\r\n"),
            "{text}"
        );
        assert!(text.contains("Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa1"));
        assert!(text.contains("To: <sip:switchboard.test>;tag=sb-400"));
    }

    #[test]
    fn cseq_method_mismatch_is_400() {
        let (code, text) = reply_text(classify(options("CSeq: 1 INVITE\r\n").as_bytes(), src()));
        assert_eq!(code, 400);
        assert!(text.contains("CSeq method does not match"), "{text}");
    }

    #[test]
    fn unknown_method_is_501() {
        let msg = options("CSeq: 1 FROB\r\n").replace("OPTIONS sip:", "FROB sip:");
        let (code, _) = reply_text(classify(msg.as_bytes(), src()));
        assert_eq!(code, 501);
    }

    #[test]
    fn other_version_is_505() {
        let msg = options("CSeq: 1 OPTIONS\r\n").replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia");
        let (code, _) = reply_text(classify(msg.as_bytes(), src()));
        assert_eq!(code, 505);
    }

    #[test]
    fn garbage_and_keepalives_are_dropped() {
        assert!(matches!(
            classify(b"\r\n\r\n", src()),
            Inbound::Drop(DropReason::KeepAlive)
        ));
        assert!(matches!(
            classify(b"GET / HTTP/1.1\r\n\r\n", src()),
            Inbound::Drop(DropReason::NotSip)
        ));
        assert!(matches!(
            classify(&[0xff, 0x00, 0x13], src()),
            Inbound::Drop(DropReason::NotSip)
        ));
    }

    #[test]
    fn content_length_beyond_body_is_400() {
        let msg = options("CSeq: 1 OPTIONS\r\n").replace("Content-Length: 0", "Content-Length: 50");
        let (code, text) = reply_text(classify(msg.as_bytes(), src()));
        assert_eq!(code, 400);
        assert!(text.contains("Content-Length is larger"), "{text}");
    }

    #[test]
    fn no_via_means_no_reply() {
        let msg = "OPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assert!(matches!(
            classify(msg.as_bytes(), src()),
            Inbound::Drop(DropReason::Unroutable)
        ));
    }
}
