//! Room recordings: stereo WAV, customer on the left channel, the agent side on the right.
//!
//! Owns: a writer thread ([`RecordWriter`]) that serves many recordings at once, and the
//! [`Recording`] handles of the files it writes. The mixing thread never touches the disk:
//! during a tick it appends each recording's frame to a batch ([`RecordWriter::push`]) and at
//! the end of the tick hands the whole batch over in one non-blocking send
//! ([`RecordWriter::send_batch`]); a full queue drops the batch and counts its frames
//! ([`RecordWriter::dropped_frames`]) rather than stalling the tick.
//!
//! Invariants: the RIFF and data chunk sizes are rewritten after every second of audio, so a
//! crash or kill leaves a file any WAV reader opens, holding all but the last second. A
//! recording ends with a [`RecordingDone`] (path, duration, error if any) on the writer's
//! event channel, whether it was finished, dropped, or the writer shut down. A write error
//! (disk full) stops that one file and is reported in its `RecordingDone`; others go on.
//! The writer is clock-free: "every second" means every second of audio written.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::frame::SampleRate;

/// Tick batches the channel holds before dropping: 250 is five seconds of audio.
pub const DEFAULT_QUEUE_TICKS: usize = 250;

/// Whose voice a room recording keeps. The file is stereo whatever the choice: a party not
/// recorded leaves its channel silent, so every recording reads the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parties {
    /// Customer left, agent side right.
    #[default]
    Both,
    /// The left channel only; the right is silent.
    Customer,
    /// The right channel only (agent, third parties, barging or whispering monitors); the
    /// left is silent.
    AgentSide,
}

impl Parties {
    /// Silences the channel this choice does not keep, in one tick's frames.
    pub fn apply(self, left: &mut [i16], right: &mut [i16]) {
        match self {
            Parties::Both => {}
            Parties::Customer => right.fill(0),
            Parties::AgentSide => left.fill(0),
        }
    }
}

/// How a recording ended; sent on the event channel given to [`RecordWriter::spawn`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingDone {
    pub id: u64,
    pub path: PathBuf,
    /// Audio written (both channels have the same length).
    pub duration: Duration,
    /// Set when the file could not be created or a write failed; the file then holds what
    /// was written before the error.
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the recording writer thread is gone")]
    WriterGone,
    #[error("cannot start the recording writer thread: {0}")]
    Spawn(std::io::Error),
}

enum Msg {
    Open {
        id: u64,
        path: PathBuf,
        rate: SampleRate,
    },
    /// One tick of every recording: `(id, start, len)` into interleaved stereo `samples`.
    Batch {
        frames: Vec<(u64, usize, usize)>,
        samples: Vec<i16>,
    },
    Finish {
        id: u64,
    },
    Shutdown,
}

/// The writer thread. Dropping it (or [`RecordWriter::shutdown`]) finishes every open file.
#[derive(Debug)]
pub struct RecordWriter {
    tx: SyncSender<Msg>,
    thread: Option<JoinHandle<()>>,
    next_id: u64,
    frames: Vec<(u64, usize, usize)>,
    samples: Vec<i16>,
    dropped: u64,
}

impl RecordWriter {
    /// Start the writer thread; every finished recording is reported on `done`.
    pub fn spawn(
        queue_frames: usize,
        done: Sender<RecordingDone>,
    ) -> Result<RecordWriter, RecordError> {
        let (tx, rx) = mpsc::sync_channel(queue_frames.max(16));
        let thread = std::thread::Builder::new()
            .name("media-record".into())
            .spawn(move || writer_loop(rx, done))
            .map_err(RecordError::Spawn)?;
        Ok(RecordWriter {
            tx,
            thread: Some(thread),
            next_id: 1,
            frames: Vec::new(),
            samples: Vec::new(),
            dropped: 0,
        })
    }

    /// Start recording to `path` at `rate`. The file is created on the writer thread; a
    /// failure comes back as a [`RecordingDone`] with an error.
    pub fn start(&mut self, path: &Path, rate: SampleRate) -> Result<Recording, RecordError> {
        let id = self.next_id;
        self.next_id += 1;
        let msg = Msg::Open {
            id,
            path: path.to_owned(),
            rate,
        };
        self.tx.send(msg).map_err(|_| RecordError::WriterGone)?;
        Ok(Recording {
            id,
            rate,
            tx: self.tx.clone(),
            finished: false,
        })
    }

    /// Add one tick of `rec` to the current batch: `left` and `right` at its rate, same
    /// length (the shorter one is padded with silence).
    pub fn push(&mut self, rec: &Recording, left: &[i16], right: &[i16]) {
        let n = left.len().max(right.len());
        let start = self.samples.len();
        if left.len() == right.len() {
            self.samples
                .extend(left.iter().zip(right).flat_map(|(&l, &r)| [l, r]));
        } else {
            for i in 0..n {
                self.samples.push(left.get(i).copied().unwrap_or(0));
                self.samples.push(right.get(i).copied().unwrap_or(0));
            }
        }
        self.frames.push((rec.id, start, 2 * n));
    }

