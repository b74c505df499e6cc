//! Compound RTCP (RFC 3550 §6): SR/RR + SDES CNAME to send, and a parsed, owned summary of
//! what the peer sent. Wire work is `rtcp-types`; this module only maps it to our types.
//!
//! Invariants: every compound we build starts with an SR or RR and carries an SDES CNAME
//! (§6.1); report blocks beyond 31 are dropped; cumulative loss is clamped to 24 bits.
//! Parsing never panics: a malformed compound is [`RtpError::MalformedRtcp`].

use rtcp_types::{
    Bye, Compound, CompoundBuilder, Packet, ReceiverReport, ReportBlock, ReportBlockBuilder,
    RtcpPacketWriter, RtcpPacketWriterExt, Sdes, SdesChunk, SdesItem, SenderReport,
};

use super::{NtpTime, RtpError};

/// One report block (§6.4.1), owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlockData {
    /// The source this block is about.
    pub ssrc: u32,
    /// Lost since the previous report, out of 256.
    pub fraction_lost: u8,
    /// Signed 24-bit cumulative loss.
    pub cumulative_lost: i32,
    pub extended_highest_sequence: u32,
    /// Interarrival jitter, timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received from `ssrc`, or 0.
    pub last_sr: u32,
    /// Delay since that SR, 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// The sender-info part of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    pub ssrc: u32,
    pub ntp: NtpTime,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// One packet of a received compound, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacketInfo {
    SenderReport {
        sr: SenderInfo,
        blocks: Vec<ReportBlockData>,
    },
    ReceiverReport {
        ssrc: u32,
        blocks: Vec<ReportBlockData>,
    },
    /// (SSRC, CNAME) pairs; other SDES items are ignored.
    Sdes { cnames: Vec<(u32, String)> },
    Bye {
        ssrcs: Vec<u32>,
        reason: Option<String>,
    },
    /// Feedback, XR, APP: recognised and ignored.
    Other { packet_type: u8 },
}

fn block_from_wire(b: &ReportBlock<'_>) -> ReportBlockData {
    // Sign-extend the 24-bit cumulative loss.
    let raw = b.cumulative_lost() & 0x00FF_FFFF;
    let cumulative_lost = ((raw << 8) as i32) >> 8;
    ReportBlockData {
        ssrc: b.ssrc(),
        fraction_lost: b.fraction_lost(),
        cumulative_lost,
        extended_highest_sequence: b.extended_sequence_number(),
        jitter: b.interarrival_jitter(),
        last_sr: b.last_sender_report_timestamp(),
        delay_since_last_sr: b.delay_since_last_sender_report_timestamp(),
    }
}

fn block_to_wire(b: &ReportBlockData) -> ReportBlockBuilder {
    ReportBlock::builder(b.ssrc)
        .fraction_lost(b.fraction_lost)
        .cumulative_lost((b.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32) & 0x00FF_FFFF)
        .extended_sequence_number(b.extended_highest_sequence)
        .interarrival_jitter(b.jitter)
        .last_sender_report_timestamp(b.last_sr)
        .delay_since_last_sender_report_timestamp(b.delay_since_last_sr)
}

fn malformed(e: impl std::fmt::Display) -> RtpError {
    RtpError::MalformedRtcp(e.to_string())
}

