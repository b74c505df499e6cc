//! Write-behind to the store: the core loop sends batches (binding changes, contact records,
//! agent events), this task applies them. Contact records are upserts that merge, so writing
//! a contact's latest state again is harmless. On shutdown the channel closes after the last
//! batch and the task drains it before returning, so nothing accepted is lost.
//!
//! Every contact record and agent event passes through here, so this is also where the
//! contact-center tallies ([`CcRecorder`]) are fed: contacts first, then agent events, in the
//! order the core wrote them, whether or not the database took them (the contact happened).

use tokio::sync::mpsc;

use crate::cc_metrics::CcRecorder;
use crate::metrics::SipMetrics;
use crate::store::{AgentEventRow, BindingChange, ContactRecord, Store};

/// Everything the core loop wants persisted since its last flush.
#[derive(Debug, Default)]
pub struct Batch {
    pub bindings: Vec<BindingChange>,
    pub contacts: Vec<ContactRecord>,
    pub agent_events: Vec<AgentEventRow>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty() && self.contacts.is_empty() && self.agent_events.is_empty()
    }

    fn extend(&mut self, more: Batch) {
        self.bindings.extend(more.bindings);
        self.contacts.extend(more.contacts);
        self.agent_events.extend(more.agent_events);
    }
}

pub async fn run(store: Store, mut rx: mpsc::Receiver<Batch>, metrics: SipMetrics, cc: CcRecorder) {
    while let Some(mut batch) = rx.recv().await {
        // Coalesce whatever else is already waiting.
        while let Ok(more) = rx.try_recv() {
            batch.extend(more);
        }
        if !batch.bindings.is_empty() {
            match store.apply_bindings(&batch.bindings).await {
                Ok(()) => {
                    metrics.store_batches.inc();
                }
                Err(e) => {
                    metrics.store_errors.inc();
                    tracing::error!(error = %e, changes = batch.bindings.len(), "could not persist binding changes");
                }
            }
        }
        for record in &batch.contacts {
            if let Err(e) = store.upsert_contact(record).await {
                metrics.store_errors.inc();
                tracing::error!(error = %e, contact = %record.contact_id, "could not persist a contact record");
            }
        }
        if !batch.agent_events.is_empty()
            && let Err(e) = store.insert_agent_events(&batch.agent_events).await
        {
            metrics.store_errors.inc();
            tracing::error!(error = %e, events = batch.agent_events.len(), "could not persist agent events");
        }
        cc.record(&batch.contacts, &batch.agent_events);
    }
}
