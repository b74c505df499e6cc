//! The flow interpreter: one [`FlowRun`] per contact (and per flow the contact runs), sans-IO.
//!
//! Call order, as for every machine here: [`FlowRun::start`] once, then feed what happens with
//! [`FlowRun::handle`] (prompt finished, digits, transfer results, queue events) and
//! [`FlowRun::handle_timeout`] when [`FlowRun::poll_timeout`] is due; after each call drain
//! [`FlowRun::poll_action`] and carry the actions out in order. The run owns its timers (input
//! timeouts, wait blocks): the caller only arms one timer at `poll_timeout()`.
//!
//! Blocks that need nothing from outside (attributes, checks, loops, distribution) run back to
//! back within one call; at most [`MAX_STEPS_PER_INPUT`] blocks per call, so a flow that loops
//! without waiting for anything ends with `Disconnect { reason: FlowError }` instead of spinning.
//! The run holds an `Arc<Flow>`: publishing a new version never changes a running contact.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::model::*;

/// Blocks executed for one input (or start or timeout) before the run gives up.
pub const MAX_STEPS_PER_INPUT: u32 = 1000;

/// What the flow asks of the world. Implemented by the call layer over its live state; every
/// answer is for the current moment (the implementer knows the wall clock). `None` means the
/// thing asked about no longer exists (a newer config removed it): the block takes `on_error`.
pub trait FlowEnv {
    /// Whether the hours of operation called `hours` are open now.
    fn hours_open(&mut self, hours: &str) -> Option<bool>;
    /// The hours of operation of `queue`.
    fn queue_hours(&mut self, queue: &str) -> Option<String>;
    fn queue_status(&mut self, queue: &str) -> Option<QueueStatus>;
    fn staffing(&mut self, queue: &str) -> Option<Staffing>;
    /// A uniformly random number in 0..100, for distribute_by_percentage.
    fn random_percent(&mut self) -> u32;
}

/// A queue as check_queue_status sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStatus {
    pub contacts_in_queue: u32,
    /// Zero when the queue is empty.
    pub oldest_contact_age: Duration,
    /// This contact's place in the queue (1 is next), when it is queued there.
    pub position: Option<u32>,
}

/// Agent counts for a queue, as check_staffing sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Staffing {
    pub available: u32,
    pub staffed: u32,
    pub online: u32,
}

/// What happened, for the run to react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowInput {
    /// The prompt of the last [`FlowAction::Play`] finished.
    PromptFinished,
    /// The last prompt could not be played.
    PromptFailed,
    /// DTMF keys the party pressed, in order (RFC 4733 events or SIP INFO).
    Digits(String),
    /// The outcome of the last EnqueueTo / TransferToAgent / TransferToNumber.
    Transfer(TransferResult),
    Queue(QueueEvent),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferResult {
    /// Done: the flow's part is over.
    Ok,
    /// The queue holds its maximum number of contacts.
    AtCapacity,
    Error,
}

/// Events about the queue a customer waits in, for customer_queue flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueEvent {
    /// An agent is being connected: the queue flow stops where it is.
    AgentConnected,
    /// The contact left the queue another way: the queue flow stops.
    Left,
}

