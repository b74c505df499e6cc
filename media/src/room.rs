//! A mix room: legs plus a "who hears whom" matrix, mixed once per 20 ms tick.
//!
//! Owns: the member list (key + [`Role`]), the matrix in force and the matrix asked for, and
//! the pure [`mix`] function. Hold, conference, swap, monitor, barge and whisper are not code
//! paths of their own: they are helpers that edit the same [`HearsMatrix`].
//!
//! Invariants:
//! - a listener never hears its own voice (the diagonal is ignored even if set);
//! - sums are accumulated in i32 and clamped to i16 (saturating, never wrapping);
//! - a matrix change is applied on the next tick as a linear crossfade over that one 20 ms
//!   frame: a talker being switched in ramps 0→1, one being switched out ramps 1→0, so no
//!   step larger than the audio itself appears at the frame boundary (no click, no gap);
//! - every frame handed in must be at the room's rate; a frame at another rate or of the
//!   wrong length is mixed as silence (the engine resamples before calling in), never a panic.
//!
//! Besides the legs, every listener has one "feed": what a player sends to that leg (music on
//! hold, a prompt). Whether it is heard is a column of the matrix like any other source.

use crate::frame::{Frame, SampleRate};

/// What a leg is to the contact. Recording puts `Customer` on the left channel and
/// `Agent`/`ThirdParty` (and a barging or whispering `Monitor`) on the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Customer,
    Agent,
    ThirdParty,
    Monitor,
}

/// Who hears whom among `n` members (by index), and who hears their own feed.
/// New members hear nobody and are heard by nobody; their feed is heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HearsMatrix {
    n: usize,
    /// Row-major: `hears[listener * n + talker]`.
    hears: Vec<bool>,
    feed: Vec<bool>,
}

