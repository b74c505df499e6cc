//! Every kind of validation error, each with the exact `file:line:col: message` an admin
//! reads. Blocks of [`flow_text`] flows start on line 5.

use super::*;

/// A one-block inbound flow that ends: `hang-up` is a disconnect.
const HANG_UP: &str = "  hang-up: { type: disconnect }\n";

#[test]
fn unknown_block_type() {
    let text = flow_text("inbound", "a", "  a: { type: play, next: a }\n");
    assert_eq!(
        errors(&text),
        [
            "flows/t.yaml:5:14: unknown block type `play`; expected one of play_prompt, \
          get_customer_input, store_customer_input, set_contact_attributes, \
          check_contact_attributes, check_hours_of_operation, set_working_queue, \
          check_queue_status, check_staffing, transfer_to_queue, transfer_to_agent, \
          transfer_to_phone_number, set_recording_behavior, set_customer_queue_flow, \
          set_hold_flow, set_whisper_flow, set_disconnect_flow, loop, wait, \
          distribute_by_percentage, disconnect, end_flow"
        ]
    );
}

#[test]
fn block_without_a_type() {
    let text = flow_text("inbound", "a", "  a: { next: a }\n");
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:5:3: block `a` needs a `type`"]
    );
}

#[test]
fn block_types_not_allowed_in_the_flow_type() {
    let text = flow_text(
        "agent_whisper",
        "ask",
        "  ask:\n    type: get_customer_input\n    branches: [{ digits: \"1\", next: done }]\n    \
         on_no_match: done\n    on_timeout: done\n    on_error: done\n  done: { type: end_flow }\n",
    );
    assert_eq!(
        errors(&text),
        [
            "flows/t.yaml:6:11: a get_customer_input block is not allowed in an agent_whisper flow \
          (only in inbound, customer_queue, transfer_to_agent, transfer_to_queue flows)"
        ]
    );

    let text = flow_text(
        "customer_hold",
        "q",
        "  q: { type: transfer_to_queue, queue: Sales, on_at_capacity: e, on_error: e }\n  \
         e: { type: end_flow }\n",
    );
    assert_eq!(
        errors(&text),
        [
            "flows/t.yaml:5:14: a transfer_to_queue block is not allowed in a customer_hold flow \
          (only in inbound, customer_queue, transfer_to_agent, transfer_to_queue flows)"
        ]
    );

    let text = flow_text("inbound", "e", "  e: { type: end_flow }\n");
    assert_eq!(
        errors(&text),
        [
            "flows/t.yaml:5:14: an end_flow block is not allowed in an inbound flow (only in \
          customer_queue, customer_hold, customer_whisper, agent_hold, agent_whisper, \
          outbound_whisper, transfer_to_agent, transfer_to_queue flows)"
        ]
    );
}

#[test]
fn keys_that_do_not_apply_to_the_block_type() {
    let text = flow_text(
        "inbound",
        "p",
        &format!(
            "  p:\n    type: play_prompt\n    prompt: greeting\n    timeout: 5s\n    \
             next: hang-up\n    on_error: hang-up\n    on_timeout: hang-up\n{HANG_UP}"
        ),
    );
    assert_eq!(
        errors(&text),
        [
            "flows/t.yaml:8:14: `timeout` does not apply to a play_prompt block (it takes \
             prompt, interruptible, next, on_error)",
            "flows/t.yaml:11:17: `on_timeout` does not apply to a play_prompt block (it takes \
             prompt, interruptible, next, on_error)",
        ]
    );
}

#[test]
fn unknown_keys_are_yaml_errors() {
    let text = flow_text("inbound", "a", "  a: { type: disconnect, nxt: b }\n");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0]
            .starts_with("flows/t.yaml:5:26: unknown field `nxt`, expected one of type, prompt,"),
        "{errs:?}"
    );
}

#[test]
fn duplicate_block_ids_are_yaml_errors() {
    let text = flow_text(
        "inbound",
        "a",
        "  a: { type: disconnect }\n  a: { type: disconnect }\n",
    );
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:6:3: duplicate mapping key `a` is not allowed here"]
    );
}

