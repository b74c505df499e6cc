//! The registrar (RFC 3261 §10.3) and location service, sans-IO.
//!
//! [`Registrar::handle_register`] takes one REGISTER (already matched to a new server
//! transaction) and returns the response to send. Authentication is digest with the
//! configured algorithms ([`crate::sip::digest`]); unknown users and wrong passwords get the
//! same 403 on the same path. Repeated failures block the source ([`guard`]).
//!
//! Bindings live in memory (one `Vec` per user, a time-ordered index for expiry) and every
//! change is queued as a [`BindingChange`] that the shell writes behind to the store in
//! batches; on start-up the shell loads the unexpired bindings back with [`Registrar::load`].
//! Times are unix milliseconds passed in by the caller.

pub mod guard;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use crate::sip::digest::{self, Algorithm, Credentials, Ha1, NonceManager, Verdict};
use crate::sip::message::{self, HeadersExt, Request, Response, ToTypedHeader, typed};
use crate::sip::transaction::{Peer, Transport};
use crate::store::{Binding, BindingChange};
pub use guard::{Guard, GuardConfig, GuardEvent};

/// At most this many contacts per user; more is refused (bounds what one user can make us hold).
pub const MAX_CONTACTS_PER_USER: usize = 16;

/// Registrar settings, from `sip.registration` and `sip.auth` in the config.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    pub realm: String,
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    /// Challenge algorithms in order of preference (RFC 8760 §2.4: the client picks the
    /// first it supports).
    pub algorithms: Vec<Algorithm>,
    pub nonce_lifetime: Duration,
    pub guard: GuardConfig,
}

/// What the shell should know about, besides the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrarEvent {
    AuthFailure { ip: IpAddr, reason: &'static str },
    Guard(GuardEvent),
    Registered { username: String, contact: String },
    Unregistered { username: String, contact: String },
    Expired { username: String, contact: String },
}

/// The answer to a REGISTER: a response plus an optional reason phrase for the status line.
#[derive(Debug)]
pub struct Reply {
    pub response: Response,
    pub reason: Option<String>,
}

#[derive(Debug)]
pub struct Registrar {
    cfg: RegistrarConfig,
    users: HashMap<String, Ha1>,
    nonces: NonceManager,
    next_nonce_id: u64,
    bindings: HashMap<String, Vec<Binding>>,
    /// (expires_at, username, contact) for every binding, for expiry in time order.
    expiry: BTreeSet<(i64, String, String)>,
    guard: Guard,
    changes: Vec<BindingChange>,
    events: VecDeque<RegistrarEvent>,
    to_tag_counter: u64,
}

/// One Contact of a REGISTER, as far as a binding needs it.
struct ContactSpec {
    uri: String,
    expires: u32,
    instance_id: Option<String>,
    reg_id: Option<i64>,
    q: Option<f64>,
}

impl Registrar {
    /// `secret` seals nonces; `seed` starts the nonce id counter. Both from the OS RNG.
    pub fn new(
        cfg: RegistrarConfig,
        users: HashMap<String, Ha1>,
        secret: [u8; 32],
        seed: u64,
    ) -> Registrar {
        Registrar {
            nonces: NonceManager::new(secret, cfg.nonce_lifetime),
            guard: Guard::new(cfg.guard),
            cfg,
            users,
            next_nonce_id: seed,
            bindings: HashMap::new(),
            expiry: BTreeSet::new(),
            changes: Vec::new(),
            events: VecDeque::new(),
            to_tag_counter: seed.rotate_left(17),
        }
    }

    /// Puts bindings read from the store back in place (start-up). Expired ones are skipped.
    pub fn load(&mut self, now_ms: i64, bindings: Vec<Binding>) {
        for b in bindings {
            if b.expires_at_unix_ms > now_ms && self.users.contains_key(&b.username) {
                self.insert_binding(b);
            }
        }
    }

    /// Replaces the user table (a config reload). Users that are gone lose their bindings;
    /// changed passwords apply to the next challenge.
    pub fn set_users(&mut self, _now_ms: i64, users: HashMap<String, Ha1>) {
        let gone: Vec<String> = self
            .bindings
            .keys()
            .filter(|u| !users.contains_key(*u))
            .cloned()
            .collect();
        self.users = users;
        for username in gone {
            self.remove_all(&username);
        }
    }

    pub fn is_blocked(&self, ip: IpAddr, now_ms: i64) -> bool {
        self.guard.is_blocked(ip, now_ms)
    }

    pub fn is_user(&self, username: &str) -> bool {
        self.users.contains_key(username)
    }

