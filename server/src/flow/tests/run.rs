//! The interpreter in virtual time: the shipped flows (main menu, queue flows, whisper,
//! transfers) and small inline flows for loops, waits, distribution and the step budget.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

/// The one place these tests read the real clock: a base instant, then only additions.
#[allow(clippy::disallowed_methods)]
fn t0() -> Instant {
    Instant::now()
}

/// A scripted world: which hours are open, queue states, and the random rolls to return.
#[derive(Default)]
struct Env {
    open: BTreeMap<String, bool>,
    queue_hours: BTreeMap<String, String>,
    status: BTreeMap<String, QueueStatus>,
    staffing: BTreeMap<String, Staffing>,
    rolls: VecDeque<u32>,
}

impl FlowEnv for Env {
    fn hours_open(&mut self, hours: &str) -> Option<bool> {
        self.open.get(hours).copied()
    }
    fn queue_hours(&mut self, queue: &str) -> Option<String> {
        self.queue_hours.get(queue).cloned()
    }
    fn queue_status(&mut self, queue: &str) -> Option<QueueStatus> {
        self.status.get(queue).copied()
    }
    fn staffing(&mut self, queue: &str) -> Option<Staffing> {
        self.staffing.get(queue).copied()
    }
    fn random_percent(&mut self) -> u32 {
        self.rolls.pop_front().expect("a roll was scripted")
    }
}

/// The demo center: Sales always open, Support on business hours (open unless `closed`).
fn demo_env(support_open: bool) -> Env {
    let mut env = Env::default();
    env.queue_hours.insert("Sales".into(), "Always open".into());
    env.queue_hours
        .insert("Support".into(), "Business hours".into());
    env.open.insert("Always open".into(), true);
    env.open.insert("Business hours".into(), support_open);
    env
}

fn shipped(name: &str) -> Arc<Flow> {
    let config = crate::config::load(Path::new("../config/switchboard.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    Arc::clone(&config.flows[name])
}

fn drain(run: &mut FlowRun) -> Vec<FlowAction> {
    std::iter::from_fn(|| run.poll_action()).collect()
}

/// The prompt names of the Play actions in `actions`, other actions as short words.
fn summary(actions: &[FlowAction]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            FlowAction::Play { prompt, .. } => format!("play {}", prompt.name),
            FlowAction::CollectDigits { .. } => "collect".into(),
            FlowAction::StopPlayback => "stop".into(),
            FlowAction::SetRecording(r) => format!("record {r:?}"),
            FlowAction::EnqueueTo { queue } => format!("enqueue {queue}"),
            FlowAction::TransferToAgent { agent } => format!("to agent {agent}"),
            FlowAction::TransferToNumber { number, .. } => format!("to number {number}"),
            FlowAction::SetQueueFlow { flow } => format!("queue flow {flow}"),
            FlowAction::SetHoldFlow { flow, .. } => format!("hold flow {flow}"),
            FlowAction::SetWhisperFlow { flow, .. } => format!("whisper flow {flow}"),
            FlowAction::SetDisconnectFlow { flow } => format!("disconnect flow {flow}"),
            FlowAction::Disconnect { reason } => format!("disconnect {reason:?}"),
            FlowAction::EndFlow => "end".into(),
        })
        .collect()
}

fn step(run: &mut FlowRun, now: Instant, input: FlowInput, env: &mut Env) -> Vec<String> {
    run.handle(now, input, env);
    summary(&drain(run))
}

fn digits(d: &str) -> FlowInput {
    FlowInput::Digits(d.into())
}

