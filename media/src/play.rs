//! Prompts and music on hold: WAV files played to a leg as 20 ms frames.
//!
//! Owns: loading a WAV (mono, 16-bit PCM, 8/16/48 kHz) into a shared in-memory [`Clip`], a
//! [`ClipCache`] so a thousand callers on hold share one copy of the music, and the [`Player`]
//! that cuts a clip into frames at the room's rate, once or looped.
//!
//! Invariants: loading does file I/O and happens on the caller's thread (the engine's API),
//! never on a mixing worker; a [`Player`] only slices memory. Every frame a player yields is
//! whole (the tail of a clip is padded with silence); a looped clip wraps inside the frame,
//! so there is no gap at the loop point. A clip at another rate than the leg's mix is
//! converted while it plays ([`Player::with_rate`]), or once ([`Clip::at_rate`]).
//! The shipped prompts live in `media/prompts/` (see its README for how they are made).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::codec::resample::Resampler;
use crate::frame::{Frame, SampleRate};

/// Longest clip we load: 10 minutes (about 57 MB at 48 kHz). Longer files are refused
/// rather than filling memory.
pub const MAX_CLIP: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error("cannot read WAV {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: hound::Error,
    },
    #[error("{path}: unsupported WAV format ({detail}); want mono 16-bit PCM at 8, 16 or 48 kHz")]
    Format { path: PathBuf, detail: String },
    #[error("{path}: longer than the {max:?} limit")]
    TooLong { path: PathBuf, max: Duration },
}

/// A whole prompt in memory, at one rate. Cheap to clone (shared samples).
#[derive(Debug, Clone)]
pub struct Clip {
    rate: SampleRate,
    samples: Arc<[i16]>,
}

impl Clip {
    /// Read a WAV file: mono, 16-bit integer PCM, 8/16/48 kHz, at most [`MAX_CLIP`] long.
    pub fn load(path: &Path) -> Result<Clip, PlayError> {
        let read_err = |source| PlayError::Read {
            path: path.to_owned(),
            source,
        };
        let reader = hound::WavReader::open(path).map_err(read_err)?;
        let spec = reader.spec();
        let rate = SampleRate::from_hz(spec.sample_rate);
        let Some(rate) = rate.filter(|_| {
            spec.channels == 1
                && spec.bits_per_sample == 16
                && spec.sample_format == hound::SampleFormat::Int
        }) else {
            return Err(PlayError::Format {
                path: path.to_owned(),
                detail: format!(
                    "{} channel(s), {} bits {:?}, {} Hz",
                    spec.channels, spec.bits_per_sample, spec.sample_format, spec.sample_rate
                ),
            });
        };
        if u64::from(reader.len()) > MAX_CLIP.as_secs() * u64::from(rate.hz()) {
            return Err(PlayError::TooLong {
                path: path.to_owned(),
                max: MAX_CLIP,
            });
        }
        let samples = reader
            .into_samples::<i16>()
            .collect::<Result<Vec<i16>, _>>()
            .map_err(read_err)?;
        Ok(Clip::from_samples(rate, samples))
    }

    /// A clip from samples already in memory (tests, generated tones).
    pub fn from_samples(rate: SampleRate, samples: Vec<i16>) -> Clip {
        Clip {
            rate,
            samples: samples.into(),
        }
    }

    pub fn rate(&self) -> SampleRate {
        self.rate
    }

    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples.len() as u64 * 1_000_000 / u64::from(self.rate.hz()))
    }

    /// This clip at `rate`: a cheap clone at the same rate, else converted in one pass
    /// (polyphase resampler, its delay compensated so the clip does not shift).
    pub fn at_rate(&self, rate: SampleRate) -> Clip {
        if rate == self.rate {
            return self.clone();
        }
        let mut r = Resampler::new(self.rate, rate);
        let want = self.samples.len() * rate.hz() as usize / self.rate.hz() as usize;
        let mut out = Vec::with_capacity(want + r.delay() + 64);
        r.process(&self.samples, &mut out);
        // Flush the filter with silence so the tail comes out, then drop the delay.
        let pad = vec![0i16; self.rate.samples_per_frame()];
        while out.len() < want + r.delay() {
            r.process(&pad, &mut out);
        }
        let delay = r.delay();
        out.drain(..delay.min(out.len()));
        out.truncate(want);
        Clip::from_samples(rate, out)
    }
}

/// Clips by (path, rate), loaded once and shared. Lives on the engine handle; lookups take
/// a short lock, loads happen outside it.
#[derive(Debug, Default)]
pub struct ClipCache {
    /// Keyed by path and rate; `None` is the file's own rate.
    clips: Mutex<HashMap<(PathBuf, Option<SampleRate>), Clip>>,
}

