//! Raw YAML shape -> typed [`Config`]: parses values, applies defaults and collects every
//! problem with the location of the offending value. The contact-center entities (profiles,
//! users, queues, ...) are checked in `center.rs`; this file owns the shared helpers and the
//! server sections (instance, sip, http, media, storage).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::Location;

use super::center;
use super::error::ConfigError;
use super::flows::{FlowKind, FlowSet};
use super::model::*;
use super::raw::{RawConfig, S};
use super::values::{PortRange, format_duration, normalize_e164, parse_country, parse_duration};

/// Collects problems for one file while validation goes on.
pub(crate) struct Ctx<'a> {
    pub file: &'a Path,
    pub errors: Vec<ConfigError>,
    /// `None` when the flow directory could not be read (reported once, at the directory).
    pub flows: Option<&'a FlowSet>,
    pub flows_dir: &'a Path,
}

impl Ctx<'_> {
    pub fn err(&mut self, at: Location, message: impl Into<String>) {
        self.errors.push(ConfigError::at(self.file, at, message));
    }

    /// A duration, or `default` when absent; on a bad value the problem is recorded and the
    /// default returned so validation can go on.
    pub fn duration(&mut self, value: &Option<S<String>>, default: Duration) -> Duration {
        match value {
            None => default,
            Some(v) => match parse_duration(&v.value) {
                Ok(d) => d,
                Err(msg) => {
                    self.err(v.referenced, msg);
                    default
                }
            },
        }
    }

    pub fn socket_addr(&mut self, value: &Option<S<String>>, default: SocketAddr) -> SocketAddr {
        match value {
            None => default,
            Some(v) => match v.value.trim().parse::<SocketAddr>() {
                Ok(a) => a,
                Err(_) => {
                    self.err(
                        v.referenced,
                        format!(
                            "invalid socket address `{}`: expected IP:PORT, e.g. 0.0.0.0:5060 or [::]:5060",
                            v.value
                        ),
                    );
                    default
                }
            },
        }
    }

    pub fn e164(&mut self, value: &S<String>) -> Option<String> {
        normalize_e164(&value.value)
            .map_err(|msg| self.err(value.referenced, msg))
            .ok()
    }

    pub fn country(&mut self, value: &S<String>) -> Option<String> {
        parse_country(&value.value)
            .map_err(|msg| self.err(value.referenced, msg))
            .ok()
    }

    /// A non-empty name, trimmed of nothing: names are compared exactly as written.
    pub fn name(&mut self, what: &str, value: &S<String>) -> String {
        if value.value.trim().is_empty() {
            self.err(value.referenced, format!("{what} name must not be empty"));
        } else if value.value.trim() != value.value {
            self.err(
                value.referenced,
                format!(
                    "{what} name `{}` has leading or trailing spaces",
                    value.value
                ),
            );
        }
        value.value.clone()
    }

    /// Records duplicates among `names` ("duplicate queue name `X`, first defined at line N").
    pub fn check_unique<'n>(&mut self, what: &str, names: impl IntoIterator<Item = &'n S<String>>) {
        let mut seen: BTreeMap<&str, Location> = BTreeMap::new();
        for name in names {
            if let Some(first) = seen.get(name.value.as_str()) {
                let line = first.line();
                self.err(
                    name.referenced,
                    format!(
                        "duplicate {what} `{}`, first defined at line {line}",
                        name.value
                    ),
                );
            } else {
                seen.insert(&name.value, name.referenced);
            }
        }
    }

    /// Records a reference to a missing `what` (e.g. "queue"), listing the known ones.
    pub fn check_ref<V>(
        &mut self,
        what: &str,
        reference: &S<String>,
        known: &BTreeMap<String, V>,
    ) -> bool {
        if known.contains_key(&reference.value) {
            return true;
        }
        let plural = if what.ends_with("hours of operation") {
            what.to_owned()
        } else {
            format!("{what}s")
        };
        let list = if known.is_empty() {
            format!("no {plural} are defined")
        } else {
            let names: Vec<&str> = known.keys().map(String::as_str).collect();
            format!("known {plural}: {}", names.join(", "))
        };
        self.err(
            reference.referenced,
            format!("unknown {what} `{}`; {list}", reference.value),
        );
        false
    }

    /// Checks a reference to a flow of kind `need`, used by `user` (e.g. "a phone number").
    pub fn check_flow(&mut self, reference: &S<String>, need: FlowKind, user: &str) {
        let Some(flows) = self.flows else {
            return;
        };
        let name = &reference.value;
        match flows.flows.get(name) {
            Some(flow) if flow.kind == need => {}
            Some(flow) => self.err(
                reference.referenced,
                format!(
                    "flow `{name}` is {}; {user} needs {}",
                    flow.kind.with_article(),
                    need.with_article()
                ),
            ),
            // Its own file's problem was reported already.
            None if flows.broken.iter().any(|b| b == name) => {}
            None => {
                let path = self.flows_dir.join(format!("{name}.yaml"));
                self.err(
                    reference.referenced,
                    format!("unknown flow `{name}`: there is no file {}", path.display()),
                );
            }
        }
    }
}