#[test]
fn main_menu_start_asks_for_a_digit() {
    let (now, mut env) = (t0(), demo_env(true));
    let mut run = FlowRun::new(shipped("main-menu"), BTreeMap::new());
    run.start(now, &mut env);
    let actions = drain(&mut run);
    assert_eq!(
        actions[0],
        FlowAction::CollectDigits {
            max_digits: 1,
            timeout: Duration::from_secs(5),
            terminator: None
        }
    );
    let FlowAction::Play {
        prompt,
        interruptible,
    } = &actions[1]
    else {
        panic!("{actions:?}")
    };
    assert_eq!(prompt.name, "greeting");
    assert!(
        *interruptible,
        "the menu prompt can be interrupted by a digit"
    );
    assert_eq!(actions.len(), 2);
    assert_eq!(
        run.poll_timeout(),
        None,
        "the input timeout starts after the prompt"
    );
    assert_eq!(run.current_block(), Some("menu"));
}

#[test]
fn main_menu_digit_1_goes_to_sales() {
    let (now, mut env) = (t0(), demo_env(true));
    let mut run = FlowRun::new(shipped("main-menu"), BTreeMap::new());
    run.start(now, &mut env);
    drain(&mut run);
    assert_eq!(
        step(&mut run, now, digits("1"), &mut env),
        [
            "stop",
            "queue flow customer-queue",
            "record Both",
            "whisper flow agent-whisper",
            "enqueue Sales"
        ]
    );
    assert_eq!(run.working_queue(), Some("Sales"));
    assert!(!run.is_finished(), "waiting for the transfer result");
    assert!(
        step(
            &mut run,
            now,
            FlowInput::Transfer(TransferResult::Ok),
            &mut env
        )
        .is_empty()
    );
    assert!(run.is_finished());
}

#[test]
fn main_menu_digit_2_after_the_prompt_goes_to_support() {
    let (now, mut env) = (t0(), demo_env(true));
    let mut run = FlowRun::new(shipped("main-menu"), BTreeMap::new());
    run.start(now, &mut env);
    drain(&mut run);
    assert!(step(&mut run, now, FlowInput::PromptFinished, &mut env).is_empty());
    assert_eq!(run.poll_timeout(), Some(now + Duration::from_secs(5)));
    let later = now + Duration::from_secs(3);
    assert_eq!(
        step(&mut run, later, digits("2"), &mut env),
        [
            "queue flow support-queue",
            "record Both",
            "whisper flow agent-whisper",
            "enqueue Support"
        ]
    );
}

#[test]
fn main_menu_timeouts_retry_twice_then_say_goodbye_and_disconnect() {
    let (mut now, mut env) = (t0(), demo_env(true));
    let mut run = FlowRun::new(shipped("main-menu"), BTreeMap::new());
    run.start(now, &mut env);
    drain(&mut run);
    for _ in 0..2 {
        run.handle(now, FlowInput::PromptFinished, &mut env);
        now = run.poll_timeout().expect("input timeout armed");
        run.handle_timeout(now - Duration::from_millis(1), &mut env);
        assert!(drain(&mut run).is_empty(), "not due yet");
        run.handle_timeout(now, &mut env);
        assert_eq!(summary(&drain(&mut run)), ["collect", "play greeting"]);
    }
    run.handle(now, FlowInput::PromptFinished, &mut env);
    now = run.poll_timeout().unwrap();
    run.handle_timeout(now, &mut env);
    assert_eq!(summary(&drain(&mut run)), ["play goodbye"]);
    assert_eq!(
        step(&mut run, now, FlowInput::PromptFinished, &mut env),
        ["disconnect Flow"]
    );
    assert!(run.is_finished());
}

#[test]
fn main_menu_wrong_digit_asks_again() {
    let (now, mut env) = (t0(), demo_env(true));
    let mut run = FlowRun::new(shipped("main-menu"), BTreeMap::new());
    run.start(now, &mut env);
    drain(&mut run);
    assert_eq!(
        step(&mut run, now, digits("7"), &mut env),
        ["stop", "collect", "play greeting"]
    );
}

