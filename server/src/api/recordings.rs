//! A contact's recording over HTTP, for users with ListenCallRecordings: the stereo WAV the
//! media engine wrote (customer left, agent side right), to play on the page or download.
//!
//! Only files inside the configured `storage.recordings_dir` are served: the recorded path and
//! the directory are both resolved (`..`, symbolic links) before the check, so a record
//! pointing elsewhere (an edited database, a link planted in the directory) gets 404 and a
//! warning in the log, never the file. A recording still being written is served as far as
//! it goes: the writer keeps the WAV header valid every second.
//!
//! The file is read whole into memory, up to [`MAX_RECORDING_BYTES`]; streaming it would need
//! a `Stream` or `http_body` implementation (tokio-util's `ReaderStream`), which the server does
//! not depend on yet.

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt;

use super::AppState;
use super::auth::Agent;
use super::error::{ApiError, ErrorBody, Segments};
use super::history::{contact_id, find_contact};
use crate::config::Permission;

/// The largest recording served: over four hours of 8 kHz stereo, over an hour at 16 kHz.
pub const MAX_RECORDING_BYTES: u64 = 512 * 1024 * 1024;

/// Why a recorded path is not served.
#[derive(Debug, PartialEq, Eq)]
enum Unservable {
    /// No file there (deleted, moved, never written), or not a regular file.
    Missing,
    /// The file resolves to somewhere outside the recordings directory.
    Outside,
}

/// Where `recorded` is, resolved, if it is a regular file inside `dir` (also resolved).
async fn locate(dir: &Path, recorded: &Path) -> Result<PathBuf, Unservable> {
    // No recordings directory means no recordings to serve.
    let dir = tokio::fs::canonicalize(dir)
        .await
        .map_err(|_| Unservable::Missing)?;
    let file = tokio::fs::canonicalize(recorded)
        .await
        .map_err(|_| Unservable::Missing)?;
    if !file.starts_with(&dir) {
        return Err(Unservable::Outside);
    }
    let meta = tokio::fs::metadata(&file)
        .await
        .map_err(|_| Unservable::Missing)?;
    if !meta.is_file() {
        return Err(Unservable::Missing);
    }
    Ok(file)
}

/// The file's bytes, or `None` when it holds more than `cap`.
async fn read_capped(file: &Path, cap: u64) -> std::io::Result<Option<Vec<u8>>> {
    let opened = tokio::fs::File::open(file).await?;
    let mut bytes = Vec::new();
    opened
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .await?;
    let within = u64::try_from(bytes.len()).is_ok_and(|n| n <= cap);
    Ok(within.then_some(bytes))
}

/// The contact's recording: a stereo WAV, the customer on the left channel, the agent side
/// (agent, third party, whispering manager) on the right.
#[utoipa::path(
    get,
    path = "/api/v1/contacts/{id}/recording",
    tag = "history",
    params(("id" = Uuid, Path, description = "The contact's id (a UUID).")),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The recording (16-bit PCM WAV, two channels).",
            content(("audio/wav")),
            headers(("Content-Disposition" = String, description = "`inline; filename=\"<contact id>.wav\"`"))),
        (status = 400, description = "The id is not a UUID.", body = ErrorBody),
        (status = 401, description = "No live session.", body = ErrorBody),
        (status = 403, description = "The user lacks BasicAgentAccess or ListenCallRecordings.", body = ErrorBody),
        (status = 404, description = "No such contact, the contact was not recorded, or its file is gone (or outside the recordings directory).", body = ErrorBody),
        (status = 500, description = "The file cannot be read, or is larger than the API serves (512 MiB).", body = ErrorBody),
        (status = 503, description = "The contact store cannot answer now.", body = ErrorBody),
    )
)]
pub async fn get_recording(
    State(st): State<AppState>,
    agent: Agent,
    Segments(id): Segments<String>,
) -> Result<Response, ApiError> {
    let record = find_contact(&st, contact_id(&id)?).await?;
    agent.require(Permission::ListenCallRecordings)?;
    let id = record.contact_id;
    let Some(recorded) = record.recording_path.as_deref() else {
        return Err(ApiError::not_found(format!(
            "contact {id} was not recorded"
        )));
    };
    let dir = &agent.config.storage.recordings_dir;
    let file = match locate(dir, Path::new(recorded)).await {
        Ok(file) => file,
        Err(Unservable::Missing) => {
            return Err(ApiError::not_found(format!(
                "the recording of contact {id} is no longer on the server"
            )));
        }
        Err(Unservable::Outside) => {
            tracing::warn!(contact = %id, path = recorded, dir = %dir.display(), "recording path outside the recordings directory refused");
            return Err(ApiError::not_found(format!(
                "the recording of contact {id} is not in the recordings directory"
            )));
        }
    };
    let bytes = match read_capped(&file, MAX_RECORDING_BYTES).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            tracing::warn!(contact = %id, path = %file.display(), "recording too large to serve over the API");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the recording is larger than the API serves; fetch it from the server's disk",
            ));
        }
        Err(e) => {
            tracing::error!(contact = %id, path = %file.display(), error = %e, "cannot read a recording");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot read the recording",
            ));
        }
    };
    tracing::info!(contact = %id, user = agent.username(), bytes = bytes.len(), "recording served");
    let disposition = HeaderValue::from_str(&format!("inline; filename=\"{id}.wav\""))
        .unwrap_or_else(|_| HeaderValue::from_static("inline"));
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("audio/wav")),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn only_regular_files_inside_the_directory_are_served() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("recordings");
        std::fs::create_dir_all(dir.join("2026-01-01")).unwrap();
        let inside = dir.join("2026-01-01/a.wav");
        std::fs::write(&inside, b"RIFF").unwrap();
        let outside = root.path().join("secret.txt");
        std::fs::write(&outside, b"secret").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("link.wav")).unwrap();

        assert_eq!(
            locate(&dir, &inside).await,
            Ok(std::fs::canonicalize(&inside).unwrap())
        );
        let sneaky = dir.join("2026-01-01/../../secret.txt");
        assert_eq!(locate(&dir, &sneaky).await, Err(Unservable::Outside));
        assert_eq!(locate(&dir, &outside).await, Err(Unservable::Outside));
        assert_eq!(
            locate(&dir, &dir.join("link.wav")).await,
            Err(Unservable::Outside)
        );
        assert_eq!(
            locate(&dir, &dir.join("2026-01-01/gone.wav")).await,
            Err(Unservable::Missing)
        );
        assert_eq!(
            locate(&dir, &dir.join("2026-01-01")).await,
            Err(Unservable::Missing),
            "a directory is not a recording"
        );
        assert_eq!(
            locate(&root.path().join("none"), &inside).await,
            Err(Unservable::Missing)
        );
        // A directory whose name starts like the recordings one is not inside it.
        let twin = root.path().join("recordings-old");
        std::fs::create_dir_all(&twin).unwrap();
        std::fs::write(twin.join("b.wav"), b"RIFF").unwrap();
        assert_eq!(
            locate(&dir, &twin.join("b.wav")).await,
            Err(Unservable::Outside)
        );
    }

    #[tokio::test]
    async fn reads_stop_at_the_cap() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("a.wav");
        std::fs::write(&file, [7u8; 10]).unwrap();
        assert_eq!(read_capped(&file, 10).await.unwrap(), Some(vec![7u8; 10]));
        assert_eq!(read_capped(&file, 9).await.unwrap(), None);
    }
}
