//! Virtual-time tests of the transaction layer, one behaviour per file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

mod cancel;
mod invite_client;
mod invite_server;
mod keys;
mod non_invite_client;
mod non_invite_server;
mod shards;
mod tcp;
