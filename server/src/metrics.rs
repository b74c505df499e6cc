//! Prometheus metrics (OpenMetrics text via prometheus-client), served at `GET /metrics`.
//!
//! Handles are cheap clones of atomics: protocol cores get a [`SipMetrics`] and bump it
//! directly. Labels are only ever fixed vocabularies (method names, status classes, reason
//! words), never call ids, user names or anything a peer typed.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    pub method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabel {
    pub class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// SIP core and registrar metrics.
#[derive(Clone, Debug, Default)]
pub struct SipMetrics {
    pub requests: Family<MethodLabel, Counter>,
    pub responses: Family<ClassLabel, Counter>,
    pub active_bindings: Gauge,
    pub auth_failures: Family<ReasonLabel, Counter>,
    pub blocked_sources: Gauge,
    pub source_blocks: Counter,
    pub blocked_drops: Counter,
    /// Messages we could not use: `bad_request` (answered 400), `not_sip` (dropped),
    /// `unroutable` (dropped), `framing` (TCP stream closed).
    pub parse_errors: Family<ReasonLabel, Counter>,
    pub open_transactions: Gauge,
    pub store_batches: Counter,
    pub store_errors: Counter,
}

impl SipMetrics {
    /// Counts a response we sent, by class ("1xx" .. "6xx").
    pub fn response(&self, code: u16) {
        let class = match code / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            5 => "5xx",
            _ => "6xx",
        };
        self.responses.get_or_create(&ClassLabel { class }).inc();
    }

    pub fn request(&self, method: &'static str) {
        self.requests.get_or_create(&MethodLabel { method }).inc();
    }

    pub fn parse_error(&self, reason: &'static str) {
        self.parse_errors
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    pub fn auth_failure(&self, reason: &'static str) {
        self.auth_failures
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    fn register(&self, r: &mut Registry) {
        let sip = r.sub_registry_with_prefix("sip");
        sip.register(
            "requests",
            "SIP requests received, by method",
            self.requests.clone(),
        );
        sip.register(
            "responses",
            "SIP responses sent, by status class",
            self.responses.clone(),
        );
        sip.register(
            "active_bindings",
            "Registered contacts (bindings) currently live",
            self.active_bindings.clone(),
        );
        sip.register(
            "auth_failures",
            "Failed digest authentications, by reason",
            self.auth_failures.clone(),
        );
        sip.register(
            "blocked_sources",
            "Source addresses currently blocked after repeated authentication failures",
            self.blocked_sources.clone(),
        );
        sip.register(
            "source_blocks",
            "Times a source address was blocked",
            self.source_blocks.clone(),
        );
        sip.register(
            "blocked_drops",
            "Messages dropped because their source is blocked",
            self.blocked_drops.clone(),
        );
        sip.register(
            "parse_errors",
            "Messages that could not be used, by kind",
            self.parse_errors.clone(),
        );
        sip.register(
            "open_transactions",
            "SIP transactions currently open",
            self.open_transactions.clone(),
        );
        let store = r.sub_registry_with_prefix("store");
        store.register(
            "binding_batches",
            "Batches of binding changes written to the store",
            self.store_batches.clone(),
        );
        store.register(
            "errors",
            "Store writes that failed",
            self.store_errors.clone(),
        );
    }
}

/// Every metric the server exports, and the registry that renders them.
#[derive(Debug)]
pub struct Metrics {
    pub sip: SipMetrics,
    registry: Registry,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        Metrics::with_collectors(Vec::new())
    }

    /// Also exports what `collectors` read at scrape time (e.g. the media engine's counters).
    pub fn with_collectors(collectors: Vec<Box<dyn Collector>>) -> Arc<Metrics> {
        let sip = SipMetrics::default();
        let mut registry = Registry::with_prefix("switchboard");
        sip.register(&mut registry);
        for c in collectors {
            registry.register_collector(c);
        }
        Arc::new(Metrics { sip, registry })
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_labels() {
        let m = Metrics::new();
        m.sip.request("REGISTER");
        m.sip.response(401);
        m.sip.response(200);
        m.sip.active_bindings.set(3);
        let text = m.render();
        assert!(
            text.contains("switchboard_sip_requests_total{method=\"REGISTER\"} 1"),
            "{text}"
        );
        assert!(text.contains("switchboard_sip_responses_total{class=\"4xx\"} 1"));
        assert!(text.contains("switchboard_sip_active_bindings 3"));
        assert!(text.ends_with("# EOF\n"));
    }
}
