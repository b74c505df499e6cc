//! HTTP Digest authentication for SIP, server side (RFC 3261 §22, RFC 2617/7616 qop=auth,
//! RFC 8760 SHA-256).
//!
//! A challenge offers one `WWW-Authenticate` per configured algorithm, in order of
//! preference, all carrying the same nonce. Nonces are self-authenticating: the issue time and
//! a random id, sealed with an HMAC-SHA-256 under a per-process secret, so an unanswered
//! challenge costs no memory. Only nonces that have been *used* get state: the highest nonce
//! count seen, which is what makes a replayed `nc` detectable. An expired nonce with a correct
//! response is reported as [`Verdict::Stale`] so the registrar can answer `stale=true`.
//!
//! Every comparison of a secret-derived value is constant time (`subtle`). Unknown users are
//! checked against a dummy HA1 so their answers take the same path as a wrong password.
//! Times are unix milliseconds passed in by the caller; nothing here reads the clock.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::message::typed::tokenizers::AuthTokenizer;

/// A digest algorithm we can challenge with. `-sess` variants are not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn parse(s: &str) -> Option<Algorithm> {
        if s.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// Lowercase hex of the hash of `data`.
    pub fn hex_hash(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => to_hex(&Md5::digest(data)),
            Algorithm::Sha256 => to_hex(&Sha256::digest(data)),
        }
    }

    /// HA1 = H(username:realm:password), lowercase hex.
    pub fn ha1(self, username: &str, realm: &str, password: &str) -> String {
        self.hex_hash(format!("{username}:{realm}:{password}").as_bytes())
    }
}

fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A user's HA1 values, one per algorithm, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ha1 {
    pub md5: String,
    pub sha256: String,
}

impl Ha1 {
    pub fn from_password(username: &str, realm: &str, password: &str) -> Ha1 {
        Ha1 {
            md5: Algorithm::Md5.ha1(username, realm, password),
            sha256: Algorithm::Sha256.ha1(username, realm, password),
        }
    }

    fn get(&self, algorithm: Algorithm) -> &str {
        match algorithm {
            Algorithm::Md5 => &self.md5,
            Algorithm::Sha256 => &self.sha256,
        }
    }
}

/// The parts of an `Authorization` header a digest check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub cnonce: String,
    /// Nonce count, parsed from the 8 hex digits of `nc`.
    pub nc: u32,
    pub nc_text: String,
}

/// Why an `Authorization` header could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("not a Digest Authorization header")]
    NotDigest,
    #[error("Authorization is missing `{0}`")]
    Missing(&'static str),
    #[error("unsupported digest algorithm `{0}`")]
    Algorithm(String),
    #[error("unsupported qop `{0}`: only qop=auth is accepted")]
    Qop(String),
    #[error("nonce count `{0}` is not 8 hex digits")]
    NonceCount(String),
    #[error("malformed Authorization header")]
    Malformed,
}

impl Credentials {
    /// Parses the value of an `Authorization` header.
    pub fn parse(value: &str) -> Result<Credentials, CredentialsError> {
        let scheme = value.split_whitespace().next().unwrap_or("");
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(CredentialsError::NotDigest);
        }
        let tok = AuthTokenizer::parse(value).map_err(|_| CredentialsError::Malformed)?;
        let get = |name: &str| {
            tok.params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        };
        let need = |name: &'static str| get(name).ok_or(CredentialsError::Missing(name));
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(a) => {
                Algorithm::parse(a).ok_or_else(|| CredentialsError::Algorithm(a.to_string()))?
            }
        };
        let qop = need("qop")?;
        if !qop.eq_ignore_ascii_case("auth") {
            return Err(CredentialsError::Qop(qop.to_string()));
        }
        let nc_text = need("nc")?;
        if nc_text.len() != 8 {
            return Err(CredentialsError::NonceCount(nc_text.to_string()));
        }
        let nc = u32::from_str_radix(nc_text, 16)
            .map_err(|_| CredentialsError::NonceCount(nc_text.to_string()))?;
        Ok(Credentials {
            username: need("username")?.to_string(),
            realm: need("realm")?.to_string(),
            nonce: need("nonce")?.to_string(),
            uri: need("uri")?.to_string(),
            response: need("response")?.to_ascii_lowercase(),
            algorithm,
            cnonce: need("cnonce")?.to_string(),
            nc,
            nc_text: nc_text.to_string(),
        })
    }

    /// The response a client holding `ha1` would compute for `method` (qop=auth).
    pub fn expected_response(&self, ha1: &str, method: &str) -> String {
        let h = |s: String| self.algorithm.hex_hash(s.as_bytes());
        let ha2 = h(format!("{method}:{}", self.uri));
        h(format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            self.nonce, self.nc_text, self.cnonce
        ))
    }
}

/// The outcome of checking credentials against a user's HA1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Correct response, live nonce, fresh nonce count.
    Ok,
    /// Correct response, but the nonce has expired: challenge again with `stale=true`.
    Stale,
    /// Wrong response, unknown user, foreign realm or a nonce we never issued.
    Failed(&'static str),
    /// Correct response with a nonce count not above the last one seen on this nonce.
    Replay,
}