#[test]
fn every_branch_must_be_wired() {
    let text = flow_text(
        "inbound",
        "ask",
        &format!(
            "  ask:\n    type: get_customer_input\n    prompt: greeting\n    \
             branches: [{{ digits: \"1\", next: hang-up }}]\n    on_timeout: hang-up\n{HANG_UP}"
        ),
    );
    assert_eq!(
        errors(&text),
        [
            "flows/t.yaml:5:3: get_customer_input block `ask` needs `on_no_match`",
            "flows/t.yaml:5:3: get_customer_input block `ask` needs `on_error`",
        ]
    );

    let text = flow_text(
        "inbound",
        "w",
        &format!("  w: {{ type: transfer_to_queue, queue: Sales, on_error: hang-up }}\n{HANG_UP}"),
    );
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:5:3: transfer_to_queue block `w` needs `on_at_capacity`"]
    );

    let text = flow_text(
        "inbound",
        "l",
        &format!("  l: {{ type: loop, count: 2, on_looping: hang-up }}\n{HANG_UP}"),
    );
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:5:3: loop block `l` needs `on_complete`"]
    );
}

#[test]
fn branch_lists_must_be_there_and_not_empty() {
    let text = flow_text(
        "inbound",
        "c",
        &format!(
            "  c: {{ type: check_contact_attributes, attribute: tier, on_no_match: hang-up }}\n{HANG_UP}"
        ),
    );
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:5:3: check_contact_attributes block `c` needs `branches`"]
    );

    let text = flow_text(
        "inbound",
        "c",
        &format!(
            "  c: {{ type: check_contact_attributes, attribute: tier, branches: [], on_no_match: hang-up }}\n{HANG_UP}"
        ),
    );
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:5:67: `branches` must list at least one branch"]
    );
}

#[test]
fn required_settings() {
    let text = flow_text(
        "inbound",
        "p",
        &format!("  p: {{ type: play_prompt, next: hang-up, on_error: hang-up }}\n{HANG_UP}"),
    );
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:5:3: play_prompt block `p` needs `prompt`"]
    );

    let text = flow_text(
        "inbound",
        "a",
        &format!("  a: {{ type: transfer_to_agent, on_error: hang-up }}\n{HANG_UP}"),
    );
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:5:3: transfer_to_agent block `a` needs `agent`"],
        "outside a transfer_to_agent flow there is no agent to default to"
    );
}

#[test]
fn unknown_transition_targets_and_start() {
    let text = flow_text(
        "inbound",
        "p",
        "  p: { type: play_prompt, prompt: greeting, next: hangup, on_error: hang-up }\n  \
         hang-up: { type: disconnect }\n",
    );
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:5:51: unknown block `hangup`; known blocks: hang-up, p"]
    );

    let text = flow_text("inbound", "begin", HANG_UP);
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:3:8: unknown block `begin`; known blocks: hang-up"]
    );

    let text = "name: t\ntype: inbound\nstart: a\nblocks: {}\n";
    assert_eq!(
        errors(text),
        ["flows/t.yaml:3:8: unknown block `a`; no blocks are defined"]
    );
}

#[test]
fn unreachable_blocks() {
    let text = flow_text(
        "inbound",
        "hang-up",
        "  hang-up: { type: disconnect }\n  orphan: { type: play_prompt, prompt: goodbye, next: hang-up, on_error: hang-up }\n",
    );
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:6:3: block `orphan` cannot be reached from the start block `hang-up`"]
    );
}

#[test]
fn block_ids_are_plain_names() {
    let text = flow_text(
        "inbound",
        "\"hang up\"",
        "  \"hang up\": { type: disconnect }\n",
    );
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:5:3: invalid block id `hang up`: use letters, digits, `-` and `_`"]
    );
}

#[test]
fn prompts_must_exist_in_the_prompts_directory() {
    let play = |prompt: &str| {
        flow_text(
            "inbound",
            "p",
            &format!(
                "  p: {{ type: play_prompt, prompt: {prompt}, next: hang-up, on_error: hang-up }}\n{HANG_UP}"
            ),
        )
    };
    assert_eq!(
        errors(&play("greting")),
        [
            "flows/t.yaml:5:35: unknown prompt `greting`: there is no file tests/fixtures/flows/prompts/greting.wav"
        ]
    );
    assert_eq!(
        errors(&play("greeting.wav")),
        ["flows/t.yaml:5:35: write prompt `greeting.wav` as `greeting`, without .wav"]
    );
    assert_eq!(
        errors(&play("../greeting")),
        [
            "flows/t.yaml:5:35: invalid prompt name `../greeting`: a prompt is a file name in the prompts directory, without .wav"
        ]
    );
    assert_eq!(
        errors(&play("[greeting, nope]")),
        [
            "flows/t.yaml:5:46: unknown prompt `nope`: there is no file tests/fixtures/flows/prompts/nope.wav"
        ]
    );
    assert_eq!(
        errors(&play("[]")),
        ["flows/t.yaml:5:35: `prompt` must name at least one prompt"]
    );
}