    /// Hand this tick's batch to the writer thread. Never blocks: a full queue drops it.
    pub fn send_batch(&mut self) {
        if self.frames.is_empty() {
            return;
        }
        let n = self.frames.len() as u64;
        // The next tick's batch is about as big: allocate it whole once, not by doubling.
        let (nf, ns) = (self.frames.len(), self.samples.len());
        let msg = Msg::Batch {
            frames: std::mem::replace(&mut self.frames, Vec::with_capacity(nf)),
            samples: std::mem::replace(&mut self.samples, Vec::with_capacity(ns)),
        };
        if self.tx.try_send(msg).is_err() {
            self.dropped += n;
        }
    }

    /// Recording frames dropped because the writer could not keep up.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped
    }

    /// Finish every open file and wait for the thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.send_batch();
        // A blocking send: the writer drains its queue, so this waits at most for the disk.
        let _ = self.tx.send(Msg::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One recording in progress, owned by the mixing worker. Dropping it finishes the file;
/// drop it between ticks (after [`RecordWriter::send_batch`]) so its last frames are kept.
#[derive(Debug)]
pub struct Recording {
    id: u64,
    rate: SampleRate,
    tx: SyncSender<Msg>,
    finished: bool,
}

impl Recording {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn rate(&self) -> SampleRate {
        self.rate
    }

    /// Close the file; the writer reports a [`RecordingDone`].
    pub fn finish(mut self) {
        self.close();
    }

    fn close(&mut self) {
        if !self.finished {
            self.finished = true;
            let _ = self.tx.send(Msg::Finish { id: self.id });
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.close();
    }
}

/// Bytes buffered per open recording before a write(2): about a second of 8 kHz stereo,
/// which is as often as the header is rewritten anyway (`OpenFile::write`); std's default
/// 8 KiB meant four writes per file per second. A thousand recordings hold 32 MiB.
const WRITE_BUFFER: usize = 32 * 1024;

struct OpenFile {
    path: PathBuf,
    rate: SampleRate,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    /// Sample frames (left+right pairs) written.
    written: u64,
    since_flush: u64,
    error: Option<String>,
}

impl OpenFile {
    fn open(path: PathBuf, rate: SampleRate) -> OpenFile {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: rate.hz(),
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let created = File::create(&path)
            .map_err(hound::Error::from)
            .and_then(|f| hound::WavWriter::new(BufWriter::with_capacity(WRITE_BUFFER, f), spec));
        let (writer, error) = match created {
            Ok(w) => (Some(w), None),
            Err(e) => (None, Some(e.to_string())),
        };
        OpenFile {
            path,
            rate,
            writer,
            written: 0,
            since_flush: 0,
            error,
        }
    }

    fn write(&mut self, samples: &[i16]) {
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        let mut res = Ok(());
        {
            let mut fast = w.get_i16_writer(samples.len() as u32);
            for &s in samples {
                fast.write_sample(s);
            }
            if let Err(e) = fast.flush() {
                res = Err(e);
            }
        }
        let pairs = samples.len() as u64 / 2;
        self.written += pairs;
        self.since_flush += pairs;
        if res.is_ok() && self.since_flush >= u64::from(self.rate.hz()) {
            self.since_flush = 0;
            // hound's flush rewrites the RIFF and data sizes, then flushes the BufWriter.
            res = w.flush();
        }
        if let Err(e) = res {
            self.fail(e.to_string());
        }
    }

    fn fail(&mut self, err: String) {
        tracing::warn!(path = %self.path.display(), error = %err, "recording write failed");
        self.error = Some(err);
        // Dropping the writer tries one last header update; the error is already recorded.
        self.writer = None;
    }

    fn finish(mut self, id: u64) -> RecordingDone {
        if let Some(w) = self.writer.take()
            && let Err(e) = w.finalize()
        {
            self.error.get_or_insert(e.to_string());
        }
        RecordingDone {
            id,
            duration: Duration::from_micros(self.written * 1_000_000 / u64::from(self.rate.hz())),
            path: self.path,
            error: self.error,
        }
    }
}

fn writer_loop(rx: Receiver<Msg>, done: Sender<RecordingDone>) {
    let mut files: HashMap<u64, OpenFile> = HashMap::new();
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Open { id, path, rate } => {
                files.insert(id, OpenFile::open(path, rate));
            }
            Msg::Batch { frames, samples } => {
                for (id, start, len) in frames {
                    if let (Some(f), Some(s)) =
                        (files.get_mut(&id), samples.get(start..start + len))
                    {
                        f.write(s);
                    }
                }
            }
            Msg::Finish { id } => {
                if let Some(f) = files.remove(&id) {
                    let _ = done.send(f.finish(id));
                }
            }
            Msg::Shutdown => break,
        }
    }
    for (id, f) in files.drain() {
        let _ = done.send(f.finish(id));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sb-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    /// Push `secs` seconds of a recognisable pattern: left = +1000, right = -2000.
    fn push_secs(w: &mut RecordWriter, r: &Recording, secs: u32) {
        let n = r.rate().samples_per_frame();
        for _ in 0..secs * 50 {
            w.push(r, &vec![1000; n], &vec![-2000; n]);
            w.send_batch();
        }
    }

    #[test]
    fn finish_reports_path_and_duration_and_channels_are_kept_apart() {
        let (tx, rx) = mpsc::channel();
        let mut w = RecordWriter::spawn(1000, tx).unwrap();
        let path = tmp("finish.wav");
        let r = w.start(&path, SampleRate::Hz8000).unwrap();
        push_secs(&mut w, &r, 2);
        assert_eq!(w.dropped_frames(), 0);
        r.finish();
        let done = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(done.path, path);
        assert_eq!(done.duration, Duration::from_secs(2));
        assert_eq!(done.error, None);
        let mut rd = hound::WavReader::open(&path).unwrap();
        assert_eq!(rd.spec().channels, 2);
        let s: Vec<i16> = rd.samples::<i16>().map(|s| s.unwrap()).collect();
        assert_eq!(s.len(), 2 * 16000);
        assert!(s.chunks(2).all(|c| c == [1000, -2000]));
        w.shutdown();
    }

    #[test]
    fn a_killed_process_leaves_a_readable_file() {
        // Simulate a crash: copy the file while the writer still has it open, after 3.5 s.
        let (tx, rx) = mpsc::channel();
        let mut w = RecordWriter::spawn(1000, tx).unwrap();
        let path = tmp("crash.wav");
        let r = w.start(&path, SampleRate::Hz8000).unwrap();
        for _ in 0..175 {
            w.push(&r, &[1000; 160], &[-2000; 160]);
            w.send_batch();
        }
        // Wait until the writer has drained the queue (the file has grown past 3 s).
        let want = 44 + 3 * 8000 * 4;
        for _ in 0..500 {
            if std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) >= want {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let snapshot = tmp("crash-snapshot.wav");
        std::fs::copy(&path, &snapshot).unwrap();
        let mut rd = hound::WavReader::open(&snapshot).unwrap();
        let n = rd
            .samples::<i16>()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .len();
        assert!(
            n >= 2 * 3 * 8000,
            "at least the flushed 3 s are readable, got {n}"
        );
        // Dropping the handle without finish() still closes the file properly.
        drop(r);
        let done = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(done.duration, Duration::from_millis(3500));
        let rd = hound::WavReader::open(&path).unwrap();
        assert_eq!(rd.duration(), 3500 * 8);
        w.shutdown();
    }

    #[test]
    fn shutdown_finishes_open_files_and_bad_paths_report_errors() {
        let (tx, rx) = mpsc::channel();
        let mut w = RecordWriter::spawn(1000, tx).unwrap();
        let bad = Path::new("/nonexistent-dir/x.wav");
        let r_bad = w.start(bad, SampleRate::Hz8000).unwrap();
        let r = w.start(&tmp("open.wav"), SampleRate::Hz16000).unwrap();
        push_secs(&mut w, &r, 1);
        std::mem::forget(r_bad);
        std::mem::forget(r);
        w.shutdown();
        let mut got: Vec<RecordingDone> = rx.try_iter().collect();
        got.sort_by_key(|d| d.id);
        assert_eq!(got.len(), 2);
        assert!(got[0].error.is_some());
        assert_eq!(got[1].duration, Duration::from_secs(1));
        assert_eq!(got[1].error, None);
    }
}

#[cfg(test)]
mod parties_tests {
    use super::Parties;

    #[test]
    fn one_party_leaves_the_other_channel_silent() {
        let (mut l, mut r) = (vec![5i16; 4], vec![7i16; 4]);
        Parties::Both.apply(&mut l, &mut r);
        assert_eq!((l[0], r[0]), (5, 7));
        Parties::Customer.apply(&mut l, &mut r);
        assert_eq!(
            (l.as_slice(), r.as_slice()),
            ([5; 4].as_slice(), [0; 4].as_slice())
        );
        let (mut l, mut r) = (vec![5i16; 4], vec![7i16; 4]);
        Parties::AgentSide.apply(&mut l, &mut r);
        assert_eq!(
            (l.as_slice(), r.as_slice()),
            ([0; 4].as_slice(), [7; 4].as_slice())
        );
    }
}
