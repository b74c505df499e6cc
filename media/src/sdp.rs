//! SDP offer/answer for one audio stream (RFC 3264 over RFC 4566 SDP), so the server never
//! builds SDP by hand. Parsing and serializing are `sdp-types`; the negotiation is ours.
//!
//! * [`parse`] reads a peer's SDP into a [`RemoteDescription`]: connection address, the
//!   first audio m-line (port, payload formats with rtpmap/fmtp, static types filled in),
//!   telephone-event, direction and ptime. `c=0.0.0.0` (RFC 2543 hold) drops "recv" from
//!   the peer's direction.
//! * [`SdpSession`] owns our `o=` line: its version goes up by one whenever the SDP we
//!   send changes (RFC 3264 §8), so re-offers for hold/resume are well-formed.
//! * [`SdpSession::answer`] picks the first offered codec we support (PCMU, PCMA,
//!   opus/48000/2 per RFC 7587), reuses the offerer's payload type numbers, answers the
//!   direction per RFC 3264 §6.1 (sendonly -> recvonly, inactive -> inactive) and mirrors
//!   every other m-line with port 0 (rejected).
//!
//! Malformed SDP is an [`SdpError`], never a panic.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use crate::codec::Codec;

/// Errors from parsing or negotiating SDP: all mean "488 Not Acceptable Here" to SIP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("malformed SDP: {0}")]
    Malformed(String),
    #[error("no audio stream in the SDP")]
    NoAudio,
    #[error("audio transport {0} not supported (plain RTP/AVP only)")]
    UnsupportedTransport(String),
    #[error("no codec in common")]
    NoCommonCodec,
}

/// Media direction (RFC 4566 §6, RFC 3264 §5.1), from the point of view of the SDP's author.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn parse(s: &str) -> Option<Direction> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str().eq_ignore_ascii_case(s))
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    fn from_flags(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Our direction answering `offered`, given what we would like (`local`): we send only
    /// if the offerer receives, and receive only if it sends.
    pub fn answer(offered: Direction, local: Direction) -> Direction {
        Direction::from_flags(
            local.sends() && offered.receives(),
            local.receives() && offered.sends(),
        )
    }
}

/// One payload format of an m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFormat {
    pub pt: u8,
    /// Encoding name as written (compare case-insensitively).
    pub encoding: String,
    pub clock_rate: u32,
    /// Channels from the rtpmap's encoding parameters.
    pub channels: Option<u8>,
    pub fmtp: Option<String>,
}

/// The telephone-event format in use (RFC 4733).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEventFormat {
    pub pt: u8,
    pub clock_rate: u32,
}

/// What a peer's SDP says about audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDescription {
    /// `o=` session id and version: a re-INVITE with the same version changed nothing.
    pub session_id: String,
    pub session_version: u64,
    /// Media-level `c=` if present, else session-level; `None` if absent or unparsable.
    pub connection: Option<IpAddr>,
    pub port: u16,
    pub proto: String,
    /// In the offerer's order of preference.
    pub formats: Vec<PayloadFormat>,
    pub direction: Direction,
    pub ptime: Option<u32>,
    /// Every m-line as (media, proto, fmt), to mirror in an answer.
    media_lines: Vec<(String, String, String)>,
    /// Index of the audio m-line in `media_lines`.
    audio_index: usize,
}

impl RemoteDescription {
    /// Where to send RTP, if the peer gave a usable address (not 0.0.0.0, port not 0).
    pub fn rtp_target(&self) -> Option<SocketAddr> {
        let ip = self.connection.filter(|ip| !ip.is_unspecified())?;
        (self.port != 0).then_some(SocketAddr::new(ip, self.port))
    }

    /// The telephone-event format matching `clock_rate`, else the first one offered.
    pub fn telephone_event(&self, clock_rate: u32) -> Option<TelephoneEventFormat> {
        let te = self
            .formats
            .iter()
            .filter(|f| f.encoding.eq_ignore_ascii_case("telephone-event"));
        let mut first = None;
        for f in te {
            let found = TelephoneEventFormat {
                pt: f.pt,
                clock_rate: f.clock_rate,
            };
            if f.clock_rate == clock_rate {
                return Some(found);
            }
            first.get_or_insert(found);
        }
        first
    }