/// Issues and checks nonces; remembers the highest nonce count of each used nonce.
#[derive(Debug)]
pub struct NonceManager {
    secret: [u8; 32],
    lifetime_ms: i64,
    /// Highest `nc` seen per used nonce id, until the nonce expires.
    used: HashMap<u64, u32>,
    /// Used nonce ids in expiry order, for sweeping.
    expiry: VecDeque<(i64, u64)>,
}

type HmacSha256 = Hmac<Sha256>;

/// Length of a nonce in hex: issued (8) + id (8) + mac (16) bytes.
const NONCE_HEX_LEN: usize = 64;

impl NonceManager {
    /// `secret` seals nonces; draw it from a CSPRNG at start-up.
    pub fn new(secret: [u8; 32], lifetime: Duration) -> NonceManager {
        NonceManager {
            secret,
            lifetime_ms: i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX),
            used: HashMap::new(),
            expiry: VecDeque::new(),
        }
    }

    fn mac(&self, body: &[u8; 16]) -> [u8; 16] {
        let mut mac = match HmacSha256::new_from_slice(&self.secret) {
            Ok(m) => m,
            // HMAC accepts keys of any length; this arm cannot be taken.
            Err(_) => return [0; 16],
        };
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// A fresh nonce issued at `now_ms`; `id` must be random.
    pub fn issue(&self, now_ms: i64, id: u64) -> String {
        let mut body = [0u8; 16];
        body[..8].copy_from_slice(&now_ms.to_be_bytes());
        body[8..].copy_from_slice(&id.to_be_bytes());
        let mac = self.mac(&body);
        let mut s = to_hex(&body);
        s.push_str(&to_hex(&mac));
        s
    }

    /// Decodes a nonce we issued: `(issued_ms, id)`, or `None` for a forged or foreign one.
    fn open(&self, nonce: &str) -> Option<(i64, u64)> {
        if nonce.len() != NONCE_HEX_LEN {
            return None;
        }
        let raw = hex::decode(nonce).ok()?;
        let mut body = [0u8; 16];
        body.copy_from_slice(&raw[..16]);
        let mac = self.mac(&body);
        if !bool::from(mac.ct_eq(&raw[16..])) {
            return None;
        }
        let issued = i64::from_be_bytes(body[..8].try_into().ok()?);
        let id = u64::from_be_bytes(body[8..].try_into().ok()?);
        Some((issued, id))
    }

    /// Checks `creds` for a request with `method` against `ha1` (None: unknown user, checked
    /// against a dummy so timing does not tell). Records the nonce count on success.
    pub fn verify(
        &mut self,
        now_ms: i64,
        realm: &str,
        method: &str,
        creds: &Credentials,
        ha1: Option<&Ha1>,
    ) -> Verdict {
        let dummy;
        let ha1_value = match ha1 {
            Some(h) => h.get(creds.algorithm),
            None => {
                dummy = creds
                    .algorithm
                    .ha1(&creds.username, realm, "\u{0}no such user");
                dummy.as_str()
            }
        };
        let expected = creds.expected_response(ha1_value, method);
        let response_ok: bool = expected.as_bytes().ct_eq(creds.response.as_bytes()).into();
        let Some((issued, id)) = self.open(&creds.nonce) else {
            return Verdict::Failed("nonce was not issued by this server");
        };
        if ha1.is_none() {
            return Verdict::Failed("unknown user");
        }
        if creds.realm != realm {
            return Verdict::Failed("foreign realm");
        }
        if !response_ok {
            return Verdict::Failed("wrong response");
        }
        let expires = issued.saturating_add(self.lifetime_ms);
        if now_ms >= expires || now_ms < issued.saturating_sub(60_000) {
            return Verdict::Stale;
        }
        match self.used.get_mut(&id) {
            Some(last) if creds.nc <= *last => Verdict::Replay,
            Some(last) => {
                *last = creds.nc;
                Verdict::Ok
            }
            None => {
                self.used.insert(id, creds.nc);
                self.expiry.push_back((expires, id));
                Verdict::Ok
            }
        }
    }

    /// Forgets nonce counts of nonces that have expired by `now_ms`.
    pub fn sweep(&mut self, now_ms: i64) {
        while let Some(&(expires, id)) = self.expiry.front() {
            if expires > now_ms {
                break;
            }
            self.expiry.pop_front();
            self.used.remove(&id);
        }
    }

    /// Number of nonces whose counts are being tracked.
    pub fn tracked(&self) -> usize {
        self.used.len()
    }
}

