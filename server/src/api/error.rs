//! One error shape for every answer the API refuses: `{"error": "...", "permission": "..."}`,
//! `permission` only on a 403 for a missing permission. Extractor rejections (bad JSON, bad
//! path segments, missing query fields) are turned into the same shape here, so a client
//! never has to parse axum's plain-text bodies.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::Permission;
use crate::control::CommandError;

/// The body of every 4xx and 5xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in plain words.
    pub error: String,
    /// On a 403 for a missing permission: its name, as in the config (e.g.
    /// `OutboundCallAccess`, `TransferDestinations.View`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
}

/// A refused request: a status and the [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: error.into(),
                permission: None,
            },
            retry_after: None,
        }
    }

    pub fn bad_request(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, error)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "not logged in, or the session has expired",
        )
    }

    pub fn not_found(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, error)
    }

    pub fn unprocessable(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error)
    }

    /// 403 naming the permission the user lacks.
    pub fn forbidden(permission: Permission) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            body: ErrorBody {
                error: format!("this needs the {permission} permission"),
                permission: Some(permission.as_str().to_string()),
            },
            retry_after: None,
        }
    }

    pub fn too_many(retry_after_secs: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after_secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed log-ins from this address; try again later",
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> ApiError {
        let status = match e {
            CommandError::NotFound(_) => StatusCode::NOT_FOUND,
            CommandError::Conflict(_) => StatusCode::CONFLICT,
            CommandError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            CommandError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        let error = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                "the body must be JSON, sent with `Content-Type: application/json`".to_string()
            }
            _ => r.body_text(),
        };
        ApiError::new(r.status(), error)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        ApiError::bad_request(r.body_text())
    }
}

/// A JSON request body whose rejections are [`ApiError`]s: 400 for malformed JSON, 422 for
/// JSON of the wrong shape, 415 without the JSON content type.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(Body(value))
    }
}

/// A query string whose rejections are [`ApiError`]s (400).
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<S, T> FromRequestParts<S> for Params<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Params(value))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> ApiError {
        ApiError::new(r.status(), r.body_text())
    }
}

/// Path segments whose rejections are [`ApiError`]s. Handlers take them as strings and
/// parse them, so a bad contact id is explained in plain words.
#[derive(Debug)]
pub struct Segments<T>(pub T);

impl<S, T> FromRequestParts<S> for Segments<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(Segments(value))
    }
}

/// Answers for routes that do not exist, in the API's shape.
pub async fn no_such_route() -> ApiError {
    ApiError::not_found("no such route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this route does not take that method",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_errors_map_to_their_statuses() {
        let cases = [
            (CommandError::NotFound("x".into()), 404),
            (CommandError::Conflict("x".into()), 409),
            (CommandError::Invalid("x".into()), 422),
            (CommandError::Unavailable("x".into()), 503),
        ];
        for (e, code) in cases {
            assert_eq!(ApiError::from(e).status.as_u16(), code);
        }
    }

    #[test]
    fn forbidden_names_the_permission_as_configured() {
        let e = ApiError::forbidden(Permission::TransferDestinationsView);
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert_eq!(
            e.body.permission.as_deref(),
            Some("TransferDestinations.View")
        );
        let json = serde_json::to_value(&e.body).unwrap();
        assert_eq!(json["permission"], "TransferDestinations.View");
        let plain = serde_json::to_value(ApiError::unauthorized().body).unwrap();
        assert!(plain.get("permission").is_none(), "{plain}");
    }
}
