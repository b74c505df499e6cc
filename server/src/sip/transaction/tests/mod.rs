//! Virtual-time tests of the transaction layer, one behaviour per file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

mod non_invite_server;
