//! Flow files: `<flows dir>/<name>.yaml`, one contact flow each, parsed and validated by
//! [`crate::flow`] against the names this configuration defines (queues, hours, users, other
//! flows) and the prompts in `../media/prompts` next to the config file. A flow with any
//! problem is reported in its own file and kept out of [`super::Config::flows`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::ConfigError;
use super::raw::RawConfig;
use crate::flow::{self, Flow, FlowRefs};

pub use crate::flow::FlowKind;

/// A validated flow as the configuration holds it: shared, so a contact keeps the version it
/// started with when a newer one replaces it.
pub type FlowFile = Arc<Flow>;

/// Where prompts live, relative to the config file's directory: `<prompt>.wav` files.
pub const DEFAULT_PROMPTS_DIR: &str = "../media/prompts";

/// [`DEFAULT_PROMPTS_DIR`] next to `config_file`.
pub(crate) fn prompts_dir(config_file: &Path) -> PathBuf {
    config_file
        .parent()
        .unwrap_or(Path::new(""))
        .join(DEFAULT_PROMPTS_DIR)
}

/// Reads and validates every `*.yaml` file in `dir` against the names `raw` defines. Broken
/// files are reported and left out of the map, so references to them are not reported a
/// second time as missing (see [`FlowSet::broken`]).
///
/// Two passes: every header first (so a flow may refer to any other by its type), then the
/// blocks of each.
pub(crate) fn load_dir(
    dir: &Path,
    raw: &RawConfig,
    config_file: &Path,
    errors: &mut Vec<ConfigError>,
) -> Result<FlowSet, String> {
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

    let mut refs = FlowRefs {
        queues: names(raw.queues.iter().map(|q| &q.name.value)),
        hours: names(raw.hours_of_operation.iter().map(|h| &h.name.value)),
        users: names(raw.users.iter().map(|u| &u.username.value)),
        flows: BTreeMap::new(),
        flows_dir: dir.to_path_buf(),
        prompts_dir: prompts_dir(config_file),
    };
    let mut set = FlowSet::default();
    let mut parsed = Vec::new();
    for path in paths {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let header = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::whole_file(&path, format!("cannot read: {e}")))
            .and_then(|text| flow::parse(&path, &text));
        match header {
            Ok(file) => {
                refs.flows.insert(stem.clone(), Some(file.kind.value));
                parsed.push((stem, path, file));
            }
            Err(err) => {
                errors.push(err);
                refs.flows.insert(stem.clone(), None);
                set.broken.push(stem);
            }
        }
    }
    for (stem, path, file) in parsed {
        match flow::validate(&file, &path, &refs) {
            Ok(flow) => {
                set.flows.insert(stem, Arc::new(flow));
            }
            Err(more) => {
                errors.extend(more);
                set.broken.push(stem);
            }
        }
    }
    Ok(set)
}

fn names<'a>(items: impl Iterator<Item = &'a String>) -> BTreeSet<String> {
    items.cloned().collect()
}

/// The flows of one directory: those that loaded, and the names of those that did not.
#[derive(Debug, Default)]
pub(crate) struct FlowSet {
    pub flows: BTreeMap<String, Arc<Flow>>,
    pub broken: Vec<String>,
}