#[test]
fn main_menu_out_of_hours_plays_closed_then_disconnects() {
    let (now, mut env) = (t0(), demo_env(false));
    let mut run = FlowRun::new(shipped("main-menu"), BTreeMap::new());
    run.start(now, &mut env);
    drain(&mut run);
    assert_eq!(
        step(&mut run, now, digits("2"), &mut env),
        ["stop", "queue flow support-queue", "play closed"]
    );
    assert_eq!(
        step(&mut run, now, FlowInput::PromptFinished, &mut env),
        ["disconnect Flow"]
    );
    assert!(run.is_finished());
}

#[test]
fn main_menu_full_queue_plays_busy_music_and_retries() {
    let (now, mut env) = (t0(), demo_env(true));
    let mut run = FlowRun::new(shipped("main-menu"), BTreeMap::new());
    run.start(now, &mut env);
    drain(&mut run);
    step(&mut run, now, digits("1"), &mut env);
    let full = FlowInput::Transfer(TransferResult::AtCapacity);
    for _ in 0..3 {
        assert_eq!(
            step(&mut run, now, full.clone(), &mut env),
            ["play all-agents-busy"]
        );
        assert_eq!(
            step(&mut run, now, FlowInput::PromptFinished, &mut env),
            ["play music-on-hold"]
        );
        assert_eq!(
            step(&mut run, now, FlowInput::PromptFinished, &mut env),
            ["enqueue Sales"]
        );
    }
    assert_eq!(step(&mut run, now, full, &mut env), ["play goodbye"]);
}

#[test]
fn a_failed_prompt_takes_on_error() {
    let (now, mut env) = (t0(), demo_env(true));
    let mut run = FlowRun::new(shipped("main-menu"), BTreeMap::new());
    run.start(now, &mut env);
    drain(&mut run);
    assert_eq!(
        step(&mut run, now, FlowInput::PromptFailed, &mut env),
        ["play goodbye"]
    );
    assert_eq!(
        step(&mut run, now, FlowInput::PromptFailed, &mut env),
        ["disconnect Flow"]
    );
}

#[test]
fn support_queue_waits_then_announces_the_position() {
    let (now, mut env) = (t0(), demo_env(true));
    env.status.insert(
        "Support".into(),
        QueueStatus {
            contacts_in_queue: 4,
            oldest_contact_age: Duration::from_secs(90),
            position: Some(3),
        },
    );
    let mut run =
        FlowRun::new(shipped("support-queue"), BTreeMap::new()).with_working_queue("Support");
    run.start(now, &mut env);
    assert_eq!(summary(&drain(&mut run)), ["play all-agents-busy"]);
    let at = now + Duration::from_secs(8);
    step(&mut run, at, FlowInput::PromptFinished, &mut env);
    assert_eq!(run.poll_timeout(), Some(at + Duration::from_secs(30)));
    assert!(
        step(&mut run, at, digits("5"), &mut env).is_empty(),
        "digits are ignored in a wait"
    );
    let at = at + Duration::from_secs(30);
    run.handle_timeout(at, &mut env);
    assert_eq!(summary(&drain(&mut run)), ["play you-are-caller"]);
    assert_eq!(
        step(&mut run, at, FlowInput::PromptFinished, &mut env),
        ["play number-3"]
    );
    step(&mut run, at, FlowInput::PromptFinished, &mut env);
    assert_eq!(
        run.poll_timeout(),
        Some(at + Duration::from_secs(30)),
        "and waits again"
    );
    assert!(
        step(
            &mut run,
            at,
            FlowInput::Queue(QueueEvent::AgentConnected),
            &mut env
        )
        .is_empty()
    );
    assert!(run.is_finished());
    assert_eq!(run.poll_timeout(), None);
}

