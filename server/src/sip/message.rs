//! Our thin facade over rsipstack's `sip` module: the only place that names the crate.
//!
//! Everything else in the server imports SIP message types from here, so a change of
//! parser touches one file.

pub use rsipstack::sip::prelude::*;
pub use rsipstack::sip::{
    Header, Headers, Method, Request, Response, SipMessage, StatusCode, Uri, Version, headers,
    param, typed,
};
