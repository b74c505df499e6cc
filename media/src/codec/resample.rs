//! Sample-rate conversion between the engine's rates (8, 16, 48 kHz), frame by frame.
//!
//! A polyphase windowed-sinc FIR (Kaiser window, beta 8.0: about 80 dB stopband) for the
//! rational ratio L/M reduced from the two rates; every pair we use is an integer factor
//! (x2, x3, x6 or their inverses). The low-pass sits at 92 % of the lower Nyquist
//! frequency, with 16 zero crossings each side: linear phase, no naive sample dropping.
//!
//! Invariants: the filter history carries across calls, so consecutive 20 ms frames join
//! without clicks and frame-by-frame output equals one-shot output; a 20 ms frame in
//! gives exactly one 20 ms frame out. Output saturates to i16. Each phase is normalised
//! to unity DC gain.
//!
//! Cost (taps per output sample): up x2/x3/x6 = 32; down /2 = 64, /3 = 96, /6 = 192.
//! So 48 kHz -> 8 kHz is 160 x 192 multiply-adds per frame; see `benches/codec.rs`.

use crate::frame::{Frame, SampleRate};

const ZERO_CROSSINGS: usize = 16;
const KAISER_BETA: f64 = 8.0;
const CUTOFF: f64 = 0.92;

/// Streaming resampler from one rate to another. `from == to` is a copy.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: SampleRate,
    to: SampleRate,
    l: usize,
    m: usize,
    taps: usize,
    /// `phases[p]` holds the taps of phase p, reversed so the inner loop is a plain dot
    /// product over the last `taps` input samples (oldest first).
    phases: Vec<Vec<f32>>,
    /// Input samples still needed (at least `taps - 1` of history).
    buf: Vec<f32>,
    /// Position of the next output in the upsampled domain, relative to `buf[0]`.
    pos: usize,
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Modified Bessel function of the first kind, order 0 (series; converges fast for x<=20).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > 1e-12 * sum {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
        k += 1.0;
    }
    sum
}

impl Resampler {
    pub fn new(from: SampleRate, to: SampleRate) -> Resampler {
        let g = gcd(from.hz(), to.hz());
        let l = (to.hz() / g) as usize;
        let m = (from.hz() / g) as usize;
        let taps = (2 * ZERO_CROSSINGS * l.max(m)).div_ceil(l);
        let n = taps * l;
        // Cutoff in cycles per sample of the upsampled rate.
        let fc = CUTOFF * 0.5 / l.max(m) as f64;
        let centre = (n - 1) as f64 / 2.0;
        let i0b = bessel_i0(KAISER_BETA);
        let h: Vec<f64> = (0..n)
            .map(|i| {
                let t = i as f64 - centre;
                let x = 2.0 * fc * t;
                let sinc = if x == 0.0 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                let r = 2.0 * i as f64 / (n - 1) as f64 - 1.0;
                let w = bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / i0b;
                2.0 * fc * sinc * w
            })
            .collect();
        let phases = (0..l)
            .map(|p| {
                let mut ph: Vec<f64> = (0..taps).map(|j| h[p + j * l]).collect();
                let sum: f64 = ph.iter().sum();
                if sum.abs() > 1e-9 {
                    ph.iter_mut().for_each(|c| *c /= sum);
                }
                ph.iter().rev().map(|&c| c as f32).collect()
            })
            .collect();
        let mut r = Resampler {
            from,
            to,
            l,
            m,
            taps,
            phases,
            buf: Vec::new(),
            pos: 0,
        };
        r.reset();
        r
    }

    pub fn from_rate(&self) -> SampleRate {
        self.from
    }

    pub fn to_rate(&self) -> SampleRate {
        self.to
    }

    /// Forget the history (a new, unrelated stream follows).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.buf.resize(self.taps - 1, 0.0);
        self.pos = (self.taps - 1) * self.l;
    }

    /// Group delay in output samples (what a tone is shifted by).
    pub fn delay(&self) -> usize {
        (self.taps * self.l - 1) / 2 / self.m
    }

    /// Converts `input`, appending `input.len() * L / M` samples (on average) to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.l == 1 && self.m == 1 {
            out.extend_from_slice(input);
            return;
        }
        self.buf.extend(input.iter().map(|&x| f32::from(x)));
        out.reserve(input.len() * self.l / self.m + 1);
        loop {
            let i = self.pos / self.l;
            if i >= self.buf.len() {
                break;
            }
            let coeffs = &self.phases[self.pos % self.l];
            let window = &self.buf[i + 1 - self.taps..=i];
            let y = dot(coeffs, window);
            out.push(y.round().clamp(-32768.0, 32767.0) as i16);
            self.pos += self.m;
        }
        // Keep only the history the next output needs.
        let next_i = self.pos / self.l;
        let drop = (next_i + 1 - self.taps).min(self.buf.len());
        self.buf.drain(..drop);
        self.pos -= drop * self.l;
    }

    /// Converts one frame at `from` into one frame at `to`. A frame at another rate is
    /// returned as silence at `to` (a wiring bug, not worth a panic).
    pub fn process_frame(&mut self, frame: &Frame) -> Frame {
        if frame.rate != self.from {
            return Frame::silence(self.to);
        }
        let mut samples = Vec::with_capacity(self.to.samples_per_frame());
        self.process(&frame.samples, &mut samples);
        samples.resize(self.to.samples_per_frame(), 0);
        Frame {
            rate: self.to,
            samples,
        }
    }
}