#[test]
fn customer_queue_loops_music_between_announcements() {
    let (now, mut env) = (t0(), demo_env(true));
    env.status.insert(
        "Sales".into(),
        QueueStatus {
            contacts_in_queue: 12,
            oldest_contact_age: Duration::ZERO,
            position: Some(12),
        },
    );
    let mut run =
        FlowRun::new(shipped("customer-queue"), BTreeMap::new()).with_working_queue("Sales");
    run.start(now, &mut env);
    let mut heard = summary(&drain(&mut run));
    for _ in 0..6 {
        heard.extend(step(&mut run, now, FlowInput::PromptFinished, &mut env));
    }
    // Twelfth in line: no announcement, the music loop starts over.
    assert_eq!(
        heard,
        [
            "play all-agents-busy",
            "play music-on-hold",
            "play music-on-hold",
            "play music-on-hold",
            "play music-on-hold",
            "play music-on-hold",
            "play music-on-hold",
        ]
    );
    // Now second in line: announced after this second round of music, then music again.
    env.status.get_mut("Sales").unwrap().position = Some(2);
    let mut heard = Vec::new();
    for _ in 0..3 {
        heard.extend(step(&mut run, now, FlowInput::PromptFinished, &mut env));
    }
    assert_eq!(
        heard,
        ["play you-are-caller", "play number-2", "play music-on-hold"]
    );
    assert_eq!(
        step(
            &mut run,
            now,
            FlowInput::Queue(QueueEvent::AgentConnected),
            &mut env
        ),
        ["stop"]
    );
}

#[test]
fn agent_whisper_names_the_queue() {
    let (now, mut env) = (t0(), demo_env(true));
    let mut run =
        FlowRun::new(shipped("agent-whisper"), BTreeMap::new()).with_working_queue("Support");
    run.start(now, &mut env);
    assert_eq!(summary(&drain(&mut run)), ["play number-2"]);
    assert_eq!(
        step(&mut run, now, FlowInput::PromptFinished, &mut env),
        ["end"]
    );
    assert!(run.is_finished());
}

#[test]
fn transfer_flows() {
    let (now, mut env) = (t0(), demo_env(true));
    let mut run = FlowRun::new(shipped("transfer-to-agent"), BTreeMap::new()).with_agent("bob");
    run.start(now, &mut env);
    assert_eq!(summary(&drain(&mut run)), ["record Both", "to agent bob"]);
    assert_eq!(
        step(
            &mut run,
            now,
            FlowInput::Transfer(TransferResult::Error),
            &mut env
        ),
        ["play goodbye"]
    );

    let mut run =
        FlowRun::new(shipped("transfer-to-queue"), BTreeMap::new()).with_working_queue("Sales");
    run.start(now, &mut env);
    assert_eq!(
        summary(&drain(&mut run)),
        ["whisper flow agent-whisper", "enqueue Sales"]
    );

    let mut closed = demo_env(false);
    let mut run =
        FlowRun::new(shipped("transfer-to-queue"), BTreeMap::new()).with_working_queue("Support");
    run.start(now, &mut closed);
    assert_eq!(summary(&drain(&mut run)), ["play closed"]);
}

#[test]
fn distribute_by_percentage_follows_the_rolls() {
    let flow = Arc::new(load_ok(&flow_text(
        "inbound",
        "split",
        "  split:\n    type: distribute_by_percentage\n    branches:\n      \
         - { percent: 70, next: a }\n      - { percent: 30, next: b }\n  \
         a: { type: set_working_queue, queue: Sales, next: bye }\n  \
         b: { type: set_working_queue, queue: Support, next: bye }\n  bye: { type: disconnect }\n",
    )));
    let mut env = Env::default();
    env.rolls.extend([0, 69, 70, 99, 105]);
    let chosen: Vec<String> = (0..5)
        .map(|_| {
            let mut run = FlowRun::new(Arc::clone(&flow), BTreeMap::new());
            run.start(t0(), &mut env);
            run.working_queue().unwrap().to_owned()
        })
        .collect();
    assert_eq!(chosen, ["Sales", "Sales", "Support", "Support", "Sales"]);
}

