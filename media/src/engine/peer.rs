//! A minimal far-end RTP endpoint for loopback tests and the load tool: it sends a tone as
//! 20 ms packets of one codec and counts (optionally decodes) what comes back.
//!
//! Not part of the call path. It stays deliberately small and independent of the engine's
//! own RTP code (its 12-byte header is written and read by hand) so a test built on it
//! checks the engine against a second implementation. One second of the tone is encoded at
//! construction and replayed, so a thousand peers cost little CPU.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use crate::codec::{AudioDecoder, Codec, CodecError};
use crate::tone::ToneGenerator;

/// One far-end phone.
pub struct RtpPeer {
    sock: UdpSocket,
    remote: SocketAddr,
    pt: u8,
    ssrc: u32,
    seq: u16,
    ts: u32,
    samples_per_frame: u32,
    payloads: Vec<Vec<u8>>,
    next_payload: usize,
    dec: Option<Box<dyn AudioDecoder>>,
    /// Decoded audio received (only when capturing).
    pub captured: Vec<i16>,
    /// RTP packets received, of any payload type.
    pub packets_in: u64,
    /// Packets the sequence numbers say never arrived (gaps in the stream we receive).
    pub seq_gaps: u64,
    /// RTCP datagrams that arrived on this (RTP) socket and were ignored.
    pub rtcp_in: u64,
    /// Telephone-event packets received: (payload type, payload).
    pub events: Vec<(u8, Vec<u8>)>,
    last_seq: Option<u16>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for RtpPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtpPeer")
            .field("remote", &self.remote)
            .field("packets_in", &self.packets_in)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
}

impl RtpPeer {
    /// Bind on `ip` (any port), send a `freq_hz` tone in `codec` (payload type `pt`) to
    /// `remote`. `capture`: decode and keep what is received.
    pub fn bind(
        ip: IpAddr,
        remote: SocketAddr,
        codec: Codec,
        pt: u8,
        freq_hz: f64,
        capture: bool,
    ) -> Result<RtpPeer, PeerError> {
        let sock = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        sock.set_nonblocking(true)?;
        let mut tone = ToneGenerator::new(codec.pcm_rate(), freq_hz, 8000);
        let mut enc = codec.new_encoder()?;
        let mut payloads = Vec::with_capacity(50);
        for _ in 0..50 {
            let mut p = Vec::new();
            enc.encode(&tone.next_frame().samples, &mut p)?;
            payloads.push(p);
        }
        let port = sock.local_addr()?.port();
        Ok(RtpPeer {
            sock,
            remote,
            pt,
            ssrc: 0x5EED_0000 | u32::from(port),
            seq: port.wrapping_mul(7),
            ts: u32::from(port) << 8,
            samples_per_frame: codec.samples_per_frame(),
            payloads,
            next_payload: 0,
            dec: if capture {
                Some(codec.new_decoder()?)
            } else {
                None
            },
            captured: Vec::new(),
            packets_in: 0,
            seq_gaps: 0,
            rtcp_in: 0,
            events: Vec::new(),
            last_seq: None,
            buf: vec![0; 1500],
        })
    }

    /// Where this peer sends (the engine leg's RTP address).
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Send somewhere else from now on (a relay's port learnt after binding).
    pub fn set_remote(&mut self, remote: SocketAddr) {
        self.remote = remote;
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    fn packet(&mut self, pt: u8, marker: bool, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = Vec::with_capacity(12 + payload.len());
        p.push(0x80);
        p.push(pt | if marker { 0x80 } else { 0 });
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        p
    }

    /// Send the next 20 ms of the tone.
    pub fn send_frame(&mut self) -> std::io::Result<()> {
        let i = self.next_payload;
        self.next_payload = (i + 1) % self.payloads.len();
        let payload = std::mem::take(&mut self.payloads[i]);
        let pkt = self.packet(self.pt, false, self.ts, &payload);
        self.payloads[i] = payload;
        self.ts = self.ts.wrapping_add(self.samples_per_frame);
        self.sock.send_to(&pkt, self.remote).map(|_| ())
    }

    /// Send one RFC 4733 packet (event, end flag, duration in timestamp units) with the
    /// current timestamp as the event's; call `advance_event` after its last packet.
    pub fn send_event(
        &mut self,
        pt: u8,
        event: u8,
        end: bool,
        duration: u16,
        first: bool,
    ) -> std::io::Result<()> {
        let d = duration.to_be_bytes();
        let payload = [event, if end { 0x80 | 10 } else { 10 }, d[0], d[1]];
        let pkt = self.packet(pt, first, self.ts, &payload);
        self.sock.send_to(&pkt, self.remote).map(|_| ())
    }

    /// Move the timestamp on by `frames` 20 ms frames (after an event).
    pub fn advance(&mut self, frames: u32) {
        self.ts = self.ts.wrapping_add(self.samples_per_frame * frames);
    }

    /// Read everything that arrived.
    pub fn receive(&mut self) {
        loop {
            let n = match self.sock.recv_from(&mut self.buf) {
                Ok((n, _)) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => return,
            };
            if n < 12 || self.buf[0] >> 6 != 2 {
                continue;
            }
            if (192..=223).contains(&self.buf[1]) {
                // RTCP that a neighbouring leg sent to "its peer's port + 1", which on
                // loopback is often this socket: not part of the stream (RFC 5761 §4).
                self.rtcp_in += 1;
                continue;
            }
            self.packets_in += 1;
            let pt = self.buf[1] & 0x7F;
            let seq = u16::from_be_bytes([self.buf[2], self.buf[3]]);
            if let Some(last) = self.last_seq {
                let d = seq.wrapping_sub(last);
                if d > 1 && d < 1000 {
                    self.seq_gaps += u64::from(d - 1);
                }
            }
            self.last_seq = Some(seq);
            let cc = usize::from(self.buf[0] & 0x0F);
            let payload = &self.buf[(12 + 4 * cc).min(n)..n];
            if pt != self.pt {
                self.events.push((pt, payload.to_vec()));
            } else if let Some(dec) = self.dec.as_mut() {
                let _ = dec.decode(payload, &mut self.captured);
            }
        }
    }
}
