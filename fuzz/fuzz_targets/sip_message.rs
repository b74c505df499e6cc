//! Fuzz target `sip_message`: arbitrary bytes through the two functions that see untrusted
//! network input before anything else does.
//!
//! - `sip::framing::next_frame` (the TCP stream framer): must never panic, and whatever length
//!   it reports must lie within the buffer, because the connection task `split_to`s it.
//! - `sip::edge::classify` (one datagram, or one framed TCP message): must never panic on any
//!   input; its module docs promise exactly that.
//!
//! The input is fed both whole (as a UDP datagram) and, when the framer finds a complete
//! message at its front, as that framed message (the TCP path). The source address alternates
//! between IPv4 and IPv6 so the `received`/`rport` stamping sees both.
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use libfuzzer_sys::fuzz_target;
use switchboard::sip::edge::classify;
use switchboard::sip::framing::{Frame, next_frame};

fuzz_target!(|data: &[u8]| {
    let source = if data.len() % 2 == 0 {
        SocketAddr::from((Ipv4Addr::new(192, 0, 2, 10), 5060))
    } else {
        SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 5062))
    };

    // UDP path: the whole input is one datagram.
    let _ = classify(data, source);

    // TCP path: frame, then classify what was framed.
    match next_frame(data) {
        Ok(Frame::Message(len)) => {
            assert!(len > 0 && len <= data.len(), "Message({len}) outside a {}-byte buffer", data.len());
            let _ = classify(&data[..len], source);
        }
        Ok(Frame::KeepAlive { len, .. }) => {
            assert!(len > 0 && len <= data.len(), "KeepAlive({len}) outside a {}-byte buffer", data.len());
        }
        Ok(Frame::Incomplete) | Err(_) => {}
    }
});