#[test]
fn loop_counts_and_resets() {
    let flow = Arc::new(load_ok(&flow_text(
        "customer_queue",
        "l",
        "  l: { type: loop, count: 2, on_looping: w, on_complete: e }\n  \
         w: { type: wait, duration: 10s, on_timeout: l }\n  e: { type: end_flow }\n",
    )));
    let mut env = Env::default();
    let mut now = t0();
    let mut run = FlowRun::new(flow, BTreeMap::new());
    run.start(now, &mut env);
    let mut waits = 0;
    while let Some(deadline) = run.poll_timeout() {
        assert_eq!(deadline, now + Duration::from_secs(10));
        now = deadline;
        waits += 1;
        run.handle_timeout(now, &mut env);
    }
    assert_eq!(waits, 2);
    assert_eq!(summary(&drain(&mut run)), ["end"]);
}

#[test]
fn a_flow_that_never_waits_is_stopped_by_the_step_budget() {
    let flow = Arc::new(load_ok(&flow_text(
        "inbound",
        "set",
        "  set: { type: set_contact_attributes, attributes: { spin: \"yes\" }, next: check }\n  \
         check:\n    type: check_contact_attributes\n    attribute: spin\n    \
         branches: [{ equals: \"yes\", next: set }]\n    on_no_match: bye\n  bye: { type: disconnect }\n",
    )));
    let mut run = FlowRun::new(flow, BTreeMap::new());
    run.start(t0(), &mut Env::default());
    assert_eq!(summary(&drain(&mut run)), ["disconnect FlowError"]);
    assert!(run.is_finished());
}

#[test]
fn digits_during_an_interruptible_prompt_are_kept_for_the_next_input() {
    let flow = Arc::new(load_ok(&flow_text(
        "inbound",
        "hello",
        "  hello: { type: play_prompt, prompt: greeting, interruptible: true, next: account, on_error: bye }\n  \
         account:\n    type: store_customer_input\n    attribute: account\n    max_digits: 6\n    \
         terminator: \"#\"\n    next: bye\n    on_timeout: bye\n    on_error: bye\n  \
         bye: { type: disconnect }\n",
    )));
    let (now, mut env) = (t0(), Env::default());
    let mut run = FlowRun::new(flow, BTreeMap::new());
    run.start(now, &mut env);
    drain(&mut run);
    assert_eq!(
        step(&mut run, now, digits("12"), &mut env),
        ["stop", "collect"]
    );
    assert_eq!(run.poll_timeout(), Some(now + Duration::from_secs(5)));
    let later = now + Duration::from_secs(2);
    assert!(step(&mut run, later, digits("3"), &mut env).is_empty());
    assert_eq!(
        run.poll_timeout(),
        Some(later + Duration::from_secs(5)),
        "inter-digit timeout"
    );
    assert_eq!(
        step(&mut run, later, digits("4#"), &mut env),
        ["disconnect Flow"]
    );
    assert_eq!(run.attributes()["account"], "1234");
}

#[test]
fn digits_during_a_plain_prompt_are_ignored() {
    let flow = Arc::new(load_ok(&flow_text(
        "inbound",
        "hello",
        "  hello: { type: play_prompt, prompt: greeting, next: bye, on_error: bye }\n  bye: { type: disconnect }\n",
    )));
    let (now, mut env) = (t0(), Env::default());
    let mut run = FlowRun::new(flow, BTreeMap::new());
    run.start(now, &mut env);
    drain(&mut run);
    assert!(step(&mut run, now, digits("1"), &mut env).is_empty());
    assert_eq!(
        step(&mut run, now, FlowInput::PromptFinished, &mut env),
        ["disconnect Flow"]
    );
}

