//! A flow file's YAML shape, exactly as written, with every value wrapped in [`S`] (spanned)
//! so validation can point at it. A block is one flat struct holding every key any block type
//! takes: serde's tagged enums would lose the spans, and a flat struct lets validation say
//! "`timeout` does not apply to a play_prompt block" instead of a generic unknown-key error.
//! Mappings whose keys are names (`blocks`, `attributes`) keep their order and key spans.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, de};
use serde_saphyr::Spanned;

use super::model::FlowKind;

pub(crate) type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlowFile {
    pub name: S<String>,
    #[serde(rename = "type")]
    pub kind: S<FlowKind>,
    #[serde(default)]
    pub description: Option<String>,
    // Declared before `start` so a file without blocks is told about `blocks` first.
    pub blocks: S<Named<RawBlock>>,
    pub start: S<String>,
}

/// A YAML mapping from names to values, in file order, each name with its location.
/// Duplicate keys are rejected by the YAML parser.
pub(crate) struct Named<V>(pub Vec<(S<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Named<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NamedVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for NamedVisitor<V> {
            type Value = Named<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Named<V>, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<S<String>>()? {
                    entries.push((key, map.next_value::<V>()?));
                }
                Ok(Named(entries))
            }
        }
        d.deserialize_map(NamedVisitor(PhantomData))
    }
}

/// `prompt: greeting` or `prompt: [you-are-caller, number-3]` (played in order).
pub(crate) enum RawPrompts {
    One(String),
    Many(Vec<S<String>>),
}

impl<'de> Deserialize<'de> for RawPrompts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PromptsVisitor;
        impl<'de> Visitor<'de> for PromptsVisitor {
            type Value = RawPrompts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a prompt name or a list of prompt names")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawPrompts, E> {
                Ok(RawPrompts::One(s.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawPrompts, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<S<String>>()? {
                    names.push(name);
                }
                Ok(RawPrompts::Many(names))
            }
        }
        d.deserialize_any(PromptsVisitor)
    }
}

/// Every key any block takes; which apply to which type is checked in `validate.rs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBlock {
    #[serde(rename = "type", default)]
    pub kind: Option<S<String>>,

    // Settings.
    #[serde(default)]
    pub prompt: Option<S<RawPrompts>>,
    #[serde(default)]
    pub interruptible: Option<S<bool>>,
    #[serde(default)]
    pub timeout: Option<S<String>>,
    #[serde(default)]
    pub max_digits: Option<S<u32>>,
    #[serde(default)]
    pub terminator: Option<S<String>>,
    #[serde(default)]
    pub attribute: Option<S<String>>,
    #[serde(default)]
    pub attributes: Option<S<Named<S<String>>>>,
    #[serde(default)]
    pub hours: Option<S<String>>,
    #[serde(default)]
    pub queue: Option<S<String>>,
    #[serde(default)]
    pub metric: Option<S<String>>,
    #[serde(default)]
    pub agent: Option<S<String>>,
    #[serde(default)]
    pub number: Option<S<String>>,
    #[serde(default)]
    pub caller_id: Option<S<String>>,
    #[serde(default)]
    pub record: Option<S<String>>,
    #[serde(default)]
    pub flow: Option<S<String>>,
    #[serde(default)]
    pub count: Option<S<u32>>,
    #[serde(default)]
    pub duration: Option<S<String>>,
    #[serde(default)]
    pub branches: Option<S<Vec<S<RawBranch>>>>,

    // Named branches: block ids.
    #[serde(default)]
    pub next: Option<S<String>>,
    #[serde(default)]
    pub on_error: Option<S<String>>,
    #[serde(default)]
    pub on_timeout: Option<S<String>>,
    #[serde(default)]
    pub on_no_match: Option<S<String>>,
    #[serde(default)]
    pub on_at_capacity: Option<S<String>>,
    #[serde(default)]
    pub on_open: Option<S<String>>,
    #[serde(default)]
    pub on_closed: Option<S<String>>,
    #[serde(default)]
    pub on_true: Option<S<String>>,
    #[serde(default)]
    pub on_false: Option<S<String>>,
    #[serde(default)]
    pub on_looping: Option<S<String>>,
    #[serde(default)]
    pub on_complete: Option<S<String>>,
}

impl RawBlock {
    /// The named branch `key` (`next`, `on_error`, ...), if written.
    pub fn branch(&self, key: &str) -> Option<&S<String>> {
        match key {
            "next" => self.next.as_ref(),
            "on_error" => self.on_error.as_ref(),
            "on_timeout" => self.on_timeout.as_ref(),
            "on_no_match" => self.on_no_match.as_ref(),
            "on_at_capacity" => self.on_at_capacity.as_ref(),
            "on_open" => self.on_open.as_ref(),
            "on_closed" => self.on_closed.as_ref(),
            "on_true" => self.on_true.as_ref(),
            "on_false" => self.on_false.as_ref(),
            "on_looping" => self.on_looping.as_ref(),
            "on_complete" => self.on_complete.as_ref(),
            _ => None,
        }
    }

    /// Every key written in the block besides `type`, with the location of its value.
    pub fn keys(&self) -> Vec<(&'static str, serde_saphyr::Location)> {
        let mut out = Vec::new();
        macro_rules! key {
            ($($field:ident),* $(,)?) => {$(
                if let Some(v) = &self.$field {
                    out.push((stringify!($field), v.referenced));
                }
            )*};
        }
        key!(
            prompt,
            interruptible,
            timeout,
            max_digits,
            terminator,
            attribute,
            attributes,
            hours,
            queue,
            metric,
            agent,
            number,
            caller_id,
            record,
            flow,
            count,
            duration,
            branches,
            next,
            on_error,
            on_timeout,
            on_no_match,
            on_at_capacity,
            on_open,
            on_closed,
            on_true,
            on_false,
            on_looping,
            on_complete,
        );
        out
    }
}

/// One entry of a `branches:` list. Which keys apply depends on the block type.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBranch {
    #[serde(default)]
    pub digits: Option<S<String>>,
    #[serde(default)]
    pub metric: Option<S<String>>,
    #[serde(default)]
    pub equals: Option<S<String>>,
    #[serde(default)]
    pub contains: Option<S<String>>,
    #[serde(default)]
    pub greater: Option<S<String>>,
    #[serde(default)]
    pub less: Option<S<String>>,
    #[serde(default)]
    pub percent: Option<S<u32>>,
    pub next: S<String>,
}

impl RawBranch {
    pub fn keys(&self) -> Vec<(&'static str, serde_saphyr::Location)> {
        let mut out = Vec::new();
        macro_rules! key {
            ($($field:ident),* $(,)?) => {$(
                if let Some(v) = &self.$field {
                    out.push((stringify!($field), v.referenced));
                }
            )*};
        }
        key!(digits, metric, equals, contains, greater, less, percent);
        out
    }
}
