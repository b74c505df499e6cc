//! The small values inside blocks: prompt names (checked against the prompts directory),
//! attribute names, DTMF keys, durations, E.164 numbers, and the comparisons of
//! check_contact_attributes and check_queue_status branches. Each reports its problem at the
//! value and returns `None`.

use std::path::Path;
use std::time::Duration;

use serde_saphyr::Location;

use super::model::*;
use super::raw::{RawBranch, RawPrompts, S};
use super::validate::Cx;
use crate::config::{format_duration, normalize_e164, parse_duration};

/// "a", "a or b", "a, b or c".
pub(super) fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

pub(super) fn is_dtmf(c: char) -> bool {
    c.is_ascii_digit() || c == '*' || c == '#'
}

pub(super) fn duration(
    cx: &mut Cx<'_>,
    key: &str,
    v: &S<String>,
    max: Duration,
) -> Option<Duration> {
    match parse_duration(&v.value) {
        Ok(d) if !d.is_zero() && d <= max => Some(d),
        Ok(_) => {
            cx.err(
                v.referenced,
                format!(
                    "{key} must be above 0s and at most {}",
                    format_duration(max)
                ),
            );
            None
        }
        Err(msg) => {
            cx.err(v.referenced, msg);
            None
        }
    }
}

pub(super) fn e164(cx: &mut Cx<'_>, v: &S<String>) -> Option<String> {
    normalize_e164(&v.value)
        .map_err(|msg| cx.err(v.referenced, msg))
        .ok()
}

/// `prompt:` names WAV files in the prompts directory by stem.
pub(super) fn prompts(cx: &mut Cx<'_>, v: &S<RawPrompts>) -> Option<Vec<Prompt>> {
    let names: Vec<S<String>> = match &v.value {
        RawPrompts::One(name) => vec![S {
            value: name.clone(),
            referenced: v.referenced,
            defined: v.defined,
        }],
        RawPrompts::Many(names) => names.clone(),
    };
    if names.is_empty() {
        cx.err(v.referenced, "`prompt` must name at least one prompt");
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for name in &names {
        match prompt(cx, name) {
            Some(p) => out.push(p),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

pub(super) fn prompt(cx: &mut Cx<'_>, name: &S<String>) -> Option<Prompt> {
    let n = &name.value;
    if let Some(stem) = n.strip_suffix(".wav") {
        cx.err(
            name.referenced,
            format!("write prompt `{n}` as `{stem}`, without .wav"),
        );
        return None;
    }
    if n.is_empty() || n.starts_with('.') || n.contains(['/', '\\']) {
        cx.err(
            name.referenced,
            format!("invalid prompt name `{n}`: a prompt is a file name in the prompts directory, without .wav"),
        );
        return None;
    }
    let path = cx.refs.prompts_dir.join(format!("{n}.wav"));
    if !Path::is_file(&path) {
        cx.err(
            name.referenced,
            format!("unknown prompt `{n}`: there is no file {}", path.display()),
        );
        return None;
    }
    Some(Prompt {
        name: n.clone(),
        path,
    })
}

/// A name set_contact_attributes or store_customer_input may write.
pub(super) fn attribute_name(cx: &mut Cx<'_>, v: &S<String>) -> Option<String> {
    let n = &v.value;
    if n.trim().is_empty() || n.trim() != n {
        cx.err(
            v.referenced,
            format!(
                "invalid attribute name `{n}`: it must not be empty or start or end with spaces"
            ),
        );
        None
    } else if n.starts_with("$.") {
        cx.err(
            v.referenced,
            format!(
                "attribute names starting with `$.` are system values and cannot be set: `{n}`"
            ),
        );
        None
    } else {
        Some(n.clone())
    }
}

/// The value check_contact_attributes reads: a contact attribute or a system value.
pub(super) fn attribute_ref(cx: &mut Cx<'_>, v: &S<String>) -> Option<AttributeRef> {
    match v.value.as_str() {
        "$.queue" => Some(AttributeRef::Queue),
        n if n.starts_with("$.") => {
            cx.err(
                v.referenced,
                format!("unknown system value `{n}`; known: $.queue"),
            );
            None
        }
        _ => attribute_name(cx, v).map(AttributeRef::User),
    }
}

/// The one comparison key of a branch, among those written.
pub(super) fn comparison<'b>(
    cx: &mut Cx<'_>,
    b: &'b RawBranch,
    at: Location,
    block: &str,
    keys: &[&str],
) -> Option<(&'static str, &'b S<String>)> {
    let written: Vec<(&'static str, &S<String>)> = [
        ("equals", &b.equals),
        ("contains", &b.contains),
        ("greater", &b.greater),
        ("less", &b.less),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    .filter(|(k, _)| keys.contains(k))
    .collect();
    match written.as_slice() {
        [one] => Some(*one),
        [] => {
            cx.err(
                at,
                format!(
                    "a {block} branch needs one of {}",
                    or_list(&keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>())
                ),
            );
            None
        }
        [_, (_, second), ..] => {
            cx.err(
                second.referenced,
                format!(
                    "a {block} branch takes only one of {}",
                    or_list(&keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>())
                ),
            );
            None
        }
    }
}

pub(super) fn number(cx: &mut Cx<'_>, v: &S<String>) -> Option<f64> {
    match v.value.trim().parse::<f64>() {
        Ok(n) if n.is_finite() => Some(n),
        _ => {
            cx.err(v.referenced, format!("`{}` is not a number", v.value));
            None
        }
    }
}

pub(super) fn attribute_test(
    cx: &mut Cx<'_>,
    b: &RawBranch,
    at: Location,
) -> Option<AttributeTest> {
    let keys = ["equals", "contains", "greater", "less"];
    let (key, v) = comparison(cx, b, at, "check_contact_attributes", &keys)?;
    Some(match key {
        "equals" => AttributeTest::Equals(v.value.clone()),
        "contains" => AttributeTest::Contains(v.value.clone()),
        "greater" => AttributeTest::Greater(number(cx, v)?),
        _ => AttributeTest::Less(number(cx, v)?),
    })
}

pub(super) fn queue_test(cx: &mut Cx<'_>, b: &RawBranch, at: Location) -> Option<QueueTest> {
    let metric = match &b.metric {
        None => {
            cx.err(
                at,
                "a check_queue_status branch needs `metric` (contacts_in_queue, oldest_contact_age or position)",
            );
            None
        }
        Some(m) => match m.value.as_str() {
            "contacts_in_queue" | "oldest_contact_age" | "position" => Some(m.value.as_str()),
            other => {
                cx.err(
                    m.referenced,
                    format!("unknown queue metric `{other}`; expected contacts_in_queue, oldest_contact_age or position"),
                );
                None
            }
        },
    };
    let comparison = comparison(
        cx,
        b,
        at,
        "check_queue_status",
        &["equals", "greater", "less"],
    );
    let (key, v) = comparison?;
    let op = match key {
        "equals" => CmpOp::Equals,
        "greater" => CmpOp::Greater,
        _ => CmpOp::Less,
    };
    let whole = |cx: &mut Cx<'_>| match v.value.trim().parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            cx.err(
                v.referenced,
                format!("`{}` is not a whole number (0 or more)", v.value),
            );
            None
        }
    };
    match metric? {
        "contacts_in_queue" => Some(QueueTest::ContactsInQueue(op, whole(cx)?)),
        "position" => Some(QueueTest::Position(op, whole(cx)?)),
        _ => match parse_duration(&v.value) {
            Ok(d) => Some(QueueTest::OldestContactAge(op, d)),
            Err(msg) => {
                cx.err(v.referenced, msg);
                None
            }
        },
    }
}
