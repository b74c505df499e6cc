//! Switchboard: a contact-center server.
//!
//! Protocol machines (SIP transactions, registrar, calls, flows, agent states) are
//! sans-IO: plain data plus methods that take `now` and an input and return outputs.
//! [`io`] is the tokio shell that owns sockets and the clock. See docs/ARCHITECTURE.md.

pub mod agents;
pub mod api;
pub mod calls;
pub mod cc_metrics;
pub mod config;
pub mod control;
pub mod endpoint;
pub mod flow;
pub mod io;
pub mod metrics;
pub mod numbers;
pub mod registrar;
pub mod report;
pub mod routing;
pub mod sip;
pub mod store;
