//! Our thin facade over rsipstack's `sip` module: the only place that names the crate.
//!
//! Everything else in the server imports SIP message types and helpers from here, so a change
//! of parser touches one file. The helpers cover what the registrar and the edge need: header
//! look-up by name (compact forms are folded by the parser), building a response that copies
//! the request's dialog headers (RFC 3261 §8.2.6.2), and serialising with a custom reason
//! phrase, which rsipstack's own `to_bytes` does not keep.

use std::fmt::Write as _;

pub use rsipstack::sip::prelude::*;
pub use rsipstack::sip::{
    Header, Headers, Method, Request, Response, SipMessage, StatusCode, Uri, Version, headers,
    param, typed,
};

/// A message that could not be parsed; the text says why (it is shown to the peer in a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// Parses one complete SIP message.
pub fn parse(data: &[u8]) -> Result<SipMessage, ParseError> {
    rsipstack::sip::parser::parse_message(data).map_err(|e| ParseError(clean_error(&e)))
}

fn clean_error(e: &rsipstack::sip::Error) -> String {
    let text = e.to_string();
    // rsipstack prefixes its messages with the error kind; keep the human part short.
    let text = text.trim();
    if text.len() > 120 {
        let mut cut = 120;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text[..cut].to_string()
    } else {
        text.to_string()
    }
}

/// The value of the first header called `name` (case-insensitive, canonical long name).
pub fn header<'a>(msg: &'a impl HasHeaders, name: &str) -> Option<&'a str> {
    msg.headers()
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.value())
}

/// The values of every header called `name`, in order.
pub fn headers_named<'a>(
    msg: &'a impl HasHeaders,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    msg.headers()
        .iter()
        .filter(move |h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.value())
}

/// The `tag` parameter of a From or To header value.
pub fn tag_of(value: &str) -> Option<&str> {
    // Parameters follow the closing '>' when the URI is bracketed, else the URI itself.
    let params = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    params.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("tag").then(|| v.trim())
    })
}

/// A response to `req` with the headers RFC 3261 §8.2.6.2 says to copy: every Via, From, To
/// (with `to_tag` added when the request's To has none), Call-ID and CSeq.
pub fn response(req: &Request, code: u16, to_tag: Option<&str>) -> Response {
    let mut headers = Headers::default();
    for h in req.headers().iter() {
        let name = h.name();
        let copied = ["Via", "From", "Call-ID", "CSeq"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n));
        if copied {
            headers.push(h.clone());
        } else if name.eq_ignore_ascii_case("To") {
            match to_tag {
                Some(tag) if tag_of(h.value()).is_none() => {
                    headers.push(Header::To(format!("{};tag={tag}", h.value()).into()));
                }
                _ => headers.push(h.clone()),
            }
        }
    }
    Response {
        status_code: StatusCode::from(code),
        wire_reason: None,
        version: Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// Adds a header by name and value (an unknown name becomes an extension header).
pub fn push_header(msg: &mut impl HasHeaders, name: &str, value: impl Into<String>) {
    msg.headers_mut()
        .push(rsipstack::sip::headers::make_header(name, value.into()));
}

/// Serialises a response with `reason` as its reason phrase (rsipstack always writes the
/// standard phrase) and a correct Content-Length. Written straight into one buffer: this is
/// on the path of every response we send.
pub fn response_bytes(resp: &Response, reason: Option<&str>) -> Vec<u8> {
    let code = resp.status_code.code();
    let reason = reason.unwrap_or_else(|| resp.status_code.text());
    let mut out: Vec<u8> = Vec::with_capacity(512 + resp.body.len());
    out.extend_from_slice(b"SIP/2.0 ");
    let mut digits = [0u8; 3];
    digits[0] = b'0' + (code / 100 % 10) as u8;
    digits[1] = b'0' + (code / 10 % 10) as u8;
    digits[2] = b'0' + (code % 10) as u8;
    out.extend_from_slice(&digits);
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in resp.headers.iter() {
        let name = h.name();
        if name.eq_ignore_ascii_case("Content-Length") {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let _ = write!(
        Utf8Vec(&mut out),
        "Content-Length: {}\r\n\r\n",
        resp.body.len()
    );
    out.extend_from_slice(&resp.body);
    out
}

/// `fmt::Write` into a byte vector (only ever fed UTF-8 text).
struct Utf8Vec<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Utf8Vec<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTER: &str = "REGISTER sip:switchboard.test SIP/2.0\r\n\
        v: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK776;rport\r\n\
        Max-Forwards: 70\r\n\
        f: <sip:alice@switchboard.test>;tag=a1\r\n\
        t: <sip:alice@switchboard.test>\r\n\
        i: c1@10.0.0.1\r\n\
        CSeq: 1 REGISTER\r\n\
        m: <sip:alice@10.0.0.1:5062>\r\n\
        l: 0\r\n\r\n";

    fn request(text: &str) -> Request {
        match parse(text.as_bytes()).expect("parses") {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => panic!("not a request"),
        }
    }

    #[test]
    fn compact_headers_are_found_by_long_name() {
        let req = request(REGISTER);
        assert_eq!(header(&req, "Call-ID"), Some("c1@10.0.0.1"));
        assert_eq!(header(&req, "contact"), Some("<sip:alice@10.0.0.1:5062>"));
        assert_eq!(tag_of(header(&req, "From").expect("from")), Some("a1"));
    }

    #[test]
    fn response_copies_dialog_headers_and_adds_to_tag() {
        let req = request(REGISTER);
        let resp = response(&req, 200, Some("xyz"));
        let text = String::from_utf8(response_bytes(&resp, Some("OK, fine"))).expect("utf8");
        assert!(text.starts_with("SIP/2.0 200 OK, fine\r\n"), "{text}");
        assert!(text.contains("branch=z9hG4bK776"), "{text}");
        assert!(
            text.contains("To: <sip:alice@switchboard.test>;tag=xyz\r\n"),
            "{text}"
        );
        assert!(text.contains("CSeq: 1 REGISTER\r\n"), "{text}");
        assert!(!text.contains("Contact"), "{text}");
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"), "{text}");
    }
}
