//! Test tones and tone detection: a phase-continuous sine generator and a Goertzel detector.
//!
//! Every codec, jitter, room and player test asks the same question — "is the 1 kHz tone I
//! put in still there, and how loud?" — so the answer lives here, once, and is public.
//!
//! The Goertzel filter evaluates a single DFT bin in O(N) with one multiply per sample.
//! [`amplitude`] returns the estimated peak amplitude of a sinusoid at the probe frequency
//! (a full-scale sine of amplitude A reads about A when the window holds whole periods);
//! [`tone_purity`] returns the share of the window's energy carried by that sinusoid (1.0 for a
//! pure tone, near 0.0 for silence or other frequencies). Neither reads a clock or allocates.

use crate::frame::{FRAME_MS, Frame, SampleRate};

/// Generates a sine (or the sum of two, for dual tones) frame after frame without phase
/// jumps at frame boundaries.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    rate: SampleRate,
    freqs: [f64; 2],
    amplitude: f64,
    /// Samples produced so far; the phase is derived from it, so it never drifts.
    position: u64,
}

impl ToneGenerator {
    /// A single sine of `freq_hz` with peak `amplitude` (0..=32767).
    pub fn new(rate: SampleRate, freq_hz: f64, amplitude: i16) -> ToneGenerator {
        ToneGenerator {
            rate,
            freqs: [freq_hz, 0.0],
            amplitude: f64::from(amplitude),
            position: 0,
        }
    }

    /// Two sines (for example a DTMF pair), each with peak `amplitude`; keep
    /// `2 * amplitude` below 32767 to avoid clipping.
    pub fn dual(rate: SampleRate, f1_hz: f64, f2_hz: f64, amplitude: i16) -> ToneGenerator {
        ToneGenerator {
            rate,
            freqs: [f1_hz, f2_hz],
            amplitude: f64::from(amplitude),
            position: 0,
        }
    }

    /// The next `n` samples.
    pub fn samples(&mut self, n: usize) -> Vec<i16> {
        let rate = f64::from(self.rate.hz());
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let t = self.position as f64 / rate;
            let mut v = 0.0;
            for f in self.freqs {
                if f > 0.0 {
                    v += (2.0 * std::f64::consts::PI * f * t).sin();
                }
            }
            out.push((v * self.amplitude).round().clamp(-32768.0, 32767.0) as i16);
            self.position += 1;
        }
        out
    }

    /// The next 20 ms frame.
    pub fn next_frame(&mut self) -> Frame {
        Frame {
            rate: self.rate,
            samples: self.samples(self.rate.samples_per_frame()),
        }
    }
}

/// `ms` milliseconds of a sine at `rate` (a convenience for tests).
pub fn sine(rate: SampleRate, freq_hz: f64, amplitude: i16, ms: u32) -> Vec<i16> {
    let n = (rate.hz() / 1000 * ms) as usize;
    ToneGenerator::new(rate, freq_hz, amplitude).samples(n)
}

/// Squared magnitude of the DFT at `freq_hz` over `samples` (Goertzel recurrence).
pub fn goertzel_power(samples: &[i16], rate_hz: u32, freq_hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq_hz / f64::from(rate_hz);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0)
}

/// Estimated peak amplitude of the sinusoid at `freq_hz` in `samples`.
pub fn amplitude(samples: &[i16], rate_hz: u32, freq_hz: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    2.0 * goertzel_power(samples, rate_hz, freq_hz).sqrt() / samples.len() as f64
}

/// Root mean square of `samples`.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// Share of the energy of `samples` carried by a sinusoid at `freq_hz`: 0.0..=1.0 (about).
pub fn tone_purity(samples: &[i16], rate_hz: u32, freq_hz: f64) -> f64 {
    let r = rms(samples);
    if r == 0.0 {
        return 0.0;
    }
    let a = amplitude(samples, rate_hz, freq_hz);
    ((a * a / 2.0) / (r * r)).min(1.0)
}

/// True when `samples` hold a tone at `freq_hz` of at least `min_amplitude` peak that
/// carries at least 90 % of the energy. A reasonable default for "the tone survived".
pub fn has_tone(samples: &[i16], rate_hz: u32, freq_hz: f64, min_amplitude: f64) -> bool {
    amplitude(samples, rate_hz, freq_hz) >= min_amplitude
        && tone_purity(samples, rate_hz, freq_hz) >= 0.9
}

/// Samples in `ms` milliseconds at `rate`; `ms` a multiple of [`FRAME_MS`] gives whole frames.
pub const fn samples_in(rate: SampleRate, ms: u32) -> usize {
    (rate.hz() / 1000 * ms) as usize
}

const _: () = assert!(samples_in(SampleRate::Hz8000, FRAME_MS) == 160);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_generated_tone_and_rejects_others() {
        let s = sine(SampleRate::Hz8000, 1000.0, 10_000, 100);
        assert_eq!(s.len(), 800);
        let a = amplitude(&s, 8000, 1000.0);
        assert!((a - 10_000.0).abs() < 50.0, "amplitude {a}");
        assert!(tone_purity(&s, 8000, 1000.0) > 0.99);
        assert!(has_tone(&s, 8000, 1000.0, 9000.0));
        assert!(amplitude(&s, 8000, 1300.0) < 200.0);
        assert!(!has_tone(&s, 8000, 1300.0, 100.0));
        assert_eq!(tone_purity(&vec![0; 160], 8000, 1000.0), 0.0);
    }

    #[test]
    fn frames_are_phase_continuous() {
        let mut g = ToneGenerator::new(SampleRate::Hz48000, 1000.0, 8000);
        let mut all = Vec::new();
        for _ in 0..5 {
            all.extend(g.next_frame().samples);
        }
        assert_eq!(all, sine(SampleRate::Hz48000, 1000.0, 8000, 100));
    }

    #[test]
    fn dual_tone_has_both_components() {
        let mut g = ToneGenerator::dual(SampleRate::Hz8000, 697.0, 1209.0, 8000);
        let s = g.samples(800);
        assert!(amplitude(&s, 8000, 697.0) > 7000.0);
        assert!(amplitude(&s, 8000, 1209.0) > 7000.0);
        assert!(amplitude(&s, 8000, 1000.0) < 1000.0);
    }
}
