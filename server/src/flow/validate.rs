//! Raw flow file -> typed [`Flow`]: the checks that apply to a flow as a whole. Block ids are
//! plain names; every transition names a block of this flow; `start` exists; every block is
//! reachable from `start`. Per-block checks (types, settings, branches, references) live in
//! `blocks.rs`. All problems are collected, each at the offending YAML node; a flow with any
//! problem is not returned.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use serde_saphyr::Location;

use super::blocks;
use super::model::{Block, BlockRef, Flow, FlowKind};
use super::raw::{RawBlock, RawFlowFile, S};
use crate::config::ConfigError;

/// What a flow may refer to, from the configuration it is loaded with.
#[derive(Debug, Clone, Default)]
pub struct FlowRefs {
    pub queues: BTreeSet<String>,
    pub hours: BTreeSet<String>,
    /// Usernames.
    pub users: BTreeSet<String>,
    /// Every flow file of the directory by name; `None` when its header is broken (it is
    /// reported in its own file, so references to it are not reported again).
    pub flows: BTreeMap<String, Option<FlowKind>>,
    /// The flow directory, for "there is no file" messages.
    pub flows_dir: PathBuf,
    /// Where `<prompt>.wav` files live.
    pub prompts_dir: PathBuf,
}

/// Collects problems for one flow file while validation goes on.
pub(crate) struct Cx<'a> {
    pub file: &'a Path,
    pub refs: &'a FlowRefs,
    pub kind: FlowKind,
    ids: BTreeMap<&'a str, usize>,
    pub errors: Vec<ConfigError>,
    /// A transition named a missing block: reachability is not checked then, since the
    /// block the admin meant would be reported as unreachable too.
    dangling: bool,
}

impl Cx<'_> {
    pub fn err(&mut self, at: Location, message: impl Into<String>) {
        self.errors.push(ConfigError::at(self.file, at, message));
    }

    /// Resolves a block id written as a transition target.
    pub fn target(&mut self, id: &S<String>) -> Option<BlockRef> {
        if let Some(&i) = self.ids.get(id.value.as_str()) {
            return Some(BlockRef(i));
        }
        self.dangling = true;
        let list = if self.ids.is_empty() {
            "no blocks are defined".to_owned()
        } else {
            let names: Vec<&str> = self.ids.keys().copied().collect();
            format!("known blocks: {}", names.join(", "))
        };
        self.err(
            id.referenced,
            format!("unknown block `{}`; {list}", id.value),
        );
        None
    }

    /// Records a reference to a missing `what` ("queue"), listing the known ones.
    pub fn check_name(
        &mut self,
        what: &str,
        plural: &str,
        v: &S<String>,
        known: &BTreeSet<String>,
    ) -> bool {
        if known.contains(&v.value) {
            return true;
        }
        let list = if known.is_empty() {
            format!("no {plural} are defined")
        } else {
            let names: Vec<&str> = known.iter().map(String::as_str).collect();
            format!("known {plural}: {}", names.join(", "))
        };
        self.err(
            v.referenced,
            format!("unknown {what} `{}`; {list}", v.value),
        );
        false
    }
}

/// Validates a parsed flow file (its name already checked against the file name).
pub(crate) fn validate(
    raw: &RawFlowFile,
    path: &Path,
    refs: &FlowRefs,
) -> Result<Flow, Vec<ConfigError>> {
    let kind = raw.kind.value;
    let entries = &raw.blocks.value.0;
    let mut cx = Cx {
        file: path,
        refs,
        kind,
        ids: entries
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (id.value.as_str(), i))
            .collect(),
        errors: Vec::new(),
        dangling: false,
    };

    for (id, _) in entries {
        check_id(&mut cx, id);
    }
    let mut blocks = Vec::new();
    for (id, block) in entries {
        if let Some(kind) = blocks::block(&mut cx, id, block) {
            blocks.push(Block {
                id: id.value.clone(),
                kind,
            });
        }
    }
    let start = cx.target(&raw.start);
    if let Some(start) = start
        && !cx.dangling
    {
        check_reachable(&mut cx, entries, start, &raw.start.value);
    }

    match start {
        Some(start) if cx.errors.is_empty() && blocks.len() == entries.len() => Ok(Flow {
            name: raw.name.value.clone(),
            kind,
            description: raw.description.clone(),
            path: path.to_path_buf(),
            start,
            blocks,
        }),
        _ => Err(cx.errors),
    }
}

/// Block ids appear in messages, diagrams and logs: letters, digits, `-` and `_` only.
fn check_id(cx: &mut Cx<'_>, id: &S<String>) {
    let ok = !id.value.is_empty()
        && id
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if !ok {
        cx.err(
            id.referenced,
            format!(
                "invalid block id `{}`: use letters, digits, `-` and `_`",
                id.value
            ),
        );
    }
}

/// Every target a raw block names (resolvable or not), whatever its type: reachability is
/// judged on what the admin wrote.
fn raw_targets(block: &RawBlock) -> Vec<&S<String>> {
    const NAMED: [&str; 11] = [
        "next",
        "on_error",
        "on_timeout",
        "on_no_match",
        "on_at_capacity",
        "on_open",
        "on_closed",
        "on_true",
        "on_false",
        "on_looping",
        "on_complete",
    ];
    let mut out: Vec<&S<String>> = NAMED.iter().filter_map(|k| block.branch(k)).collect();
    if let Some(list) = &block.branches {
        out.extend(list.value.iter().map(|b| &b.value.next));
    }
    out
}

fn check_reachable(
    cx: &mut Cx<'_>,
    entries: &[(S<String>, RawBlock)],
    start: BlockRef,
    start_id: &str,
) {
    let mut seen = vec![false; entries.len()];
    let mut todo = VecDeque::from([start.0]);
    while let Some(i) = todo.pop_front() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        for target in raw_targets(&entries[i].1) {
            if let Some(&j) = cx.ids.get(target.value.as_str()) {
                todo.push_back(j);
            }
        }
    }
    for ((id, _), reached) in entries.iter().zip(seen) {
        if !reached {
            cx.err(
                id.referenced,
                format!(
                    "block `{}` cannot be reached from the start block `{start_id}`",
                    id.value
                ),
            );
        }
    }
}