#[test]
fn references_to_queues_hours_and_users() {
    let text = flow_text(
        "inbound",
        "q",
        &format!(
            "  q: {{ type: set_working_queue, queue: Billing, next: h }}\n  \
             h: {{ type: check_hours_of_operation, hours: Nights, on_open: a, on_closed: hang-up, on_error: hang-up }}\n  \
             a: {{ type: transfer_to_agent, agent: carol, on_error: hang-up }}\n{HANG_UP}"
        ),
    );
    assert_eq!(
        errors(&text),
        [
            "flows/t.yaml:5:40: unknown queue `Billing`; known queues: Sales, Support",
            "flows/t.yaml:6:47: unknown hours of operation `Nights`; known hours of operation: Always, Business hours",
            "flows/t.yaml:7:40: unknown user `carol`; known users: ann, bob",
        ]
    );
}

#[test]
fn references_to_flows_exist_and_have_the_right_type() {
    let set = |block: &str, flow: &str| {
        flow_text(
            "inbound",
            "s",
            &format!("  s: {{ type: {block}, flow: {flow}, next: hang-up }}\n{HANG_UP}"),
        )
    };
    assert_eq!(
        errors(&set("set_customer_queue_flow", "main-menu")),
        [
            "flows/t.yaml:5:45: flow `main-menu` is an inbound flow; set_customer_queue_flow needs a customer_queue flow"
        ]
    );
    assert_eq!(
        errors(&set("set_hold_flow", "waiting")),
        [
            "flows/t.yaml:5:35: flow `waiting` is a customer_queue flow; set_hold_flow needs a customer_hold or agent_hold flow"
        ]
    );
    assert_eq!(
        errors(&set("set_whisper_flow", "hold-music")),
        [
            "flows/t.yaml:5:38: flow `hold-music` is a customer_hold flow; set_whisper_flow needs a customer_whisper, agent_whisper or outbound_whisper flow"
        ]
    );
    assert_eq!(
        errors(&set("set_disconnect_flow", "queue-music")),
        ["flows/t.yaml:5:41: unknown flow `queue-music`: there is no file flows/queue-music.yaml"]
    );
    // A flow whose own file is broken is reported there, not again here; this flow is
    // still rejected because the reference cannot be checked.
    assert!(load(&set("set_customer_queue_flow", "broken")).is_err());
    let ok = load_ok(&set("set_whisper_flow", "whisper"));
    assert_eq!(
        ok.blocks[0].kind,
        BlockKind::SetWhisperFlow {
            flow: "whisper".into(),
            kind: FlowKind::AgentWhisper,
            next: BlockRef(1)
        }
    );
}

#[test]
fn input_settings() {
    let ask = |settings: &str, digits: &str| {
        flow_text(
            "inbound",
            "ask",
            &format!(
                "  ask:\n    type: get_customer_input\n{settings}    branches: [{{ digits: \"{digits}\", next: hang-up }}]\n    \
                 on_no_match: hang-up\n    on_timeout: hang-up\n    on_error: hang-up\n{HANG_UP}"
            ),
        )
    };
    assert_eq!(
        errors(&ask("    timeout: 0s\n", "1")),
        ["flows/t.yaml:7:14: timeout must be above 0s and at most 5m"]
    );
    assert_eq!(
        errors(&ask("    timeout: 5 seconds\n", "1")),
        [
            "flows/t.yaml:7:14: invalid duration `5 seconds`: expected a number and a unit (ms, s, m, h, d), e.g. 30s, 5m, 250ms"
        ]
    );
    assert_eq!(
        errors(&ask("    max_digits: 21\n", "1")),
        ["flows/t.yaml:7:17: max_digits must be between 1 and 20"]
    );
    assert_eq!(
        errors(&ask("    terminator: \"##\"\n", "1")),
        ["flows/t.yaml:7:17: invalid terminator `##`: use one key, 0-9, * or #"]
    );
    assert_eq!(
        errors(&ask("", "1a")),
        ["flows/t.yaml:7:26: invalid digits `1a`: use the keys 0-9, * and #"]
    );
    assert_eq!(
        errors(&ask("", "12")),
        ["flows/t.yaml:7:26: digits `12` are longer than max_digits (1)"]
    );
    assert_eq!(
        errors(&ask("    max_digits: 3\n    terminator: \"#\"\n", "1#")),
        ["flows/t.yaml:9:26: digits `1#` contain the terminator `#`, so they can never be entered"]
    );
}

