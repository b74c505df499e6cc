//! One raw block -> one typed [`BlockKind`]: the block type is known and allowed in this flow
//! type, only keys of that type are written, every required setting and branch is there, and
//! every value and reference is valid. Problems are recorded in the [`Cx`] and the block is
//! left out (`None`); all of a block's problems are reported, not just the first.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_saphyr::Location;

use super::model::*;
use super::raw::{RawBlock, RawBranch, S};
use super::validate::{Cx, FlowRefs};
use super::values::*;

/// The longest get/store input timeout: past this a caller has long given up.
const MAX_INPUT_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest wait block.
const MAX_WAIT: Duration = Duration::from_secs(3600);
/// The highest loop count; higher ones are almost certainly typos.
const MAX_LOOP_COUNT: u32 = 1000;
/// The most digits one input block collects.
const MAX_DIGITS: u32 = 20;

pub(crate) fn block(cx: &mut Cx<'_>, id: &S<String>, raw: &RawBlock) -> Option<BlockKind> {
    let Some(type_name) = &raw.kind else {
        cx.err(
            id.referenced,
            format!("block `{}` needs a `type`", id.value),
        );
        return None;
    };
    let Some(t) = BlockType::parse(&type_name.value) else {
        let names: Vec<&str> = BlockType::ALL.iter().map(|t| t.as_str()).collect();
        cx.err(
            type_name.referenced,
            format!(
                "unknown block type `{}`; expected one of {}",
                type_name.value,
                names.join(", ")
            ),
        );
        return None;
    };
    if !t.allowed_in(cx.kind) {
        cx.err(
            type_name.referenced,
            format!(
                "{} {t} block is not allowed in {} (only in {} flows)",
                article(t.as_str()),
                cx.kind.with_article(),
                allowed_kinds(t).join(", ")
            ),
        );
    }
    let keys = t.keys();
    for (key, at) in raw.keys() {
        if !keys.contains(&key) {
            cx.err(
                at,
                format!(
                    "`{key}` does not apply to a {t} block (it takes {})",
                    keys.join(", ")
                ),
            );
        }
    }
    // Settings and branches are checked even when the type is misplaced, so an admin sees
    // everything at once; any error recorded rejects the flow as a whole.
    Builder { cx, id, t, raw }.build()
}

struct Builder<'c, 'a, 'r> {
    cx: &'c mut Cx<'a>,
    id: &'r S<String>,
    t: BlockType,
    raw: &'r RawBlock,
}

