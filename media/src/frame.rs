//! The unit of audio that moves between codecs, jitter buffers, rooms, players and recorders.
//!
//! A frame is always 20 ms of mono linear PCM (i16) at one of the rates the engine mixes at.
//! Fixing the duration keeps every stage on the same 20 ms tick grid.

/// Frame duration in milliseconds: every stage works on this grid.
pub const FRAME_MS: u32 = 20;

/// Sample rates a frame can have. 8 kHz for G.711 rooms, 16 kHz for wideband prompts,
/// 48 kHz for Opus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleRate {
    Hz8000,
    Hz16000,
    Hz48000,
}

impl SampleRate {
    pub const fn hz(self) -> u32 {
        match self {
            SampleRate::Hz8000 => 8_000,
            SampleRate::Hz16000 => 16_000,
            SampleRate::Hz48000 => 48_000,
        }
    }

    /// Samples in one 20 ms frame at this rate.
    pub const fn samples_per_frame(self) -> usize {
        (self.hz() / 1000 * FRAME_MS) as usize
    }

    pub const fn from_hz(hz: u32) -> Option<SampleRate> {
        match hz {
            8_000 => Some(SampleRate::Hz8000),
            16_000 => Some(SampleRate::Hz16000),
            48_000 => Some(SampleRate::Hz48000),
            _ => None,
        }
    }
}

/// 20 ms of mono PCM. `samples.len() == rate.samples_per_frame()` always holds for frames
/// produced by the engine's own stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub rate: SampleRate,
    pub samples: Vec<i16>,
}

impl Frame {
    pub fn silence(rate: SampleRate) -> Frame {
        Frame {
            rate,
            samples: vec![0; rate.samples_per_frame()],
        }
    }
}