    /// The first format (in the peer's order) that is one of `supported`.
    pub fn first_supported(&self, supported: &[Codec]) -> Option<NegotiatedCodec> {
        self.formats.iter().find_map(|f| {
            let codec = codec_of(f)?;
            supported.contains(&codec).then_some(NegotiatedCodec {
                pt: f.pt,
                codec,
                clock_rate: codec.clock_rate(),
            })
        })
    }
}

/// The codec both sides agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiatedCodec {
    pub pt: u8,
    pub codec: Codec,
    pub clock_rate: u32,
}

/// The outcome of an offer/answer exchange, from our side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: NegotiatedCodec,
    pub telephone_event: Option<TelephoneEventFormat>,
    /// What we do: `RecvOnly` means we only receive.
    pub direction: Direction,
    /// Where to send RTP (before symmetric-RTP latching corrects it).
    pub remote: Option<SocketAddr>,
    pub remote_ptime: Option<u32>,
}

/// Our answer: the SDP text to send, and what was agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub sdp: String,
    pub negotiated: Negotiated,
}

fn codec_of(f: &PayloadFormat) -> Option<Codec> {
    let name = f.encoding.as_str();
    if name.eq_ignore_ascii_case("PCMU") && f.clock_rate == 8000 {
        Some(Codec::Pcmu)
    } else if name.eq_ignore_ascii_case("PCMA") && f.clock_rate == 8000 {
        Some(Codec::Pcma)
    } else if name.eq_ignore_ascii_case("opus") && f.clock_rate == 48000 && f.channels == Some(2) {
        Some(Codec::Opus)
    } else {
        None
    }
}