impl Builder<'_, '_, '_> {
    fn missing(&mut self, key: &str) {
        let (t, id, at) = (self.t, self.id.value.clone(), self.id.referenced);
        self.cx.err(at, format!("{t} block `{id}` needs `{key}`"));
    }

    /// A required setting.
    fn need<'v, T>(&mut self, key: &str, v: &'v Option<S<T>>) -> Option<&'v S<T>> {
        if v.is_none() {
            self.missing(key);
        }
        v.as_ref()
    }

    /// A required named branch, resolved.
    fn go(&mut self, key: &str) -> Option<BlockRef> {
        match self.raw.branch(key) {
            Some(target) => self.cx.target(target),
            None => {
                self.missing(key);
                None
            }
        }
    }

    fn build(&mut self) -> Option<BlockKind> {
        use BlockKind as K;
        use BlockType as T;
        let raw = self.raw;
        // Resolve every branch the type takes first, so each missing one is reported even
        // when a setting is wrong too.
        let mut named = Vec::new();
        for key in self.t.branches() {
            named.push((*key, self.go(key)));
        }
        let br = |key: &str| named.iter().find(|(k, _)| *k == key).and_then(|(_, r)| *r);
        match self.t {
            T::PlayPrompt => {
                let prompts = self
                    .need("prompt", &raw.prompt)
                    .and_then(|p| prompts(self.cx, p));
                Some(K::PlayPrompt {
                    prompts: prompts?,
                    interruptible: raw.interruptible.as_ref().is_some_and(|v| v.value),
                    next: br("next")?,
                    on_error: br("on_error")?,
                })
            }
            T::GetCustomerInput => {
                let input = self.input(1);
                let branches = self.digit_branches(input.as_ref());
                Some(K::GetCustomerInput {
                    input: input?,
                    branches: branches?,
                    on_no_match: br("on_no_match")?,
                    on_timeout: br("on_timeout")?,
                    on_error: br("on_error")?,
                })
            }
            T::StoreCustomerInput => {
                let attribute = self
                    .need("attribute", &raw.attribute)
                    .and_then(|a| attribute_name(self.cx, a));
                let input = self.input(MAX_DIGITS as u8);
                Some(K::StoreCustomerInput {
                    input: input?,
                    attribute: attribute?,
                    next: br("next")?,
                    on_timeout: br("on_timeout")?,
                    on_error: br("on_error")?,
                })
            }
            T::SetContactAttributes => {
                let attributes = self.need("attributes", &raw.attributes).and_then(|a| {
                    if a.value.0.is_empty() {
                        self.cx
                            .err(a.referenced, "`attributes` must set at least one attribute");
                        return None;
                    }
                    let mut out = Vec::new();
                    let mut ok = true;
                    for (name, value) in &a.value.0 {
                        ok &= attribute_name(self.cx, name).is_some();
                        out.push((name.value.clone(), value.value.clone()));
                    }
                    ok.then_some(out)
                });
                Some(K::SetContactAttributes {
                    attributes: attributes?,
                    next: br("next")?,
                })
            }
            T::CheckContactAttributes => {
                let attribute = self
                    .need("attribute", &raw.attribute)
                    .and_then(|a| attribute_ref(self.cx, a));
                let branches = self.list(attribute_test);
                Some(K::CheckContactAttributes {
                    attribute: attribute?,
                    branches: branches?,
                    on_no_match: br("on_no_match")?,
                })
            }
            T::CheckHoursOfOperation => {
                let hours = self.optional_ref(
                    &raw.hours,
                    "hours of operation",
                    "hours of operation",
                    |r| &r.hours,
                );
                Some(K::CheckHoursOfOperation {
                    hours: hours?,
                    on_open: br("on_open")?,
                    on_closed: br("on_closed")?,
                    on_error: br("on_error")?,
                })
            }
            T::SetWorkingQueue => {
                let queue = self.need("queue", &raw.queue).cloned();
                let queue = queue.and_then(|q| self.queue(&q));
                Some(K::SetWorkingQueue {
                    queue: queue?,
                    next: br("next")?,
                })
            }
            T::CheckQueueStatus => {
                let queue = self.optional_ref(&raw.queue, "queue", "queues", |r| &r.queues);
                let branches = self.list(queue_test);
                Some(K::CheckQueueStatus {
                    queue: queue?,
                    branches: branches?,
                    on_no_match: br("on_no_match")?,
                    on_error: br("on_error")?,
                })
            }
            T::CheckStaffing => {
                let queue = self.optional_ref(&raw.queue, "queue", "queues", |r| &r.queues);
                let metric = self.need("metric", &raw.metric).and_then(|m| {
                    Some(match m.value.as_str() {
                        "available" => StaffingMetric::Available,
                        "staffed" => StaffingMetric::Staffed,
                        "online" => StaffingMetric::Online,
                        other => {
                            self.cx.err(
                                m.referenced,
                                format!(
                                    "unknown staffing metric `{other}`; expected available, staffed or online"
                                ),
                            );
                            return None;
                        }
                    })
                });
                Some(K::CheckStaffing {
                    queue: queue?,
                    metric: metric?,
                    on_true: br("on_true")?,
                    on_false: br("on_false")?,
                    on_error: br("on_error")?,
                })
            }
            T::TransferToQueue => {
                let queue = self.optional_ref(&raw.queue, "queue", "queues", |r| &r.queues);
                Some(K::TransferToQueue {
                    queue: queue?,
                    on_at_capacity: br("on_at_capacity")?,
                    on_error: br("on_error")?,
                })
            }
            T::TransferToAgent => {
                let agent = match &raw.agent {
                    None if self.cx.kind != FlowKind::TransferToAgent => {
                        self.missing("agent");
                        None
                    }
                    None => Some(None),
                    Some(a) => {
                        let users = &self.cx.refs.users;
                        self.cx
                            .check_name("user", "users", a, users)
                            .then(|| Some(a.value.clone()))
                    }
                };
                Some(K::TransferToAgent {
                    agent: agent?,
                    on_error: br("on_error")?,
                })
            }
            T::TransferToPhoneNumber => {
                let number = self
                    .need("number", &raw.number)
                    .and_then(|n| e164(self.cx, n));
                let caller_id = match &raw.caller_id {
                    None => Some(None),
                    Some(c) => e164(self.cx, c).map(Some),
                };
                Some(K::TransferToPhoneNumber {
                    number: number?,
                    caller_id: caller_id?,
                    on_error: br("on_error")?,
                })
            }
            T::SetRecordingBehavior => {
                let record = self.need("record", &raw.record).and_then(|r| {
                    Some(match r.value.as_str() {
                        "agent" => Recording::Agent,
                        "customer" => Recording::Customer,
                        "both" => Recording::Both,
                        "none" => Recording::None,
                        other => {
                            self.cx.err(
                                r.referenced,
                                format!(
                                    "unknown recording behavior `{other}`; expected agent, customer, both or none"
                                ),
                            );
                            return None;
                        }
                    })
                });
                Some(K::SetRecordingBehavior {
                    record: record?,
                    next: br("next")?,
                })
            }
            T::SetCustomerQueueFlow => {
                let flow = self.flow(&[FlowKind::CustomerQueue]);
                Some(K::SetCustomerQueueFlow {
                    flow: flow?.0,
                    next: br("next")?,
                })
            }
            T::SetHoldFlow => {
                let flow = self.flow(&[FlowKind::CustomerHold, FlowKind::AgentHold]);
                let (flow, kind) = flow?;
                Some(K::SetHoldFlow {
                    flow,
                    party: if kind == FlowKind::AgentHold {
                        HoldParty::Agent
                    } else {
                        HoldParty::Customer
                    },
                    next: br("next")?,
                })
            }
            T::SetWhisperFlow => {
                let flow = self.flow(&[
                    FlowKind::CustomerWhisper,
                    FlowKind::AgentWhisper,
                    FlowKind::OutboundWhisper,
                ]);
                let (flow, kind) = flow?;
                Some(K::SetWhisperFlow {
                    flow,
                    kind,
                    next: br("next")?,
                })
            }
            T::SetDisconnectFlow => {
                let flow = self.flow(&[FlowKind::Inbound]);
                Some(K::SetDisconnectFlow {
                    flow: flow?.0,
                    next: br("next")?,
                })
            }
            T::Loop => {
                let count = self.need("count", &raw.count).and_then(|c| {
                    if (1..=MAX_LOOP_COUNT).contains(&c.value) {
                        Some(c.value)
                    } else {
                        self.cx.err(
                            c.referenced,
                            format!("count must be between 1 and {MAX_LOOP_COUNT}"),
                        );
                        None
                    }
                });
                Some(K::Loop {
                    count: count?,
                    on_looping: br("on_looping")?,
                    on_complete: br("on_complete")?,
                })
            }
            T::Wait => {
                let duration = self
                    .need("duration", &raw.duration)
                    .and_then(|d| duration(self.cx, "duration", d, MAX_WAIT));
                Some(K::Wait {
                    duration: duration?,
                    on_timeout: br("on_timeout")?,
                })
            }
            T::DistributeByPercentage => {
                let branches = self.list(|cx, b, at| {
                    let Some(p) = &b.percent else {
                        cx.err(at, "a distribute_by_percentage branch needs `percent`");
                        return None;
                    };
                    if (1..=100).contains(&p.value) {
                        u8::try_from(p.value).ok()
                    } else {
                        cx.err(p.referenced, "percent must be between 1 and 100");
                        None
                    }
                });
                let branches = branches?;
                let total: u32 = branches.iter().map(|(p, _)| u32::from(*p)).sum();
                if total != 100 {
                    let at = raw.branches.as_ref().map(|b| b.referenced);
                    if let Some(at) = at {
                        self.cx.err(
                            at,
                            format!("percentages add up to {total}; they must add up to 100"),
                        );
                    }
                    return None;
                }
                Some(K::DistributeByPercentage { branches })
            }
            T::Disconnect => Some(K::Disconnect),
            T::EndFlow => Some(K::EndFlow),
        }
    }

    /// The `branches:` list: at least one entry, each turned into a `T` by `f` (which checks
    /// the entry's keys) and paired with its resolved `next`.
    fn list<T>(
        &mut self,
        mut f: impl FnMut(&mut Cx<'_>, &RawBranch, Location) -> Option<T>,
    ) -> Option<Vec<(T, BlockRef)>> {
        let Some(list) = &self.raw.branches else {
            self.missing("branches");
            return None;
        };
        if list.value.is_empty() {
            self.cx
                .err(list.referenced, "`branches` must list at least one branch");
            return None;
        }
        let allowed: &[&str] = match self.t {
            BlockType::GetCustomerInput => &["digits"],
            BlockType::CheckContactAttributes => &["equals", "contains", "greater", "less"],
            BlockType::CheckQueueStatus => &["metric", "equals", "greater", "less"],
            _ => &["percent"],
        };
        let mut out = Vec::new();
        let mut ok = true;
        for entry in &list.value {
            let b = &entry.value;
            for (key, at) in b.keys() {
                if !allowed.contains(&key) {
                    ok = false;
                    self.cx.err(
                        at,
                        format!(
                            "`{key}` does not apply to a {} branch (it takes {}, next)",
                            self.t,
                            allowed.join(", ")
                        ),
                    );
                }
            }
            let value = f(self.cx, b, entry.referenced);
            let next = self.cx.target(&b.next);
            match (value, next) {
                (Some(v), Some(n)) => out.push((v, n)),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// get_customer_input's digit branches: valid keys, no longer than max_digits, no
    /// terminator inside, no duplicates.
    fn digit_branches(&mut self, input: Option<&InputSpec>) -> Option<Vec<(String, BlockRef)>> {
        let max = input.map_or_else(
            || {
                self.raw
                    .max_digits
                    .as_ref()
                    .and_then(|m| u8::try_from(m.value).ok())
                    .unwrap_or(1)
            },
            |i| i.max_digits,
        );
        let terminator = input.and_then(|i| i.terminator);
        let mut seen: Vec<(String, u64)> = Vec::new();
        self.list(|cx, b, at| {
            let Some(d) = &b.digits else {
                cx.err(at, "a get_customer_input branch needs `digits`");
                return None;
            };
            let digits = &d.value;
            if digits.is_empty() || !digits.chars().all(is_dtmf) {
                cx.err(
                    d.referenced,
                    format!("invalid digits `{digits}`: use the keys 0-9, * and #"),
                );
                return None;
            }
            if digits.len() > usize::from(max) {
                cx.err(
                    d.referenced,
                    format!("digits `{digits}` are longer than max_digits ({max})"),
                );
                return None;
            }
            if let Some(t) = terminator
                && digits.contains(t)
            {
                cx.err(
                    d.referenced,
                    format!("digits `{digits}` contain the terminator `{t}`, so they can never be entered"),
                );
                return None;
            }
            if let Some((_, line)) = seen.iter().find(|(s, _)| s == digits) {
                cx.err(
                    d.referenced,
                    format!("duplicate digits `{digits}`, first listed at line {line}"),
                );
                return None;
            }
            seen.push((digits.clone(), d.referenced.line()));
            Some(digits.clone())
        })
    }

    /// The input settings shared by get_customer_input and store_customer_input.
    fn input(&mut self, default_max: u8) -> Option<InputSpec> {
        let raw = self.raw;
        let prompts = match &raw.prompt {
            None => Some(Vec::new()),
            Some(p) => prompts(self.cx, p),
        };
        let timeout = match &raw.timeout {
            None => Some(Duration::from_secs(5)),
            Some(t) => duration(self.cx, "timeout", t, MAX_INPUT_TIMEOUT),
        };
        let max_digits = match &raw.max_digits {
            None => Some(default_max),
            Some(m) if (1..=MAX_DIGITS).contains(&m.value) => u8::try_from(m.value).ok(),
            Some(m) => {
                self.cx.err(
                    m.referenced,
                    format!("max_digits must be between 1 and {MAX_DIGITS}"),
                );
                None
            }
        };
        let terminator = match &raw.terminator {
            None => Some(None),
            Some(t) => {
                let mut chars = t.value.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if is_dtmf(c) => Some(Some(c)),
                    _ => {
                        self.cx.err(
                            t.referenced,
                            format!("invalid terminator `{}`: use one key, 0-9, * or #", t.value),
                        );
                        None
                    }
                }
            }
        };
        Some(InputSpec {
            prompts: prompts?,
            timeout: timeout?,
            max_digits: max_digits?,
            terminator: terminator?,
        })
    }

    /// An optional reference to a `what` among `known(refs)`: `Some(None)` when absent,
    /// `None` when it names nothing.
    fn optional_ref(
        &mut self,
        v: &Option<S<String>>,
        what: &str,
        plural: &str,
        known: fn(&FlowRefs) -> &BTreeSet<String>,
    ) -> Option<Option<String>> {
        match v {
            None => Some(None),
            Some(name) => {
                let known = known(self.cx.refs);
                self.cx
                    .check_name(what, plural, name, known)
                    .then(|| Some(name.value.clone()))
            }
        }
    }

    fn queue(&mut self, q: &S<String>) -> Option<String> {
        let queues = &self.cx.refs.queues;
        self.cx
            .check_name("queue", "queues", q, queues)
            .then(|| q.value.clone())
    }

    /// The `flow` setting: an existing flow of one of `kinds`.
    fn flow(&mut self, kinds: &[FlowKind]) -> Option<(String, FlowKind)> {
        let f = self.need("flow", &self.raw.flow)?;
        let name = &f.value;
        let wanted: Vec<String> = kinds.iter().map(|k| k.as_str().to_owned()).collect();
        match self.cx.refs.flows.get(name) {
            Some(Some(kind)) if kinds.contains(kind) => Some((name.clone(), *kind)),
            Some(Some(kind)) => {
                self.cx.err(
                    f.referenced,
                    format!(
                        "flow `{name}` is {}; {} needs {} {} flow",
                        kind.with_article(),
                        self.t,
                        wanted.first().map_or("a", |w| article(w)),
                        or_list(&wanted)
                    ),
                );
                None
            }
            // Broken in its own file; reported there.
            Some(None) => None,
            None => {
                let path = self.cx.refs.flows_dir.join(format!("{name}.yaml"));
                self.cx.err(
                    f.referenced,
                    format!("unknown flow `{name}`: there is no file {}", path.display()),
                );
                None
            }
        }
    }
}