pub(crate) fn validate(
    raw: RawConfig,
    file: &Path,
    flows_dir: PathBuf,
    flows: Option<&FlowSet>,
) -> Result<Config, Vec<ConfigError>> {
    let mut cx = Ctx {
        file,
        errors: Vec::new(),
        flows,
        flows_dir: &flows_dir,
    };

    let instance = Instance {
        name: cx.name("instance", &raw.instance.name),
        default_country: cx
            .country(&raw.instance.default_country)
            .unwrap_or_default(),
    };
    let sip = sip(&mut cx, &raw);
    let routing = RoutingConfig {
        ring_timeout: cx.duration(
            &raw.routing.as_ref().and_then(|r| r.ring_timeout.clone()),
            Duration::from_secs(20),
        ),
    };
    if routing.ring_timeout.is_zero()
        && let Some(v) = raw.routing.as_ref().and_then(|r| r.ring_timeout.as_ref())
    {
        cx.err(v.referenced, "ring_timeout must be above 0s");
    }
    let http = HttpConfig {
        listen: cx.socket_addr(
            &raw.http.as_ref().and_then(|h| h.listen.clone()),
            SocketAddr::from(([0, 0, 0, 0], 8080)),
        ),
    };
    let media = media(&mut cx, &raw);
    let storage = storage(&mut cx, &raw);

    let center = center::validate(&mut cx, &raw, &sip.domain);

    let errors = std::mem::take(&mut cx.errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Config {
        source: file.to_path_buf(),
        instance,
        sip,
        routing,
        http,
        media,
        storage,
        security_profiles: center.security_profiles,
        agent_statuses: center.agent_statuses,
        hours_of_operation: center.hours_of_operation,
        queues: center.queues,
        routing_profiles: center.routing_profiles,
        users: center.users,
        quick_connects: center.quick_connects,
        phone_numbers: center.phone_numbers,
        trunks: center.trunks,
        flows: flows.map(|f| f.flows.clone()).unwrap_or_default(),
        flows_dir,
    })
}

fn sip(cx: &mut Ctx<'_>, raw: &RawConfig) -> SipConfig {
    let r = &raw.sip;
    let domain = &r.domain.value;
    let domain_ok = !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !domain_ok {
        cx.err(
            r.domain.referenced,
            format!("invalid SIP domain `{domain}`: expected a host name such as pbx.example.com"),
        );
    }
    let any_5060 = SocketAddr::from(([0, 0, 0, 0], 5060));
    let registration = registration(cx, r.registration.as_ref());
    let auth = r.auth.as_ref();
    let max_failures = match auth.and_then(|a| a.max_failures.as_ref()) {
        None => 10,
        Some(v) if v.value == 0 => {
            cx.err(v.referenced, "max_failures must be at least 1");
            10
        }
        Some(v) => v.value,
    };
    let algorithms = digest_algorithms(cx, auth.and_then(|a| a.algorithms.as_ref()));
    let auth = AuthConfig {
        algorithms,
        nonce_lifetime: cx.duration(
            &auth.and_then(|a| a.nonce_lifetime.clone()),
            Duration::from_secs(300),
        ),
        max_failures,
        failure_window: cx.duration(
            &auth.and_then(|a| a.failure_window.clone()),
            Duration::from_secs(60),
        ),
        block_for: cx.duration(
            &auth.and_then(|a| a.block_for.clone()),
            Duration::from_secs(300),
        ),
    };
    SipConfig {
        domain: domain.clone(),
        listen_udp: cx.socket_addr(&r.listen_udp, any_5060),
        listen_tcp: cx.socket_addr(&r.listen_tcp, any_5060),
        user_agent: r
            .user_agent
            .as_ref()
            .map(|u| u.value.clone())
            .unwrap_or_else(|| format!("Switchboard/{}", env!("CARGO_PKG_VERSION"))),
        registration,
        auth,
    }
}

/// `sip.auth.algorithms`: a non-empty list of distinct MD5 / SHA-256; default SHA-256 then MD5.
fn digest_algorithms(
    cx: &mut Ctx<'_>,
    raw: Option<&S<Vec<S<String>>>>,
) -> Vec<crate::sip::digest::Algorithm> {
    use crate::sip::digest::Algorithm;
    let default = vec![Algorithm::Sha256, Algorithm::Md5];
    let Some(list) = raw else { return default };
    let mut out = Vec::new();
    for item in &list.value {
        let alg = match item.value.as_str() {
            "MD5" => Algorithm::Md5,
            "SHA-256" => Algorithm::Sha256,
            other => {
                cx.err(
                    item.referenced,
                    format!("unknown digest algorithm `{other}`: expected MD5 or SHA-256"),
                );
                continue;
            }
        };
        if out.contains(&alg) {
            cx.err(item.referenced, format!("`{}` is listed twice", item.value));
        } else {
            out.push(alg);
        }
    }
    if list.value.is_empty() {
        cx.err(
            list.referenced,
            "algorithms must name at least one of MD5, SHA-256",
        );
    }
    if out.is_empty() { default } else { out }
}

