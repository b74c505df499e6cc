//! The typed contact flow: what a validated flow file becomes. Every transition is a
//! [`BlockRef`] into [`Flow::blocks`], so a `Flow` cannot name a block it does not have; every
//! referenced queue, hours, user, prompt and flow existed when the flow was loaded.
//!
//! The tables that decide where a block may be used ([`BlockType::allowed_in`]) and which
//! branches it must wire ([`BlockType::branches`]) live here, next to the types, and are
//! documented for admins in `docs/flows.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::config::format_duration;

/// What a flow is for; decides where it may be referenced from and which blocks it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// Runs when a call arrives on a phone number.
    Inbound,
    /// Plays to a customer waiting in a queue.
    CustomerQueue,
    /// Plays to a customer on hold.
    CustomerHold,
    /// Plays to the customer just before the agent is connected.
    CustomerWhisper,
    /// Plays to an agent whose customer is on hold.
    AgentHold,
    /// Plays to the agent just before the customer is connected.
    AgentWhisper,
    /// Plays to the called party of an outbound call before the agent is connected.
    OutboundWhisper,
    /// Runs when an agent quick connect is used.
    TransferToAgent,
    /// Runs when a queue quick connect is used.
    TransferToQueue,
}

impl FlowKind {
    pub const ALL: [FlowKind; 9] = [
        FlowKind::Inbound,
        FlowKind::CustomerQueue,
        FlowKind::CustomerHold,
        FlowKind::CustomerWhisper,
        FlowKind::AgentHold,
        FlowKind::AgentWhisper,
        FlowKind::OutboundWhisper,
        FlowKind::TransferToAgent,
        FlowKind::TransferToQueue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::Inbound => "inbound",
            FlowKind::CustomerQueue => "customer_queue",
            FlowKind::CustomerHold => "customer_hold",
            FlowKind::CustomerWhisper => "customer_whisper",
            FlowKind::AgentHold => "agent_hold",
            FlowKind::AgentWhisper => "agent_whisper",
            FlowKind::OutboundWhisper => "outbound_whisper",
            FlowKind::TransferToAgent => "transfer_to_agent",
            FlowKind::TransferToQueue => "transfer_to_queue",
        }
    }

    /// "an inbound flow", "a customer_queue flow": for messages.
    pub(crate) fn with_article(self) -> String {
        format!("{} {self} flow", article(self.as_str()))
    }

    /// Flows where the customer is on the line and not yet talking to an agent: the only
    /// places that may ask for input, route, transfer or hang up.
    fn routes(self) -> bool {
        matches!(
            self,
            FlowKind::Inbound
                | FlowKind::CustomerQueue
                | FlowKind::TransferToAgent
                | FlowKind::TransferToQueue
        )
    }
}

/// "a" or "an" before `word`, for messages.
pub(crate) fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

impl fmt::Display for FlowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated contact flow. Shared as `Arc<Flow>`: a contact keeps the version it started
/// with while a newer one is published.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Equals the file stem.
    pub name: String,
    pub kind: FlowKind,
    pub description: Option<String>,
    /// The flow directory joined with `<name>.yaml`.
    pub path: PathBuf,
    pub start: BlockRef,
    /// In file order.
    pub blocks: Vec<Block>,
}

impl Flow {
    /// The block `r` points at; every `BlockRef` a flow hands out is in range.
    pub fn block(&self, r: BlockRef) -> &Block {
        &self.blocks[r.0]
    }

    pub fn block_by_id(&self, id: &str) -> Option<BlockRef> {
        self.blocks.iter().position(|b| b.id == id).map(BlockRef)
    }
}

/// A block of a flow, by its position in [`Flow::blocks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockRef(pub(crate) usize);

impl BlockRef {
    pub fn index(self) -> usize {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The key the block has under `blocks:`.
    pub id: String,
    pub kind: BlockKind,
}

/// A prompt: a WAV file in the prompts directory, referenced in YAML by its file stem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub name: String,
    /// `<prompts dir>/<name>.wav`; existed when the flow was loaded.
    pub path: PathBuf,
}

