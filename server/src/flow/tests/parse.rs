//! Flow files parse into the typed model: settings, defaults and transitions.

use std::time::Duration;

use super::*;

#[test]
fn input_blocks_with_defaults_and_settings() {
    let text = flow_text(
        "inbound",
        "ask",
        "  ask:\n    type: get_customer_input\n    prompt: [greeting, goodbye]\n    \
         branches:\n      - { digits: \"1\", next: account }\n      - { digits: \"*\", next: bye }\n    \
         on_no_match: bye\n    on_timeout: bye\n    on_error: bye\n  \
         account:\n    type: store_customer_input\n    attribute: account\n    timeout: 10s\n    \
         max_digits: 8\n    terminator: \"#\"\n    next: bye\n    on_timeout: bye\n    on_error: bye\n  \
         bye: { type: disconnect }\n",
    );
    let flow = load_ok(&text);
    assert_eq!(flow.name, "t");
    assert_eq!(flow.kind, FlowKind::Inbound);
    assert_eq!(flow.start, BlockRef(0));
    let ids: Vec<&str> = flow.blocks.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["ask", "account", "bye"], "file order is kept");

    let prompt = |name: &str| Prompt {
        name: name.into(),
        path: Path::new(PROMPTS).join(format!("{name}.wav")),
    };
    assert_eq!(
        flow.blocks[0].kind,
        BlockKind::GetCustomerInput {
            input: InputSpec {
                prompts: vec![prompt("greeting"), prompt("goodbye")],
                timeout: Duration::from_secs(5),
                max_digits: 1,
                terminator: None,
            },
            branches: vec![("1".into(), BlockRef(1)), ("*".into(), BlockRef(2))],
            on_no_match: BlockRef(2),
            on_timeout: BlockRef(2),
            on_error: BlockRef(2),
        }
    );
    assert_eq!(
        flow.blocks[1].kind,
        BlockKind::StoreCustomerInput {
            input: InputSpec {
                prompts: vec![],
                timeout: Duration::from_secs(10),
                max_digits: 8,
                terminator: Some('#'),
            },
            attribute: "account".into(),
            next: BlockRef(2),
            on_timeout: BlockRef(2),
            on_error: BlockRef(2),
        }
    );
    assert_eq!(flow.blocks[2].kind, BlockKind::Disconnect);
}

#[test]
fn checks_and_routing_blocks() {
    let text = flow_text(
        "inbound",
        "attrs",
        "  attrs: { type: set_contact_attributes, attributes: { tier: gold, lang: en }, next: tier }\n  \
         tier:\n    type: check_contact_attributes\n    attribute: tier\n    branches:\n      \
         - { equals: gold, next: queue }\n      - { contains: ol, next: queue }\n      \
         - { greater: 2.5, next: queue }\n      - { less: 1, next: queue }\n    on_no_match: queue\n  \
         queue: { type: set_working_queue, queue: Sales, next: status }\n  \
         status:\n    type: check_queue_status\n    branches:\n      \
         - { metric: contacts_in_queue, greater: 20, next: staff }\n      \
         - { metric: oldest_contact_age, greater: 5m, next: staff }\n      \
         - { metric: position, less: 3, next: staff }\n    on_no_match: staff\n    on_error: staff\n  \
         staff: { type: check_staffing, metric: staffed, on_true: rec, on_false: rec, on_error: rec }\n  \
         rec: { type: set_recording_behavior, record: customer, next: hold }\n  \
         hold: { type: set_hold_flow, flow: hold-music, next: phone }\n  \
         phone: { type: transfer_to_phone_number, number: \"+1 555 0199\", on_error: split }\n  \
         split: { type: distribute_by_percentage, branches: [{ percent: 25, next: bye }, { percent: 75, next: bye }] }\n  \
         bye: { type: disconnect }\n",
    );
    let flow = load_ok(&text);
    let kind = |id: &str| &flow.block(flow.block_by_id(id).unwrap()).kind;
    assert_eq!(
        kind("attrs"),
        &BlockKind::SetContactAttributes {
            attributes: vec![("tier".into(), "gold".into()), ("lang".into(), "en".into())],
            next: BlockRef(1),
        }
    );
    let BlockKind::CheckContactAttributes {
        attribute,
        branches,
        ..
    } = kind("tier")
    else {
        panic!()
    };
    assert_eq!(attribute, &AttributeRef::User("tier".into()));
    let tests: Vec<&AttributeTest> = branches.iter().map(|(t, _)| t).collect();
    assert_eq!(
        tests,
        [
            &AttributeTest::Equals("gold".into()),
            &AttributeTest::Contains("ol".into()),
            &AttributeTest::Greater(2.5),
            &AttributeTest::Less(1.0),
        ]
    );
    let BlockKind::CheckQueueStatus {
        queue, branches, ..
    } = kind("status")
    else {
        panic!()
    };
    assert_eq!(queue, &None, "no queue: the working queue");
    let tests: Vec<QueueTest> = branches.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        tests,
        [
            QueueTest::ContactsInQueue(CmpOp::Greater, 20),
            QueueTest::OldestContactAge(CmpOp::Greater, Duration::from_secs(300)),
            QueueTest::Position(CmpOp::Less, 3),
        ]
    );
    assert!(matches!(
        kind("staff"),
        BlockKind::CheckStaffing {
            metric: StaffingMetric::Staffed,
            queue: None,
            ..
        }
    ));
    assert!(matches!(
        kind("rec"),
        BlockKind::SetRecordingBehavior {
            record: Recording::Customer,
            ..
        }
    ));
    assert!(matches!(
        kind("hold"),
        BlockKind::SetHoldFlow {
            party: HoldParty::Customer,
            ..
        }
    ));
    assert_eq!(
        kind("phone"),
        &BlockKind::TransferToPhoneNumber {
            number: "+15550199".into(),
            caller_id: None,
            on_error: flow.block_by_id("split").unwrap(),
        }
    );
    let bye = flow.block_by_id("bye").unwrap();
    assert_eq!(
        kind("split"),
        &BlockKind::DistributeByPercentage {
            branches: vec![(25, bye), (75, bye)]
        }
    );
}

#[test]
fn transitions_list_every_edge_with_its_branch() {
    let text = flow_text(
        "inbound",
        "ask",
        "  ask:\n    type: get_customer_input\n    branches: [{ digits: \"1\", next: bye }]\n    \
         on_no_match: ask\n    on_timeout: ask\n    on_error: bye\n  bye: { type: disconnect }\n",
    );
    let flow = load_ok(&text);
    let edges: Vec<(String, usize)> = flow.blocks[0]
        .kind
        .transitions()
        .into_iter()
        .map(|t| (t.label, t.target.index()))
        .collect();
    assert_eq!(
        edges,
        [
            ("digits 1".to_owned(), 1),
            ("on_no_match".to_owned(), 0),
            ("on_timeout".to_owned(), 0),
            ("on_error".to_owned(), 1),
        ]
    );
}
