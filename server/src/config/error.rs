//! Configuration errors: every problem an admin must fix, each pointing at `file:line:col`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::{Location, MessageFormatter as _};

/// One problem in a configuration or flow file.
///
/// `line` and `column` are 1-based and point at the offending YAML value (or key, for unknown
/// keys). A problem with the file as a whole (it cannot be read) has `line == 0` and displays as
/// `file: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ConfigError {
    /// A problem at a YAML location; an unknown location (a defaulted value) becomes 1:1, the
    /// place serde-saphyr itself blames for missing keys.
    pub(crate) fn at(file: &Path, location: Location, message: impl Into<String>) -> Self {
        let (line, column) = if location == Location::UNKNOWN {
            (1, 1)
        } else {
            (location.line() as usize, location.column() as usize)
        };
        ConfigError {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A problem with the file as a whole, such as an I/O error.
    pub(crate) fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }

    /// A YAML syntax or shape error from serde-saphyr: its location and its plain message
    /// (no snippet, no "at line X" suffix, since we print the location ourselves).
    pub(crate) fn from_yaml(file: &Path, err: &serde_saphyr::Error) -> Self {
        let inner = err.without_snippet();
        let message = serde_saphyr::UserMessageFormatter.format_message(inner);
        let message = plainer(&message).map_or_else(|| message.into_owned(), str::to_owned);
        match err.location() {
            Some(location) => ConfigError::at(file, location, message),
            None => ConfigError::whole_file(file, message),
        }
    }
}

/// Rewords the terse type errors an admin meets most, in terms of what to write instead.
fn plainer(message: &str) -> Option<&'static str> {
    Some(match message {
        "invalid u32" => "expected a whole number (0 or more)",
        "invalid boolean" => "expected true or false",
        "expected sequence start" => "expected a list, e.g. [a, b]",
        "expected mapping start" => "expected a mapping of keys and values",
        _ => return None,
    })
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}

/// All problems found in one load, in file then line order. Never empty when returned as an
/// error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// Orders problems for reading: the configuration file first, then flow files by path;
    /// within a file by position.
    pub(crate) fn sorted(mut errors: Vec<ConfigError>, config_file: &Path) -> Self {
        errors.sort_by(|a, b| {
            (a.file != config_file, &a.file, a.line, a.column).cmp(&(
                b.file != config_file,
                &b.file,
                b.line,
                b.column,
            ))
        });
        errors.dedup();
        ConfigErrors(errors)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, err) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