fn registration(cx: &mut Ctx<'_>, r: Option<&super::raw::RawRegistration>) -> RegistrationConfig {
    let field =
        |f: fn(&super::raw::RawRegistration) -> &Option<S<String>>| r.and_then(|r| f(r).clone());
    let (min_raw, max_raw, default_raw) = (
        field(|r| &r.min_expires),
        field(|r| &r.max_expires),
        field(|r| &r.default_expires),
    );
    let whole_seconds = |cx: &mut Ctx<'_>, v: &Option<S<String>>, default: u64| {
        let d = cx.duration(v, Duration::from_secs(default));
        if let Some(v) = v
            && (d.subsec_nanos() != 0 || d.is_zero())
        {
            cx.err(
                v.referenced,
                format!("`{}` must be a whole number of seconds above 0", v.value),
            );
        }
        d
    };
    let min = whole_seconds(cx, &min_raw, 60);
    let max = whole_seconds(cx, &max_raw, 3600);
    // Unset, default_expires follows the bounds: setting only max_expires: 30m must not make
    // the implicit 1h default an error.
    let default = whole_seconds(
        cx,
        &default_raw,
        3600.clamp(min.as_secs(), max.as_secs().max(min.as_secs())),
    );
    let blame = |a: &Option<S<String>>, b: &Option<S<String>>| {
        a.as_ref()
            .or(b.as_ref())
            .map_or(Location::UNKNOWN, |v| v.referenced)
    };
    if min > max {
        cx.err(
            blame(&min_raw, &max_raw),
            format!(
                "min_expires ({}) must not exceed max_expires ({})",
                format_duration(min),
                format_duration(max)
            ),
        );
    } else if default < min || default > max {
        cx.err(
            blame(&default_raw, &max_raw),
            format!(
                "default_expires ({}) must lie between min_expires ({}) and max_expires ({})",
                format_duration(default),
                format_duration(min),
                format_duration(max)
            ),
        );
    }
    RegistrationConfig {
        min_expires: min,
        max_expires: max,
        default_expires: default,
    }
}

fn media(cx: &mut Ctx<'_>, raw: &RawConfig) -> MediaConfig {
    let r = &raw.media;
    let address = match r.address.value.trim().parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => {
            cx.err(
                r.address.referenced,
                format!(
                    "media address `{}` is not reachable: set the address phones and gateways can send RTP to",
                    r.address.value
                ),
            );
            ip
        }
        Ok(ip) => ip,
        Err(_) => {
            cx.err(
                r.address.referenced,
                format!("invalid IP address `{}`", r.address.value),
            );
            IpAddr::from([127, 0, 0, 1])
        }
    };
    let default_ports = PortRange {
        start: 20000,
        end: 29999,
    };
    let rtp_ports = match &r.rtp_ports {
        None => default_ports,
        Some(v) => v.value.parse().unwrap_or_else(|msg: String| {
            cx.err(v.referenced, msg);
            default_ports
        }),
    };
    let realtime_priority = match &r.realtime_priority {
        None => None,
        Some(v) => match u8::try_from(v.value) {
            Ok(p @ 1..=99) => Some(p),
            _ => {
                cx.err(
                    v.referenced,
                    format!(
                        "realtime_priority must be 1 to 99 (SCHED_FIFO), not {}; leave it out for ordinary scheduling",
                        v.value
                    ),
                );
                None
            }
        },
    };
    MediaConfig {
        address,
        rtp_ports,
        music_on_hold: r.music_on_hold.as_ref().map(|m| PathBuf::from(&m.value)),
        realtime_priority,
    }
}

fn storage(cx: &mut Ctx<'_>, raw: &RawConfig) -> StorageConfig {
    let r = raw.storage.as_ref();
    let data_dir = r
        .and_then(|s| s.data_dir.as_ref())
        .map_or_else(|| PathBuf::from("data"), |d| PathBuf::from(&d.value));
    let database_url = match r.and_then(|s| s.database_url.as_ref()) {
        None => format!("sqlite://{}/switchboard.db", data_dir.display()),
        Some(v) => {
            let known = ["sqlite:", "postgres://", "postgresql://"];
            if !known.iter().any(|p| v.value.starts_with(p)) {
                cx.err(
                    v.referenced,
                    format!(
                        "unsupported database_url `{}`: expected sqlite://PATH or postgres://...",
                        v.value
                    ),
                );
            }
            v.value.clone()
        }
    };
    let recordings_dir = r
        .and_then(|s| s.recordings_dir.as_ref())
        .map_or_else(|| data_dir.join("recordings"), |d| PathBuf::from(&d.value));
    StorageConfig {
        data_dir,
        database_url,
        recordings_dir,
    }
}
