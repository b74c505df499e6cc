//! The sans-IO SIP core: message facade, edge classification, TCP framing, digest
//! authentication and the RFC 3261 §17 transactions. Nothing here owns a socket or a clock.

pub mod dialog;
pub mod digest;
pub mod edge;
pub mod framing;
pub mod message;
pub mod transaction;
