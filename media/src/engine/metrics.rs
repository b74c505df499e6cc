//! Engine metrics as plain atomics, read as a [`MediaMetrics`] snapshot.
//!
//! Each worker owns one [`WorkerMetrics`] block (no contention between workers); a snapshot
//! sums the blocks. Counters only grow; gauges are set by their owner. The server exports a
//! snapshot to Prometheus: this crate has no Prometheus dependency. All loads and stores are
//! `Relaxed`: a snapshot is a consistent-enough sample, not a transaction.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (inclusive, microseconds) of the tick-duration histogram buckets; a last,
/// implicit bucket holds everything slower. A tick must finish well inside its 20 ms.
pub const TICK_BUCKETS_US: [u64; 10] = [
    50, 100, 250, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 20_000,
];

/// The numbers a worker updates; shared with the engine handle through an `Arc`.
#[derive(Debug, Default)]
pub(crate) struct WorkerMetrics {
    pub packets_in: AtomicU64,
    pub packets_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub packets_lost: AtomicU64,
    pub packets_late: AtomicU64,
    pub packets_malformed: AtomicU64,
    pub rtcp_in: AtomicU64,
    pub rtcp_out: AtomicU64,
    pub decode_errors: AtomicU64,
    pub send_errors: AtomicU64,
    pub recording_frames_dropped: AtomicU64,
    pub events_dropped: AtomicU64,
    pub ticks: AtomicU64,
    pub late_ticks: AtomicU64,
    /// Gauge: the largest interarrival jitter of any leg at its last report, microseconds.
    pub jitter_max_us: AtomicU64,
    pub active_legs: AtomicU64,
    pub active_rooms: AtomicU64,
    pub active_recordings: AtomicU64,
    /// Gauge: 1 when this worker runs under `SCHED_FIFO` as configured.
    pub realtime: AtomicU64,
    pub tick_buckets: [AtomicU64; TICK_BUCKETS_US.len() + 1],
    pub tick_sum_us: AtomicU64,
}

impl WorkerMetrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn set(gauge: &AtomicU64, v: u64) {
        gauge.store(v, Relaxed);
    }

    pub fn observe_tick(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let i = TICK_BUCKETS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(TICK_BUCKETS_US.len());
        if let Some(b) = self.tick_buckets.get(i) {
            b.fetch_add(1, Relaxed);
        }
        self.tick_sum_us.fetch_add(us, Relaxed);
    }
}

/// A snapshot of the engine's counters and gauges, summed over workers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaMetrics {
    /// RTP packets received (all legs), and their UDP payload bytes.
    pub packets_in: u64,
    pub bytes_in: u64,
    /// RTP packets sent, and their bytes.
    pub packets_out: u64,
    pub bytes_out: u64,
    /// Packets never received by the time their frame was played (concealed).
    pub packets_lost: u64,
    /// Packets that arrived after their frame was played, or duplicates (discarded).
    pub packets_late: u64,
    /// Datagrams on an RTP port that were not RTP, or of an unexpected payload type.
    pub packets_malformed: u64,
    pub rtcp_in: u64,
    pub rtcp_out: u64,
    pub decode_errors: u64,
    pub send_errors: u64,
    /// Recording frames dropped because the writer thread could not keep up.
    pub recording_frames_dropped: u64,
    /// Events dropped because the event channel was full (nobody reading it).
    pub events_dropped: u64,
    /// Mixing ticks run, and how many started more than [`super::LATE_TICK`] after their slot.
    pub ticks: u64,
    pub late_ticks: u64,
    /// Largest interarrival jitter (RFC 3550 A.8) of any leg at its last report.
    pub jitter_max_us: u64,
    pub active_legs: u64,
    pub active_rooms: u64,
    pub active_recordings: u64,
    /// Workers running under `SCHED_FIFO` ([`super::EngineConfig::realtime_priority`]).
    pub realtime_workers: u64,
    /// Tick durations: `tick_buckets[i]` counts ticks that took at most
    /// `TICK_BUCKETS_US[i]` µs (non-cumulative); the last entry counts the slower ones.
    pub tick_buckets: [u64; TICK_BUCKETS_US.len() + 1],
    pub tick_sum_us: u64,
}

impl MediaMetrics {
    pub(crate) fn sum<'a>(blocks: impl IntoIterator<Item = &'a WorkerMetrics>) -> MediaMetrics {
        let mut m = MediaMetrics::default();
        for w in blocks {
            let g = |a: &AtomicU64| a.load(Relaxed);
            m.packets_in += g(&w.packets_in);
            m.bytes_in += g(&w.bytes_in);
            m.packets_out += g(&w.packets_out);
            m.bytes_out += g(&w.bytes_out);
            m.packets_lost += g(&w.packets_lost);
            m.packets_late += g(&w.packets_late);
            m.packets_malformed += g(&w.packets_malformed);
            m.rtcp_in += g(&w.rtcp_in);
            m.rtcp_out += g(&w.rtcp_out);
            m.decode_errors += g(&w.decode_errors);
            m.send_errors += g(&w.send_errors);
            m.recording_frames_dropped += g(&w.recording_frames_dropped);
            m.events_dropped += g(&w.events_dropped);
            m.ticks += g(&w.ticks);
            m.late_ticks += g(&w.late_ticks);
            m.jitter_max_us = m.jitter_max_us.max(g(&w.jitter_max_us));
            m.active_legs += g(&w.active_legs);
            m.active_rooms += g(&w.active_rooms);
            m.active_recordings += g(&w.active_recordings);
            m.realtime_workers += g(&w.realtime);
            for (s, b) in m.tick_buckets.iter_mut().zip(&w.tick_buckets) {
                *s += g(b);
            }
            m.tick_sum_us += g(&w.tick_sum_us);
        }
        m
    }

    /// Share of ticks that started late, 0.0..=1.0.
    pub fn late_tick_ratio(&self) -> f64 {
        if self.ticks == 0 {
            0.0
        } else {
            self.late_ticks as f64 / self.ticks as f64
        }
    }

    /// Upper bound (µs) under which `q` (0..=1) of the ticks finished, from the histogram;
    /// `None` when it lies in the open last bucket.
    pub fn tick_quantile_us(&self, q: f64) -> Option<u64> {
        let total: u64 = self.tick_buckets.iter().sum();
        let want = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, &n) in self.tick_buckets.iter().enumerate() {
            seen += n;
            if seen >= want {
                return TICK_BUCKETS_US.get(i).copied();
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_and_quantiles() {
        let w = WorkerMetrics::default();
        for us in [10, 60, 60, 30_000] {
            w.observe_tick(Duration::from_micros(us));
        }
        let m = MediaMetrics::sum([&w, &WorkerMetrics::default()]);
        assert_eq!(m.tick_buckets[0], 1);
        assert_eq!(m.tick_buckets[1], 2);
        assert_eq!(m.tick_buckets[TICK_BUCKETS_US.len()], 1);
        assert_eq!(m.tick_quantile_us(0.5), Some(100));
        assert_eq!(m.tick_quantile_us(1.0), None);
        assert_eq!(m.tick_sum_us, 30_130);
    }
}
