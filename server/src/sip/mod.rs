//! The sans-IO SIP core: message facade, transactions (RFC 3261 §17), edge routing.

pub mod message;
pub mod transaction;