/// What the call layer must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum FlowAction {
    /// Play a prompt to the party the flow talks to; answer with PromptFinished or
    /// PromptFailed. When `interruptible`, the first digit stops it.
    Play {
        prompt: Prompt,
        interruptible: bool,
    },
    /// Forward DTMF to the run from now on. The run itself times out (see `poll_timeout`).
    CollectDigits {
        max_digits: u8,
        timeout: Duration,
        terminator: Option<char>,
    },
    /// Stop the prompt playing now (a digit interrupted it, or the run stopped).
    StopPlayback,
    SetRecording(Recording),
    /// Put the contact in `queue`; answer with a Transfer result.
    EnqueueTo {
        queue: String,
    },
    /// Offer the contact to `agent` (a username); answer with a Transfer result.
    TransferToAgent {
        agent: String,
    },
    /// Call `number` (E.164) and connect the contact; answer with a Transfer result.
    TransferToNumber {
        number: String,
        caller_id: Option<String>,
    },
    SetQueueFlow {
        flow: String,
    },
    SetHoldFlow {
        flow: String,
        party: HoldParty,
    },
    SetWhisperFlow {
        flow: String,
        kind: FlowKind,
    },
    SetDisconnectFlow {
        flow: String,
    },
    /// Hang up the contact. The run is finished.
    Disconnect {
        reason: DisconnectReason,
    },
    /// The flow ended (end_flow): the contact goes on as the flow type implies. The run is
    /// finished.
    EndFlow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// A disconnect block.
    Flow,
    /// The flow could not go on (it ran [`MAX_STEPS_PER_INPUT`] blocks without waiting).
    FlowError,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    NotStarted,
    /// play_prompt, playing its prompt number `index`.
    Playing {
        block: BlockRef,
        index: usize,
    },
    /// An input block playing its prompt number `index`; no digit yet.
    Prompting {
        block: BlockRef,
        index: usize,
    },
    /// An input block taking digits until `deadline`.
    Collecting {
        block: BlockRef,
        digits: String,
        deadline: Instant,
    },
    Waiting {
        block: BlockRef,
        deadline: Instant,
    },
    /// A transfer block waiting for its result.
    Transferring {
        block: BlockRef,
    },
    Finished,
}

/// One contact's run through one flow. See the module docs for the call order.
#[derive(Debug)]
pub struct FlowRun {
    flow: Arc<Flow>,
    attributes: Attributes,
    working_queue: Option<String>,
    agent: Option<String>,
    state: State,
    /// How many times each loop block has taken `on_looping` since it last completed.
    loops: BTreeMap<BlockRef, u32>,
    /// Digits pressed during an interruptible prompt or beyond an input's max_digits, for the
    /// next input block.
    typeahead: String,
    actions: VecDeque<FlowAction>,
}

/// What running one block leads to.
enum Step {
    Go(BlockRef),
    /// The run waits for an input or a timeout, or is finished.
    Stop,
}

impl FlowRun {
    /// A run of `flow` for a contact carrying `attributes`.
    pub fn new(flow: Arc<Flow>, attributes: Attributes) -> Self {
        FlowRun {
            flow,
            attributes,
            working_queue: None,
            agent: None,
            state: State::NotStarted,
            loops: BTreeMap::new(),
            typeahead: String::new(),
            actions: VecDeque::new(),
        }
    }

    /// The contact's working queue so far (a queue flow's queue, a queue quick connect's).
    pub fn with_working_queue(mut self, queue: impl Into<String>) -> Self {
        self.working_queue = Some(queue.into());
        self
    }

    /// The agent a transfer_to_agent flow transfers to when its block names none.
    pub fn with_agent(mut self, username: impl Into<String>) -> Self {
        self.agent = Some(username.into());
        self
    }

