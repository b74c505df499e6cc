//! `EngineConfig::realtime_priority`: the mixing workers run under SCHED_FIFO at the given
//! priority where the process may do that, and the recording writer does not (it writes
//! files; under FIFO it would compete with the worker for its core). Where SCHED_FIFO is
//! refused (no CAP_SYS_NICE, no RLIMIT_RTPRIO), the engine runs on at ordinary priority.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // tests pace themselves by the clock

use std::time::{Duration, Instant};

use switchboard_media::engine::{EngineConfig, MediaEngine};

/// (name, scheduling policy, real-time priority) of each of this process's threads, from
/// /proc/self/task/*/stat (fields 41 and 40, proc(5)).
fn threads() -> Vec<(String, u32, u32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let Ok(stat) = std::fs::read_to_string(entry.unwrap().path().join("stat")) else {
            continue;
        };
        let (open, close) = (stat.find('(').unwrap(), stat.rfind(')').unwrap());
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let field = |n: usize| fields[n - 3].parse::<u32>().unwrap();
        out.push((stat[open + 1..close].to_string(), field(41), field(40)));
    }
    out
}

/// Whether this process may use SCHED_FIFO: root, or a non-zero RLIMIT_RTPRIO.
fn may_use_fifo() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"));
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let rtprio = limits
        .lines()
        .find(|l| l.starts_with("Max realtime priority"))
        .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned));
    root || rtprio.is_some_and(|v| v != "0")
}

const SCHED_OTHER: u32 = 0;
const SCHED_FIFO: u32 = 1;

#[test]
fn workers_run_under_sched_fifo_and_the_recording_writer_does_not() {
    let engine = MediaEngine::start(EngineConfig {
        port_min: 34_600,
        port_max: 34_800,
        workers: 2,
        realtime_priority: Some(7),
        ..EngineConfig::default()
    })
    .unwrap();
    let want = if may_use_fifo() { 2 } else { 0 };
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.metrics().realtime_workers != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(engine.metrics().realtime_workers, want);
    let all = threads();
    let workers: Vec<_> = all
        .iter()
        .filter(|t| t.0.starts_with("media-worker"))
        .collect();
    assert_eq!(workers.len(), 2, "{all:?}");
    for (name, policy, prio) in workers {
        if want > 0 {
            assert_eq!((*policy, *prio), (SCHED_FIFO, 7), "{name}");
        } else {
            assert_eq!(*policy, SCHED_OTHER, "{name}");
        }
    }
    let writers: Vec<_> = all.iter().filter(|t| t.0 == "media-record").collect();
    assert!(!writers.is_empty(), "{all:?}");
    for (_, policy, _) in writers {
        assert_eq!(
            *policy, SCHED_OTHER,
            "the recording writer stays at ordinary priority"
        );
    }
    engine.shutdown();
}

#[test]
fn a_priority_outside_1_to_99_is_refused_at_start() {
    for p in [0, 100] {
        let err = MediaEngine::start(EngineConfig {
            port_min: 34_800,
            port_max: 34_900,
            realtime_priority: Some(p),
            ..EngineConfig::default()
        })
        .map(|_| ())
        .unwrap_err();
        assert!(err.to_string().contains("realtime_priority"), "{err}");
    }
}