impl ClipCache {
    /// The clip for `path` at `rate`, loading (and converting) it the first time.
    /// A file changed on disk is picked up only after [`ClipCache::clear`].
    pub fn get(&self, path: &Path, rate: SampleRate) -> Result<Clip, PlayError> {
        let key = (path.to_owned(), Some(rate));
        if let Some(c) = self.lock().get(&key) {
            return Ok(c.clone());
        }
        let clip = self.get_native(path)?.at_rate(rate);
        self.lock().insert(key, clip.clone());
        Ok(clip)
    }

    /// The clip for `path` at the file's own rate.
    pub fn get_native(&self, path: &Path) -> Result<Clip, PlayError> {
        let key = (path.to_owned(), None);
        if let Some(c) = self.lock().get(&key) {
            return Ok(c.clone());
        }
        let clip = Clip::load(path)?;
        self.lock().insert(key, clip.clone());
        Ok(clip)
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(PathBuf, Option<SampleRate>), Clip>> {
        // A poisoned cache only means another thread panicked mid-insert; the map is intact.
        self.clips.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a player did this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayState {
    /// More frames follow.
    Playing,
    /// This frame held the end of the clip (padded with silence); the player is done.
    Finished,
}

/// Plays one clip as 20 ms frames. Pure: no clock, no I/O.
#[derive(Debug, Clone)]
pub struct Player {
    clip: Clip,
    pos: usize,
    looped: bool,
    barge_in: bool,
    finished: bool,
    /// Converts clip-rate frames to the output rate, streaming (None: same rate).
    resampler: Option<Resampler>,
    scratch: Frame,
}

impl Player {
    /// `looped`: start over at the end, forever (music on hold). `barge_in`: a DTMF digit
    /// from the leg stops the prompt (see [`Player::interrupted_by_dtmf`]).
    pub fn new(clip: Clip, looped: bool, barge_in: bool) -> Player {
        let rate = clip.rate;
        Player {
            scratch: Frame::silence(rate),
            clip,
            pos: 0,
            looped,
            barge_in,
            finished: false,
            resampler: None,
        }
    }

    /// Frames come out at `rate` (converted while playing when the clip has another rate;
    /// a loop point stays seamless because the filter history carries over).
    pub fn with_rate(clip: Clip, rate: SampleRate, looped: bool, barge_in: bool) -> Player {
        let mut p = Player::new(clip, looped, barge_in);
        p.set_rate(rate);
        p
    }

    /// Change the output rate mid-play (the leg's room changed its mixing rate).
    pub fn set_rate(&mut self, rate: SampleRate) {
        self.resampler = (rate != self.clip.rate).then(|| Resampler::new(self.clip.rate, rate));
    }

    /// The rate of the frames [`Player::next_frame`] yields.
    pub fn rate(&self) -> SampleRate {
        self.resampler
            .as_ref()
            .map_or(self.clip.rate, |r| r.to_rate())
    }

    pub fn is_looped(&self) -> bool {
        self.looped
    }

    /// Should a DTMF digit on this leg stop the prompt?
    pub fn interrupted_by_dtmf(&self) -> bool {
        self.barge_in
    }

    /// Fill `out` with the next 20 ms at [`Player::rate`]. After [`PlayState::Finished`]
    /// every further call yields silence and `Finished` again.
    pub fn next_frame(&mut self, out: &mut Frame) -> PlayState {
        let Some(mut r) = self.resampler.take() else {
            return self.next_source_frame(out);
        };
        let mut src = std::mem::replace(&mut self.scratch, Frame::silence(self.clip.rate));
        let state = self.next_source_frame(&mut src);
        let rate = r.to_rate();
        out.rate = rate;
        out.samples.clear();
        r.process(&src.samples, &mut out.samples);
        out.samples.resize(rate.samples_per_frame(), 0);
        self.scratch = src;
        self.resampler = Some(r);
        state
    }

    fn next_source_frame(&mut self, out: &mut Frame) -> PlayState {
        let rate = self.clip.rate;
        let len = rate.samples_per_frame();
        out.rate = rate;
        out.samples.clear();
        let src = self.clip.samples();
        if self.finished || src.is_empty() {
            self.finished = true;
            out.samples.resize(len, 0);
            return PlayState::Finished;
        }
        while out.samples.len() < len {
            let want = len - out.samples.len();
            let take = want.min(src.len() - self.pos);
            out.samples
                .extend_from_slice(&src[self.pos..self.pos + take]);
            self.pos += take;
            if self.pos == src.len() {
                if self.looped {
                    self.pos = 0;
                } else {
                    self.finished = true;
                    out.samples.resize(len, 0);
                }
            }
        }
        if self.finished {
            PlayState::Finished
        } else {
            PlayState::Playing
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const R: SampleRate = SampleRate::Hz8000;

    fn ramp(n: usize) -> Vec<i16> {
        (0..n).map(|i| i as i16).collect()
    }

    #[test]
    fn once_plays_whole_frames_then_finishes_with_padding() {
        let mut p = Player::new(Clip::from_samples(R, ramp(400)), false, false);
        let mut f = Frame::silence(R);
        assert_eq!(p.next_frame(&mut f), PlayState::Playing);
        assert_eq!(f.samples[0], 0);
        assert_eq!(p.next_frame(&mut f), PlayState::Playing);
        assert_eq!(f.samples[0], 160);
        assert_eq!(p.next_frame(&mut f), PlayState::Finished);
        assert_eq!(f.samples.len(), 160);
        assert_eq!(f.samples[79], 399);
        assert!(f.samples[80..].iter().all(|&s| s == 0));
        assert_eq!(p.next_frame(&mut f), PlayState::Finished);
    }

    #[test]
    fn an_exact_multiple_finishes_on_its_last_frame() {
        let mut p = Player::new(Clip::from_samples(R, ramp(320)), false, false);
        let mut f = Frame::silence(R);
        assert_eq!(p.next_frame(&mut f), PlayState::Playing);
        assert_eq!(p.next_frame(&mut f), PlayState::Finished);
        assert_eq!(f.samples[159], 319);
    }

    #[test]
    fn looped_wraps_inside_the_frame_without_a_gap() {
        let mut p = Player::new(Clip::from_samples(R, ramp(250)), true, false);
        let mut f = Frame::silence(R);
        let mut all = Vec::new();
        for _ in 0..5 {
            assert_eq!(p.next_frame(&mut f), PlayState::Playing);
            all.extend_from_slice(&f.samples);
        }
        for (i, &s) in all.iter().enumerate() {
            assert_eq!(s, (i % 250) as i16);
        }
    }

    #[test]
    fn a_player_converts_rate_while_playing() {
        use crate::tone::{amplitude, sine};
        let clip = Clip::from_samples(R, sine(R, 1000.0, 8000, 400));
        let mut p = Player::with_rate(clip, SampleRate::Hz48000, true, false);
        assert_eq!(p.rate(), SampleRate::Hz48000);
        let mut f = Frame::silence(R);
        let mut all = Vec::new();
        for _ in 0..40 {
            assert_eq!(p.next_frame(&mut f), PlayState::Playing);
            assert_eq!((f.rate, f.samples.len()), (SampleRate::Hz48000, 960));
            all.extend_from_slice(&f.samples);
        }
        // Across two loop points, the tone stays whole at the new rate.
        let a = amplitude(&all[960..], 48_000, 1000.0);
        assert!((7000.0..9000.0).contains(&a), "{a}");
    }

    #[test]
    fn empty_clip_finishes_at_once() {
        let mut p = Player::new(Clip::from_samples(R, vec![]), true, false);
        let mut f = Frame::silence(R);
        assert_eq!(p.next_frame(&mut f), PlayState::Finished);
        assert_eq!(f.samples, vec![0; 160]);
    }

    fn prompts() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts")
    }

    #[test]
    fn shipped_prompts_load_at_8k() {
        for name in [
            "greeting.wav",
            "all-agents-busy.wav",
            "closed.wav",
            "you-are-caller.wav",
            "music-on-hold.wav",
        ] {
            let c = Clip::load(&prompts().join(name)).unwrap();
            assert_eq!(c.rate(), R, "{name}");
            assert!(c.duration() > Duration::from_millis(500), "{name}");
            let peak = c.samples().iter().map(|s| s.unsigned_abs()).max().unwrap();
            assert!(peak > 8000, "{name} is audible");
        }
        let moh = Clip::load(&prompts().join("music-on-hold.wav")).unwrap();
        assert!((20..=30).contains(&moh.duration().as_secs()));
    }

    #[test]
    fn music_on_hold_loops_without_a_click() {
        let moh = Clip::load(&prompts().join("music-on-hold.wav")).unwrap();
        let s = moh.samples();
        let (last, first) = (s[s.len() - 1], s[0]);
        assert!((i32::from(last) - i32::from(first)).abs() < 2000);
    }

    #[test]
    fn wrong_formats_are_errors() {
        let dir = std::env::temp_dir().join(format!("sb-play-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stereo = dir.join("stereo.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&stereo, spec).unwrap();
        w.write_sample(0i16).unwrap();
        w.write_sample(0i16).unwrap();
        w.finalize().unwrap();
        assert!(matches!(Clip::load(&stereo), Err(PlayError::Format { .. })));
        assert!(matches!(
            Clip::load(&dir.join("missing.wav")),
            Err(PlayError::Read { .. })
        ));
        let cache = ClipCache::default();
        let g = prompts().join("goodbye.wav");
        assert!(cache.get(&g, R).is_ok());
        let wide = cache.get(&g, SampleRate::Hz48000).unwrap();
        let narrow = cache.get(&g, R).unwrap();
        assert_eq!(wide.rate(), SampleRate::Hz48000);
        assert_eq!(wide.samples().len(), 6 * narrow.samples().len());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