    /// The live bindings of `username`.
    pub fn bindings_of(&self, username: &str) -> &[Binding] {
        self.bindings
            .get(username)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn binding_count(&self) -> usize {
        self.expiry.len()
    }

    pub fn blocked_count(&self) -> usize {
        self.guard.blocked_count()
    }

    /// Changes to persist since the last call, in order.
    pub fn drain_changes(&mut self) -> Vec<BindingChange> {
        std::mem::take(&mut self.changes)
    }

    pub fn pending_changes(&self) -> usize {
        self.changes.len()
    }

    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        self.events.pop_front()
    }

    /// Expires bindings, forgets stale nonce counts, lifts blocks. Call every few hundred ms.
    pub fn handle_timeout(&mut self, now_ms: i64) {
        while let Some(first) = self.expiry.first() {
            if first.0 > now_ms {
                break;
            }
            let Some((_, username, contact)) = self.expiry.pop_first() else {
                break;
            };
            if let Some(list) = self.bindings.get_mut(&username) {
                list.retain(|b| b.contact != contact);
                if list.is_empty() {
                    self.bindings.remove(&username);
                }
            }
            self.changes.push(BindingChange::Remove {
                username: username.clone(),
                contact: contact.clone(),
            });
            self.events
                .push_back(RegistrarEvent::Expired { username, contact });
        }
        self.nonces.sweep(now_ms);
        for e in self.guard.sweep(now_ms) {
            self.events.push_back(RegistrarEvent::Guard(e));
        }
    }

    /// Handles one REGISTER from `source`.
    pub fn handle_register(&mut self, now_ms: i64, req: &Request, source: Peer) -> Reply {
        let ip = source.addr.ip();
        let creds = match self.credentials(req) {
            Ok(Some(c)) => c,
            Ok(None) => return self.challenge(now_ms, req, false),
            Err(e) => return self.reply(req, 400, Some(format!("Bad Request ({e})"))),
        };
        let aor_user = to_user(req);
        let verdict = self.nonces.verify(
            now_ms,
            &self.cfg.realm,
            "REGISTER",
            &creds,
            self.users.get(&creds.username),
        );
        match verdict {
            Verdict::Ok if aor_user.as_deref() == Some(creds.username.as_str()) => {}
            Verdict::Ok => {
                return self.fail(now_ms, ip, req, "To user is not the authenticated user");
            }
            Verdict::Stale => return self.challenge(now_ms, req, true),
            Verdict::Failed(why) => return self.fail(now_ms, ip, req, why),
            Verdict::Replay => {
                self.record_failure(now_ms, ip, "nonce count replayed");
                return self.challenge(now_ms, req, false);
            }
        }
        self.update_bindings(now_ms, req, source, creds.username)
    }

    /// Digest authentication of a request other than REGISTER (an agent's phone dialing
    /// out): `Proxy-Authorization` against a `407 Proxy-Authenticate` challenge, with the same
    /// nonces, replay protection and failure blocking as registration. The user's name, or the
    /// response to send (407 challenge, 403, 400).
    pub fn authenticate(
        &mut self,
        now_ms: i64,
        req: &Request,
        source: Peer,
    ) -> Result<String, Box<Reply>> {
        let ip = source.addr.ip();
        let creds = match self.credentials_in(req, "Proxy-Authorization") {
            Ok(Some(c)) => c,
            Ok(None) => return Err(Box::new(self.proxy_challenge(now_ms, req, false))),
            Err(e) => {
                return Err(Box::new(self.reply(
                    req,
                    400,
                    Some(format!("Bad Request ({e})")),
                )));
            }
        };
        let method = req.method.to_string();
        let verdict = self.nonces.verify(
            now_ms,
            &self.cfg.realm,
            &method,
            &creds,
            self.users.get(&creds.username),
        );
        match verdict {
            Verdict::Ok => Ok(creds.username),
            Verdict::Stale => Err(Box::new(self.proxy_challenge(now_ms, req, true))),
            Verdict::Failed(why) => Err(Box::new(self.fail(now_ms, ip, req, why))),
            Verdict::Replay => {
                self.record_failure(now_ms, ip, "nonce count replayed");
                Err(Box::new(self.proxy_challenge(now_ms, req, false)))
            }
        }
    }

    fn proxy_challenge(&mut self, now_ms: i64, req: &Request, stale: bool) -> Reply {
        self.next_nonce_id = self.next_nonce_id.wrapping_add(1);
        let nonce = self.nonces.issue(now_ms, self.next_nonce_id);
        let mut r = self.reply(req, 407, None);
        for alg in &self.cfg.algorithms {
            message::push_header(
                &mut r.response,
                "Proxy-Authenticate",
                digest::challenge(&self.cfg.realm, &nonce, *alg, stale),
            );
        }
        r
    }

    fn credentials(&self, req: &Request) -> Result<Option<Credentials>, digest::CredentialsError> {
        self.credentials_in(req, "Authorization")
    }