/// How get_customer_input and store_customer_input collect DTMF.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    /// Played first, interruptible by the first digit; may be empty.
    pub prompts: Vec<Prompt>,
    /// How long to wait after the prompt ends, and after each digit, before giving up.
    pub timeout: Duration,
    /// Input is complete when this many digits were entered (1..=20).
    pub max_digits: u8,
    /// A key that ends input early; it is not part of the input.
    pub terminator: Option<char>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Equals,
    Greater,
    Less,
}

impl CmpOp {
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Equals => "=",
            CmpOp::Greater => ">",
            CmpOp::Less => "<",
        }
    }

    pub(crate) fn holds<T: PartialOrd>(self, actual: T, threshold: T) -> bool {
        match self {
            CmpOp::Equals => actual == threshold,
            CmpOp::Greater => actual > threshold,
            CmpOp::Less => actual < threshold,
        }
    }
}

/// A check_contact_attributes test on the attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeTest {
    Equals(String),
    Contains(String),
    /// Numeric: the value parses as a number greater than this.
    Greater(f64),
    /// Numeric: the value parses as a number less than this.
    Less(f64),
}

/// Which value check_contact_attributes looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeRef {
    /// A contact attribute, set by set_contact_attributes or store_customer_input.
    User(String),
    /// `$.queue`: the working queue's name (empty when none is set).
    Queue,
}

/// A check_queue_status test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueTest {
    ContactsInQueue(CmpOp, u32),
    OldestContactAge(CmpOp, Duration),
    /// This contact's place in the queue (1 is next); false when it is not queued.
    Position(CmpOp, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffingMetric {
    /// Agents in a routable status with no contact.
    Available,
    /// Agents in any status but Offline (on contacts, in ACW, on break...).
    Staffed,
    /// Agents in a routable status, busy or not.
    Online,
}

/// set_recording_behavior: who is recorded once an agent is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    Agent,
    Customer,
    Both,
    None,
}

/// Which hold flow set_hold_flow sets, from the referenced flow's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldParty {
    Customer,
    Agent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BlockKind {
    PlayPrompt {
        prompts: Vec<Prompt>,
        interruptible: bool,
        next: BlockRef,
        on_error: BlockRef,
    },
    GetCustomerInput {
        input: InputSpec,
        /// Exact digit strings, in file order.
        branches: Vec<(String, BlockRef)>,
        on_no_match: BlockRef,
        on_timeout: BlockRef,
        on_error: BlockRef,
    },
    StoreCustomerInput {
        input: InputSpec,
        attribute: String,
        next: BlockRef,
        on_timeout: BlockRef,
        on_error: BlockRef,
    },
    SetContactAttributes {
        /// In file order.
        attributes: Vec<(String, String)>,
        next: BlockRef,
    },
    CheckContactAttributes {
        attribute: AttributeRef,
        /// The first that holds is taken.
        branches: Vec<(AttributeTest, BlockRef)>,
        on_no_match: BlockRef,
    },
    CheckHoursOfOperation {
        /// `None`: the working queue's hours.
        hours: Option<String>,
        on_open: BlockRef,
        on_closed: BlockRef,
        on_error: BlockRef,
    },
    SetWorkingQueue {
        queue: String,
        next: BlockRef,
    },
    CheckQueueStatus {
        /// `None`: the working queue.
        queue: Option<String>,
        branches: Vec<(QueueTest, BlockRef)>,
        on_no_match: BlockRef,
        on_error: BlockRef,
    },
    CheckStaffing {
        queue: Option<String>,
        metric: StaffingMetric,
        on_true: BlockRef,
        on_false: BlockRef,
        on_error: BlockRef,
    },
    TransferToQueue {
        /// `None`: the working queue.
        queue: Option<String>,
        on_at_capacity: BlockRef,
        on_error: BlockRef,
    },
    TransferToAgent {
        /// `None`: the agent of the quick connect that started a transfer_to_agent flow.
        agent: Option<String>,
        on_error: BlockRef,
    },
    TransferToPhoneNumber {
        /// E.164.
        number: String,
        /// E.164; `None` presents the number the customer dialed.
        caller_id: Option<String>,
        on_error: BlockRef,
    },
    SetRecordingBehavior {
        record: Recording,
        next: BlockRef,
    },
    SetCustomerQueueFlow {
        flow: String,
        next: BlockRef,
    },
    SetHoldFlow {
        flow: String,
        party: HoldParty,
        next: BlockRef,
    },
    SetWhisperFlow {
        flow: String,
        /// customer_whisper, agent_whisper or outbound_whisper.
        kind: FlowKind,
        next: BlockRef,
    },
    SetDisconnectFlow {
        flow: String,
        next: BlockRef,
    },
    Loop {
        count: u32,
        on_looping: BlockRef,
        on_complete: BlockRef,
    },
    Wait {
        duration: Duration,
        on_timeout: BlockRef,
    },
    DistributeByPercentage {
        /// Percentages sum to 100.
        branches: Vec<(u8, BlockRef)>,
    },
    Disconnect,
    EndFlow,
}

