//! RFC 3261 §17 transactions (filled in by the transaction work).