    fn credentials_in(
        &self,
        req: &Request,
        header: &str,
    ) -> Result<Option<Credentials>, digest::CredentialsError> {
        let mut first_error = None;
        for value in message::headers_named(req, header) {
            match Credentials::parse(value) {
                Ok(c) if c.realm == self.cfg.realm => return Ok(Some(c)),
                Ok(_) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    fn record_failure(&mut self, now_ms: i64, ip: IpAddr, reason: &'static str) {
        self.events
            .push_back(RegistrarEvent::AuthFailure { ip, reason });
        if let Some(e) = self.guard.failure(ip, now_ms) {
            self.events.push_back(RegistrarEvent::Guard(e));
        }
    }

    /// Unknown user, wrong password, foreign nonce: all answered the same way.
    fn fail(&mut self, now_ms: i64, ip: IpAddr, req: &Request, why: &'static str) -> Reply {
        self.record_failure(now_ms, ip, why);
        self.reply(req, 403, None)
    }

    fn challenge(&mut self, now_ms: i64, req: &Request, stale: bool) -> Reply {
        self.next_nonce_id = self.next_nonce_id.wrapping_add(1);
        let nonce = self.nonces.issue(now_ms, self.next_nonce_id);
        let mut r = self.reply(req, 401, None);
        for alg in &self.cfg.algorithms {
            message::push_header(
                &mut r.response,
                "WWW-Authenticate",
                digest::challenge(&self.cfg.realm, &nonce, *alg, stale),
            );
        }
        r
    }

    fn reply(&mut self, req: &Request, code: u16, reason: Option<String>) -> Reply {
        self.to_tag_counter = self.to_tag_counter.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let tag = format!("{:x}", self.to_tag_counter);
        Reply {
            response: message::response(req, code, Some(&tag)),
            reason,
        }
    }

    fn update_bindings(
        &mut self,
        now_ms: i64,
        req: &Request,
        source: Peer,
        username: String,
    ) -> Reply {
        let raw_contacts: Vec<&str> = message::headers_named(req, "Contact").collect();
        let header_expires =
            message::header(req, "Expires").and_then(|v| v.trim().parse::<u32>().ok());
        if raw_contacts.iter().any(|c| c.trim() == "*") {
            if raw_contacts.len() != 1 || header_expires != Some(0) {
                return self.reply(
                    req,
                    400,
                    Some("Bad Request (Contact: * needs Expires: 0 and no other Contact)".into()),
                );
            }
            self.remove_all(&username);
            return self.ok(now_ms, req, &username);
        }
        let contacts = match req.typed_contact_headers() {
            Ok(c) => c,
            Err(_) => {
                return self.reply(req, 400, Some("Bad Request (unparseable Contact)".into()));
            }
        };
        let specs: Vec<ContactSpec> = contacts
            .iter()
            .map(|c| self.contact_spec(c, header_expires))
            .collect();
        if specs
            .iter()
            .any(|s| s.expires > 0 && s.expires < self.cfg.min_expires)
        {
            let mut r = self.reply(req, 423, None);
            message::push_header(
                &mut r.response,
                "Min-Expires",
                self.cfg.min_expires.to_string(),
            );
            return r;
        }
        let call_id = message::header(req, "Call-ID")
            .unwrap_or_default()
            .to_string();
        let cseq: i64 = message::header(req, "CSeq")
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        // RFC 3261 §10.3 step 7: an out-of-order REGISTER in the same Call-ID changes nothing.
        let existing = self.bindings_of(&username);
        let stale = specs.iter().any(|s| {
            existing
                .iter()
                .any(|b| b.contact == s.uri && b.call_id == call_id && b.cseq >= cseq)
        });
        if stale {
            return self.reply(
                req,
                500,
                Some("Server Internal Error (out-of-order REGISTER: CSeq not higher)".into()),
            );
        }
        let adding = specs
            .iter()
            .filter(|s| s.expires > 0 && !existing.iter().any(|b| b.contact == s.uri))
            .count();
        if existing.len() + adding > MAX_CONTACTS_PER_USER {
            return self.reply(
                req,
                403,
                Some(format!(
                    "Forbidden (at most {MAX_CONTACTS_PER_USER} registrations per user)"
                )),
            );
        }
        let user_agent = message::header(req, "User-Agent").map(str::to_string);
        for spec in specs {
            if spec.expires == 0 {
                self.remove_one(&username, &spec.uri);
                continue;
            }
            let binding = Binding {
                username: username.clone(),
                contact: spec.uri,
                instance_id: spec.instance_id,
                reg_id: spec.reg_id,
                expires_at_unix_ms: now_ms + i64::from(spec.expires) * 1000,
                call_id: call_id.clone(),
                cseq,
                source: source_text(source),
                user_agent: user_agent.clone(),
                q: spec.q,
                updated_at_unix_ms: now_ms,
            };
            self.upsert(binding);
        }
        self.ok(now_ms, req, &username)
    }

    fn contact_spec(&self, c: &typed::Contact, header_expires: Option<u32>) -> ContactSpec {
        let requested = c
            .expires()
            .or(header_expires)
            .unwrap_or(self.cfg.default_expires);
        let param = |name: &str| {
            c.params.iter().find_map(|p| {
                let text = p.to_string();
                let text = text.trim_start_matches(';');
                let (k, v) = text.split_once('=').unwrap_or((text, ""));
                k.eq_ignore_ascii_case(name).then(|| v.to_string())
            })
        };
        ContactSpec {
            uri: c.uri.to_string(),
            expires: requested.min(self.cfg.max_expires),
            instance_id: param("+sip.instance"),
            reg_id: param("reg-id").and_then(|v| v.parse().ok()),
            q: c.q().map(f64::from).filter(|q| (0.0..=1.0).contains(q)),
        }
    }

    fn ok(&mut self, now_ms: i64, req: &Request, username: &str) -> Reply {
        let listed: Vec<String> = self
            .bindings_of(username)
            .iter()
            .map(|b| {
                let left = (b.expires_at_unix_ms - now_ms).max(0) / 1000;
                let mut v = format!("<{}>;expires={left}", b.contact);
                if let Some(i) = &b.instance_id {
                    v.push_str(&format!(";+sip.instance={i}"));
                }
                if let Some(r) = b.reg_id {
                    v.push_str(&format!(";reg-id={r}"));
                }
                v
            })
            .collect();
        let mut r = self.reply(req, 200, None);
        for v in listed {
            message::push_header(&mut r.response, "Contact", v);
        }
        r
    }

    fn upsert(&mut self, b: Binding) {
        let list = self.bindings.entry(b.username.clone()).or_default();
        // RFC 5626: the same instance and reg-id replace the old flow whatever its URI.
        let mut replaced = Vec::new();
        list.retain(|old| {
            let same_contact = old.contact == b.contact;
            let same_flow = b.instance_id.is_some()
                && b.reg_id.is_some()
                && old.instance_id == b.instance_id
                && old.reg_id == b.reg_id;
            if same_contact || same_flow {
                replaced.push((old.expires_at_unix_ms, old.contact.clone()));
                false
            } else {
                true
            }
        });
        let fresh = replaced.is_empty();
        for (at, contact) in replaced {
            self.expiry.remove(&(at, b.username.clone(), contact));
        }
        if fresh {
            self.events.push_back(RegistrarEvent::Registered {
                username: b.username.clone(),
                contact: b.contact.clone(),
            });
        }
        self.changes.push(BindingChange::Upsert(b.clone()));
        self.insert_binding(b);
    }

    fn insert_binding(&mut self, b: Binding) {
        self.expiry
            .insert((b.expires_at_unix_ms, b.username.clone(), b.contact.clone()));
        self.bindings.entry(b.username.clone()).or_default().push(b);
    }

    fn remove_one(&mut self, username: &str, contact: &str) {
        let Some(list) = self.bindings.get_mut(username) else {
            return;
        };
        let Some(pos) = list.iter().position(|b| b.contact == contact) else {
            return;
        };
        let old = list.remove(pos);
        if list.is_empty() {
            self.bindings.remove(username);
        }
        self.expiry
            .remove(&(old.expires_at_unix_ms, old.username, old.contact));
        self.changes.push(BindingChange::Remove {
            username: username.to_string(),
            contact: contact.to_string(),
        });
        self.events.push_back(RegistrarEvent::Unregistered {
            username: username.to_string(),
            contact: contact.to_string(),
        });
    }

    fn remove_all(&mut self, username: &str) {
        for b in self.bindings.remove(username).unwrap_or_default() {
            self.expiry
                .remove(&(b.expires_at_unix_ms, b.username.clone(), b.contact.clone()));
            self.events.push_back(RegistrarEvent::Unregistered {
                username: b.username,
                contact: b.contact,
            });
        }
        self.changes.push(BindingChange::RemoveAll {
            username: username.to_string(),
        });
    }
}

/// The user part of the To URI: the address-of-record being registered.
fn to_user(req: &Request) -> Option<String> {
    let to = req.to_header().ok()?;
    let uri = to.typed().ok()?.uri;
    uri.auth.map(|a| a.user)
}

fn source_text(p: Peer) -> String {
    let t = match p.transport {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
    };
    format!("{t}:{}", p.addr)
}

#[cfg(test)]
mod tests;
