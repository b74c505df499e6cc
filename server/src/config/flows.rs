//! Flow files: `<flows dir>/<name>.yaml`, one contact flow each. For now only the header is
//! read (name, type, description); `blocks` is accepted as any YAML value until the flow
//! language arrives and validates it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ConfigError;
use super::raw::RawFlowFile;

/// What a flow is for; decides where it may be referenced from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// Runs when a call arrives on a phone number.
    Inbound,
    /// Plays to a customer waiting in a queue.
    CustomerQueue,
    /// Plays to a customer on hold.
    CustomerHold,
    /// Plays to the customer just before the agent is connected.
    CustomerWhisper,
    /// Plays to an agent whose customer is on hold.
    AgentHold,
    /// Plays to the agent just before the customer is connected.
    AgentWhisper,
    /// Plays to the called party of an outbound call before the agent is connected.
    OutboundWhisper,
    /// Runs when an agent quick connect is used.
    TransferToAgent,
    /// Runs when a queue quick connect is used.
    TransferToQueue,
}

impl FlowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::Inbound => "inbound",
            FlowKind::CustomerQueue => "customer_queue",
            FlowKind::CustomerHold => "customer_hold",
            FlowKind::CustomerWhisper => "customer_whisper",
            FlowKind::AgentHold => "agent_hold",
            FlowKind::AgentWhisper => "agent_whisper",
            FlowKind::OutboundWhisper => "outbound_whisper",
            FlowKind::TransferToAgent => "transfer_to_agent",
            FlowKind::TransferToQueue => "transfer_to_queue",
        }
    }
}

impl FlowKind {
    /// "an inbound flow", "a customer_queue flow": for messages.
    pub(crate) fn with_article(self) -> String {
        let name = self.as_str();
        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {name} flow")
    }
}

impl fmt::Display for FlowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A flow file whose header has been read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowFile {
    /// Equals the file stem.
    pub name: String,
    pub kind: FlowKind,
    pub description: Option<String>,
    /// The flow directory joined with `<name>.yaml`.
    pub path: PathBuf,
}

/// Reads every `*.yaml` file in `dir`. Broken files are reported and left out of the map, so
/// references to them are not reported a second time as missing (see [`FlowSet::broken`]).
pub(crate) fn load_dir(dir: &Path, errors: &mut Vec<ConfigError>) -> Result<FlowSet, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read flows directory `{}`: {e}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| format!("cannot read flows directory `{}`: {e}", dir.display()))?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if file_name.ends_with(".yaml") && !file_name.starts_with('.') {
            paths.push(dir.join(file_name));
        }
    }
    paths.sort();

    let mut set = FlowSet::default();
    for path in paths {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        match load_file(&path, &stem) {
            Ok(flow) => {
                set.flows.insert(stem, flow);
            }
            Err(err) => {
                errors.push(err);
                set.broken.push(stem);
            }
        }
    }
    Ok(set)
}

fn load_file(path: &Path, stem: &str) -> Result<FlowFile, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::whole_file(path, format!("cannot read: {e}")))?;
    let raw: RawFlowFile =
        serde_saphyr::from_str(&text).map_err(|e| ConfigError::from_yaml(path, &e))?;
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
    Ok(FlowFile {
        name: raw.name.value,
        kind: raw.kind.value,
        description: raw.description,
        path: path.to_path_buf(),
    })
}

/// The flows of one directory: those that loaded, and the names of those that did not.
#[derive(Debug, Default)]
pub(crate) struct FlowSet {
    pub flows: BTreeMap<String, FlowFile>,
    pub broken: Vec<String>,
}