impl HearsMatrix {
    /// `n` members, nobody hears anybody, every feed is heard.
    pub fn new(n: usize) -> HearsMatrix {
        HearsMatrix {
            n,
            hears: vec![false; n * n],
            feed: vec![true; n],
        }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Does `listener` hear `talker`? Always false on the diagonal and out of range.
    pub fn hears(&self, listener: usize, talker: usize) -> bool {
        listener != talker
            && listener < self.n
            && talker < self.n
            && self.hears[listener * self.n + talker]
    }

    /// Set one cell; the diagonal and out-of-range indices are ignored.
    pub fn set(&mut self, listener: usize, talker: usize, on: bool) {
        if listener != talker && listener < self.n && talker < self.n {
            self.hears[listener * self.n + talker] = on;
        }
    }

    /// Does `listener` hear its own feed (music on hold, prompt)?
    pub fn hears_feed(&self, listener: usize) -> bool {
        self.feed.get(listener).copied().unwrap_or(false)
    }

    pub fn set_feed(&mut self, listener: usize, on: bool) {
        if let Some(f) = self.feed.get_mut(listener) {
            *f = on;
        }
    }

    /// Is `talker` heard by anyone?
    pub fn is_heard(&self, talker: usize) -> bool {
        (0..self.n).any(|l| self.hears(l, talker))
    }

    /// The matrix with one more member (isolated, feed heard).
    fn grown(&self) -> HearsMatrix {
        let mut m = HearsMatrix::new(self.n + 1);
        for l in 0..self.n {
            for t in 0..self.n {
                m.set(l, t, self.hears(l, t));
            }
            m.set_feed(l, self.hears_feed(l));
        }
        m
    }

    /// The matrix without member `gone`; later indices shift down by one.
    fn without(&self, gone: usize) -> HearsMatrix {
        let keep: Vec<usize> = (0..self.n).filter(|&i| i != gone).collect();
        let mut m = HearsMatrix::new(keep.len());
        for (nl, &l) in keep.iter().enumerate() {
            for (nt, &t) in keep.iter().enumerate() {
                m.set(nl, nt, self.hears(l, t));
            }
            m.set_feed(nl, self.hears_feed(l));
        }
        m
    }
}

/// Gain in Q15 for sample `i` of `len` as a source moves from `from` to `to` (on/off).
#[inline]
fn ramp_gain(from: bool, to: bool, i: usize, len: usize) -> i32 {
    match (from, to) {
        (true, true) => 1 << 15,
        (false, false) => 0,
        (false, true) => (((i + 1) << 15) / len) as i32,
        (true, false) => (((len - 1 - i) << 15) / len) as i32,
    }
}

/// A frame usable at `rate` with `N` samples: right rate and whole length; anything else
/// counts as silence.
#[inline]
fn usable<const N: usize>(f: Option<&Frame>, rate: SampleRate) -> Option<&[i16; N]> {
    f.filter(|f| f.rate == rate)
        .and_then(|f| f.samples.as_slice().try_into().ok())
}

/// Add `src` scaled by the ramp from `from` to `to` into `acc`.
#[inline]
fn accumulate<const N: usize>(acc: &mut [i32; N], src: &[i16; N], from: bool, to: bool) {
    if from && to {
        for (a, &s) in acc.iter_mut().zip(src) {
            *a += i32::from(s);
        }
    } else if from != to {
        for (i, (a, &s)) in acc.iter_mut().zip(src).enumerate() {
            *a += (i32::from(s) * ramp_gain(from, to, i, N)) >> 15;
        }
    }
}

/// Saturate `acc` into `out` (cleared first).
#[inline]
fn clamp_into(acc: &[i32], out: &mut Vec<i16>) {
    out.clear();
    out.extend(
        acc.iter()
            .map(|&a| a.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16),
    );
}

/// The mix of one tick, a pure function.
///
/// `inputs[i]` is what member `i` said this tick (`None` = silence), `feeds[i]` what its player
/// sends it. Listener `i` gets, in `out[i]`, the saturating sum of every talker it hears plus
/// its feed if heard. `from` is the matrix in force during the previous tick and `to` the one
/// asked for: cells that differ are crossfaded across this frame. Pass the same matrix twice
/// for a steady state. All slices are indexed by member; extra entries are ignored, missing
/// ones are silence. `out` is resized to `to.len()` frames at `rate`.
pub fn mix(
    inputs: &[Option<&Frame>],
    feeds: &[Option<&Frame>],
    from: &HearsMatrix,
    to: &HearsMatrix,
    rate: SampleRate,
    out: &mut Vec<Frame>,
) {
    // One monomorphised body per rate: accumulators of exactly one frame (no zeroing of a
    // 48 kHz buffer for an 8 kHz mix) and sample loops without bounds checks.
    match rate {
        SampleRate::Hz8000 => {
            mix_n::<{ SampleRate::Hz8000.samples_per_frame() }>(inputs, feeds, from, to, rate, out)
        }
        SampleRate::Hz16000 => {
            mix_n::<{ SampleRate::Hz16000.samples_per_frame() }>(inputs, feeds, from, to, rate, out)
        }
        SampleRate::Hz48000 => {
            mix_n::<{ SampleRate::Hz48000.samples_per_frame() }>(inputs, feeds, from, to, rate, out)
        }
    }
}

fn mix_n<const N: usize>(
    inputs: &[Option<&Frame>],
    feeds: &[Option<&Frame>],
    from: &HearsMatrix,
    to: &HearsMatrix,
    rate: SampleRate,
    out: &mut Vec<Frame>,
) {
    let n = to.len();
    out.resize_with(n, || Frame::silence(rate));
    let mut acc = [0i32; N];
    for (l, frame) in out.iter_mut().enumerate() {
        acc.fill(0);
        for t in 0..n {
            let (was, is) = (from.hears(l, t), to.hears(l, t));
            if !was && !is {
                continue;
            }
            if let Some(src) = usable::<N>(inputs.get(t).copied().flatten(), rate) {
                accumulate(&mut acc, src, was, is);
            }
        }
        let (was, is) = (from.hears_feed(l), to.hears_feed(l));
        if (was || is)
            && let Some(src) = usable::<N>(feeds.get(l).copied().flatten(), rate)
        {
            accumulate(&mut acc, src, was, is);
        }
        frame.rate = rate;
        clamp_into(&acc, &mut frame.samples);
    }
}

/// Split one tick for a stereo recording, a pure function: `left` = the customers' voices,
/// `right` = agents and third parties, plus any monitor someone hears (barge, whisper).
/// Both are resized to one frame at `rate`; sums saturate.
pub fn recording_split(
    roles: &[Role],
    inputs: &[Option<&Frame>],
    hears: &HearsMatrix,
    rate: SampleRate,
    left: &mut Vec<i16>,
    right: &mut Vec<i16>,
) {
    match rate {
        SampleRate::Hz8000 => split_n::<{ SampleRate::Hz8000.samples_per_frame() }>(
            roles, inputs, hears, rate, left, right,
        ),
        SampleRate::Hz16000 => split_n::<{ SampleRate::Hz16000.samples_per_frame() }>(
            roles, inputs, hears, rate, left, right,
        ),
        SampleRate::Hz48000 => split_n::<{ SampleRate::Hz48000.samples_per_frame() }>(
            roles, inputs, hears, rate, left, right,
        ),
    }
}

fn split_n<const N: usize>(
    roles: &[Role],
    inputs: &[Option<&Frame>],
    hears: &HearsMatrix,
    rate: SampleRate,
    left: &mut Vec<i16>,
    right: &mut Vec<i16>,
) {
    let mut l_acc = [0i32; N];
    let mut r_acc = [0i32; N];
    for (i, role) in roles.iter().enumerate() {
        let Some(src) = usable::<N>(inputs.get(i).copied().flatten(), rate) else {
            continue;
        };
        let acc = match role {
            Role::Customer => &mut l_acc,
            Role::Agent | Role::ThirdParty => &mut r_acc,
            Role::Monitor if hears.is_heard(i) => &mut r_acc,
            Role::Monitor => continue,
        };
        accumulate(acc, src, true, true);
    }
    clamp_into(&l_acc, left);
    clamp_into(&r_acc, right);
}

/// The preferred mixing rate for a set of leg rates: 8 kHz as soon as one leg is narrowband,
/// otherwise the lowest wideband rate present (no point mixing above what every leg has).
pub fn mixing_rate(rates: impl IntoIterator<Item = SampleRate>) -> SampleRate {
    rates
        .into_iter()
        .min_by_key(|r| r.hz())
        .unwrap_or(SampleRate::Hz8000)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    #[error("leg is not a member of this room")]
    NotAMember,
    #[error("leg is already a member of this room")]
    AlreadyMember,
}

/// One member of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<K> {
    pub key: K,
    pub role: Role,
}

