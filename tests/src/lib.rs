//! Harness for running the real binary in integration tests.