/// One outgoing edge of a block, for rendering and graph checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The YAML key (`next`, `on_error`) or a description of a list branch (`digits 1`,
    /// `equals gold`, `70%`).
    pub label: String,
    pub target: BlockRef,
}

impl BlockKind {
    pub fn block_type(&self) -> BlockType {
        use BlockKind as K;
        match self {
            K::PlayPrompt { .. } => BlockType::PlayPrompt,
            K::GetCustomerInput { .. } => BlockType::GetCustomerInput,
            K::StoreCustomerInput { .. } => BlockType::StoreCustomerInput,
            K::SetContactAttributes { .. } => BlockType::SetContactAttributes,
            K::CheckContactAttributes { .. } => BlockType::CheckContactAttributes,
            K::CheckHoursOfOperation { .. } => BlockType::CheckHoursOfOperation,
            K::SetWorkingQueue { .. } => BlockType::SetWorkingQueue,
            K::CheckQueueStatus { .. } => BlockType::CheckQueueStatus,
            K::CheckStaffing { .. } => BlockType::CheckStaffing,
            K::TransferToQueue { .. } => BlockType::TransferToQueue,
            K::TransferToAgent { .. } => BlockType::TransferToAgent,
            K::TransferToPhoneNumber { .. } => BlockType::TransferToPhoneNumber,
            K::SetRecordingBehavior { .. } => BlockType::SetRecordingBehavior,
            K::SetCustomerQueueFlow { .. } => BlockType::SetCustomerQueueFlow,
            K::SetHoldFlow { .. } => BlockType::SetHoldFlow,
            K::SetWhisperFlow { .. } => BlockType::SetWhisperFlow,
            K::SetDisconnectFlow { .. } => BlockType::SetDisconnectFlow,
            K::Loop { .. } => BlockType::Loop,
            K::Wait { .. } => BlockType::Wait,
            K::DistributeByPercentage { .. } => BlockType::DistributeByPercentage,
            K::Disconnect => BlockType::Disconnect,
            K::EndFlow => BlockType::EndFlow,
        }
    }

