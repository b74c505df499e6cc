//! Write-behind for bindings: the core loop sends batches, this task applies each in one
//! store transaction. On shutdown the channel closes after the last batch and the task
//! drains it before returning, so nothing accepted is lost.

use tokio::sync::mpsc;

use crate::metrics::SipMetrics;
use crate::store::{BindingChange, Store};

pub async fn run(store: Store, mut rx: mpsc::Receiver<Vec<BindingChange>>, metrics: SipMetrics) {
    while let Some(mut batch) = rx.recv().await {
        // Coalesce whatever else is already waiting into one transaction.
        while let Ok(more) = rx.try_recv() {
            batch.extend(more);
        }
        match store.apply_bindings(&batch).await {
            Ok(()) => {
                metrics.store_batches.inc();
            }
            Err(e) => {
                metrics.store_errors.inc();
                tracing::error!(error = %e, changes = batch.len(), "could not persist binding changes");
            }
        }
    }
}
