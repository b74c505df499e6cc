//! Unit tests: the shipped files load, and every kind of problem is reported with the exact
//! `file:line:col: message` an admin reads. Most tests edit one line of the minimal fixture
//! (`server/tests/fixtures/config/minimal.yaml`) and assert the full error text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::*;

const MINIMAL: &str = include_str!("../../tests/fixtures/config/minimal.yaml");
/// Tests run with the crate directory (`server/`) as working directory.
const MINIMAL_PATH: &str = "tests/fixtures/config/minimal.yaml";

fn load_minimal_text(text: &str) -> Result<Config, ConfigErrors> {
    load_str(Path::new(MINIMAL_PATH), text)
}

/// Loads `text` as if it were the minimal fixture; returns the error lines.
fn errors_of(text: &str) -> Vec<String> {
    match load_minimal_text(text) {
        Ok(_) => panic!("expected errors, but the config loaded"),
        Err(errs) => errs.0.iter().map(ToString::to_string).collect(),
    }
}

/// The minimal fixture with `from` replaced by `to` (`from` must occur exactly once).
fn minimal_with(from: &str, to: &str) -> String {
    assert_eq!(MINIMAL.matches(from).count(), 1, "`{from}` must occur once");
    MINIMAL.replace(from, to)
}

fn at(line_col: &str, message: &str) -> String {
    format!("{MINIMAL_PATH}:{line_col}: {message}")
}