    /// Every edge out of this block, list branches first (in file order), then the named
    /// branches in the order of [`BlockType::branches`].
    pub fn transitions(&self) -> Vec<Transition> {
        use BlockKind as K;
        let t = |label: &str, target: &BlockRef| Transition {
            label: label.to_owned(),
            target: *target,
        };
        match self {
            K::PlayPrompt { next, on_error, .. } => vec![t("next", next), t("on_error", on_error)],
            K::GetCustomerInput {
                branches,
                on_no_match,
                on_timeout,
                on_error,
                ..
            } => {
                let mut v: Vec<Transition> = branches
                    .iter()
                    .map(|(digits, to)| t(&format!("digits {digits}"), to))
                    .collect();
                v.extend([
                    t("on_no_match", on_no_match),
                    t("on_timeout", on_timeout),
                    t("on_error", on_error),
                ]);
                v
            }
            K::StoreCustomerInput {
                next,
                on_timeout,
                on_error,
                ..
            } => vec![
                t("next", next),
                t("on_timeout", on_timeout),
                t("on_error", on_error),
            ],
            K::SetContactAttributes { next, .. }
            | K::SetWorkingQueue { next, .. }
            | K::SetRecordingBehavior { next, .. }
            | K::SetCustomerQueueFlow { next, .. }
            | K::SetHoldFlow { next, .. }
            | K::SetWhisperFlow { next, .. }
            | K::SetDisconnectFlow { next, .. } => vec![t("next", next)],
            K::CheckContactAttributes {
                branches,
                on_no_match,
                ..
            } => {
                let mut v: Vec<Transition> = branches
                    .iter()
                    .map(|(test, to)| t(&attribute_test_label(test), to))
                    .collect();
                v.push(t("on_no_match", on_no_match));
                v
            }
            K::CheckHoursOfOperation {
                on_open,
                on_closed,
                on_error,
                ..
            } => vec![
                t("on_open", on_open),
                t("on_closed", on_closed),
                t("on_error", on_error),
            ],
            K::CheckQueueStatus {
                branches,
                on_no_match,
                on_error,
                ..
            } => {
                let mut v: Vec<Transition> = branches
                    .iter()
                    .map(|(test, to)| t(&queue_test_label(test), to))
                    .collect();
                v.extend([t("on_no_match", on_no_match), t("on_error", on_error)]);
                v
            }
            K::CheckStaffing {
                on_true,
                on_false,
                on_error,
                ..
            } => vec![
                t("on_true", on_true),
                t("on_false", on_false),
                t("on_error", on_error),
            ],
            K::TransferToQueue {
                on_at_capacity,
                on_error,
                ..
            } => vec![t("on_at_capacity", on_at_capacity), t("on_error", on_error)],
            K::TransferToAgent { on_error, .. } | K::TransferToPhoneNumber { on_error, .. } => {
                vec![t("on_error", on_error)]
            }
            K::Loop {
                on_looping,
                on_complete,
                ..
            } => vec![t("on_looping", on_looping), t("on_complete", on_complete)],
            K::Wait { on_timeout, .. } => vec![t("on_timeout", on_timeout)],
            K::DistributeByPercentage { branches } => branches
                .iter()
                .map(|(pct, to)| t(&format!("{pct}%"), to))
                .collect(),
            K::Disconnect | K::EndFlow => Vec::new(),
        }
    }
}

fn attribute_test_label(test: &AttributeTest) -> String {
    match test {
        AttributeTest::Equals(v) => format!("equals {v}"),
        AttributeTest::Contains(v) => format!("contains {v}"),
        AttributeTest::Greater(v) => format!("greater {v}"),
        AttributeTest::Less(v) => format!("less {v}"),
    }
}

fn queue_test_label(test: &QueueTest) -> String {
    match test {
        QueueTest::ContactsInQueue(op, n) => format!("contacts_in_queue {} {n}", op.symbol()),
        QueueTest::Position(op, n) => format!("position {} {n}", op.symbol()),
        QueueTest::OldestContactAge(op, d) => {
            format!("oldest_contact_age {} {}", op.symbol(), format_duration(*d))
        }
    }
}

