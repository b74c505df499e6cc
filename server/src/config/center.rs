//! The contact-center entities: security profiles, agent statuses, hours of operation, queues,
//! routing profiles, users, quick connects, phone numbers and trunks. Names are unique per kind;
//! every reference must resolve (to an entity here, or to a flow file of the right type).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::flows::FlowKind;
use super::model::*;
use super::raw::*;
use super::validate::Ctx;
use super::values::OpenRange;

/// Everything in the contact-center part of the file, validated.
pub(crate) struct Center {
    pub security_profiles: BTreeMap<String, SecurityProfile>,
    pub agent_statuses: Vec<AgentStatus>,
    pub hours_of_operation: BTreeMap<String, HoursOfOperation>,
    pub queues: BTreeMap<String, Queue>,
    pub routing_profiles: BTreeMap<String, RoutingProfile>,
    pub users: BTreeMap<String, User>,
    pub quick_connects: BTreeMap<String, QuickConnect>,
    pub phone_numbers: BTreeMap<String, PhoneNumber>,
    pub trunks: BTreeMap<String, Trunk>,
}

/// Collects entities by name; a duplicate keeps the first (the duplicate is reported).
fn by_name<T>(items: impl IntoIterator<Item = (String, T)>) -> BTreeMap<String, T> {
    let mut map = BTreeMap::new();
    for (name, item) in items {
        map.entry(name).or_insert(item);
    }
    map
}

pub(crate) fn validate(cx: &mut Ctx<'_>, raw: &RawConfig, realm: &str) -> Center {
    // Entities that others refer to come first, so references can be checked against them.
    let security_profiles = security_profiles(cx, &raw.security_profiles);
    let agent_statuses = agent_statuses(cx, raw.agent_statuses.as_ref());
    let hours_of_operation = hours(cx, &raw.hours_of_operation);
    let trunks = trunks(cx, &raw.trunks);

    cx.check_unique("queue", raw.queues.iter().map(|q| &q.name));
    cx.check_unique("user", raw.users.iter().map(|u| &u.username));
    cx.check_unique("quick connect", raw.quick_connects.iter().map(|q| &q.name));
    cx.check_unique(
        "routing profile",
        raw.routing_profiles.iter().map(|r| &r.name),
    );
    // Names for forward references (a queue lists quick connects that name queues).
    let queue_names = name_set(raw.queues.iter().map(|q| &q.name));
    let quick_connect_names = name_set(raw.quick_connects.iter().map(|q| &q.name));
    let user_names = name_set(raw.users.iter().map(|u| &u.username));

    let queues = by_name(
        raw.queues
            .iter()
            .map(|q| queue(cx, q, &hours_of_operation, &quick_connect_names)),
    );

    let routing_profiles = by_name(
        raw.routing_profiles
            .iter()
            .map(|r| routing_profile(cx, r, &queue_names)),
    );

    let users = by_name(raw.users.iter().map(|u| {
        let mut user = user(cx, u, realm, &security_profiles, &routing_profiles, &trunks);
        if let Some(status) = &u.initial_status {
            if agent_statuses.iter().any(|s| s.name == status.value) {
                user.initial_status = Some(status.value.clone());
            } else {
                let known: Vec<&str> = agent_statuses.iter().map(|s| s.name.as_str()).collect();
                cx.err(
                    status.referenced,
                    format!(
                        "unknown agent status `{}`; known statuses: {}",
                        status.value,
                        known.join(", ")
                    ),
                );
            }
        }
        (user.username.clone(), user)
    }));

    let quick_connects = by_name(
        raw.quick_connects
            .iter()
            .map(|q| quick_connect(cx, q, &user_names, &queue_names)),
    );

    let phone_numbers = phone_numbers(cx, &raw.phone_numbers);

    Center {
        security_profiles,
        agent_statuses,
        hours_of_operation,
        queues,
        routing_profiles,
        users,
        quick_connects,
        phone_numbers,
        trunks,
    }
}