    pub fn flow(&self) -> &Arc<Flow> {
        &self.flow
    }

    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }

    pub fn working_queue(&self) -> Option<&str> {
        self.working_queue.as_deref()
    }

    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// The id of the block the run waits in, if any.
    pub fn current_block(&self) -> Option<&str> {
        let block = match &self.state {
            State::Playing { block, .. }
            | State::Prompting { block, .. }
            | State::Collecting { block, .. }
            | State::Waiting { block, .. }
            | State::Transferring { block } => *block,
            State::NotStarted | State::Finished => return None,
        };
        Some(&self.flow.block(block).id)
    }

    /// Runs from the start block until the flow waits for something. Only the first call
    /// does anything.
    pub fn start<E: FlowEnv + ?Sized>(&mut self, now: Instant, env: &mut E) {
        if self.state == State::NotStarted {
            self.run_from(now, self.flow.start, env);
        }
    }

    pub fn poll_action(&mut self) -> Option<FlowAction> {
        self.actions.pop_front()
    }

    /// When [`FlowRun::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Collecting { deadline, .. } | State::Waiting { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }

    pub fn handle_timeout<E: FlowEnv + ?Sized>(&mut self, now: Instant, env: &mut E) {
        if self.poll_timeout().is_none_or(|deadline| now < deadline) {
            return;
        }
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Collecting { block, digits, .. } => {
                self.input_done(now, block, digits, true, env);
            }
            State::Waiting { block, .. } => {
                if let BlockKind::Wait { on_timeout, .. } = self.flow.block(block).kind {
                    self.run_from(now, on_timeout, env);
                }
            }
            other => self.state = other,
        }
    }

    /// Feeds one input. Inputs the current state does not expect are ignored (a digit
    /// during a non-interruptible prompt, a late PromptFinished after a wait began...).
    pub fn handle<E: FlowEnv + ?Sized>(&mut self, now: Instant, input: FlowInput, env: &mut E) {
        let flow = Arc::clone(&self.flow);
        let state = std::mem::replace(&mut self.state, State::Finished);
        match (state, input) {
            (State::Playing { block, index }, FlowInput::PromptFinished) => {
                if let BlockKind::PlayPrompt {
                    prompts,
                    interruptible,
                    next,
                    ..
                } = &flow.block(block).kind
                {
                    if let Some(prompt) = prompts.get(index + 1) {
                        self.play(prompt, *interruptible);
                        self.state = State::Playing {
                            block,
                            index: index + 1,
                        };
                    } else {
                        self.run_from(now, *next, env);
                    }
                }
            }
            (State::Playing { block, index }, FlowInput::Digits(digits)) => {
                match &flow.block(block).kind {
                    BlockKind::PlayPrompt {
                        interruptible: true,
                        next,
                        ..
                    } => {
                        self.actions.push_back(FlowAction::StopPlayback);
                        self.typeahead.push_str(&digits);
                        self.run_from(now, *next, env);
                    }
                    _ => self.state = State::Playing { block, index },
                }
            }
            (
                State::Playing { block, .. } | State::Prompting { block, .. },
                FlowInput::PromptFailed,
            ) => match on_error(&flow.block(block).kind) {
                Some(to) => self.run_from(now, to, env),
                None => self.fail(),
            },
            (State::Prompting { block, index }, FlowInput::PromptFinished) => {
                let input = input_spec(&flow.block(block).kind);
                match input.and_then(|i| i.prompts.get(index + 1)) {
                    Some(prompt) => {
                        self.play(prompt, true);
                        self.state = State::Prompting {
                            block,
                            index: index + 1,
                        };
                    }
                    None => {
                        let timeout = input.map_or(Duration::ZERO, |i| i.timeout);
                        self.state = State::Collecting {
                            block,
                            digits: String::new(),
                            deadline: now + timeout,
                        };
                    }
                }
            }
            (State::Prompting { block, .. }, FlowInput::Digits(digits)) => {
                self.actions.push_back(FlowAction::StopPlayback);
                self.collect(now, block, String::new(), &digits, env);
            }
            (State::Collecting { block, digits, .. }, FlowInput::Digits(more)) => {
                self.collect(now, block, digits, &more, env);
            }
            (State::Transferring { block }, FlowInput::Transfer(result)) => {
                let kind = &flow.block(block).kind;
                let to = match (result, kind) {
                    (TransferResult::Ok, _) => None,
                    (
                        TransferResult::AtCapacity,
                        BlockKind::TransferToQueue { on_at_capacity, .. },
                    ) => Some(*on_at_capacity),
                    _ => on_error(kind),
                };
                if let Some(to) = to {
                    self.run_from(now, to, env);
                }
            }
            (state @ (State::NotStarted | State::Finished), _) => self.state = state,
            (state, FlowInput::Queue(_)) => {
                if matches!(state, State::Playing { .. } | State::Prompting { .. }) {
                    self.actions.push_back(FlowAction::StopPlayback);
                }
            }
            (state, _) => self.state = state,
        }
    }

    fn play(&mut self, prompt: &Prompt, interruptible: bool) {
        self.actions.push_back(FlowAction::Play {
            prompt: prompt.clone(),
            interruptible,
        });
    }

    /// Adds `more` digits to an input block's `digits`; finishes the block when input is
    /// complete (max_digits or the terminator), else restarts the inter-digit timeout.
    fn collect<E: FlowEnv + ?Sized>(
        &mut self,
        now: Instant,
        block: BlockRef,
        mut digits: String,
        more: &str,
        env: &mut E,
    ) {
        let flow = Arc::clone(&self.flow);
        let Some(spec) = input_spec(&flow.block(block).kind) else {
            return self.fail();
        };
        let mut keys = more.chars();
        let mut complete = false;
        for key in keys.by_ref() {
            if Some(key) == spec.terminator {
                complete = true;
                break;
            }
            digits.push(key);
            if digits.len() >= usize::from(spec.max_digits) {
                complete = true;
                break;
            }
        }
        self.typeahead.extend(keys);
        if complete {
            self.input_done(now, block, digits, false, env);
        } else {
            self.state = State::Collecting {
                block,
                digits,
                deadline: now + spec.timeout,
            };
        }
    }

    /// An input block got its digits (or timed out): choose its branch.
    fn input_done<E: FlowEnv + ?Sized>(
        &mut self,
        now: Instant,
        block: BlockRef,
        digits: String,
        timed_out: bool,
        env: &mut E,
    ) {
        let flow = Arc::clone(&self.flow);
        let to = match &flow.block(block).kind {
            BlockKind::GetCustomerInput {
                branches,
                on_no_match,
                on_timeout,
                ..
            } => {
                if timed_out && digits.is_empty() {
                    *on_timeout
                } else {
                    branches
                        .iter()
                        .find(|(d, _)| *d == digits)
                        .map_or(*on_no_match, |(_, to)| *to)
                }
            }
            BlockKind::StoreCustomerInput {
                attribute,
                next,
                on_timeout,
                ..
            } => {
                if timed_out && digits.is_empty() {
                    *on_timeout
                } else {
                    self.attributes.insert(attribute.clone(), digits);
                    *next
                }
            }
            _ => return self.fail(),
        };
        self.run_from(now, to, env);
    }

    /// Runs blocks from `at` until one waits or the run ends, within the step budget.
    fn run_from<E: FlowEnv + ?Sized>(&mut self, now: Instant, mut at: BlockRef, env: &mut E) {
        let flow = Arc::clone(&self.flow);
        for _ in 0..MAX_STEPS_PER_INPUT {
            tracing::trace!(flow = %flow.name, block = %flow.block(at).id, "flow block");
            match self.enter(now, at, &flow, env) {
                Step::Go(next) => at = next,
                Step::Stop => return,
            }
        }
        tracing::warn!(
            flow = %flow.name,
            block = %flow.block(at).id,
            "flow ran {MAX_STEPS_PER_INPUT} blocks without waiting for anything; disconnecting"
        );
        self.fail();
    }

    /// Ends the run on an internal error: the contact is disconnected.
    fn fail(&mut self) {
        self.actions.push_back(FlowAction::Disconnect {
            reason: DisconnectReason::FlowError,
        });
        self.state = State::Finished;
    }

    /// Runs one block: either moves on at once, or sets the state it waits in.
    fn enter<E: FlowEnv + ?Sized>(
        &mut self,
        now: Instant,
        at: BlockRef,
        flow: &Flow,
        env: &mut E,
    ) -> Step {
        use BlockKind as K;
        let queue_or_working =
            |q: &Option<String>, working: &Option<String>| q.clone().or_else(|| working.clone());
        match &flow.block(at).kind {
            K::PlayPrompt {
                prompts,
                interruptible,
                next,
                ..
            } => match prompts.first() {
                Some(p) => {
                    self.play(p, *interruptible);
                    self.state = State::Playing {
                        block: at,
                        index: 0,
                    };
                    Step::Stop
                }
                None => Step::Go(*next),
            },
            K::GetCustomerInput { input, .. } | K::StoreCustomerInput { input, .. } => {
                self.actions.push_back(FlowAction::CollectDigits {
                    max_digits: input.max_digits,
                    timeout: input.timeout,
                    terminator: input.terminator,
                });
                let typed = std::mem::take(&mut self.typeahead);
                if !typed.is_empty() {
                    self.collect(now, at, String::new(), &typed, env);
                    return Step::Stop;
                }
                match input.prompts.first() {
                    Some(p) => {
                        self.play(p, true);
                        self.state = State::Prompting {
                            block: at,
                            index: 0,
                        };
                    }
                    None => {
                        self.state = State::Collecting {
                            block: at,
                            digits: String::new(),
                            deadline: now + input.timeout,
                        };
                    }
                }
                Step::Stop
            }
            K::SetContactAttributes { attributes, next } => {
                for (k, v) in attributes {
                    self.attributes.insert(k.clone(), v.clone());
                }
                Step::Go(*next)
            }
            K::CheckContactAttributes {
                attribute,
                branches,
                on_no_match,
            } => {
                let value = match attribute {
                    AttributeRef::User(name) => self.attributes.get(name).cloned(),
                    AttributeRef::Queue => self.working_queue.clone(),
                };
                let hit = value.and_then(|v| {
                    branches
                        .iter()
                        .find(|(test, _)| attribute_holds(test, &v))
                        .map(|(_, to)| *to)
                });
                Step::Go(hit.unwrap_or(*on_no_match))
            }
            K::CheckHoursOfOperation {
                hours,
                on_open,
                on_closed,
                on_error,
            } => {
                let hours = match hours {
                    Some(h) => Some(h.clone()),
                    None => self.working_queue.clone().and_then(|q| env.queue_hours(&q)),
                };
                Step::Go(match hours.and_then(|h| env.hours_open(&h)) {
                    Some(true) => *on_open,
                    Some(false) => *on_closed,
                    None => *on_error,
                })
            }
            K::SetWorkingQueue { queue, next } => {
                self.working_queue = Some(queue.clone());
                Step::Go(*next)
            }
            K::CheckQueueStatus {
                queue,
                branches,
                on_no_match,
                on_error,
            } => {
                let status =
                    queue_or_working(queue, &self.working_queue).and_then(|q| env.queue_status(&q));
                Step::Go(match status {
                    None => *on_error,
                    Some(s) => branches
                        .iter()
                        .find(|(test, _)| queue_holds(test, &s))
                        .map_or(*on_no_match, |(_, to)| *to),
                })
            }
            K::CheckStaffing {
                queue,
                metric,
                on_true,
                on_false,
                on_error,
            } => {
                let staffing =
                    queue_or_working(queue, &self.working_queue).and_then(|q| env.staffing(&q));
                Step::Go(match staffing {
                    None => *on_error,
                    Some(s) => {
                        let n = match metric {
                            StaffingMetric::Available => s.available,
                            StaffingMetric::Staffed => s.staffed,
                            StaffingMetric::Online => s.online,
                        };
                        if n > 0 { *on_true } else { *on_false }
                    }
                })
            }
            K::TransferToQueue {
                queue, on_error, ..
            } => match queue_or_working(queue, &self.working_queue) {
                Some(queue) => {
                    self.working_queue = Some(queue.clone());
                    self.transfer(at, FlowAction::EnqueueTo { queue })
                }
                None => Step::Go(*on_error),
            },
            K::TransferToAgent { agent, on_error } => {
                match agent.clone().or_else(|| self.agent.clone()) {
                    Some(agent) => self.transfer(at, FlowAction::TransferToAgent { agent }),
                    None => Step::Go(*on_error),
                }
            }
            K::TransferToPhoneNumber {
                number, caller_id, ..
            } => self.transfer(
                at,
                FlowAction::TransferToNumber {
                    number: number.clone(),
                    caller_id: caller_id.clone(),
                },
            ),
            K::SetRecordingBehavior { record, next } => {
                self.actions.push_back(FlowAction::SetRecording(*record));
                Step::Go(*next)
            }
            K::SetCustomerQueueFlow { flow, next } => {
                self.actions
                    .push_back(FlowAction::SetQueueFlow { flow: flow.clone() });
                Step::Go(*next)
            }
            K::SetHoldFlow { flow, party, next } => {
                self.actions.push_back(FlowAction::SetHoldFlow {
                    flow: flow.clone(),
                    party: *party,
                });
                Step::Go(*next)
            }
            K::SetWhisperFlow { flow, kind, next } => {
                self.actions.push_back(FlowAction::SetWhisperFlow {
                    flow: flow.clone(),
                    kind: *kind,
                });
                Step::Go(*next)
            }
            K::SetDisconnectFlow { flow, next } => {
                self.actions
                    .push_back(FlowAction::SetDisconnectFlow { flow: flow.clone() });
                Step::Go(*next)
            }
            K::Loop {
                count,
                on_looping,
                on_complete,
            } => {
                let done = self.loops.entry(at).or_insert(0);
                if *done < *count {
                    *done += 1;
                    Step::Go(*on_looping)
                } else {
                    self.loops.remove(&at);
                    Step::Go(*on_complete)
                }
            }
            K::Wait { duration, .. } => {
                self.state = State::Waiting {
                    block: at,
                    deadline: now + *duration,
                };
                Step::Stop
            }
            K::DistributeByPercentage { branches } => {
                let roll = env.random_percent() % 100;
                let mut upto = 0u32;
                let mut to = None;
                for (pct, target) in branches {
                    upto += u32::from(*pct);
                    if roll < upto {
                        to = Some(*target);
                        break;
                    }
                }
                match to.or_else(|| branches.last().map(|(_, t)| *t)) {
                    Some(to) => Step::Go(to),
                    None => {
                        self.fail();
                        Step::Stop
                    }
                }
            }
            K::Disconnect => {
                self.actions.push_back(FlowAction::Disconnect {
                    reason: DisconnectReason::Flow,
                });
                self.state = State::Finished;
                Step::Stop
            }
            K::EndFlow => {
                self.actions.push_back(FlowAction::EndFlow);
                self.state = State::Finished;
                Step::Stop
            }
        }
    }

    fn transfer(&mut self, at: BlockRef, action: FlowAction) -> Step {
        self.actions.push_back(action);
        self.state = State::Transferring { block: at };
        Step::Stop
    }
}