#[test]
fn checks_read_the_environment() {
    let flow = Arc::new(load_ok(&flow_text(
        "inbound",
        "staff",
        "  staff: { type: check_staffing, queue: Support, metric: available, on_true: busy, on_false: none, on_error: err }\n  \
         busy:\n    type: check_queue_status\n    queue: Support\n    \
         branches: [{ metric: oldest_contact_age, greater: 5m, next: long }]\n    on_no_match: short\n    on_error: err\n  \
         long: { type: set_contact_attributes, attributes: { wait: long }, next: bye }\n  \
         short: { type: set_contact_attributes, attributes: { wait: short }, next: bye }\n  \
         none: { type: set_contact_attributes, attributes: { wait: none }, next: bye }\n  \
         err: { type: set_contact_attributes, attributes: { wait: error }, next: bye }\n  \
         bye: { type: disconnect }\n",
    )));
    let run_with = |env: &mut Env| {
        let mut run = FlowRun::new(Arc::clone(&flow), BTreeMap::new());
        run.start(t0(), env);
        run.attributes()["wait"].clone()
    };
    let mut env = Env::default();
    assert_eq!(run_with(&mut env), "error", "no such queue");
    env.staffing.insert(
        "Support".into(),
        Staffing {
            available: 0,
            staffed: 3,
            online: 2,
        },
    );
    assert_eq!(run_with(&mut env), "none");
    env.staffing.get_mut("Support").unwrap().available = 1;
    env.status.insert(
        "Support".into(),
        QueueStatus {
            contacts_in_queue: 2,
            oldest_contact_age: Duration::from_secs(301),
            position: None,
        },
    );
    assert_eq!(run_with(&mut env), "long");
    env.status.get_mut("Support").unwrap().oldest_contact_age = Duration::from_secs(300);
    assert_eq!(run_with(&mut env), "short");
}

#[test]
fn a_running_contact_keeps_its_flow_version() {
    let v1 = Arc::new(load_ok(&flow_text(
        "inbound",
        "hello",
        "  hello: { type: play_prompt, prompt: greeting, next: bye, on_error: bye }\n  bye: { type: disconnect }\n",
    )));
    let (now, mut env) = (t0(), Env::default());
    let mut run = FlowRun::new(Arc::clone(&v1), BTreeMap::new());
    run.start(now, &mut env);
    drain(&mut run);
    // A newer version is published (the old Arc is dropped by whoever held it).
    let v2 = Arc::new(load_ok(&flow_text(
        "inbound",
        "bye",
        "  bye: { type: disconnect }\n",
    )));
    drop(v1);
    assert_eq!(v2.blocks.len(), 1);
    assert_eq!(run.flow().blocks.len(), 2);
    assert_eq!(
        step(&mut run, now, FlowInput::PromptFinished, &mut env),
        ["disconnect Flow"]
    );
}

#[test]
fn a_timeout_after_some_digits_matches_what_was_entered() {
    let flow = Arc::new(load_ok(&flow_text(
        "inbound",
        "ask",
        "  ask:\n    type: get_customer_input\n    timeout: 3s\n    max_digits: 2\n    \
         branches: [{ digits: \"1\", next: one }, { digits: \"12\", next: twelve }]\n    \
         on_no_match: bye\n    on_timeout: bye\n    on_error: bye\n  \
         one: { type: set_working_queue, queue: Sales, next: bye }\n  \
         twelve: { type: set_working_queue, queue: Support, next: bye }\n  bye: { type: disconnect }\n",
    )));
    let (now, mut env) = (t0(), Env::default());
    let mut run = FlowRun::new(Arc::clone(&flow), BTreeMap::new());
    run.start(now, &mut env);
    assert_eq!(
        summary(&drain(&mut run)),
        ["collect"],
        "no prompt: collecting at once"
    );
    assert_eq!(run.poll_timeout(), Some(now + Duration::from_secs(3)));
    step(&mut run, now, digits("1"), &mut env);
    run.handle_timeout(now + Duration::from_secs(3), &mut env);
    assert_eq!(run.working_queue(), Some("Sales"));
    assert_eq!(summary(&drain(&mut run)), ["disconnect Flow"]);

    let mut run = FlowRun::new(flow, BTreeMap::new());
    run.start(now, &mut env);
    step(&mut run, now, digits("12"), &mut env);
    assert_eq!(
        run.working_queue(),
        Some("Support"),
        "two digits complete the input"
    );
}