/// The names of one kind of entity, for checking references before the entities are built.
fn name_set<'a>(names: impl Iterator<Item = &'a S<String>>) -> BTreeMap<String, ()> {
    names.map(|n| (n.value.clone(), ())).collect()
}

fn queue(
    cx: &mut Ctx<'_>,
    q: &RawQueue,
    hours_of_operation: &BTreeMap<String, HoursOfOperation>,
    quick_connect_names: &BTreeMap<String, ()>,
) -> (String, Queue) {
    let name = cx.name("queue", &q.name);
    cx.check_ref("hours of operation", &q.hours, hours_of_operation);
    for qc in &q.quick_connects {
        cx.check_ref("quick connect", qc, quick_connect_names);
    }
    if let Some(max) = &q.max_contacts
        && max.value == 0
    {
        cx.err(
            max.referenced,
            "max_contacts must be at least 1 (leave it out for no limit)",
        );
    }
    let queue = Queue {
        name: name.clone(),
        hours: q.hours.value.clone(),
        max_contacts: q.max_contacts.as_ref().map(|m| m.value),
        outbound_caller_id: q.outbound_caller_id.as_ref().and_then(|n| cx.e164(n)),
        quick_connects: q.quick_connects.iter().map(|n| n.value.clone()).collect(),
    };
    (name, queue)
}

fn security_profiles(
    cx: &mut Ctx<'_>,
    raw: &[RawSecurityProfile],
) -> BTreeMap<String, SecurityProfile> {
    cx.check_unique("security profile", raw.iter().map(|p| &p.name));
    by_name(raw.iter().map(|p| {
        let name = cx.name("security profile", &p.name);
        let mut permissions = BTreeSet::new();
        for perm in &p.permissions {
            match perm.value.parse::<Permission>() {
                Ok(perm) => {
                    permissions.insert(perm);
                }
                Err(msg) => cx.err(perm.referenced, msg),
            }
        }
        (name.clone(), SecurityProfile { name, permissions })
    }))
}

fn agent_statuses(cx: &mut Ctx<'_>, raw: Option<&S<Vec<RawAgentStatus>>>) -> Vec<AgentStatus> {
    let empty = Vec::new();
    let (list, at) = match raw {
        Some(s) => (&s.value, s.referenced),
        None => (&empty, serde_saphyr::Location::UNKNOWN),
    };
    cx.check_unique("agent status", list.iter().map(|s| &s.name));
    let mut out: Vec<AgentStatus> = Vec::new();
    for s in list {
        let name = cx.name("agent status", &s.name);
        if RESERVED_STATUS_NAMES.contains(&name.as_str()) {
            cx.err(
                s.name.referenced,
                format!("`{name}` is a system state set by the server; pick another status name"),
            );
        }
        let must_be = match name.as_str() {
            "Available" => Some(true),
            "Offline" => Some(false),
            _ => None,
        };
        if let Some(must_be) = must_be
            && s.routable.value != must_be
        {
            cx.err(
                s.routable.referenced,
                format!("agent status `{name}` must have routable: {must_be}"),
            );
        }
        if !out.iter().any(|o| o.name == name) {
            out.push(AgentStatus {
                name,
                routable: s.routable.value,
            });
        }
    }
    for required in ["Available", "Offline"] {
        if !out.iter().any(|s| s.name == required) {
            cx.err(at, format!("agent_statuses must include `{required}`"));
        }
    }
    out
}