/// The value of one `WWW-Authenticate` header.
pub fn challenge(realm: &str, nonce: &str, algorithm: Algorithm, stale: bool) -> String {
    let mut v = format!(
        "Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"",
        algorithm.as_str()
    );
    if stale {
        v.push_str(", stale=true");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const REALM: &str = "switchboard.test";

    fn mgr() -> NonceManager {
        NonceManager::new([7; 32], Duration::from_secs(300))
    }

    /// What a client computes, written out independently of `expected_response`.
    fn client_header(nonce: &str, nc: u32, password: &str, algorithm: Algorithm) -> String {
        let h = |s: &str| algorithm.hex_hash(s.as_bytes());
        let ha1 = h(&format!("alice:{REALM}:{password}"));
        let ha2 = h("REGISTER:sip:switchboard.test");
        let nc = format!("{nc:08x}");
        let response = h(&format!("{ha1}:{nonce}:{nc}:abc123:auth:{ha2}"));
        format!(
            "Digest username=\"alice\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:switchboard.test\", response=\"{response}\", algorithm={}, qop=auth, nc={nc}, cnonce=\"abc123\"",
            algorithm.as_str()
        )
    }

    fn check(m: &mut NonceManager, now: i64, header: &str, known: bool) -> Verdict {
        let creds = Credentials::parse(header).expect("parses");
        let ha1 = Ha1::from_password("alice", REALM, "secret");
        m.verify(now, REALM, "REGISTER", &creds, known.then_some(&ha1))
    }

    #[test]
    fn rfc_2617_md5_vector() {
        // RFC 2617 §3.5 example (qop=auth), computed with the HTTP method GET.
        let creds = Credentials::parse(
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .expect("parses");
        let ha1 = Algorithm::Md5.ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(
            creds.expected_response(&ha1, "GET"),
            "6629fae49393a05397450978507c4ef1"
        );
    }

    #[test]
    fn rfc_7616_sha256_vector() {
        // RFC 7616 §3.9.1 example, SHA-256.
        let creds = Credentials::parse(
            "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\"",
        )
        .expect("parses");
        let ha1 = Algorithm::Sha256.ha1("Mufasa", "http-auth@example.org", "Circle of Life");
        assert_eq!(
            creds.expected_response(&ha1, "GET"),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn good_response_then_replay() {
        let mut m = mgr();
        let nonce = m.issue(1_000, 42);
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let mut m2 = mgr();
            let h = client_header(&nonce, 1, "secret", alg);
            assert_eq!(check(&mut m2, 2_000, &h, true), Verdict::Ok);
        }
        let h1 = client_header(&nonce, 1, "secret", Algorithm::Md5);
        assert_eq!(check(&mut m, 2_000, &h1, true), Verdict::Ok);
        assert_eq!(check(&mut m, 2_100, &h1, true), Verdict::Replay);
        let h2 = client_header(&nonce, 2, "secret", Algorithm::Md5);
        assert_eq!(check(&mut m, 2_200, &h2, true), Verdict::Ok);
    }

    #[test]
    fn wrong_password_and_unknown_user_fail() {
        let mut m = mgr();
        let nonce = m.issue(1_000, 1);
        let h = client_header(&nonce, 1, "wrong", Algorithm::Sha256);
        assert!(matches!(check(&mut m, 2_000, &h, true), Verdict::Failed(_)));
        let h = client_header(&nonce, 1, "secret", Algorithm::Sha256);
        assert!(matches!(
            check(&mut m, 2_000, &h, false),
            Verdict::Failed(_)
        ));
    }

    #[test]
    fn expired_nonce_with_right_password_is_stale() {
        let mut m = mgr();
        let nonce = m.issue(1_000, 1);
        let h = client_header(&nonce, 1, "secret", Algorithm::Md5);
        assert_eq!(check(&mut m, 1_000 + 300_000, &h, true), Verdict::Stale);
        let bad = client_header(&nonce, 1, "wrong", Algorithm::Md5);
        assert!(matches!(
            check(&mut m, 1_000 + 300_000, &bad, true),
            Verdict::Failed(_)
        ));
    }

    #[test]
    fn forged_nonce_fails() {
        let mut m = mgr();
        let other = NonceManager::new([9; 32], Duration::from_secs(300));
        let nonce = other.issue(1_000, 1);
        let h = client_header(&nonce, 1, "secret", Algorithm::Md5);
        assert!(matches!(check(&mut m, 2_000, &h, true), Verdict::Failed(_)));
    }

    #[test]
    fn sweep_forgets_expired_counts() {
        let mut m = mgr();
        let nonce = m.issue(1_000, 5);
        let h = client_header(&nonce, 1, "secret", Algorithm::Md5);
        assert_eq!(check(&mut m, 2_000, &h, true), Verdict::Ok);
        assert_eq!(m.tracked(), 1);
        m.sweep(301_000);
        assert_eq!(m.tracked(), 0);
    }

    #[test]
    fn malformed_headers_are_errors() {
        assert_eq!(
            Credentials::parse("Basic abc"),
            Err(CredentialsError::NotDigest)
        );
        assert!(Credentials::parse("Digest username=\"a\"").is_err());
        let no_qop =
            "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"00\"";
        assert_eq!(
            Credentials::parse(no_qop),
            Err(CredentialsError::Missing("qop"))
        );
    }
}