/// The block types, as written in `type:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BlockType {
    PlayPrompt,
    GetCustomerInput,
    StoreCustomerInput,
    SetContactAttributes,
    CheckContactAttributes,
    CheckHoursOfOperation,
    SetWorkingQueue,
    CheckQueueStatus,
    CheckStaffing,
    TransferToQueue,
    TransferToAgent,
    TransferToPhoneNumber,
    SetRecordingBehavior,
    SetCustomerQueueFlow,
    SetHoldFlow,
    SetWhisperFlow,
    SetDisconnectFlow,
    Loop,
    Wait,
    DistributeByPercentage,
    Disconnect,
    EndFlow,
}

impl BlockType {
    pub const ALL: [BlockType; 22] = [
        BlockType::PlayPrompt,
        BlockType::GetCustomerInput,
        BlockType::StoreCustomerInput,
        BlockType::SetContactAttributes,
        BlockType::CheckContactAttributes,
        BlockType::CheckHoursOfOperation,
        BlockType::SetWorkingQueue,
        BlockType::CheckQueueStatus,
        BlockType::CheckStaffing,
        BlockType::TransferToQueue,
        BlockType::TransferToAgent,
        BlockType::TransferToPhoneNumber,
        BlockType::SetRecordingBehavior,
        BlockType::SetCustomerQueueFlow,
        BlockType::SetHoldFlow,
        BlockType::SetWhisperFlow,
        BlockType::SetDisconnectFlow,
        BlockType::Loop,
        BlockType::Wait,
        BlockType::DistributeByPercentage,
        BlockType::Disconnect,
        BlockType::EndFlow,
    ];