fn input_spec(kind: &BlockKind) -> Option<&InputSpec> {
    match kind {
        BlockKind::GetCustomerInput { input, .. } | BlockKind::StoreCustomerInput { input, .. } => {
            Some(input)
        }
        _ => None,
    }
}

fn on_error(kind: &BlockKind) -> Option<BlockRef> {
    kind.transitions()
        .into_iter()
        .find(|t| t.label == "on_error")
        .map(|t| t.target)
}

fn attribute_holds(test: &AttributeTest, value: &str) -> bool {
    let number = || value.trim().parse::<f64>().ok();
    match test {
        AttributeTest::Equals(v) => value == v,
        AttributeTest::Contains(v) => value.contains(v.as_str()),
        AttributeTest::Greater(n) => number().is_some_and(|x| x > *n),
        AttributeTest::Less(n) => number().is_some_and(|x| x < *n),
    }
}

fn queue_holds(test: &QueueTest, s: &QueueStatus) -> bool {
    match *test {
        QueueTest::ContactsInQueue(op, n) => op.holds(s.contacts_in_queue, n),
        QueueTest::OldestContactAge(op, d) => op.holds(s.oldest_contact_age, d),
        QueueTest::Position(op, n) => s.position.is_some_and(|p| op.holds(p, n)),
    }
}