fn hours(cx: &mut Ctx<'_>, raw: &[RawHours]) -> BTreeMap<String, HoursOfOperation> {
    cx.check_unique("hours of operation", raw.iter().map(|h| &h.name));
    by_name(raw.iter().map(|h| {
        let name = cx.name("hours of operation", &h.name);
        let time_zone = match jiff::tz::TimeZone::get(&h.time_zone.value) {
            Ok(tz) => tz,
            Err(_) => {
                cx.err(
                    h.time_zone.referenced,
                    format!(
                        "unknown time zone `{}`: expected an IANA name such as America/New_York or UTC",
                        h.time_zone.value
                    ),
                );
                jiff::tz::TimeZone::UTC
            }
        };
        let w = &h.open;
        let days = [
            &w.monday, &w.tuesday, &w.wednesday, &w.thursday, &w.friday, &w.saturday, &w.sunday,
        ];
        let weekly = days.map(|ranges| {
            let mut parsed: Vec<(OpenRange, &S<String>)> = Vec::new();
            for r in ranges {
                match r.value.parse::<OpenRange>() {
                    Ok(range) => parsed.push((range, r)),
                    Err(msg) => cx.err(r.referenced, msg),
                }
            }
            parsed.sort_by_key(|(range, _)| *range);
            for pair in parsed.windows(2) {
                if let [(a, _), (b, at)] = pair
                    && b.start_minute < a.end_minute
                {
                    cx.err(at.referenced, format!("opening range {b} overlaps {a}"));
                }
            }
            parsed.into_iter().map(|(range, _)| range).collect()
        });
        let hours = HoursOfOperation {
            name: name.clone(),
            time_zone_name: h.time_zone.value.clone(),
            time_zone,
            weekly,
        };
        (name, hours)
    }))
}

fn trunks(cx: &mut Ctx<'_>, raw: &[RawTrunk]) -> BTreeMap<String, Trunk> {
    cx.check_unique("trunk", raw.iter().map(|t| &t.name));
    by_name(raw.iter().map(|t| {
        let name = cx.name("trunk", &t.name);
        let placeholder = SocketAddr::from(([127, 0, 0, 1], 5060));
        let address = cx.socket_addr(&Some(t.address.clone()), placeholder);
        let mut inbound_sources = Vec::new();
        for src in &t.inbound_sources {
            match src.value.trim().parse::<IpNet>() {
                Ok(net) => inbound_sources.push(net),
                Err(_) => cx.err(
                    src.referenced,
                    format!(
                        "invalid network `{}`: expected CIDR notation, e.g. 203.0.113.0/24 or 127.0.0.1/32",
                        src.value
                    ),
                ),
            }
        }
        let trunk = Trunk {
            name: name.clone(),
            address,
            transport: t.transport.as_ref().map_or(Transport::Udp, |t| t.value),
            inbound_sources,
        };
        (name, trunk)
    }))
}

fn routing_profile(
    cx: &mut Ctx<'_>,
    r: &RawRoutingProfile,
    queue_names: &BTreeMap<String, ()>,
) -> (String, RoutingProfile) {
    let name = cx.name("routing profile", &r.name);
    if r.queues.value.is_empty() {
        cx.err(
            r.queues.referenced,
            "a routing profile needs at least one queue",
        );
    }
    cx.check_unique(
        "queue in this routing profile",
        r.queues.value.iter().map(|q| &q.queue),
    );
    let mut queues = Vec::new();
    let mut all_resolved = true;
    for q in &r.queues.value {
        all_resolved &= cx.check_ref("queue", &q.queue, queue_names);
        if q.priority.value == 0 {
            cx.err(
                q.priority.referenced,
                "priority must be 1 (highest) or more",
            );
        }
        queues.push(RoutingProfileQueue {
            queue: q.queue.value.clone(),
            priority: q.priority.value,
            delay: cx.duration(&q.delay, Duration::ZERO),
        });
    }
    let default = &r.default_outbound_queue;
    // With a misspelled queue in the list, "not one of its queues" would only echo that error.
    if cx.check_ref("queue", default, queue_names)
        && all_resolved
        && !r
            .queues
            .value
            .iter()
            .any(|q| q.queue.value == default.value)
    {
        cx.err(
            default.referenced,
            format!(
                "default_outbound_queue `{}` must be one of this routing profile's queues",
                default.value
            ),
        );
    }
    let profile = RoutingProfile {
        name: name.clone(),
        queues,
        default_outbound_queue: default.value.clone(),
    };
    (name, profile)
}