    pub fn as_str(self) -> &'static str {
        use BlockType as T;
        match self {
            T::PlayPrompt => "play_prompt",
            T::GetCustomerInput => "get_customer_input",
            T::StoreCustomerInput => "store_customer_input",
            T::SetContactAttributes => "set_contact_attributes",
            T::CheckContactAttributes => "check_contact_attributes",
            T::CheckHoursOfOperation => "check_hours_of_operation",
            T::SetWorkingQueue => "set_working_queue",
            T::CheckQueueStatus => "check_queue_status",
            T::CheckStaffing => "check_staffing",
            T::TransferToQueue => "transfer_to_queue",
            T::TransferToAgent => "transfer_to_agent",
            T::TransferToPhoneNumber => "transfer_to_phone_number",
            T::SetRecordingBehavior => "set_recording_behavior",
            T::SetCustomerQueueFlow => "set_customer_queue_flow",
            T::SetHoldFlow => "set_hold_flow",
            T::SetWhisperFlow => "set_whisper_flow",
            T::SetDisconnectFlow => "set_disconnect_flow",
            T::Loop => "loop",
            T::Wait => "wait",
            T::DistributeByPercentage => "distribute_by_percentage",
            T::Disconnect => "disconnect",
            T::EndFlow => "end_flow",
        }
    }

    pub fn parse(name: &str) -> Option<BlockType> {
        BlockType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The flow types this block may be used in (docs/flows.md, "Where blocks may be used").
    pub fn allowed_in(self, kind: FlowKind) -> bool {
        use BlockType as T;
        match self {
            T::PlayPrompt
            | T::SetContactAttributes
            | T::CheckContactAttributes
            | T::Loop
            | T::DistributeByPercentage => true,
            T::SetRecordingBehavior => {
                kind.routes()
                    || matches!(
                        kind,
                        FlowKind::CustomerWhisper
                            | FlowKind::AgentWhisper
                            | FlowKind::OutboundWhisper
                    )
            }
            T::Wait => {
                kind.routes() || matches!(kind, FlowKind::CustomerHold | FlowKind::AgentHold)
            }
            T::EndFlow => kind != FlowKind::Inbound,
            T::GetCustomerInput
            | T::StoreCustomerInput
            | T::CheckHoursOfOperation
            | T::SetWorkingQueue
            | T::CheckQueueStatus
            | T::CheckStaffing
            | T::TransferToQueue
            | T::TransferToAgent
            | T::TransferToPhoneNumber
            | T::SetCustomerQueueFlow
            | T::SetHoldFlow
            | T::SetWhisperFlow
            | T::SetDisconnectFlow
            | T::Disconnect => kind.routes(),
        }
    }

    /// The named branches this block takes; every one is required. Blocks with a
    /// `branches:` list say so in [`BlockType::branch_list`].
    pub fn branches(self) -> &'static [&'static str] {
        use BlockType as T;
        match self {
            T::PlayPrompt => &["next", "on_error"],
            T::GetCustomerInput => &["on_no_match", "on_timeout", "on_error"],
            T::StoreCustomerInput => &["next", "on_timeout", "on_error"],
            T::CheckContactAttributes => &["on_no_match"],
            T::CheckHoursOfOperation => &["on_open", "on_closed", "on_error"],
            T::CheckQueueStatus => &["on_no_match", "on_error"],
            T::CheckStaffing => &["on_true", "on_false", "on_error"],
            T::TransferToQueue => &["on_at_capacity", "on_error"],
            T::TransferToAgent | T::TransferToPhoneNumber => &["on_error"],
            T::SetContactAttributes
            | T::SetWorkingQueue
            | T::SetRecordingBehavior
            | T::SetCustomerQueueFlow
            | T::SetHoldFlow
            | T::SetWhisperFlow
            | T::SetDisconnectFlow => &["next"],
            T::Loop => &["on_looping", "on_complete"],
            T::Wait => &["on_timeout"],
            T::DistributeByPercentage | T::Disconnect | T::EndFlow => &[],
        }
    }

    /// Whether the block takes a `branches:` list (at least one entry, each with a `next`).
    pub fn branch_list(self) -> bool {
        matches!(
            self,
            BlockType::GetCustomerInput
                | BlockType::CheckContactAttributes
                | BlockType::CheckQueueStatus
                | BlockType::DistributeByPercentage
        )
    }

    /// The settings (keys other than `type`, branches and `branches`) this block accepts.
    pub fn settings(self) -> &'static [&'static str] {
        use BlockType as T;
        match self {
            T::PlayPrompt => &["prompt", "interruptible"],
            T::GetCustomerInput => &["prompt", "timeout", "max_digits", "terminator"],
            T::StoreCustomerInput => {
                &["attribute", "prompt", "timeout", "max_digits", "terminator"]
            }
            T::SetContactAttributes => &["attributes"],
            T::CheckContactAttributes => &["attribute"],
            T::CheckHoursOfOperation => &["hours"],
            T::SetWorkingQueue | T::CheckQueueStatus | T::TransferToQueue => &["queue"],
            T::CheckStaffing => &["queue", "metric"],
            T::TransferToAgent => &["agent"],
            T::TransferToPhoneNumber => &["number", "caller_id"],
            T::SetRecordingBehavior => &["record"],
            T::SetCustomerQueueFlow | T::SetHoldFlow | T::SetWhisperFlow | T::SetDisconnectFlow => {
                &["flow"]
            }
            T::Loop => &["count"],
            T::Wait => &["duration"],
            T::DistributeByPercentage | T::Disconnect | T::EndFlow => &[],
        }
    }

    /// Every key the block accepts besides `type`, for "does not apply" messages.
    pub(crate) fn keys(self) -> Vec<&'static str> {
        let mut keys = self.settings().to_vec();
        if self.branch_list() {
            keys.push("branches");
        }
        keys.extend(self.branches());
        keys
    }
}

impl fmt::Display for BlockType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Flow types each block type is allowed in, for messages and docs.
pub(crate) fn allowed_kinds(t: BlockType) -> Vec<&'static str> {
    FlowKind::ALL
        .into_iter()
        .filter(|k| t.allowed_in(*k))
        .map(FlowKind::as_str)
        .collect()
}

/// Attributes set when the run starts (e.g. from the call layer) plus those set by blocks.
pub type Attributes = BTreeMap<String, String>;
