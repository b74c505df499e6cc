//! Flow tests: parsing into the typed model, every validation error with its exact
//! `file:line:col: message`, the interpreter in virtual time (the shipped flows and small
//! inline ones), and diagrams. Inline flows are written with [`flow_text`], so their blocks
//! start on line 5.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod parse;
mod render;
mod run;
mod validate;

use std::path::{Path, PathBuf};

use super::*;

/// Prompts the inline tests may use: `greeting` and `goodbye` (tests run in `server/`).
const PROMPTS: &str = "tests/fixtures/flows/prompts";

/// Names the inline flows may refer to.
fn refs() -> FlowRefs {
    let set = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect();
    FlowRefs {
        queues: set(&["Sales", "Support"]),
        hours: set(&["Always", "Business hours"]),
        users: set(&["ann", "bob"]),
        flows: [
            ("main-menu", Some(FlowKind::Inbound)),
            ("waiting", Some(FlowKind::CustomerQueue)),
            ("hold-music", Some(FlowKind::CustomerHold)),
            ("whisper", Some(FlowKind::AgentWhisper)),
            ("broken", None),
        ]
        .into_iter()
        .map(|(n, k)| (n.to_owned(), k))
        .collect(),
        flows_dir: PathBuf::from("flows"),
        prompts_dir: PathBuf::from(PROMPTS),
    }
}

/// A flow file named `t` of type `kind` starting at `start`; `blocks` (indented by two
/// spaces) begins on line 5.
fn flow_text(kind: &str, start: &str, blocks: &str) -> String {
    format!("name: t\ntype: {kind}\nstart: {start}\nblocks:\n{blocks}")
}

fn load(text: &str) -> Result<Flow, ConfigErrors> {
    load_str(Path::new("flows/t.yaml"), text, &refs())
}

fn load_ok(text: &str) -> Flow {
    load(text).unwrap_or_else(|e| panic!("{e}"))
}

/// The error lines of a flow that must not load.
fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("expected errors, but the flow loaded"),
        Err(errs) => errs.0.iter().map(ToString::to_string).collect(),
    }
}