fn user(
    cx: &mut Ctx<'_>,
    u: &RawUser,
    realm: &str,
    security_profiles: &BTreeMap<String, SecurityProfile>,
    routing_profiles: &BTreeMap<String, RoutingProfile>,
    trunks: &BTreeMap<String, Trunk>,
) -> User {
    let username = u.username.value.clone();
    let username_ok = !username.is_empty()
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !username_ok {
        cx.err(
            u.username.referenced,
            format!("invalid username `{username}`: use letters, digits, `.`, `-` and `_`"),
        );
    }

    let credentials = credentials(cx, u, realm);

    if u.security_profiles.value.is_empty() {
        cx.err(
            u.security_profiles.referenced,
            "a user needs at least one security profile",
        );
    }
    let mut permissions = BTreeSet::new();
    for p in &u.security_profiles.value {
        if cx.check_ref("security profile", p, security_profiles)
            && let Some(profile) = security_profiles.get(&p.value)
        {
            permissions.extend(profile.permissions.iter().copied());
        }
    }
    if let Some(rp) = &u.routing_profile {
        cx.check_ref("routing profile", rp, routing_profiles);
    }

    let (phone, trunk) = match &u.phone.value {
        RawPhone::Softphone => {
            if let Some(t) = &u.trunk {
                cx.err(t.referenced, "`trunk` applies only to desk phones");
            }
            (Phone::Softphone, None)
        }
        RawPhone::DeskPhone(number) => {
            let number = cx.e164(number).unwrap_or_default();
            let trunk = match (&u.trunk, trunks.len()) {
                (Some(t), _) => {
                    cx.check_ref("trunk", t, trunks);
                    Some(t.value.clone())
                }
                (None, 1) => trunks.keys().next().cloned(),
                (None, n) => {
                    let why = if n == 0 {
                        "no trunks are defined"
                    } else {
                        "there is more than one trunk"
                    };
                    cx.err(
                        u.phone.referenced,
                        format!("a desk phone is called through a trunk: add `trunk:` to this user ({why})"),
                    );
                    None
                }
            };
            (Phone::DeskPhone { number }, trunk)
        }
    };

    let acw_timeout = cx.duration(&u.acw_timeout, Duration::from_secs(30));
    User {
        display_name: u
            .display_name
            .as_ref()
            .map_or_else(|| username.clone(), |d| d.value.clone()),
        credentials,
        security_profiles: u
            .security_profiles
            .value
            .iter()
            .map(|p| p.value.clone())
            .collect(),
        permissions,
        routing_profile: u.routing_profile.as_ref().map(|r| r.value.clone()),
        phone,
        trunk,
        auto_accept: u.auto_accept.as_ref().is_some_and(|a| a.value),
        acw_timeout,
        country: u.country.as_ref().and_then(|c| cx.country(c)),
        initial_status: None,
        username,
    }
}

