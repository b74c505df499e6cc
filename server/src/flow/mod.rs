//! Contact flows: the YAML language admins write in `flows/*.yaml` (documented in
//! `docs/flows.md`), its validation, and the interpreter that runs one flow per contact.
//!
//! - `raw.rs`: the YAML shape with spans; `validate.rs` (whole flow: ids, transitions,
//!   reachability) and `blocks.rs` (each block: type, settings, branches, references) turn it
//!   into the typed [`Flow`] of `model.rs` (`values.rs` checks the small values), reporting every problem as `file:line:col: message`.
//! - [`run`]: [`FlowRun`], one sans-IO state machine per contact. It takes `now` and inputs,
//!   queries the world through the [`FlowEnv`] trait, and hands out [`FlowAction`]s for the
//!   call layer to carry out. No tokio, no clock.
//! - [`render`]: Mermaid and Graphviz DOT diagrams of a flow.
//!
//! Invariant: a [`Flow`] only exists validated. `config::load` validates every flow file of
//! the flow directory and keeps them as `Arc<Flow>`, so a running contact keeps the version
//! it started with when a newer one is published.

mod blocks;
mod model;
mod raw;
pub mod render;
pub mod run;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use model::*;
pub use run::{
    DisconnectReason, FlowAction, FlowEnv, FlowInput, FlowRun, MAX_STEPS_PER_INPUT, QueueEvent,
    QueueStatus, Staffing, TransferResult,
};
pub use validate::FlowRefs;

use crate::config::{ConfigError, ConfigErrors};
pub(crate) use raw::RawFlowFile;

/// Parses and validates `text` as the flow file `path` (whose stem must equal the flow's
/// name), against the names in `refs`.
pub fn load_str(path: &Path, text: &str, refs: &FlowRefs) -> Result<Flow, ConfigErrors> {
    let raw = parse(path, text).map_err(|e| ConfigErrors(vec![e]))?;
    validate(&raw, path, refs).map_err(|errors| ConfigErrors::sorted(errors, path))
}

/// Reads the YAML of a flow file and checks its name against the file name; stops at the
/// first problem (YAML syntax and shape errors cannot be collected).
pub(crate) fn parse(path: &Path, text: &str) -> Result<RawFlowFile, ConfigError> {
    let raw: RawFlowFile =
        serde_saphyr::from_str(text).map_err(|e| ConfigError::from_yaml(path, &e))?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if raw.name.value != stem {
        return Err(ConfigError::at(
            path,
            raw.name.referenced,
            format!(
                "flow name `{}` must match its file name `{stem}.yaml`",
                raw.name.value
            ),
        ));
    }
    Ok(raw)
}

/// Validates a parsed flow file: every problem, or the typed flow.
pub(crate) fn validate(
    raw: &RawFlowFile,
    path: &Path,
    refs: &FlowRefs,
) -> Result<Flow, Vec<ConfigError>> {
    validate::validate(raw, path, refs)
}