/// Static payload types of RFC 3551 table 4 that may appear without an rtpmap.
fn static_format(pt: u8) -> Option<PayloadFormat> {
    let (name, rate) = match pt {
        0 => ("PCMU", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        13 => ("CN", 8000),
        18 => ("G729", 8000),
        _ => return None,
    };
    Some(PayloadFormat {
        pt,
        encoding: name.into(),
        clock_rate: rate,
        channels: None,
        fmtp: None,
    })
}

fn malformed(e: impl std::fmt::Display) -> SdpError {
    SdpError::Malformed(e.to_string())
}

fn direction_of(attrs: &[sdp_types::Attribute]) -> Option<Direction> {
    attrs
        .iter()
        .rev()
        .find_map(|a| Direction::parse(&a.attribute))
}

/// Parses a peer's SDP (offer or answer).
pub fn parse(text: &str) -> Result<RemoteDescription, SdpError> {
    let session = sdp_types::Session::parse(text.as_bytes()).map_err(malformed)?;
    let media_lines: Vec<(String, String, String)> = session
        .medias
        .iter()
        .map(|m| (m.media.clone(), m.proto.clone(), m.fmt.clone()))
        .collect();
    let (audio_index, media) = session
        .medias
        .iter()
        .enumerate()
        .find(|(_, m)| m.media.eq_ignore_ascii_case("audio") && m.port != 0)
        .ok_or(SdpError::NoAudio)?;
    let connection = media
        .connections
        .first()
        .or(session.connection.as_ref())
        .and_then(|c| c.try_address().ok())
        .map(|a| a.ip);

    let mut formats = Vec::new();
    for token in media.fmt.split_ascii_whitespace() {
        let pt: u8 = token
            .parse()
            .ok()
            .filter(|pt| *pt < 128)
            .ok_or_else(|| SdpError::Malformed(format!("payload type {token:?}")))?;
        let rtpmap = media
            .attributes_typed::<sdp_types::RtpMap>()
            .filter_map(Result::ok)
            .find(|r| r.payload_type == pt);
        let mut format = match rtpmap {
            Some(r) => PayloadFormat {
                pt,
                encoding: r.encoding_name,
                clock_rate: r.clock_rate,
                channels: r.encoding_params.and_then(|p| p.trim().parse().ok()),
                fmtp: None,
            },
            None => match static_format(pt) {
                Some(f) => f,
                None => continue, // dynamic type without rtpmap: unusable, skip
            },
        };
        format.fmtp = media
            .attributes
            .iter()
            .filter(|a| a.attribute.eq_ignore_ascii_case("fmtp"))
            .filter_map(|a| a.value.as_deref())
            .filter_map(|v| v.split_once(' '))
            .find(|(p, _)| p.trim().parse::<u8>().ok() == Some(pt))
            .map(|(_, params)| params.trim().to_owned());
        formats.push(format);
    }

    let mut direction = direction_of(&media.attributes)
        .or_else(|| direction_of(&session.attributes))
        .unwrap_or_default();
    if connection.is_some_and(|ip| ip.is_unspecified()) {
        // RFC 2543-style hold: "do not send to me".
        direction = Direction::from_flags(direction.sends(), false);
    }
    let ptime = media
        .get_first_attribute_value("ptime")
        .flatten()
        .and_then(|v| v.trim().parse().ok());
    Ok(RemoteDescription {
        session_id: session.origin.sess_id.clone(),
        session_version: session.origin.sess_version,
        connection,
        port: media.port,
        proto: media.proto.clone(),
        formats,
        direction,
        ptime,
        media_lines,
        audio_index,
    })
}

fn check_transport(proto: &str) -> Result<(), SdpError> {
    // Plain RTP only; AVPF feedback is harmless to ignore, SAVP needs keys we do not have.
    if proto.eq_ignore_ascii_case("RTP/AVP") || proto.eq_ignore_ascii_case("RTP/AVPF") {
        Ok(())
    } else {
        Err(SdpError::UnsupportedTransport(proto.to_owned()))
    }
}

/// Our side of the SDP for a call leg: owns the `o=` line.
#[derive(Debug, Clone)]
pub struct SdpSession {
    session_id: u64,
    version: u64,
    addr: IpAddr,
    /// Everything after the `o=` line of the last SDP we produced.
    last_body: Option<String>,
}

impl SdpSession {
    pub const USERNAME: &'static str = "switchboard";
    /// Dynamic payload types we use in our own offers.
    pub const OPUS_PT: u8 = 111;
    pub const TELEPHONE_EVENT_PT: u8 = 101;
    pub const TELEPHONE_EVENT_48K_PT: u8 = 102;

    /// `session_id` should be random (the caller draws it); `addr` is our media address.
    pub fn new(session_id: u64, addr: IpAddr) -> SdpSession {
        SdpSession {
            session_id,
            version: 1,
            addr,
            last_body: None,
        }
    }

    /// The `o=` version of the last SDP produced.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Renders an SDP, bumping the version iff the content differs from the last one.
    fn render(&mut self, medias: Vec<sdp_types::Media>) -> String {
        let conn = sdp_types::Connection::from_ip_addr(self.addr);
        let mut session = sdp_types::Session::new(
            {
                let mut o =
                    sdp_types::Origin::with_ip_addr(self.session_id, self.version, self.addr);
                o.set_username(Self::USERNAME);
                o
            },
            "-",
        );
        session.set_connection(conn);
        session.add_time(sdp_types::Time::new(0, 0));
        session.add_medias(medias);
        let text = write_session(&session);
        let body = text.split_once("\r\ns=").map_or(text.as_str(), |(_, b)| b);
        if let Some(last) = &self.last_body {
            if last != body {
                self.version += 1;
                session.origin.sess_version = self.version;
                let new_text = write_session(&session);
                self.last_body = Some(body.to_owned());
                return new_text;
            }
        } else {
            self.last_body = Some(body.to_owned());
        }
        text
    }

    /// An offer for `codecs` in our order of preference, plus telephone-event, with
    /// `direction` (`SendOnly` to put the peer on hold, `SendRecv` to resume).
    pub fn offer(&mut self, local_port: u16, codecs: &[Codec], direction: Direction) -> String {
        let mut fmts: Vec<(u8, String, Option<String>)> = Vec::new();
        for &c in codecs {
            match c {
                Codec::Pcmu => fmts.push((0, "PCMU/8000".into(), None)),
                Codec::Pcma => fmts.push((8, "PCMA/8000".into(), None)),
                Codec::Opus => fmts.push((
                    Self::OPUS_PT,
                    "opus/48000/2".into(),
                    Some("useinbandfec=0".into()),
                )),
            }
        }
        if codecs.iter().any(|c| c.clock_rate() == 8000) {
            fmts.push((
                Self::TELEPHONE_EVENT_PT,
                "telephone-event/8000".into(),
                Some("0-15".into()),
            ));
        }
        if codecs.contains(&Codec::Opus) {
            fmts.push((
                Self::TELEPHONE_EVENT_48K_PT,
                "telephone-event/48000".into(),
                Some("0-15".into()),
            ));
        }
        let media = audio_media(local_port, &fmts, direction);
        self.render(vec![media])
    }

    /// Answers `offer` with our preferred direction `SendRecv`.
    pub fn answer(
        &mut self,
        offer: &RemoteDescription,
        local_port: u16,
        supported: &[Codec],
    ) -> Result<Answer, SdpError> {
        self.answer_with_direction(offer, local_port, supported, Direction::SendRecv)
    }

    /// Answers `offer`, wanting `local` (e.g. `SendOnly` when we hold the peer).
    pub fn answer_with_direction(
        &mut self,
        offer: &RemoteDescription,
        local_port: u16,
        supported: &[Codec],
        local: Direction,
    ) -> Result<Answer, SdpError> {
        check_transport(&offer.proto)?;
        let codec = offer
            .first_supported(supported)
            .ok_or(SdpError::NoCommonCodec)?;
        let telephone_event = offer.telephone_event(codec.clock_rate);
        let direction = Direction::answer(offer.direction, local);
        let mut fmts = vec![(
            codec.pt,
            rtpmap_value(codec.codec),
            answer_fmtp(codec.codec),
        )];
        if let Some(te) = telephone_event {
            fmts.push((
                te.pt,
                format!("telephone-event/{}", te.clock_rate),
                Some("0-15".into()),
            ));
        }
        let mut medias = Vec::with_capacity(offer.media_lines.len());
        for (i, (media, proto, fmt)) in offer.media_lines.iter().enumerate() {
            if i == offer.audio_index {
                medias.push(audio_media(local_port, &fmts, direction));
            } else {
                // RFC 3264 §6: a rejected stream keeps its line with port 0.
                medias.push(sdp_types::Media {
                    media: media.clone(),
                    port: 0,
                    num_ports: None,
                    proto: proto.clone(),
                    fmt: fmt.clone(),
                    media_title: None,
                    connections: Vec::new(),
                    bandwidths: Vec::new(),
                    key: None,
                    attributes: Vec::new(),
                });
            }
        }
        let sdp = self.render(medias);
        Ok(Answer {
            sdp,
            negotiated: Negotiated {
                codec,
                telephone_event,
                direction,
                remote: offer.rtp_target(),
                remote_ptime: offer.ptime,
            },
        })
    }

    /// Reads the peer's answer to our offer: the first codec it kept that we support.
    /// `our_direction` is what we offered.
    pub fn accept_answer(
        &self,
        answer: &RemoteDescription,
        supported: &[Codec],
        our_direction: Direction,
    ) -> Result<Negotiated, SdpError> {
        check_transport(&answer.proto)?;
        let codec = answer
            .first_supported(supported)
            .ok_or(SdpError::NoCommonCodec)?;
        Ok(Negotiated {
            codec,
            telephone_event: answer.telephone_event(codec.clock_rate),
            direction: Direction::answer(answer.direction, our_direction),
            remote: answer.rtp_target(),
            remote_ptime: answer.ptime,
        })
    }
}

fn rtpmap_value(codec: Codec) -> String {
    match codec {
        Codec::Pcmu => "PCMU/8000".into(),
        Codec::Pcma => "PCMA/8000".into(),
        Codec::Opus => "opus/48000/2".into(),
    }
}

fn answer_fmtp(codec: Codec) -> Option<String> {
    // RFC 7587: we decode mono, send mono, and run without in-band FEC.
    (codec == Codec::Opus).then(|| "useinbandfec=0".into())
}

fn audio_media(
    port: u16,
    fmts: &[(u8, String, Option<String>)],
    direction: Direction,
) -> sdp_types::Media {
    let mut list = String::new();
    for (pt, _, _) in fmts {
        if !list.is_empty() {
            list.push(' ');
        }
        let _ = write!(list, "{pt}");
    }
    let mut m = sdp_types::Media::new(
        sdp_types::MediaType::Audio,
        port,
        sdp_types::TransportProto::RtpAvp,
        list,
    );
    for (pt, map, fmtp) in fmts {
        m.add_attribute_with_value("rtpmap", format!("{pt} {map}"));
        if let Some(p) = fmtp {
            m.add_attribute_with_value("fmtp", format!("{pt} {p}"));
        }
    }
    m.add_attribute_with_value("ptime", "20");
    m.add_attribute(sdp_types::Attribute::new(direction.as_str()));
    m
}

fn write_session(session: &sdp_types::Session) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = session.write(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BARESIP: &str = "v=0\r\no=- 1469 2351 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n\
        t=0 0\r\nm=audio 10000 RTP/AVP 96 0 8 101\r\nb=AS:128\r\n\
        a=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1;sprop-stereo=1\r\n\
        a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-15\r\na=sendrecv\r\na=label:1\r\na=rtcp-rsize\r\na=ptime:20\r\n";

    /// sipp's built-in uac scenario: PCMU only, LF line ends, no telephone-event.
    const SIPP: &str = "v=0\no=user1 53655765 2353687637 IN IP4 198.51.100.7\ns=-\n\
        c=IN IP4 198.51.100.7\nt=0 0\nm=audio 6000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n";

    /// A desk phone: G.722 first, G.729 with fmtp, media-level c=, no rtpmap for PCMA.
    const DESK_PHONE: &str = "v=0\r\no=- 20 20 IN IP4 203.0.113.23\r\ns=SDP data\r\n\
        t=0 0\r\nm=audio 11796 RTP/AVP 9 18 8 0 101\r\nc=IN IP4 203.0.113.23\r\n\
        a=rtpmap:9 G722/8000\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n\
        a=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n\
        a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n";

    const ALL: [Codec; 3] = [Codec::Pcmu, Codec::Pcma, Codec::Opus];

    fn session() -> SdpSession {
        SdpSession::new(424242, "192.0.2.1".parse().unwrap())
    }

    #[test]
    fn baresip_offer_prefers_opus_and_keeps_payload_types() {
        let offer = parse(BARESIP).unwrap();
        assert_eq!(offer.connection, Some("192.0.2.10".parse().unwrap()));
        assert_eq!(offer.port, 10000);
        assert_eq!(offer.ptime, Some(20));
        assert_eq!(offer.formats.len(), 4);
        assert_eq!(
            offer.formats[0].fmtp.as_deref(),
            Some("stereo=1;sprop-stereo=1")
        );
        let a = session().answer(&offer, 40000, &ALL).unwrap();
        let n = &a.negotiated;
        assert_eq!(
            (n.codec.pt, n.codec.codec, n.codec.clock_rate),
            (96, Codec::Opus, 48000)
        );
        // Only telephone-event/8000 was offered: taken, with its own clock.
        assert_eq!(
            n.telephone_event,
            Some(TelephoneEventFormat {
                pt: 101,
                clock_rate: 8000
            })
        );
        assert_eq!(n.direction, Direction::SendRecv);
        assert_eq!(n.remote, Some("192.0.2.10:10000".parse().unwrap()));
        assert!(
            a.sdp.contains("m=audio 40000 RTP/AVP 96 101\r\n"),
            "{}",
            a.sdp
        );
        assert!(a.sdp.contains("a=rtpmap:96 opus/48000/2\r\n"));
        assert!(a.sdp.contains("a=fmtp:96 useinbandfec=0\r\n"));
        assert!(a.sdp.contains("a=sendrecv\r\n"));
        // Our answer parses back.
        let back = parse(&a.sdp).unwrap();
        assert_eq!(back.port, 40000);
        // G.711-only engine: PCMU, the first supported in the offer's order.
        let a = session()
            .answer(&offer, 40000, &[Codec::Pcma, Codec::Pcmu])
            .unwrap();
        assert_eq!(a.negotiated.codec.codec, Codec::Pcmu);
    }

    #[test]
    fn sipp_offer_pcmu_without_telephone_event() {
        let offer = parse(SIPP).unwrap();
        let mut s = session();
        let a = s.answer(&offer, 30000, &ALL).unwrap();
        assert_eq!(a.negotiated.codec.pt, 0);
        assert_eq!(a.negotiated.telephone_event, None);
        assert!(
            a.sdp.starts_with("v=0\r\no=switchboard 424242 "),
            "{}",
            a.sdp
        );
        assert!(a.sdp.contains("c=IN IP4 192.0.2.1\r\n"));
        assert!(a.sdp.contains("m=audio 30000 RTP/AVP 0\r\n"));
    }

    #[test]
    fn desk_phone_offer_skips_unsupported_and_uses_static_types() {
        let offer = parse(DESK_PHONE).unwrap();
        assert_eq!(offer.connection, Some("203.0.113.23".parse().unwrap()));
        let pcma = offer.formats.iter().find(|f| f.pt == 8).unwrap();
        assert_eq!((pcma.encoding.as_str(), pcma.clock_rate), ("PCMA", 8000));
        assert_eq!(offer.formats[1].fmtp.as_deref(), Some("annexb=no"));
        let a = session().answer(&offer, 40002, &ALL).unwrap();
        assert_eq!(a.negotiated.codec.codec, Codec::Pcma);
        assert_eq!(a.negotiated.telephone_event.map(|t| t.pt), Some(101));
        assert!(a.sdp.contains("m=audio 40002 RTP/AVP 8 101\r\n"));
    }

    #[test]
    fn hold_offers_get_the_mirrored_direction() {
        let cases = [
            (
                "a=sendrecv",
                "a=sendonly",
                Direction::SendOnly,
                Direction::RecvOnly,
            ),
            (
                "a=sendrecv",
                "a=recvonly",
                Direction::RecvOnly,
                Direction::SendOnly,
            ),
            (
                "a=sendrecv",
                "a=inactive",
                Direction::Inactive,
                Direction::Inactive,
            ),
        ];
        for (from, to, offered, answered) in cases {
            let offer = parse(&DESK_PHONE.replace(from, to)).unwrap();
            assert_eq!(offer.direction, offered);
            let a = session().answer(&offer, 40000, &ALL).unwrap();
            assert_eq!(a.negotiated.direction, answered);
            assert!(a.sdp.contains(&format!("a={}\r\n", answered.as_str())));
        }
        // RFC 2543 hold: c=0.0.0.0 and no direction attribute.
        let offer = parse(&SIPP.replace("c=IN IP4 198.51.100.7", "c=IN IP4 0.0.0.0")).unwrap();
        assert_eq!(offer.direction, Direction::SendOnly);
        assert_eq!(offer.rtp_target(), None);
        let a = session().answer(&offer, 40000, &ALL).unwrap();
        assert_eq!(a.negotiated.direction, Direction::RecvOnly);
        // We put them on hold in our answer: we send (music on hold), they should not.
        let offer = parse(SIPP).unwrap();
        let a = session()
            .answer_with_direction(&offer, 40000, &ALL, Direction::SendOnly)
            .unwrap();
        assert_eq!(a.negotiated.direction, Direction::SendOnly);
    }

    #[test]
    fn our_offers_bump_the_version_only_when_they_change() {
        let mut s = session();
        let v0 = s.version();
        let o1 = s.offer(40000, &[Codec::Pcmu, Codec::Pcma], Direction::SendRecv);
        assert_eq!(s.version(), v0);
        let again = s.offer(40000, &[Codec::Pcmu, Codec::Pcma], Direction::SendRecv);
        assert_eq!(
            (s.version(), &again),
            (v0, &o1),
            "unchanged SDP keeps its version"
        );
        let held = s.offer(40000, &[Codec::Pcmu, Codec::Pcma], Direction::SendOnly);
        assert_eq!(s.version(), v0 + 1);
        assert!(held.contains(&format!("o=switchboard 424242 {} IN IP4 192.0.2.1", v0 + 1)));
        assert!(held.contains("a=sendonly"));
        let resumed = s.offer(40000, &[Codec::Pcmu, Codec::Pcma], Direction::SendRecv);
        assert_eq!(s.version(), v0 + 2);
        assert!(resumed.contains("m=audio 40000 RTP/AVP 0 8 101\r\n"));
        assert!(resumed.contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15"));
        // The offer parses, and a peer answer to it negotiates.
        let parsed = parse(&resumed).unwrap();
        assert_eq!(parsed.formats.len(), 3);
        let their_answer = parse(SIPP).unwrap();
        let n = s
            .accept_answer(&their_answer, &ALL, Direction::SendRecv)
            .unwrap();
        assert_eq!(
            (n.codec.codec, n.direction),
            (Codec::Pcmu, Direction::SendRecv)
        );
        // An Opus offer carries RFC 7587 rtpmap and telephone-event at 48 kHz.
        let o = s.offer(40000, &[Codec::Opus, Codec::Pcmu], Direction::SendRecv);
        assert!(o.contains("m=audio 40000 RTP/AVP 111 0 101 102\r\n"), "{o}");
        assert!(o.contains("a=rtpmap:111 opus/48000/2"));
        let parsed = parse(&o).unwrap();
        assert_eq!(parsed.telephone_event(48000).map(|t| t.pt), Some(102));
    }

    #[test]
    fn no_common_codec_and_unsupported_transports_are_errors() {
        let offer = parse(&DESK_PHONE.replace("9 18 8 0 101", "9 18 101")).unwrap();
        assert_eq!(
            session().answer(&offer, 1, &ALL),
            Err(SdpError::NoCommonCodec)
        );
        // Opus must be opus/48000/2 (RFC 7587); a mono rtpmap is not it.
        let odd = BARESIP
            .replace("RTP/AVP 96 0 8 101", "RTP/AVP 96")
            .replace("/48000/2", "/48000");
        let offer = parse(&odd).unwrap();
        assert_eq!(
            session().answer(&offer, 1, &ALL),
            Err(SdpError::NoCommonCodec)
        );
        let srtp = parse(&SIPP.replace("RTP/AVP", "RTP/SAVP")).unwrap();
        assert!(matches!(
            session().answer(&srtp, 1, &ALL),
            Err(SdpError::UnsupportedTransport(_))
        ));
    }

    #[test]
    fn other_streams_are_rejected_with_port_zero() {
        let with_video = format!(
            "{}m=video 10002 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n",
            BARESIP
        );
        let offer = parse(&with_video).unwrap();
        let a = session().answer(&offer, 40000, &ALL).unwrap();
        assert!(a.sdp.contains("m=video 0 RTP/AVP 97\r\n"), "{}", a.sdp);
        // Video first, audio second: order is kept.
        let video_first = SIPP.replace("m=audio", "m=video 5000 RTP/AVP 31\nm=audio");
        let offer = parse(&video_first).unwrap();
        let a = session().answer(&offer, 40000, &ALL).unwrap();
        let v = a.sdp.find("m=video 0").unwrap();
        let au = a.sdp.find("m=audio 40000").unwrap();
        assert!(v < au);
    }

    #[test]
    fn malformed_sdp_is_an_error_never_a_panic() {
        for bad in [
            "",
            "hello",
            "v=1\r\n",
            "v=0\r\no=- x\r\n",
            "v=0\r\ns=-\r\nt=0 0\r\n",
            "v=0\r\ns=-\r\nm=audio 1 RTP/AVP 300\r\n",
            "v=0\r\ns=-\r\nm=audio notaport RTP/AVP 0\r\n",
            "v=0\r\ns=-\r\nm=audio 0 RTP/AVP 0\r\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        // Mutations of real offers: any outcome but a panic.
        let mut x = 0x1234_5678_u32;
        for round in 0..3000 {
            let base = [BARESIP, SIPP, DESK_PHONE][round % 3].as_bytes();
            let mut b = base.to_vec();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % b.len();
                let alphabet = b" =:/0123456789\r\namv-";
                b[i] = alphabet[(x >> 8) as usize % alphabet.len()];
            }
            let text = String::from_utf8_lossy(&b);
            if let Ok(offer) = parse(&text) {
                let _ = session().answer(&offer, 1, &ALL);
            }
        }
    }
}