/// `password`, or both precomputed HA1s; anything else is an error at the user.
fn credentials(cx: &mut Ctx<'_>, u: &RawUser, realm: &str) -> Credentials {
    let username = &u.username.value;
    let empty = Credentials {
        ha1_md5: String::new(),
        ha1_sha256: String::new(),
    };
    match (&u.password, &u.ha1_md5, &u.ha1_sha256) {
        (Some(pw), None, None) => {
            if pw.value.is_empty() {
                cx.err(pw.referenced, "password must not be empty");
            }
            Credentials::from_password(username, realm, &pw.value)
        }
        (None, Some(md5), Some(sha)) => {
            let hex = |cx: &mut Ctx<'_>, v: &S<String>, key: &str, len: usize| {
                let lower = v.value.to_ascii_lowercase();
                if lower.len() != len || !lower.bytes().all(|b| b.is_ascii_hexdigit()) {
                    cx.err(v.referenced, format!("{key} must be {len} hex digits"));
                }
                lower
            };
            Credentials {
                ha1_md5: hex(cx, md5, "ha1_md5", 32),
                ha1_sha256: hex(cx, sha, "ha1_sha256", 64),
            }
        }
        (Some(pw), _, _) => {
            cx.err(
                pw.referenced,
                "give either `password` or `ha1_md5` and `ha1_sha256`, not both",
            );
            empty
        }
        (None, None, None) => {
            cx.err(
                u.username.referenced,
                format!("user `{username}` has no credentials: add `password`, or `ha1_md5` and `ha1_sha256`"),
            );
            empty
        }
        (None, Some(v), None) | (None, None, Some(v)) => {
            cx.err(
                v.referenced,
                "`ha1_md5` and `ha1_sha256` must be given together",
            );
            empty
        }
    }
}

fn quick_connect(
    cx: &mut Ctx<'_>,
    q: &RawQuickConnect,
    user_names: &BTreeMap<String, ()>,
    queue_names: &BTreeMap<String, ()>,
) -> (String, QuickConnect) {
    let name = cx.name("quick connect", &q.name);
    let target = match (&q.agent, &q.queue, &q.external) {
        (Some(agent), None, None) => {
            cx.check_ref("user", agent, user_names);
            let flow = needs_flow(cx, q, FlowKind::TransferToAgent, "an agent quick connect");
            QuickConnectTarget::Agent {
                username: agent.value.clone(),
                flow,
            }
        }
        (None, Some(queue), None) => {
            cx.check_ref("queue", queue, queue_names);
            let flow = needs_flow(cx, q, FlowKind::TransferToQueue, "a queue quick connect");
            QuickConnectTarget::Queue {
                queue: queue.value.clone(),
                flow,
            }
        }
        (None, None, Some(number)) => {
            if let Some(flow) = &q.flow {
                cx.err(flow.referenced, "an external quick connect has no flow");
            }
            QuickConnectTarget::External {
                number: cx.e164(number).unwrap_or_default(),
            }
        }
        _ => {
            cx.err(
                q.name.referenced,
                format!(
                    "quick connect `{name}` needs exactly one of `agent`, `queue` or `external`"
                ),
            );
            QuickConnectTarget::External {
                number: String::new(),
            }
        }
    };
    (name.clone(), QuickConnect { name, target })
}

fn needs_flow(cx: &mut Ctx<'_>, q: &RawQuickConnect, kind: FlowKind, user: &str) -> String {
    match &q.flow {
        Some(flow) => {
            cx.check_flow(flow, kind, user);
            flow.value.clone()
        }
        None => {
            cx.err(
                q.name.referenced,
                format!(
                    "quick connect `{}` needs a `flow` ({})",
                    q.name.value,
                    kind.with_article()
                ),
            );
            String::new()
        }
    }
}

fn phone_numbers(cx: &mut Ctx<'_>, raw: &[RawPhoneNumber]) -> BTreeMap<String, PhoneNumber> {
    let mut out: BTreeMap<String, PhoneNumber> = BTreeMap::new();
    let mut first_line: BTreeMap<String, u64> = BTreeMap::new();
    for n in raw {
        cx.check_flow(&n.flow, FlowKind::Inbound, "a phone number");
        let Some(number) = cx.e164(&n.number) else {
            continue;
        };
        if let Some(line) = first_line.get(&number) {
            cx.err(
                n.number.referenced,
                format!("duplicate phone number `{number}`, first defined at line {line}"),
            );
            continue;
        }
        first_line.insert(number.clone(), n.number.referenced.line());
        out.insert(
            number.clone(),
            PhoneNumber {
                number,
                flow: n.flow.value.clone(),
            },
        );
    }
    out
}