/// Parses a compound RTCP datagram.
pub fn parse(data: &[u8]) -> Result<Vec<RtcpPacketInfo>, RtpError> {
    let compound = Compound::parse(data).map_err(malformed)?;
    let mut out = Vec::new();
    for packet in compound {
        let info = match packet.map_err(malformed)? {
            Packet::Sr(sr) => RtcpPacketInfo::SenderReport {
                sr: SenderInfo {
                    ssrc: sr.ssrc(),
                    ntp: NtpTime(sr.ntp_timestamp()),
                    rtp_timestamp: sr.rtp_timestamp(),
                    packet_count: sr.packet_count(),
                    octet_count: sr.octet_count(),
                },
                blocks: sr.report_blocks().map(|b| block_from_wire(&b)).collect(),
            },
            Packet::Rr(rr) => RtcpPacketInfo::ReceiverReport {
                ssrc: rr.ssrc(),
                blocks: rr.report_blocks().map(|b| block_from_wire(&b)).collect(),
            },
            Packet::Sdes(sdes) => {
                let mut cnames = Vec::new();
                for chunk in sdes.chunks() {
                    for item in chunk.items() {
                        if item.type_() == SdesItem::CNAME {
                            let name = String::from_utf8_lossy(item.value()).into_owned();
                            cnames.push((chunk.ssrc(), name));
                        }
                    }
                }
                RtcpPacketInfo::Sdes { cnames }
            }
            Packet::Bye(bye) => RtcpPacketInfo::Bye {
                ssrcs: bye.ssrcs().collect(),
                reason: bye
                    .reason()
                    .map(|r| String::from_utf8_lossy(r).into_owned()),
            },
            Packet::App(_) => RtcpPacketInfo::Other { packet_type: 204 },
            Packet::TransportFeedback(_) => RtcpPacketInfo::Other { packet_type: 205 },
            Packet::PayloadFeedback(_) => RtcpPacketInfo::Other { packet_type: 206 },
            Packet::Xr(_) => RtcpPacketInfo::Other { packet_type: 207 },
            Packet::Unknown(u) => RtcpPacketInfo::Other {
                packet_type: u.data().get(1).copied().unwrap_or(0),
            },
        };
        out.push(info);
    }
    Ok(out)
}

fn write(builder: CompoundBuilder<'_>) -> Result<Vec<u8>, RtpError> {
    let size = builder
        .calculate_size()
        .map_err(|e| RtpError::Build(e.to_string()))?;
    let mut buf = vec![0u8; size];
    let n = builder
        .write_into(&mut buf)
        .map_err(|e| RtpError::Build(e.to_string()))?;
    buf.truncate(n);
    Ok(buf)
}

fn report<'a>(
    sender: Option<&SenderInfo>,
    reporter_ssrc: u32,
    blocks: &[ReportBlockData],
    cname: &'a str,
) -> CompoundBuilder<'a> {
    let blocks = blocks.iter().take(31).map(block_to_wire);
    let compound = Compound::builder();
    let compound = match sender {
        Some(si) => {
            let mut sr = SenderReport::builder(si.ssrc)
                .ntp_timestamp(si.ntp.0)
                .rtp_timestamp(si.rtp_timestamp)
                .packet_count(si.packet_count)
                .octet_count(si.octet_count);
            for b in blocks {
                sr = sr.add_report_block(b);
            }
            compound.add_packet(sr)
        }
        None => {
            let mut rr = ReceiverReport::builder(reporter_ssrc);
            for b in blocks {
                rr = rr.add_report_block(b);
            }
            compound.add_packet(rr)
        }
    };
    let ssrc = sender.map_or(reporter_ssrc, |s| s.ssrc);
    compound.add_packet(
        Sdes::builder().add_chunk(
            SdesChunk::builder(ssrc).add_item(SdesItem::builder(SdesItem::CNAME, cname)),
        ),
    )
}

/// A compound report: an SR when `sender` is given (we sent RTP since the last report),
/// else an RR from `reporter_ssrc`; then SDES with our CNAME.
pub fn build_report(
    sender: Option<&SenderInfo>,
    reporter_ssrc: u32,
    blocks: &[ReportBlockData],
    cname: &str,
) -> Result<Vec<u8>, RtpError> {
    write(report(sender, reporter_ssrc, blocks, cname))
}

/// The last compound of a leg: RR (with `blocks`), SDES CNAME, and BYE for `ssrc`.
pub fn build_bye(
    ssrc: u32,
    blocks: &[ReportBlockData],
    cname: &str,
    reason: Option<&str>,
) -> Result<Vec<u8>, RtpError> {
    let mut bye = Bye::builder().add_source(ssrc);
    if let Some(r) = reason {
        bye = bye.reason(r.to_owned());
    }
    write(report(None, ssrc, blocks, cname).add_packet(bye))
}
