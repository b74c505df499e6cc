//! The media engine as the server runs it: started from the config's `media` section, shut
//! down last, and its counters exported to Prometheus on every scrape.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use switchboard_media::engine::{EngineConfig, MediaEngine, MediaError, TICK_BUCKETS_US};

use crate::config::Config;

/// Starts the engine's mixing workers (one per core); no RTP port is bound until a call.
pub fn start(config: &Config) -> Result<Arc<MediaEngine>, MediaError> {
    let m = &config.media;
    let cfg = EngineConfig {
        media_addr: m.address,
        port_min: m.rtp_ports.start,
        port_max: m.rtp_ports.end,
        music_on_hold: m.music_on_hold.clone(),
        realtime_priority: m.realtime_priority,
        ..EngineConfig::default()
    };
    MediaEngine::start(cfg).map(Arc::new)
}

/// Reads the engine's counters at scrape time (`switchboard_media_*`).
#[derive(Debug)]
pub struct MediaCollector(pub Arc<MediaEngine>);

fn counter(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(v);
    let enc = e.encode_descriptor(name, help, None, c.metric_type())?;
    c.encode(enc)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
    let enc = e.encode_descriptor(name, help, None, g.metric_type())?;
    g.encode(enc)
}

impl Collector for MediaCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = self.0.metrics();
        counter(
            &mut e,
            "media_packets_in",
            "RTP packets received",
            m.packets_in,
        )?;
        counter(&mut e, "media_bytes_in", "RTP bytes received", m.bytes_in)?;
        counter(
            &mut e,
            "media_packets_out",
            "RTP packets sent",
            m.packets_out,
        )?;
        counter(&mut e, "media_bytes_out", "RTP bytes sent", m.bytes_out)?;
        counter(
            &mut e,
            "media_packets_lost",
            "RTP packets never received in time (concealed)",
            m.packets_lost,
        )?;
        counter(
            &mut e,
            "media_packets_late",
            "RTP packets that arrived too late or twice (discarded)",
            m.packets_late,
        )?;
        counter(
            &mut e,
            "media_packets_malformed",
            "Datagrams on RTP ports that were not usable RTP",
            m.packets_malformed,
        )?;
        counter(&mut e, "media_rtcp_in", "RTCP packets received", m.rtcp_in)?;
        counter(&mut e, "media_rtcp_out", "RTCP packets sent", m.rtcp_out)?;
        counter(&mut e, "media_ticks", "20 ms mixing ticks run", m.ticks)?;
        counter(
            &mut e,
            "media_late_ticks",
            "Mixing ticks that started late",
            m.late_ticks,
        )?;
        counter(
            &mut e,
            "media_recording_frames_dropped",
            "Recording frames dropped because the writer fell behind",
            m.recording_frames_dropped,
        )?;
        gauge(
            &mut e,
            "media_jitter_max_microseconds",
            "Largest interarrival jitter of any leg at its last report",
            m.jitter_max_us,
        )?;
        gauge(&mut e, "media_active_legs", "RTP legs open", m.active_legs)?;
        gauge(
            &mut e,
            "media_active_rooms",
            "Mix rooms open",
            m.active_rooms,
        )?;
        gauge(
            &mut e,
            "media_active_recordings",
            "Recordings being written",
            m.active_recordings,
        )?;
        gauge(
            &mut e,
            "media_realtime_workers",
            "Mixing workers running under SCHED_FIFO (media.realtime_priority)",
            m.realtime_workers,
        )?;
        let buckets: Vec<(f64, u64)> = TICK_BUCKETS_US
            .iter()
            .map(|us| *us as f64 / 1e6)
            .chain(std::iter::once(f64::INFINITY))
            .zip(m.tick_buckets.iter().copied())
            .collect();
        let count: u64 = m.tick_buckets.iter().sum();
        let enc = e.encode_descriptor(
            "media_tick_duration_seconds",
            "Time one mixing tick took",
            None,
            MetricType::Histogram,
        )?;
        let mut enc = enc;
        enc.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            m.tick_sum_us as f64 / 1e6,
            count,
            &buckets,
            None,
        )
    }
}