/// Dot product with eight independent accumulators so the compiler can vectorise it.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tone::{ToneGenerator, amplitude, tone_purity};
    use SampleRate::*;

    const RATES: [SampleRate; 3] = [Hz8000, Hz16000, Hz48000];

    fn run(from: SampleRate, to: SampleRate, freq: f64, frames: usize) -> Vec<i16> {
        let mut r = Resampler::new(from, to);
        let mut g = ToneGenerator::new(from, freq, 10_000);
        let mut out = Vec::new();
        for _ in 0..frames {
            let f = r.process_frame(&g.next_frame());
            assert_eq!(f.samples.len(), to.samples_per_frame());
            out.extend(f.samples);
        }
        out
    }

    #[test]
    fn tone_passes_every_conversion_at_unity_gain() {
        for from in RATES {
            for to in RATES {
                let out = run(from, to, 1000.0, 10);
                let tail = &out[out.len() / 2..];
                let a = amplitude(tail, to.hz(), 1000.0);
                assert!((a - 10_000.0).abs() < 150.0, "{from:?}->{to:?}: {a}");
                assert!(
                    tone_purity(tail, to.hz(), 1000.0) > 0.999,
                    "{from:?}->{to:?}"
                );
            }
        }
    }

    #[test]
    fn downsampling_rejects_what_would_alias() {
        // 6 kHz at 48 kHz would fold to 2 kHz at 8 kHz; 12 kHz would fold to 4 kHz at 16 kHz.
        let out = run(Hz48000, Hz8000, 6000.0, 10);
        let tail = &out[out.len() / 2..];
        assert!(
            amplitude(tail, 8000, 2000.0) < 10.0,
            "{}",
            amplitude(tail, 8000, 2000.0)
        );
        assert!(crate::tone::rms(tail) < 10.0);
        let out = run(Hz48000, Hz16000, 9000.0, 10);
        let tail = &out[out.len() / 2..];
        assert!(crate::tone::rms(tail) < 10.0);
        // Upsampling leaves no images: 1 kHz at 8 kHz has its first image at 7 kHz.
        let out = run(Hz8000, Hz48000, 1000.0, 10);
        let tail = &out[out.len() / 2..];
        assert!(amplitude(tail, 48_000, 7000.0) < 10.0);
    }

    #[test]
    fn frames_join_seamlessly() {
        let mut g = ToneGenerator::new(Hz8000, 440.0, 12_000);
        let input = g.samples(1600);
        let mut one_shot = Vec::new();
        Resampler::new(Hz8000, Hz48000).process(&input, &mut one_shot);
        let mut framed = Vec::new();
        let mut r = Resampler::new(Hz8000, Hz48000);
        for chunk in input.chunks(160) {
            r.process(chunk, &mut framed);
        }
        assert_eq!(one_shot, framed);
        assert_eq!(framed.len(), 9600);
        // Odd chunk sizes too, downward.
        let mut r = Resampler::new(Hz48000, Hz16000);
        let src = ToneGenerator::new(Hz48000, 440.0, 12_000).samples(4800);
        let mut a = Vec::new();
        for chunk in src.chunks(7) {
            r.process(chunk, &mut a);
        }
        let mut b = Vec::new();
        Resampler::new(Hz48000, Hz16000).process(&src, &mut b);
        assert_eq!(a, b);
        assert_eq!(b.len(), 1600);
    }

    #[test]
    fn wrong_rate_frame_is_silence_and_full_scale_saturates() {
        let mut r = Resampler::new(Hz8000, Hz16000);
        assert_eq!(
            r.process_frame(&Frame::silence(Hz48000)),
            Frame::silence(Hz16000)
        );
        // A full-scale square wave overshoots (Gibbs); output must clamp, not wrap.
        let square: Vec<i16> = (0..1600)
            .map(|i| if (i / 20) % 2 == 0 { 32767 } else { -32768 })
            .collect();
        let mut out = Vec::new();
        r.process(&square, &mut out);
        let peak_pos = out.iter().copied().max().unwrap();
        assert!(peak_pos > 30_000);
        assert!(r.delay() > 0);
    }
}