#[test]
fn digit_branches_are_distinct_and_only_digits() {
    let text = flow_text(
        "inbound",
        "ask",
        &format!(
            "  ask:\n    type: get_customer_input\n    branches:\n      - {{ digits: \"1\", next: hang-up }}\n      \
             - {{ digits: \"1\", next: hang-up }}\n      - {{ equals: \"2\", next: hang-up }}\n    \
             on_no_match: hang-up\n    on_timeout: hang-up\n    on_error: hang-up\n{HANG_UP}"
        ),
    );
    assert_eq!(
        errors(&text),
        [
            "flows/t.yaml:9:19: duplicate digits `1`, first listed at line 8",
            "flows/t.yaml:10:9: a get_customer_input branch needs `digits`",
            "flows/t.yaml:10:19: `equals` does not apply to a get_customer_input branch (it takes digits, next)",
        ]
    );
}

#[test]
fn attribute_conditions() {
    let check = |attribute: &str, branch: &str| {
        flow_text(
            "inbound",
            "c",
            &format!(
                "  c:\n    type: check_contact_attributes\n    attribute: {attribute}\n    branches:\n      - {branch}\n    \
                 on_no_match: hang-up\n{HANG_UP}"
            ),
        )
    };
    assert_eq!(
        errors(&check("tier", "{ greater: lots, next: hang-up }")),
        ["flows/t.yaml:9:20: `lots` is not a number"]
    );
    assert_eq!(
        errors(&check(
            "tier",
            "{ equals: gold, contains: old, next: hang-up }"
        )),
        [
            "flows/t.yaml:9:35: a check_contact_attributes branch takes only one of equals, contains, greater or less"
        ]
    );
    assert_eq!(
        errors(&check("tier", "{ next: hang-up }")),
        [
            "flows/t.yaml:9:9: a check_contact_attributes branch needs one of equals, contains, greater or less"
        ]
    );
    assert_eq!(
        errors(&check("$.language", "{ equals: en, next: hang-up }")),
        ["flows/t.yaml:7:16: unknown system value `$.language`; known: $.queue"]
    );
    let text = flow_text(
        "inbound",
        "s",
        &format!(
            "  s: {{ type: set_contact_attributes, attributes: {{ $.queue: Sales }}, next: hang-up }}\n{HANG_UP}"
        ),
    );
    assert_eq!(
        errors(&text),
        [
            "flows/t.yaml:5:52: attribute names starting with `$.` are system values and cannot be set: `$.queue`"
        ]
    );
    let text = flow_text(
        "inbound",
        "s",
        &format!(
            "  s: {{ type: set_contact_attributes, attributes: {{}}, next: hang-up }}\n{HANG_UP}"
        ),
    );
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:5:50: `attributes` must set at least one attribute"]
    );
}

#[test]
fn queue_conditions() {
    let check = |branch: &str| {
        flow_text(
            "inbound",
            "c",
            &format!(
                "  c:\n    type: check_queue_status\n    queue: Sales\n    branches:\n      - {branch}\n    \
                 on_no_match: hang-up\n    on_error: hang-up\n{HANG_UP}"
            ),
        )
    };
    assert_eq!(
        errors(&check("{ metric: size, greater: 3, next: hang-up }")),
        [
            "flows/t.yaml:9:19: unknown queue metric `size`; expected contacts_in_queue, oldest_contact_age or position"
        ]
    );
    assert_eq!(
        errors(&check("{ greater: 3, next: hang-up }")),
        [
            "flows/t.yaml:9:9: a check_queue_status branch needs `metric` (contacts_in_queue, oldest_contact_age or position)"
        ]
    );
    assert_eq!(
        errors(&check(
            "{ metric: contacts_in_queue, greater: -1, next: hang-up }"
        )),
        ["flows/t.yaml:9:47: `-1` is not a whole number (0 or more)"]
    );
    assert_eq!(
        errors(&check(
            "{ metric: oldest_contact_age, greater: 5, next: hang-up }"
        )),
        [
            "flows/t.yaml:9:48: invalid duration `5`: expected a number and a unit (ms, s, m, h, d), e.g. 30s, 5m, 250ms"
        ]
    );
    assert_eq!(
        errors(&check("{ metric: position, contains: 1, next: hang-up }")),
        [
            "flows/t.yaml:9:9: a check_queue_status branch needs one of equals, greater or less",
            "flows/t.yaml:9:39: `contains` does not apply to a check_queue_status branch (it takes metric, equals, greater, less, next)",
        ]
    );
}