#[test]
fn shipped_config_loads() {
    let config = load(Path::new("../config/switchboard.yaml")).unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(config.sip.domain, "demo.switchboard.test");
    assert_eq!(
        config.sip.listen_udp,
        "0.0.0.0:5060".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        config.http.listen,
        "0.0.0.0:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.media.address, "127.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(config.instance.default_country, "US");

    let names: Vec<&str> = config.users.keys().map(String::as_str).collect();
    assert_eq!(names, ["alice", "bob", "dave", "maria"]);
    assert_eq!(
        config.users_with_demo_passwords(),
        ["alice", "bob", "dave", "maria"]
    );

    let dave = config.user("dave").unwrap();
    assert_eq!(
        dave.phone,
        Phone::DeskPhone {
            number: "+15550142".into()
        }
    );
    assert_eq!(dave.trunk.as_deref(), Some("Demo gateway"));
    assert_eq!(config.user("alice").unwrap().phone, Phone::Softphone);
    assert!(
        config
            .user("alice")
            .unwrap()
            .has(Permission::TransferDestinationsView)
    );

    let maria = config.user("maria").unwrap();
    let expected: Vec<Permission> = vec![
        Permission::BasicAgentAccess,
        Permission::ManagerListenIn,
        Permission::ManagerBargeIn,
        Permission::ManagerWhisper,
        Permission::AccessMetrics,
        Permission::ListenCallRecordings,
    ];
    assert_eq!(
        maria.permissions.iter().copied().collect::<Vec<_>>(),
        expected
    );
    assert_eq!(maria.acw_timeout, Duration::ZERO);
    assert_eq!(maria.routing_profile, None);

    let statuses: Vec<(&str, bool)> = config
        .agent_statuses
        .iter()
        .map(|s| (s.name.as_str(), s.routable))
        .collect();
    assert_eq!(
        statuses,
        [
            ("Available", true),
            ("Offline", false),
            ("Break", false),
            ("Lunch", false)
        ]
    );

    assert_eq!(config.phone_numbers["+15550100"].flow, "main-menu");
    assert_eq!(config.flows["main-menu"].kind, FlowKind::Inbound);
    let flow_names: Vec<&str> = config.flows.keys().map(String::as_str).collect();
    assert_eq!(
        flow_names,
        [
            "agent-whisper",
            "customer-queue",
            "main-menu",
            "support-queue",
            "transfer-to-agent",
            "transfer-to-queue"
        ]
    );
    assert_eq!(
        config.flows["main-menu"].path,
        Path::new("../config/../flows/main-menu.yaml")
    );
    assert_eq!(
        config.quick_connects["Bob"].target,
        QuickConnectTarget::Agent {
            username: "bob".into(),
            flow: "transfer-to-agent".into()
        }
    );
    let trunk = config
        .trunk_for_source("127.0.0.9".parse().unwrap())
        .unwrap();
    assert_eq!(trunk.name, "Demo gateway");
    assert!(
        config
            .trunk_for_source("192.0.2.1".parse().unwrap())
            .is_none()
    );
}

#[test]
fn loadtest_config_loads_and_matches_its_generator() {
    let config = load(Path::new("../bench/loadtest.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.users.len(), 1000);
    assert!(config.user("agent0000").is_some() && config.user("agent0999").is_some());
    assert_eq!(
        config.sip.listen_udp,
        "127.0.0.1:5060".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.users_with_demo_passwords().len(), 1000);

    let generated = std::process::Command::new("sh")
        .arg("../bench/gen-loadtest-config.sh")
        .output()
        .expect("run the generator");
    assert!(generated.status.success());
    let committed = std::fs::read_to_string("../bench/loadtest.yaml").unwrap();
    assert!(
        String::from_utf8(generated.stdout).unwrap() == committed,
        "bench/loadtest.yaml is stale: rerun bench/gen-loadtest-config.sh > bench/loadtest.yaml"
    );
}

#[test]
fn minimal_config_gets_the_documented_defaults() {
    let config = load(Path::new(MINIMAL_PATH)).unwrap_or_else(|e| panic!("{e}"));
    let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
    assert_eq!(config.source, Path::new(MINIMAL_PATH));
    assert_eq!(config.sip.listen_udp, addr("0.0.0.0:5060"));
    assert_eq!(config.sip.listen_tcp, addr("0.0.0.0:5060"));
    assert!(config.sip.user_agent.starts_with("Switchboard/"));
    let reg = config.sip.registration;
    assert_eq!(
        (reg.min_expires, reg.max_expires, reg.default_expires),
        (
            Duration::from_secs(60),
            Duration::from_secs(3600),
            Duration::from_secs(3600)
        )
    );
    let auth = &config.sip.auth;
    assert_eq!(auth.nonce_lifetime, Duration::from_secs(300));
    assert_eq!(auth.max_failures, 10);
    assert_eq!(auth.failure_window, Duration::from_secs(60));
    assert_eq!(auth.block_for, Duration::from_secs(300));
    assert_eq!(config.routing.ring_timeout, Duration::from_secs(20));
    assert_eq!(config.http.listen, addr("0.0.0.0:8080"));
    assert_eq!(
        config.media.rtp_ports,
        PortRange {
            start: 20000,
            end: 29999
        }
    );
    assert_eq!(config.media.music_on_hold, None);
    assert_eq!(config.media.realtime_priority, None);
    assert_eq!(config.storage.data_dir, Path::new("data"));
    assert_eq!(config.storage.database_url, "sqlite://data/switchboard.db");
    assert_eq!(config.storage.recordings_dir, Path::new("data/recordings"));
    assert_eq!(config.flows_dir, Path::new("tests/fixtures/config/flows"));

    let ann = config.user("ann").unwrap();
    assert_eq!(ann.display_name, "ann");
    assert!(!ann.auto_accept);
    assert_eq!(ann.acw_timeout, Duration::from_secs(30));
    assert_eq!(ann.country, None);
    assert_eq!(ann.trunk, None);
    // Reference values from Python's hashlib for "ann:test.invalid:pw".
    assert_eq!(ann.credentials.ha1_md5, "4382216c7baf0d7c3684d8f9ac30db34");
    assert_eq!(
        ann.credentials.ha1_sha256,
        "2876b4e2ec655dbc2d8653074c7624695b30f396711ad5ed436e17bcd0c3dcb7"
    );
    assert_eq!(format!("{:?}", ann.credentials), "Credentials { .. }");
    assert!(config.users_with_demo_passwords().is_empty());
}

#[test]
fn precomputed_ha1_credentials_are_accepted_lowercased() {
    let config = load_minimal_text(&minimal_with(
        "    password: pw\n",
        "    ha1_md5: 4382216C7BAF0D7C3684D8F9AC30DB34\n    ha1_sha256: 2876b4e2ec655dbc2d8653074c7624695b30f396711ad5ed436e17bcd0c3dcb7\n",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let ann = config.user("ann").unwrap();
    assert_eq!(
        ann.credentials,
        Credentials::from_password("ann", "test.invalid", "pw")
    );
}

#[test]
fn bad_indentation_is_a_yaml_error_with_its_position() {
    let text = minimal_with("    hours: Always\n", "    hours: Always\n     bad: 1\n");
    assert_eq!(
        errors_of(&text),
        [at("24:9", "mapping values are not allowed in this context")]
    );
}

#[test]
fn unclosed_quote_is_a_yaml_error_with_its_position() {
    let text = minimal_with("    flow: main-menu\n", "    flow: \"main-menu\n");
    assert_eq!(errors_of(&text), [at("42:11", "unclosed quote")]);
}

#[test]
fn unknown_key_is_an_error_at_the_key() {
    let text = minimal_with(
        "    phone: softphone\n",
        "    phone: softphone\n    colour: red\n",
    );
    assert_eq!(
        errors_of(&text),
        [at(
            "36:5",
            "unknown field `colour`, expected one of username, display_name, password, ha1_md5, \
             ha1_sha256, security_profiles, routing_profile, phone, trunk, auto_accept, \
             acw_timeout, country, initial_status"
        )]
    );
}

#[test]
fn wrong_type_is_an_error_at_the_value() {
    let text = minimal_with(
        "    hours: Always\n",
        "    hours: Always\n    max_contacts: many\n",
    );
    assert_eq!(
        errors_of(&text),
        [at("24:19", "expected a whole number (0 or more)")]
    );
    let text = minimal_with(
        "    permissions: [BasicAgentAccess]\n",
        "    permissions: BasicAgentAccess\n",
    );
    assert_eq!(
        errors_of(&text),
        [at("12:18", "expected a list, e.g. [a, b]")]
    );
}

#[test]
fn routing_profile_naming_a_missing_queue() {
    let text = minimal_with(
        "      - { queue: Support, priority: 1 }\n",
        "      - { queue: Support, priority: 1 }\n      - { queue: Billing, priority: 2 }\n",
    );
    assert_eq!(
        errors_of(&text),
        [at(
            "29:18",
            "unknown queue `Billing`; known queues: Support"
        )]
    );
}

#[test]
fn default_outbound_queue_must_be_in_the_profile() {
    let text = minimal_with(
        "    default_outbound_queue: Support\n",
        "    default_outbound_queue: Sales\n",
    )
    .replace(
        "  - name: Support\n    hours: Always\n",
        "  - name: Support\n    hours: Always\n  - name: Sales\n    hours: Always\n",
    );
    assert_eq!(
        errors_of(&text),
        [at(
            "31:29",
            "default_outbound_queue `Sales` must be one of this routing profile's queues"
        )]
    );
    // A misspelled queue is reported once, not echoed by the default_outbound_queue check.
    let text = minimal_with(
        "      - { queue: Support, priority: 1 }\n",
        "      - { queue: Suport, priority: 1 }\n",
    );
    assert_eq!(
        errors_of(&text),
        [at("28:18", "unknown queue `Suport`; known queues: Support")]
    );
}

#[test]
fn phone_number_naming_a_missing_flow() {
    let text = minimal_with("    flow: main-menu\n", "    flow: main-menu-v2\n");
    assert_eq!(
        errors_of(&text),
        [at(
            "42:11",
            "unknown flow `main-menu-v2`: there is no file tests/fixtures/config/flows/main-menu-v2.yaml"
        )]
    );
}

#[test]
fn phone_number_naming_a_flow_of_the_wrong_type() {
    let text = minimal_with("    flow: main-menu\n", "    flow: waiting\n");
    assert_eq!(
        errors_of(&text),
        [at(
            "42:11",
            "flow `waiting` is a customer_queue flow; a phone number needs an inbound flow"
        )]
    );
}

#[test]
fn quick_connect_naming_a_missing_flow_file() {
    let text = minimal_with("    flow: to-agent\n", "    flow: transfer-to-agent\n");
    assert_eq!(
        errors_of(&text),
        [at(
            "39:11",
            "unknown flow `transfer-to-agent`: there is no file \
             tests/fixtures/config/flows/transfer-to-agent.yaml"
        )]
    );
}

#[test]
fn duplicate_names_point_at_the_second_definition() {
    let text = minimal_with(
        "  - name: Support\n    hours: Always\n",
        "  - name: Support\n    hours: Always\n  - name: Support\n    hours: Always\n",
    );
    assert_eq!(
        errors_of(&text),
        [at(
            "24:11",
            "duplicate queue `Support`, first defined at line 22"
        )]
    );
}

#[test]
fn media_realtime_priority_is_1_to_99() {
    let with = |v: &str| {
        minimal_with(
            "  address: 127.0.0.1\n",
            &format!("  address: 127.0.0.1\n  realtime_priority: {v}\n"),
        )
    };
    let config = load_minimal_text(&with("20")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.media.realtime_priority, Some(20));
    assert_eq!(
        errors_of(&with("0")),
        [at(
            "8:22",
            "realtime_priority must be 1 to 99 (SCHED_FIFO), not 0; leave it out for ordinary scheduling"
        )]
    );
    assert_eq!(errors_of(&with("100")).len(), 1);
}

#[test]
fn bad_duration_is_an_error_at_the_value() {
    let text = minimal_with(
        "    phone: softphone\n",
        "    phone: softphone\n    acw_timeout: 30 seconds\n",
    );
    assert_eq!(
        errors_of(&text),
        [at(
            "36:18",
            "invalid duration `30 seconds`: expected a number and a unit (ms, s, m, h, d), \
             e.g. 30s, 5m, 250ms"
        )]
    );
}

#[test]
fn all_semantic_problems_are_reported_in_file_order() {
    let text = MINIMAL
        .replace("default_country: US", "default_country: XX")
        .replace(
            "permissions: [BasicAgentAccess]",
            "permissions: [BasicAgentAccess, Superpowers]",
        )
        .replace("time_zone: UTC", "time_zone: Mars/Olympus_Mons")
        .replace(
            "monday: [00:00-24:00]",
            "monday: [18:00-08:00, 09:00-12:00, 11:00-13:00]",
        )
        .replace("hours: Always", "hours: Nights")
        .replace("quick_connects: [Ann]", "quick_connects: [Bob]")
        .replace("routing_profile: Basic", "routing_profile: Advanced")
        .replace(
            "security_profiles: [Agent]",
            "security_profiles: [Agent, Boss]",
        )
        .replace("agent: ann", "agent: anne")
        .replace("number: \"+15550100\"", "number: \"555-0100\"");
    let expected = [
        at(
            "3:20",
            "unknown country `XX`: expected an ISO 3166-1 alpha-2 code such as US, GB or DE",
        ),
        at(
            "12:37",
            "unknown permission `Superpowers`, expected one of BasicAgentAccess, \
             OutboundCallAccess, TransferDestinations.View, ManagerListenIn, ManagerBargeIn, \
             ManagerWhisper, AccessMetrics, ListenCallRecordings, ContactSearch, Users.Edit, \
             ContactFlows.Edit, Routing.Edit",
        ),
        at(
            "18:16",
            "unknown time zone `Mars/Olympus_Mons`: expected an IANA name such as \
             America/New_York or UTC",
        ),
        at(
            "20:16",
            "invalid opening range `18:00-08:00`: it must end after it starts (split a range \
             over midnight into two days)",
        ),
        at("20:42", "opening range 11:00-13:00 overlaps 09:00-12:00"),
        at(
            "23:12",
            "unknown hours of operation `Nights`; known hours of operation: Always",
        ),
        at(
            "24:22",
            "unknown quick connect `Bob`; known quick connects: Ann",
        ),
        at(
            "33:32",
            "unknown security profile `Boss`; known security profiles: Agent",
        ),
        at(
            "34:22",
            "unknown routing profile `Advanced`; known routing profiles: Basic",
        ),
        at("38:12", "unknown user `anne`; known users: ann"),
        at(
            "41:13",
            "invalid phone number `555-0100`: write it in international E.164 form, e.g. +15550100",
        ),
    ];
    assert_eq!(errors_of(&text), expected);
}

#[test]
fn bad_server_values_are_each_reported() {
    let text = MINIMAL
        .replace(
            "  domain: test.invalid\n",
            "  domain: test.invalid\n  listen_udp: 0.0.0.0\n  registration:\n    min_expires: 2h\n\
             \x20 auth:\n    max_failures: 0\n",
        )
        .replace(
            "  address: 127.0.0.1\n",
            "  address: 0.0.0.0\n  rtp_ports: 20001-30000\n",
        );
    let expected = [
        at(
            "6:15",
            "invalid socket address `0.0.0.0`: expected IP:PORT, e.g. 0.0.0.0:5060 or [::]:5060",
        ),
        at("8:18", "min_expires (2h) must not exceed max_expires (1h)"),
        at("10:19", "max_failures must be at least 1"),
        at(
            "12:12",
            "media address `0.0.0.0` is not reachable: set the address phones and gateways can \
             send RTP to",
        ),
        at(
            "13:14",
            "invalid port range `20001-30000`: the start must be even (RTP uses even ports, RTCP \
             the next odd one)",
        ),
    ];
    assert_eq!(errors_of(&text), expected);
}

#[test]
fn default_expires_follows_the_configured_bounds() {
    let text = minimal_with(
        "  domain: test.invalid\n",
        "  domain: test.invalid\n  registration:\n    max_expires: 30m\n",
    );
    let config = load_minimal_text(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.sip.registration.default_expires,
        Duration::from_secs(1800)
    );

    let text = minimal_with(
        "  domain: test.invalid\n",
        "  domain: test.invalid\n  registration:\n    max_expires: 30m\n    default_expires: 1h\n",
    );
    assert_eq!(
        errors_of(&text),
        [at(
            "8:22",
            "default_expires (1h) must lie between min_expires (1m) and max_expires (30m)"
        )]
    );
}

#[test]
fn trunk_problems() {
    let text = format!(
        "{MINIMAL}trunks:\n  - name: Gw\n    address: gw.example.com:5060\n    transport: tls\n"
    );
    assert_eq!(
        errors_of(&text),
        [at(
            "46:16",
            "unknown variant `tls`, expected one of udp, tcp"
        )]
    );
    let text = format!(
        "{MINIMAL}trunks:\n  - name: Gw\n    address: gw.example.com:5060\n    inbound_sources: [10.0.0.0/33]\n"
    );
    assert_eq!(
        errors_of(&text),
        [
            at(
                "45:14",
                "invalid socket address `gw.example.com:5060`: expected IP:PORT, e.g. \
                 0.0.0.0:5060 or [::]:5060"
            ),
            at(
                "46:23",
                "invalid network `10.0.0.0/33`: expected CIDR notation, e.g. 203.0.113.0/24 or \
                 127.0.0.1/32"
            ),
        ]
    );
}

#[test]
fn credentials_need_exactly_one_form() {
    let neither = minimal_with("    password: pw\n", "");
    assert_eq!(
        errors_of(&neither),
        [at(
            "31:15",
            "user `ann` has no credentials: add `password`, or `ha1_md5` and `ha1_sha256`"
        )]
    );
    let both = minimal_with("    password: pw\n", "    password: pw\n    ha1_md5: abc\n");
    assert_eq!(
        errors_of(&both),
        [at(
            "32:15",
            "give either `password` or `ha1_md5` and `ha1_sha256`, not both"
        )]
    );
    let half = minimal_with("    password: pw\n", "    ha1_sha256: abc\n");
    assert_eq!(
        errors_of(&half),
        [at(
            "32:17",
            "`ha1_md5` and `ha1_sha256` must be given together"
        )]
    );
    let short = minimal_with(
        "    password: pw\n",
        "    ha1_md5: abc\n    ha1_sha256: 2876b4e2ec655dbc2d8653074c7624695b30f396711ad5ed436e17bcd0c3dcb7\n",
    );
    assert_eq!(
        errors_of(&short),
        [at("32:14", "ha1_md5 must be 32 hex digits")]
    );
}

#[test]
fn agent_status_rules() {
    let text = minimal_with(
        "  - { name: Offline, routable: false }\n",
        "  - { name: Busy, routable: false }\n  - { name: Available, routable: false }\n",
    );
    assert_eq!(
        errors_of(&text),
        [
            at("14:3", "agent_statuses must include `Offline`"),
            at(
                "15:13",
                "`Busy` is a system state set by the server; pick another status name"
            ),
            at(
                "16:13",
                "duplicate agent status `Available`, first defined at line 14"
            ),
            at("16:34", "agent status `Available` must have routable: true"),
        ]
    );
}

#[test]
fn desk_phones_are_reached_through_a_trunk() {
    let desk = minimal_with(
        "    phone: softphone\n",
        "    phone: { desk_phone: \"+1 555 0142\" }\n",
    );
    assert_eq!(
        errors_of(&desk),
        [at(
            "35:12",
            "a desk phone is called through a trunk: add `trunk:` to this user (no trunks are defined)"
        )]
    );
    let with_trunk = format!(
        "{desk}trunks:\n  - name: Gw\n    address: 127.0.0.1:5070\n    inbound_sources: [127.0.0.0/8]\n"
    );
    let config = load_minimal_text(&with_trunk).unwrap_or_else(|e| panic!("{e}"));
    let ann = config.user("ann").unwrap();
    assert_eq!(
        ann.phone,
        Phone::DeskPhone {
            number: "+15550142".into()
        }
    );
    assert_eq!(
        ann.trunk.as_deref(),
        Some("Gw"),
        "the only trunk is the default"
    );

    let softphone_with_trunk = minimal_with(
        "    phone: softphone\n",
        "    phone: softphone\n    trunk: Gw\n",
    );
    assert_eq!(
        errors_of(&softphone_with_trunk),
        [at("36:12", "`trunk` applies only to desk phones")]
    );
}

#[test]
fn broken_flow_files_are_reported_in_their_own_files() {
    let text = minimal_with("  directory: flows\n", "  directory: broken-flows\n")
        .replace("    flow: to-agent\n", "    flow: renamed\n");
    let dir = "tests/fixtures/config/broken-flows";
    assert_eq!(
        errors_of(&text),
        [
            // The quick connect's flow is broken, not missing: reported once, in its file.
            format!(
                "{dir}/bad-type.yaml:2:7: unknown variant `inbund`, expected one of inbound, \
                     customer_queue, customer_hold, customer_whisper, agent_hold, agent_whisper, \
                     outbound_whisper, transfer_to_agent, transfer_to_queue"
            ),
            format!("{dir}/no-blocks.yaml:2:1: missing field `blocks`"),
            format!(
                "{dir}/renamed.yaml:1:7: flow name `other-name` must match its file name `renamed.yaml`"
            ),
        ]
    );
}

#[test]
fn missing_flows_directory() {
    let text = minimal_with("  directory: flows\n", "  directory: no-such-dir\n");
    assert_eq!(
        errors_of(&text),
        [at(
            "9:14",
            "cannot read flows directory `tests/fixtures/config/no-such-dir`: No such file or \
             directory (os error 2)"
        )]
    );
}

#[test]
fn unreadable_config_file() {
    let err = load(Path::new("tests/fixtures/config/absent.yaml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tests/fixtures/config/absent.yaml: cannot read: No such file or directory (os error 2)"
    );
}

#[test]
fn errors_display_one_per_line() {
    let text = MINIMAL
        .replace("agent: ann", "agent: anne")
        .replace("routing_profile: Basic", "routing_profile: Advanced");
    let err = load_minimal_text(&text).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}\n{}",
            at(
                "34:22",
                "unknown routing profile `Advanced`; known routing profiles: Basic"
            ),
            at("38:12", "unknown user `anne`; known users: ann")
        )
    );
}

#[test]
fn permissions_round_trip_through_their_yaml_names() {
    for p in Permission::ALL {
        assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
    }
    assert_eq!(
        "TransferDestinations.View".parse::<Permission>(),
        Ok(Permission::TransferDestinationsView)
    );
    assert_eq!(Permission::UsersEdit.to_string(), "Users.Edit");
}

#[test]
fn hours_of_operation_follow_their_time_zone() {
    let config = load(Path::new("../config/switchboard.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let business = &config.hours_of_operation["Business hours"];
    let ts = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    // Monday 2026-11-23: 13:00 UTC is 08:00 in New York (EST, UTC-5).
    assert!(business.is_open(ts("2026-11-23T13:00:00Z")));
    assert!(!business.is_open(ts("2026-11-23T12:59:00Z")));
    assert!(!business.is_open(ts("2026-11-23T23:00:00Z")));
    // Saturday.
    assert!(!business.is_open(ts("2026-11-28T15:00:00Z")));
    assert!(config.hours_of_operation["Always open"].is_open(ts("2026-11-28T23:59:00Z")));
}

#[test]
fn initial_status_must_be_a_configured_status() {
    let text = minimal_with(
        "    phone: softphone\n",
        "    phone: softphone\n    initial_status: Napping\n",
    );
    assert_eq!(
        errors_of(&text),
        [at(
            "36:21",
            "unknown agent status `Napping`; known statuses: Available, Offline"
        )]
    );
    let ok = minimal_with(
        "    phone: softphone\n",
        "    phone: softphone\n    initial_status: Available\n",
    );
    let config = load_minimal_text(&ok).expect("a configured status is accepted");
    assert_eq!(
        config.users["ann"].initial_status.as_deref(),
        Some("Available")
    );
}
