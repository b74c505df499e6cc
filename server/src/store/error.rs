//! Store errors, sorted by who has to act: the database could not be reached or opened (an
//! operator problem: wrong URL, server down, disk permissions), or a statement failed on an
//! open database (constraint violation, lost connection mid-query, full disk).
//!
//! Invariant: no message carries a password. Database URLs may hold one
//! (`postgres://user:secret@host/db`, `?password=secret`), so every URL that reaches an error
//! goes through [`redact_url`] first.

use std::path::PathBuf;

/// Errors from [`Store`](super::Store).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names neither `sqlite:` nor `postgres:`/`postgresql:`, or does not parse.
    #[error("invalid database URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL with any password removed.
        url: String,
        reason: String,
    },
    /// The parent directory of a SQLite file could not be created.
    #[error("cannot create directory {} for the database", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Connecting to (or opening) the database failed.
    #[error("cannot open database `{url}`")]
    Open {
        /// The URL with any password removed.
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// The schema migrations failed to apply (or the database has migrations we do not know).
    #[error("cannot migrate database `{url}`")]
    Migrate {
        /// The URL with any password removed.
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A statement failed on an open database. `op` names the store operation.
    #[error("store operation `{op}` failed")]
    Query {
        op: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

impl StoreError {
    /// True when the database could not be reached or opened at all (as opposed to a statement
    /// failing on a working connection).
    pub fn is_open_failure(&self) -> bool {
        !matches!(self, StoreError::Query { .. })
    }

    /// Wraps a failed statement; `op` is the public method that ran it.
    pub(crate) fn query(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Query { op, source }
    }
}

/// Returns `url` with the password in its user-info and any `password`-like query parameter
/// replaced by `***`. Everything else is kept so the operator can still tell which database it
/// was. Errs on the side of hiding too much when the URL is malformed (raw `@`, `/` or `?` in a
/// password).
pub fn redact_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    match url.split_once("://") {
        // SQLite URLs carry a path, never credentials; an `@` there is part of a file name.
        Some((scheme, rest)) if !scheme.eq_ignore_ascii_case("sqlite") => {
            out.push_str(scheme);
            out.push_str("://");
            // The last `@` ends the user-info even if the password holds a raw `@`, `/` or `?`.
            match rest.rsplit_once('@') {
                Some((userinfo, host_and_rest)) if userinfo.contains(':') => {
                    let user = userinfo.split(':').next().unwrap_or_default();
                    out.push_str(user);
                    out.push_str(":***@");
                    out.push_str(host_and_rest);
                }
                _ => out.push_str(rest),
            }
        }
        _ => out.push_str(url),
    }
    match out.split_once('?') {
        Some((base, query)) => {
            let mut redacted = String::with_capacity(out.len());
            redacted.push_str(base);
            redacted.push('?');
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    redacted.push('&');
                }
                match pair.split_once('=') {
                    Some((key, _value)) if key.to_ascii_lowercase().contains("password") => {
                        redacted.push_str(key);
                        redacted.push_str("=***");
                    }
                    _ => redacted.push_str(pair),
                }
            }
            redacted
        }
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn password_in_userinfo_is_redacted() {
        assert_eq!(
            redact_url("postgres://sb:s3cr%40t@db.example:5432/switchboard"),
            "postgres://sb:***@db.example:5432/switchboard"
        );
    }

    #[test]
    fn password_query_parameter_is_redacted() {
        assert_eq!(
            redact_url("postgres://sb@db/x?sslmode=require&password=hunter2&sslpassword=x"),
            "postgres://sb@db/x?sslmode=require&password=***&sslpassword=***"
        );
    }

    #[test]
    fn urls_without_secrets_are_unchanged() {
        for url in [
            "sqlite://var/lib/switchboard/sb.db",
            "sqlite:///abs/path.db?mode=rwc",
            "sqlite::memory:",
            "postgres://127.0.0.1:5432/test?options=-c%20search_path%3Dx",
            "postgres://user@host/db",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn raw_special_characters_in_password_do_not_leak() {
        assert_eq!(
            redact_url("postgres://u:p@ss@host/db"),
            "postgres://u:***@host/db"
        );
        assert_eq!(
            redact_url("postgres://u:pa/ss@host/db"),
            "postgres://u:***@host/db"
        );
        assert_eq!(
            redact_url("postgres://u:pa?ss@host/db"),
            "postgres://u:***@host/db"
        );
        assert_eq!(
            redact_url("postgres://host/db?password=a@b"),
            "postgres://host/db?password=***"
        );
    }
}