#[test]
fn percentages_add_up_to_100() {
    let text = flow_text(
        "inbound",
        "d",
        &format!(
            "  d:\n    type: distribute_by_percentage\n    branches:\n      - {{ percent: 60, next: hang-up }}\n      \
             - {{ percent: 30, next: hang-up }}\n{HANG_UP}"
        ),
    );
    assert_eq!(
        errors(&text),
        ["flows/t.yaml:8:7: percentages add up to 90; they must add up to 100"]
    );
    let text = flow_text(
        "inbound",
        "d",
        &format!(
            "  d: {{ type: distribute_by_percentage, branches: [{{ percent: 0, next: hang-up }}, {{ next: hang-up }}] }}\n{HANG_UP}"
        ),
    );
    assert_eq!(
        errors(&text),
        [
            "flows/t.yaml:5:62: percent must be between 1 and 100",
            "flows/t.yaml:5:82: a distribute_by_percentage branch needs `percent`",
        ]
    );
}

#[test]
fn numbers_counts_and_durations() {
    let text = flow_text(
        "inbound",
        "p",
        &format!(
            "  p: {{ type: transfer_to_phone_number, number: \"555 0100\", caller_id: \"+15550100\", on_error: l }}\n  \
             l: {{ type: loop, count: 0, on_looping: w, on_complete: hang-up }}\n  \
             w: {{ type: wait, duration: 2h, on_timeout: hang-up }}\n{HANG_UP}"
        ),
    );
    assert_eq!(
        errors(&text),
        [
            "flows/t.yaml:5:48: invalid phone number `555 0100`: write it in international E.164 form, e.g. +15550100",
            "flows/t.yaml:6:27: count must be between 1 and 1000",
            "flows/t.yaml:7:30: duration must be above 0s and at most 1h",
        ]
    );
}

#[test]
fn enumerated_settings() {
    let text = flow_text(
        "inbound",
        "r",
        &format!(
            "  r: {{ type: set_recording_behavior, record: all, next: s }}\n  \
             s: {{ type: check_staffing, metric: busy, on_true: hang-up, on_false: hang-up, on_error: hang-up }}\n{HANG_UP}"
        ),
    );
    assert_eq!(
        errors(&text),
        [
            "flows/t.yaml:5:46: unknown recording behavior `all`; expected agent, customer, both or none",
            "flows/t.yaml:6:38: unknown staffing metric `busy`; expected available, staffed or online",
        ]
    );
}

#[test]
fn flow_name_must_match_the_file() {
    let text = "name: other\ntype: inbound\nstart: a\nblocks:\n  a: { type: disconnect }\n";
    assert_eq!(
        errors(text),
        ["flows/t.yaml:1:7: flow name `other` must match its file name `t.yaml`"]
    );
}

#[test]
fn config_load_reports_flow_block_errors_in_their_files() {
    let err = crate::config::load(Path::new("tests/fixtures/flows/center.yaml")).unwrap_err();
    let lines: Vec<String> = err.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "tests/fixtures/flows/broken/main-menu.yaml:5:3: transfer_to_queue block `enqueue` needs `on_error`",
            "tests/fixtures/flows/broken/main-menu.yaml:7:12: unknown queue `Billing`; known queues: Support",
            "tests/fixtures/flows/broken/to-agent.yaml:10:3: block `forgotten` cannot be reached from the start block `transfer`",
        ]
    );
}

#[test]
fn shipped_flows_load_typed() {
    let config = crate::config::load(Path::new("../config/switchboard.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let menu = &config.flows["main-menu"];
    assert_eq!(menu.kind, FlowKind::Inbound);
    assert_eq!(menu.block(menu.start).id, "menu");
    let BlockKind::GetCustomerInput {
        input, branches, ..
    } = &menu.block(menu.start).kind
    else {
        panic!("the menu starts with get_customer_input");
    };
    assert_eq!(input.prompts[0].name, "greeting");
    assert_eq!(
        input.prompts[0].path,
        Path::new("../config/../media/prompts/greeting.wav")
    );
    let digits: Vec<&str> = branches.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(digits, ["1", "2"]);
}

#[test]
fn start_and_blocks_are_required() {
    assert_eq!(
        errors("name: t\ntype: inbound\nblocks:\n  a: { type: disconnect }\n"),
        ["flows/t.yaml:3:1: missing field `start`"]
    );
    assert_eq!(
        errors("name: t\ntype: inbound\nstart: a\n"),
        ["flows/t.yaml:3:1: missing field `blocks`"]
    );
    assert_eq!(
        errors("name: t\ntype: inbound\nstart: a\nblocks: []\n"),
        ["flows/t.yaml:4:9: expected a mapping of keys and values"]
    );
}
