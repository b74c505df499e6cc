//! Configuration: `config/switchboard.yaml` plus the flow files it refers to, parsed with
//! serde-saphyr into the validated, typed [`Config`].
//!
//! Every problem is reported as `file:line:col: message` (the path as given, 1-based line and
//! column of the offending value). YAML syntax and shape errors (bad indentation, wrong types,
//! unknown keys) stop parsing at the first one; all semantic problems (dangling references,
//! duplicate names, bad values) are collected, so an admin sees them all at once.
//!
//! Invariants of a returned [`Config`]: every reference resolves (to an entity, or to a flow
//! file of the right type); phone numbers are E.164; durations, addresses and networks are
//! parsed. A config that fails validation is never returned, so it cannot replace a working one.
//!
//! The shipped `config/switchboard.yaml` documents every key in its comments. Two rules worth
//! knowing here: relative `storage`/`media` paths are relative to the server's working
//! directory, while `flows.directory` (default `../flows`) is relative to the config file's
//! directory; a desk phone is called through the user's `trunk`, which may be left out while
//! exactly one trunk is configured.
//!
//! Files: `raw.rs` is the YAML shape, `validate.rs` and `center.rs` turn it into `model.rs`,
//! `values.rs` parses the small string values, `flows.rs` loads the flow directory through
//! [`crate::flow`] (prompts resolve to `../media/prompts` next to the config file).

mod center;
mod error;
mod flows;
mod model;
mod raw;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use error::{ConfigError, ConfigErrors};
pub use flows::{DEFAULT_PROMPTS_DIR, FlowFile, FlowKind};
pub use model::*;
pub use values::{OpenRange, PortRange, format_duration, normalize_e164, parse_duration};

use raw::RawConfig;

/// Where flows live when `flows.directory` is not set, relative to the config file's directory.
pub const DEFAULT_FLOWS_DIR: &str = "../flows";

/// Reads, parses and validates the configuration at `path` and every flow file in its flow
/// directory.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError::whole_file(
            path,
            format!("cannot read: {e}"),
        )])
    })?;
    load_str(path, &text)
}

/// Parses and validates `text` as if it were the file `path_for_messages`: errors name that
/// path, and the flow directory is resolved relative to its parent directory (flow files are
/// read from disk).
pub fn load_str(path_for_messages: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let file = path_for_messages;
    let raw: RawConfig = serde_saphyr::from_str(text)
        .map_err(|e| ConfigErrors(vec![ConfigError::from_yaml(file, &e)]))?;

    let mut errors = Vec::new();
    let flows_setting = raw.flows.as_ref().and_then(|f| f.directory.as_ref());
    let flows_dir = resolve_flows_dir(file, flows_setting.map(|d| d.value.as_str()));
    let flow_set = match flows::load_dir(&flows_dir, &raw, file, &mut errors) {
        Ok(set) => Some(set),
        Err(msg) => {
            errors.push(match flows_setting {
                Some(d) => ConfigError::at(file, d.referenced, msg),
                None => ConfigError::whole_file(
                    file,
                    format!("{msg} (the default is {DEFAULT_FLOWS_DIR} next to this file; set flows.directory to change it)"),
                ),
            });
            None
        }
    };

    match validate::validate(raw, file, flows_dir, flow_set.as_ref()) {
        Ok(config) if errors.is_empty() => Ok(config),
        Ok(_) => Err(ConfigErrors::sorted(errors, file)),
        Err(more) => {
            errors.extend(more);
            Err(ConfigErrors::sorted(errors, file))
        }
    }
}

/// `flows.directory` (or [`DEFAULT_FLOWS_DIR`]) relative to the config file's directory; an
/// absolute setting is kept as is.
fn resolve_flows_dir(config_file: &Path, setting: Option<&str>) -> PathBuf {
    let base = config_file.parent().unwrap_or(Path::new(""));
    base.join(setting.unwrap_or(DEFAULT_FLOWS_DIR))
}
