//! Typed, validated configuration (filled in by the config work).