/// A mix room over member keys `K` (the engine uses its leg ids; tests use small integers).
///
/// Call order per tick: [`Room::tick`] with one input and one feed per member, in
/// [`Room::members`] order. Matrix edits between ticks take effect, crossfaded, on the next.
#[derive(Debug, Clone)]
pub struct Room<K> {
    rate: SampleRate,
    members: Vec<Member<K>>,
    /// `members[i].role`, kept alongside for [`recording_split`].
    roles: Vec<Role>,
    /// The matrix the previous tick ended on.
    applied: HearsMatrix,
    /// The matrix asked for; reached at the end of the next tick.
    target: HearsMatrix,
}

impl<K: Copy + Eq> Room<K> {
    pub fn new(rate: SampleRate) -> Room<K> {
        Room {
            rate,
            members: Vec::new(),
            roles: Vec::new(),
            applied: HearsMatrix::new(0),
            target: HearsMatrix::new(0),
        }
    }

    pub fn rate(&self) -> SampleRate {
        self.rate
    }

    /// Change the mixing rate. The engine calls this when membership changes the preferred
    /// rate ([`mixing_rate`]); the next tick's frames must be at the new rate.
    pub fn set_rate(&mut self, rate: SampleRate) {
        self.rate = rate;
    }

    pub fn members(&self) -> &[Member<K>] {
        &self.members
    }

    pub fn index_of(&self, key: K) -> Option<usize> {
        self.members.iter().position(|m| m.key == key)
    }

    fn idx(&self, key: K) -> Result<usize, RoomError> {
        self.index_of(key).ok_or(RoomError::NotAMember)
    }

    /// Add a member: it hears nobody and nobody hears it until a helper says otherwise.
    pub fn add(&mut self, key: K, role: Role) -> Result<usize, RoomError> {
        if self.index_of(key).is_some() {
            return Err(RoomError::AlreadyMember);
        }
        self.members.push(Member { key, role });
        self.roles.push(role);
        self.applied = self.applied.grown();
        self.target = self.target.grown();
        Ok(self.members.len() - 1)
    }

