//! Transaction matching keys: RFC 3261 §17.1.3 (client) and §17.2.3 (server).
//!
//! A key is computed once per message from the top Via and the CSeq. It is compact
//! (24 bytes plus one shared string) and cheap to clone, because it is stored in the
//! table, in timer entries and in events.
//!
//! RFC 2543 peers (top Via branch without the `z9hG4bK` cookie) are not rejected: their
//! requests are keyed on Call-ID, From tag, CSeq number and the whole top Via value, as
//! §17.2.3 suggests. The To-tag comparison §17.2.3 asks for on an ACK is left out: we
//! are a UAS/B2BUA, never a forking proxy, so one INVITE never has two final responses.

use std::fmt;
use std::sync::Arc;

use crate::sip::message::{HeadersExt, Method, Request, Response, ToTypedHeader};

/// The RFC 3261 branch prefix: a branch starting with it is globally unique (§8.1.1.7).
pub(crate) const MAGIC_COOKIE: &str = "z9hG4bK";

/// Which side of the exchange owns the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We sent the request (§17.1).
    Client,
    /// We received the request (§17.2).
    Server,
}

/// Identifies one transaction in the [`Transactions`](super::Transactions) table.
///
/// Server keys are branch + sent-by + method, where an ACK carries the INVITE method
/// (it belongs to the INVITE transaction) and a CANCEL keeps its own method (it is its
/// own transaction sharing the INVITE's branch). Client keys are branch + CSeq method.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey {
    role: Role,
    method: Method,
    id: Arc<str>,
}

impl TransactionKey {
    /// Client or server side.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The identifier part (branch, or the RFC 2543 fallback), for spreading keys over
    /// shards.
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    /// The transaction's method (INVITE for the transaction an ACK belongs to).
    pub fn method(&self) -> Method {
        self.method
    }

    /// Whether this is an INVITE transaction (the §17.1.1 / §17.2.1 machines).
    pub fn is_invite(&self) -> bool {
        self.method == Method::Invite
    }

    /// The same transaction identity with another method: the INVITE a CANCEL targets.
    pub(crate) fn with_method(&self, method: Method) -> Self {
        Self {
            role: self.role,
            method,
            id: Arc::clone(&self.id),
        }
    }

    /// The server-side key of an incoming request (§17.2.3).
    pub fn for_request(req: &Request) -> Result<Self, KeyError> {
        let via = top_via(req)?;
        let cseq = cseq(req)?;
        // The CSeq method must agree with the request line, except that nothing else is
        // trustworthy enough to key on when it does not (§8.1.1.5).
        if cseq.method != req.method {
            return Err(KeyError::CSeqMethodMismatch);
        }
        let method = match req.method {
            Method::Ack => Method::Invite,
            m => m,
        };
        let id = match via.branch().map(|b| b.value()) {
            Some(branch) if branch.starts_with(MAGIC_COOKIE) => {
                // Host names compare case-insensitively, branches exactly.
                let sent_by = via.sent_by().to_string().to_ascii_lowercase();
                let mut id = String::with_capacity(branch.len() + 1 + sent_by.len());
                id.push_str(branch);
                id.push('|');
                id.push_str(&sent_by);
                id
            }
            _ => rfc2543_id(req, cseq.seq)?,
        };
        Ok(Self {
            role: Role::Server,
            method,
            id: id.into(),
        })
    }

    /// The client-side key of a request we are about to send (§17.1.3).
    pub fn for_outgoing(req: &Request) -> Result<Self, KeyError> {
        let via = top_via(req)?;
        let cseq = cseq(req)?;
        if cseq.method != req.method {
            return Err(KeyError::CSeqMethodMismatch);
        }
        match via.branch().map(|b| b.value()) {
            Some(branch)
                if branch.starts_with(MAGIC_COOKIE) && branch.len() > MAGIC_COOKIE.len() =>
            {
                Ok(Self {
                    role: Role::Client,
                    method: cseq.method,
                    id: branch.into(),
                })
            }
            _ => Err(KeyError::NoBranch),
        }
    }

    /// The client-side key an incoming response matches (§17.1.3).
    pub fn for_response(resp: &Response) -> Result<Self, KeyError> {
        let via = top_via(resp)?;
        let cseq = cseq(resp)?;
        match via.branch().map(|b| b.value()) {
            Some(branch) if branch.starts_with(MAGIC_COOKIE) => Ok(Self {
                role: Role::Client,
                method: cseq.method,
                id: branch.into(),
            }),
            _ => Err(KeyError::NoBranch),
        }
    }
}

impl fmt::Debug for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}/{}/{}", self.role, self.method, self.id)
    }
}

impl fmt::Display for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Why a message cannot be matched to a transaction: the peer's fault (answer 400 or drop).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("missing or malformed Via header")]
    BadVia,
    #[error("missing or malformed CSeq header")]
    BadCSeq,
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    #[error("missing From tag or Call-ID on an RFC 2543 request")]
    BadRfc2543,
    #[error("top Via has no RFC 3261 branch (z9hG4bK...)")]
    NoBranch,
}

fn top_via<M: HeadersExt>(msg: &M) -> Result<crate::sip::message::typed::Via, KeyError> {
    msg.top_via_header()
        .and_then(|v| v.typed())
        .map_err(|_| KeyError::BadVia)
}

fn cseq<M: HeadersExt>(msg: &M) -> Result<crate::sip::message::typed::CSeq, KeyError> {
    msg.cseq_header()
        .and_then(|c| c.typed())
        .map_err(|_| KeyError::BadCSeq)
}

/// §17.2.3 fallback for branches without the cookie: Call-ID, From tag, CSeq number and
/// the top Via (sent-by and any branch). ACK and CANCEL carry all four unchanged.
fn rfc2543_id(req: &Request, seq: u32) -> Result<String, KeyError> {
    let call_id = req
        .call_id_header()
        .map_err(|_| KeyError::BadRfc2543)?
        .value();
    let from_tag = req
        .from_header()
        .ok()
        .and_then(|f| f.tag().ok().flatten())
        .ok_or(KeyError::BadRfc2543)?;
    let via = req.top_via_header().map_err(|_| KeyError::BadVia)?;
    Ok(format!(
        "2543|{call_id}|{from_tag}|{seq}|{}",
        via.value().trim()
    ))
}