    /// Remove a member. Its voice stops at the frame boundary (it is gone, there is nothing
    /// left to fade); everyone else's relations are kept.
    pub fn remove(&mut self, key: K) -> Result<Member<K>, RoomError> {
        let i = self.idx(key)?;
        self.applied = self.applied.without(i);
        self.target = self.target.without(i);
        self.roles.remove(i);
        Ok(self.members.remove(i))
    }

    /// The matrix asked for (what the next tick crossfades to).
    pub fn matrix(&self) -> &HearsMatrix {
        &self.target
    }

    /// Replace the whole matrix. A matrix of the wrong size is ignored (returns false).
    pub fn set_matrix(&mut self, m: HearsMatrix) -> bool {
        if m.len() != self.members.len() {
            return false;
        }
        self.target = m;
        true
    }

    /// `a` and `b` hear each other. Nothing else changes.
    pub fn bridge(&mut self, a: K, b: K) -> Result<(), RoomError> {
        let (a, b) = (self.idx(a)?, self.idx(b)?);
        self.target.set(a, b, true);
        self.target.set(b, a, true);
        Ok(())
    }

    /// `held` hears only its feed (the engine plays music on hold into it); nobody hears
    /// `held`, so `other` hears nothing of it (not the music either: feeds are per listener).
    pub fn hold(&mut self, held: K, other: K) -> Result<(), RoomError> {
        let (h, _) = (self.idx(held)?, self.idx(other)?);
        for i in 0..self.members.len() {
            self.target.set(h, i, false);
            self.target.set(i, h, false);
        }
        self.target.set_feed(h, true);
        Ok(())
    }

    /// Everyone in `legs` hears every other one of them.
    pub fn conference(&mut self, legs: &[K]) -> Result<(), RoomError> {
        let idx = legs
            .iter()
            .map(|&k| self.idx(k))
            .collect::<Result<Vec<_>, _>>()?;
        for &l in &idx {
            for &t in &idx {
                self.target.set(l, t, true);
            }
        }
        Ok(())
    }

    /// The agent talks to `talk_to` while `held` goes on hold (and does not hear `talk_to`).
    pub fn swap(&mut self, agent: K, talk_to: K, held: K) -> Result<(), RoomError> {
        self.hold(held, agent)?;
        self.bridge(agent, talk_to)
    }

    /// `m` hears everyone and is heard by no one.
    pub fn monitor(&mut self, m: K) -> Result<(), RoomError> {
        let mi = self.idx(m)?;
        for i in 0..self.members.len() {
            self.target.set(mi, i, true);
            self.target.set(i, mi, false);
        }
        Ok(())
    }

    /// `m` hears everyone and everyone hears `m`.
    pub fn barge(&mut self, m: K) -> Result<(), RoomError> {
        let mi = self.idx(m)?;
        for i in 0..self.members.len() {
            self.target.set(mi, i, true);
            self.target.set(i, mi, true);
        }
        Ok(())
    }

    /// `m` hears everyone; only `agent` hears `m`.
    pub fn whisper(&mut self, m: K, agent: K) -> Result<(), RoomError> {
        let (mi, ai) = (self.idx(m)?, self.idx(agent)?);
        for i in 0..self.members.len() {
            self.target.set(mi, i, true);
            self.target.set(i, mi, i == ai);
        }
        Ok(())
    }

    /// Mix one tick: `inputs[i]`/`feeds[i]` belong to `members()[i]`; `out[i]` is what member
    /// `i` hears. Pending matrix changes are crossfaded in this frame and then in force.
    pub fn tick(
        &mut self,
        inputs: &[Option<&Frame>],
        feeds: &[Option<&Frame>],
        out: &mut Vec<Frame>,
    ) {
        mix(inputs, feeds, &self.applied, &self.target, self.rate, out);
        if self.applied != self.target {
            self.applied.clone_from(&self.target);
        }
    }

    /// This tick's stereo recording frame (see [`recording_split`]), using the matrix asked for.
    pub fn recording_frame(
        &self,
        inputs: &[Option<&Frame>],
        left: &mut Vec<i16>,
        right: &mut Vec<i16>,
    ) {
        recording_split(&self.roles, inputs, &self.target, self.rate, left, right);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! Pure mix tests on constant frames: distinct levels per talker make every sum readable.
    //! Tone tests on decoded PCMU output live in `media/tests/mix_matrix.rs`.
    use super::*;

    const R: SampleRate = SampleRate::Hz8000;

    fn level(v: i16) -> Frame {
        Frame {
            rate: R,
            samples: vec![v; R.samples_per_frame()],
        }
    }

    /// Run two ticks (the first crossfades in), return the second tick's first sample per member.
    fn steady(room: &mut Room<u32>, levels: &[i16], feeds: &[Option<i16>]) -> Vec<i16> {
        let frames: Vec<Frame> = levels.iter().map(|&v| level(v)).collect();
        let feed_frames: Vec<Option<Frame>> = feeds.iter().map(|f| f.map(level)).collect();
        let inputs: Vec<Option<&Frame>> = frames.iter().map(Some).collect();
        let fin: Vec<Option<&Frame>> = feed_frames.iter().map(|f| f.as_ref()).collect();
        let mut out = Vec::new();
        room.tick(&inputs, &fin, &mut out);
        room.tick(&inputs, &fin, &mut out);
        for f in &out {
            assert!(
                f.samples.iter().all(|&s| s == f.samples[0]),
                "steady frame is flat"
            );
        }
        out.iter().map(|f| f.samples[0]).collect()
    }

    fn room(n: u32) -> Room<u32> {
        let mut r = Room::new(R);
        for k in 0..n {
            let role = if k == 0 { Role::Customer } else { Role::Agent };
            r.add(k, role).unwrap();
        }
        r
    }

    #[test]
    fn bridge_hears_other_never_self() {
        let mut r = room(2);
        r.bridge(0, 1).unwrap();
        assert_eq!(steady(&mut r, &[100, 1000], &[]), vec![1000, 100]);
    }

    #[test]
    fn diagonal_is_never_heard_even_if_set_directly() {
        let mut r = room(2);
        let mut m = HearsMatrix::new(2);
        m.hears[0] = true; // listener 0 hears talker 0, bypassing set()
        m.hears[3] = true;
        assert!(r.set_matrix(m));
        assert_eq!(steady(&mut r, &[100, 1000], &[]), vec![0, 0]);
    }

    #[test]
    fn sums_saturate_instead_of_wrapping() {
        let mut r = room(3);
        r.conference(&[0, 1, 2]).unwrap();
        assert_eq!(
            steady(&mut r, &[30000, 30000, 30000], &[]),
            vec![i16::MAX; 3]
        );
        assert_eq!(
            steady(&mut r, &[-30000, -30000, -30000], &[]),
            vec![i16::MIN; 3]
        );
    }

    #[test]
    fn conference_of_three_hears_the_other_two() {
        let mut r = room(3);
        r.conference(&[0, 1, 2]).unwrap();
        assert_eq!(steady(&mut r, &[1, 10, 100], &[]), vec![110, 101, 11]);
    }

    #[test]
    fn hold_isolates_the_held_leg_and_gives_it_its_feed() {
        let mut r = room(3);
        r.conference(&[0, 1, 2]).unwrap();
        r.hold(0, 1).unwrap();
        // Member 0 is held: hears only its feed (7); 1 and 2 still hear each other, not 0 nor 7.
        assert_eq!(
            steady(&mut r, &[1, 10, 100], &[Some(7), None, None]),
            vec![7, 100, 10]
        );
    }

    #[test]
    fn swap_moves_the_agent_between_parties() {
        let mut r = room(3); // 0 customer, 1 agent, 2 third party
        r.bridge(0, 1).unwrap();
        r.swap(1, 2, 0).unwrap();
        assert_eq!(
            steady(&mut r, &[1, 10, 100], &[Some(7), None, None]),
            vec![7, 100, 10]
        );
        r.swap(1, 0, 2).unwrap();
        assert_eq!(
            steady(&mut r, &[1, 10, 100], &[None, None, Some(7)]),
            vec![10, 1, 7]
        );
    }

    #[test]
    fn monitor_barge_whisper() {
        let mut r = room(2);
        r.add(9, Role::Monitor).unwrap();
        r.bridge(0, 1).unwrap();
        r.monitor(9).unwrap();
        assert_eq!(steady(&mut r, &[1, 10, 100], &[]), vec![10, 1, 11]);
        r.whisper(9, 1).unwrap();
        assert_eq!(steady(&mut r, &[1, 10, 100], &[]), vec![10, 101, 11]);
        r.barge(9).unwrap();
        assert_eq!(steady(&mut r, &[1, 10, 100], &[]), vec![110, 101, 11]);
        r.monitor(9).unwrap();
        assert_eq!(steady(&mut r, &[1, 10, 100], &[]), vec![10, 1, 11]);
    }

    #[test]
    fn matrix_change_is_a_one_frame_crossfade_without_steps() {
        let mut r = room(3);
        r.bridge(0, 1).unwrap();
        let frames = [level(0), level(8000), level(-8000)];
        let inputs: Vec<Option<&Frame>> = frames.iter().map(Some).collect();
        let mut out = Vec::new();
        r.tick(&inputs, &[], &mut out);
        assert_eq!(out[0].samples[159], 8000);
        // Swap the customer from talker 1 to talker 2: 8000 fades out while -8000 fades in.
        r.swap(0, 2, 1).unwrap();
        let before = out[0].samples[159];
        r.tick(&inputs, &[], &mut out);
        let x = &out[0].samples;
        let max_step = x
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .unwrap();
        assert!(max_step <= 2 * 16000 / 160 + 1, "ramp step {max_step}");
        assert!((i32::from(x[0]) - i32::from(before)).abs() <= 2 * 16000 / 160 + 1);
        assert_eq!(
            x[159], -8000,
            "the new matrix is fully in force at the frame's end"
        );
        r.tick(&inputs, &[], &mut out);
        assert!(out[0].samples.iter().all(|&s| s == -8000));
    }

    #[test]
    fn wrong_rate_or_length_is_silence_not_a_panic() {
        let mut r = room(2);
        r.bridge(0, 1).unwrap();
        let short = Frame {
            rate: R,
            samples: vec![5; 10],
        };
        let wide = Frame::silence(SampleRate::Hz16000);
        let mut out = Vec::new();
        r.tick(&[Some(&short), Some(&wide)], &[], &mut out);
        r.tick(&[Some(&short)], &[], &mut out);
        assert!(out.iter().all(|f| f.samples.iter().all(|&s| s == 0)));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn remove_keeps_the_others_relations() {
        let mut r = room(3);
        r.conference(&[0, 1, 2]).unwrap();
        r.remove(1).unwrap();
        assert_eq!(steady(&mut r, &[1, 100], &[]), vec![100, 1]);
        assert_eq!(r.remove(1), Err(RoomError::NotAMember));
        assert_eq!(r.add(0, Role::Agent), Err(RoomError::AlreadyMember));
    }

    #[test]
    fn recording_puts_customer_left_and_agent_side_right() {
        let mut r = room(3);
        r.add(9, Role::Monitor).unwrap();
        r.members.get_mut(2).unwrap().role = Role::ThirdParty;
        r.roles[2] = Role::ThirdParty;
        r.monitor(9).unwrap();
        let frames = [level(1), level(10), level(100), level(1000)];
        let inputs: Vec<Option<&Frame>> = frames.iter().map(Some).collect();
        let (mut left, mut right) = (Vec::new(), Vec::new());
        r.recording_frame(&inputs, &mut left, &mut right);
        assert_eq!(
            (left[0], right[0]),
            (1, 110),
            "a silent monitor is not recorded"
        );
        r.barge(9).unwrap();
        r.recording_frame(&inputs, &mut left, &mut right);
        assert_eq!((left[0], right[0]), (1, 1110));
    }

    #[test]
    fn mixing_rate_is_narrowband_if_any_leg_is() {
        use SampleRate::*;
        assert_eq!(mixing_rate([Hz48000, Hz8000]), Hz8000);
        assert_eq!(mixing_rate([Hz48000, Hz16000]), Hz16000);
        assert_eq!(mixing_rate([Hz48000]), Hz48000);
        assert_eq!(mixing_rate([]), Hz8000);
    }
}
