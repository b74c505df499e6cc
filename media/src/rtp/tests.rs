//! RTP sender continuity, RTCP round trips, reception statistics and latching.

use std::time::{Duration, Instant};

use super::rtcp::{self, ReportBlockData, RtcpPacketInfo, SenderInfo};
use super::*;

#[allow(clippy::disallowed_methods)] // tests need one arbitrary origin; all else is offsets
fn t0() -> Instant {
    Instant::now()
}

fn hdr(seq: u16, ts: u32) -> RtpHeader {
    RtpHeader {
        payload_type: 0,
        marker: false,
        sequence: seq,
        timestamp: ts,
        ssrc: 0xABCD,
    }
}

#[test]
fn sender_keeps_stream_continuous_across_a_source_change() {
    let mut tx = RtpSender::new(0x1234_5678, 65534, u32::MAX - 159);
    let payload = [0xFFu8; 160];
    let p1 = tx.next_packet(0, &payload, 160, false).unwrap();
    let p2 = tx.next_packet(0, &payload, 160, false).unwrap();
    // The prompt ends, the bridge begins: same SSRC, seq + 1, timestamp + 160, marker.
    let p3 = tx.next_packet(0, &payload, 160, true).unwrap();
    let p4 = tx.next_packet(8, &payload, 160, false).unwrap();
    let h: Vec<RtpHeader> = [&p1, &p2, &p3, &p4]
        .iter()
        .map(|p| RtpPacket::parse(p).unwrap().header)
        .collect();
    assert!(h.iter().all(|h| h.ssrc == 0x1234_5678));
    assert_eq!(
        h.iter().map(|h| h.sequence).collect::<Vec<_>>(),
        [65534, 65535, 0, 1]
    );
    assert_eq!(
        h.iter().map(|h| h.timestamp).collect::<Vec<_>>(),
        [u32::MAX - 159, 0, 160, 320]
    );
    assert_eq!(
        h.iter().map(|h| h.marker).collect::<Vec<_>>(),
        [true, false, true, false],
        "marker on the first packet and on the source change"
    );
    assert_eq!(RtpPacket::parse(&p4).unwrap().payload, &payload[..]);
    assert_eq!(tx.counts(), (4, 640));
}

#[test]
fn sender_events_and_gaps_keep_timestamps_on_the_tick_grid() {
    let mut tx = RtpSender::new(7, 100, 8000);
    tx.next_packet(0, &[0; 160], 160, false).unwrap();
    // A DTMF event for two ticks: packets carry the event start, sequence advances.
    let start = tx.timestamp();
    let e1 = tx.event_packet(101, &[1, 10, 0, 160], true, start).unwrap();
    tx.skip(160);
    let e2 = tx
        .event_packet(101, &[1, 0x8A, 1, 64], false, start)
        .unwrap();
    tx.skip(160);
    let a = tx.next_packet(0, &[0; 160], 160, false).unwrap();
    let (e1, e2, a) = (
        RtpPacket::parse(&e1).unwrap().header,
        RtpPacket::parse(&e2).unwrap().header,
        RtpPacket::parse(&a).unwrap().header,
    );
    assert_eq!((e1.sequence, e1.timestamp, e1.marker), (101, 8160, true));
    assert_eq!((e2.sequence, e2.timestamp), (102, 8160));
    assert_eq!((a.sequence, a.timestamp, a.marker), (103, 8480, true));
}

#[test]
fn malformed_rtp_is_an_error_not_a_panic() {
    assert!(RtpPacket::parse(&[]).is_err());
    assert!(RtpPacket::parse(&[0x80, 0, 0, 1]).is_err());
    let mut v1 = vec![0x40u8; 12];
    v1[1] = 0;
    assert!(RtpPacket::parse(&v1).is_err(), "version 1");
    let mut ext = vec![
        0x90u8, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0xFF, 0xFF,
    ];
    assert!(
        RtpPacket::parse(&ext).is_err(),
        "extension longer than the packet"
    );
    ext[0] = 0xA0; // padding flag, last byte 0xFF
    assert!(RtpPacket::parse(&ext).is_err());
    // Pseudo-random garbage: any result but a panic.
    let mut x = 0x2545_F491_u32;
    for len in 0..400 {
        let buf: Vec<u8> = (0..len % 64)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x & 0xFF) as u8 | 0x80
            })
            .collect();
        let _ = RtpPacket::parse(&buf);
        let _ = rtcp::parse(&buf);
    }
    assert!(RtpPacket::looks_like_rtcp(&[0x80, 200]));
    assert!(!RtpPacket::looks_like_rtcp(&[0x80, 0]));
}

fn block(ssrc: u32) -> ReportBlockData {
    ReportBlockData {
        ssrc,
        fraction_lost: 25,
        cumulative_lost: -3,
        extended_highest_sequence: 0x0001_0005,
        jitter: 77,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 0x0001_8000,
    }
}

#[test]
fn sender_report_round_trip() {
    let si = SenderInfo {
        ssrc: 42,
        ntp: NtpTime(0xE000_0000_8000_0000),
        rtp_timestamp: 123_456,
        packet_count: 50,
        octet_count: 8000,
    };
    let data = rtcp::build_report(Some(&si), 42, &[block(9), block(10)], "leg-1@sb").unwrap();
    let parsed = rtcp::parse(&data).unwrap();
    assert_eq!(
        parsed,
        [
            RtcpPacketInfo::SenderReport {
                sr: si,
                blocks: vec![block(9), block(10)]
            },
            RtcpPacketInfo::Sdes {
                cnames: vec![(42, "leg-1@sb".into())]
            }
        ]
    );
}

#[test]
fn receiver_report_and_bye_round_trip() {
    let data = rtcp::build_report(None, 7, &[block(9)], "c").unwrap();
    let parsed = rtcp::parse(&data).unwrap();
    assert_eq!(
        parsed[0],
        RtcpPacketInfo::ReceiverReport {
            ssrc: 7,
            blocks: vec![block(9)]
        }
    );
    let data = rtcp::build_bye(7, &[], "c", Some("hangup")).unwrap();
    let parsed = rtcp::parse(&data).unwrap();
    assert_eq!(parsed.len(), 3);
    assert_eq!(
        parsed[2],
        RtcpPacketInfo::Bye {
            ssrcs: vec![7],
            reason: Some("hangup".into())
        }
    );
    // Cumulative loss clamps to 24 bits.
    let mut big = block(1);
    big.cumulative_lost = 1 << 30;
    let parsed = rtcp::parse(&rtcp::build_report(None, 7, &[big], "c").unwrap()).unwrap();
    let RtcpPacketInfo::ReceiverReport { blocks, .. } = &parsed[0] else {
        panic!("RR expected")
    };
    assert_eq!(blocks[0].cumulative_lost, 0x7F_FFFF);
}

#[test]
fn loss_and_extended_sequence_on_a_crafted_sequence() {
    let base = t0();
    let mut rx = RtpReceiver::new(8000);
    // 65530..=65535, 0..=9 (16 packets) minus 65533 and 4, plus one duplicate of 2.
    let mut seqs: Vec<u16> = (65530..=65535).chain(0..=9).collect();
    seqs.retain(|&s| s != 65533 && s != 4);
    seqs.insert(9, 2);
    for (i, &s) in seqs.iter().enumerate() {
        let ts = u32::from(s.wrapping_sub(65530)) * 160;
        rx.handle_rtp(base + Duration::from_millis(20 * i as u64), &hdr(s, ts));
    }
    let snap = rx.snapshot();
    // Probation swallows the first packet (A.1): base is 65531.
    assert_eq!(snap.extended_highest_sequence, 65536 + 9);
    assert_eq!(snap.expected, 15);
    // Counted from 65531 on: 13 distinct + 1 duplicate; 2 missing, so lost = 15 - 14 = 1
    // (A.3: duplicates offset losses).
    assert_eq!(snap.received, 14);
    assert_eq!(snap.lost, 1);
    let b = rx.report_block(base + Duration::from_secs(1)).unwrap();
    assert_eq!(b.ssrc, 0xABCD);
    assert_eq!(b.cumulative_lost, 1);
    assert_eq!(b.fraction_lost, (256 / 15) as u8);
    assert_eq!(b.extended_highest_sequence, 0x0001_0009);
    assert_eq!((b.last_sr, b.delay_since_last_sr), (0, 0));
    // Next interval: nothing lost.
    for (i, s) in (10u16..20).enumerate() {
        let ts = u32::from(s.wrapping_sub(65530)) * 160;
        rx.handle_rtp(
            base + Duration::from_millis(400 + 20 * i as u64),
            &hdr(s, ts),
        );
    }
    let b = rx.report_block(base + Duration::from_secs(2)).unwrap();
    assert_eq!((b.fraction_lost, b.cumulative_lost), (0, 1));
}

#[test]
fn jitter_follows_rfc3550_a8() {
    let base = t0();
    let mut rx = RtpReceiver::new(8000);
    // Packets every 20 ms of media, arrival offsets alternating 0 and +5 ms.
    let mut reference = 0.0f64;
    let mut prev_transit: Option<f64> = None;
    for i in 0..200u32 {
        let extra_ms = if i % 2 == 1 { 5 } else { 0 };
        let arrival_ms = u64::from(20 * i + extra_ms);
        rx.handle_rtp(
            base + Duration::from_millis(arrival_ms),
            &hdr(i as u16, 1000 + 160 * i),
        );
        // Floating-point reference from the RFC's definition, skipping the probation packet.
        if i >= 1 {
            let transit = arrival_ms as f64 * 8.0 - f64::from(1000 + 160 * i);
            if let Some(p) = prev_transit {
                reference += ((transit - p).abs() - reference) / 16.0;
            }
            prev_transit = Some(transit);
        }
    }
    let j = rx.snapshot().jitter;
    // |D| alternates 40 units (5 ms): J converges to 40.
    assert!(
        (f64::from(j) - reference).abs() <= 1.0,
        "{j} vs {reference}"
    );
    assert!((39..=40).contains(&j), "{j}");
    assert_eq!(
        rx.snapshot().jitter_duration,
        Duration::from_micros(j as u64 * 125)
    );
}

#[test]
fn telephone_event_packets_do_not_count_as_jitter() {
    let base = t0();
    let mut rx = RtpReceiver::new(8000);
    rx.set_event_payload_type(Some(101));
    for i in 0..50u32 {
        let mut h = hdr(i as u16, 160 * i);
        if (20..30).contains(&i) {
            h.payload_type = 101;
            h.timestamp = 160 * 20; // frozen during the event
        }
        rx.handle_rtp(base + Duration::from_millis(u64::from(20 * i)), &h);
    }
    assert_eq!(rx.snapshot().jitter, 0);
    assert_eq!(rx.snapshot().lost, 0);
}

#[test]
fn ssrc_change_restarts_statistics() {
    let base = t0();
    let mut rx = RtpReceiver::new(8000);
    for i in 0..10u16 {
        rx.handle_rtp(base, &hdr(i, 0));
    }
    let mut h = hdr(5000, 0);
    h.ssrc = 0xBEEF;
    rx.handle_rtp(base, &h);
    h.sequence = 5001;
    rx.handle_rtp(base, &h);
    let s = rx.snapshot();
    assert_eq!((s.ssrc, s.ssrc_changes, s.received), (Some(0xBEEF), 1, 1));
}

#[test]
fn round_trip_time_from_lsr_and_dlsr() {
    let base = t0();
    let our_ssrc = 0x5555;
    // We sent an SR at NTP T; the peer held it 1 s and reports at T + 1.25 s our time.
    let t = NtpTime::from_unix(Duration::from_secs(1_700_000_000));
    let lsr = t.middle();
    let rr = rtcp::parse(
        &rtcp::build_report(
            None,
            0xABCD,
            &[ReportBlockData {
                last_sr: lsr,
                delay_since_last_sr: 1 << 16,
                ..block(our_ssrc)
            }],
            "peer",
        )
        .unwrap(),
    )
    .unwrap();
    let mut rx = RtpReceiver::new(8000);
    let arrival = NtpTime::from_unix(Duration::from_millis(1_700_000_001_250));
    rx.handle_rtcp(base, arrival, our_ssrc, &rr);
    let rtt = rx.snapshot().rtt.unwrap();
    assert!(
        rtt.abs_diff(Duration::from_millis(250)) < Duration::from_millis(1),
        "{rtt:?}"
    );
    // No SR seen by the peer yet (LSR 0), or an LSR from the future: no RTT.
    assert!(
        rtt_from_block(
            &ReportBlockData {
                last_sr: 0,
                ..block(1)
            },
            arrival
        )
        .is_none()
    );
    let future = ReportBlockData {
        last_sr: arrival.middle().wrapping_add(1 << 16),
        ..block(1)
    };
    assert!(rtt_from_block(&future, arrival).is_none());
}

#[test]
fn report_block_echoes_the_peers_sender_report() {
    let base = t0();
    let mut rx = RtpReceiver::new(8000);
    for i in 0..5u16 {
        rx.handle_rtp(base, &hdr(i, u32::from(i) * 160));
    }
    let sr = SenderInfo {
        ssrc: 0xABCD,
        ntp: NtpTime(0x0000_1234_5678_0000),
        rtp_timestamp: 0,
        packet_count: 5,
        octet_count: 800,
    };
    let pkts = rtcp::parse(&rtcp::build_report(Some(&sr), 0, &[], "p").unwrap()).unwrap();
    rx.handle_rtcp(base, NtpTime(0), 1, &pkts);
    let b = rx.report_block(base + Duration::from_millis(500)).unwrap();
    assert_eq!(b.last_sr, 0x1234_5678);
    assert_eq!(b.delay_since_last_sr, 1 << 15);
}

#[test]
fn ntp_conversions() {
    let t = NtpTime::from_unix(Duration::from_millis(1500));
    assert_eq!(t.0 >> 32, NtpTime::UNIX_OFFSET_SECS + 1);
    assert_eq!(t.0 as u32, 1 << 31);
    assert_eq!(compact_to_duration(1 << 16), Duration::from_secs(1));
    assert_eq!(duration_to_compact(Duration::from_millis(250)), 1 << 14);
}

#[test]
fn latch_first_source_wins_and_relatches_only_on_a_steady_new_source() {
    let mut l: Latch<u32> = Latch::new(3);
    assert_eq!(l.remote(), None);
    assert_eq!(l.observe(1, 100), LatchDecision::Latched);
    assert_eq!(l.observe(1, 100), LatchDecision::Accept);
    // A spoofer interleaved with the real source never gets three in a row.
    for _ in 0..10 {
        assert_eq!(l.observe(666, 9), LatchDecision::Drop);
        assert_eq!(l.observe(666, 9), LatchDecision::Drop);
        assert_eq!(l.observe(1, 100), LatchDecision::Accept);
    }
    // Same address, new SSRC: the peer restarted its stream: accepted at once.
    assert_eq!(l.observe(1, 101), LatchDecision::Accept);
    // NAT rebinding: the real source moves to address 2.
    assert_eq!(l.observe(2, 101), LatchDecision::Drop);
    assert_eq!(l.observe(2, 101), LatchDecision::Drop);
    assert_eq!(l.observe(2, 101), LatchDecision::Relatched { previous: 1 });
    assert_eq!(l.remote(), Some(2));
    assert_eq!(l.observe(1, 101), LatchDecision::Drop);
    // Alternating SSRCs from one new address are not "consecutive".
    assert_eq!(l.observe(3, 1), LatchDecision::Drop);
    assert_eq!(l.observe(3, 2), LatchDecision::Drop);
    assert_eq!(l.observe(3, 1), LatchDecision::Drop);
    // After a re-INVITE moved the media, the next packet latches.
    l.expect_new_source();
    assert_eq!(l.observe(4, 7), LatchDecision::Latched);
    assert_eq!(l.remote(), Some(4));
}

#[test]
fn rtcp_parse_survives_mutated_compounds() {
    let si = SenderInfo {
        ssrc: 1,
        ntp: NtpTime(5),
        rtp_timestamp: 6,
        packet_count: 7,
        octet_count: 8,
    };
    let good = rtcp::build_report(Some(&si), 1, &[block(2), block(3)], "cname@host").unwrap();
    let bye = rtcp::build_bye(1, &[block(2)], "c", Some("bye")).unwrap();
    let mut x = 0x9E37_79B9_u32;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for round in 0..20_000 {
        let mut buf = if round % 2 == 0 {
            good.clone()
        } else {
            bye.clone()
        };
        for _ in 0..1 + next() % 4 {
            let i = next() as usize % buf.len();
            buf[i] = next() as u8;
        }
        let cut = next() as usize % (buf.len() + 1);
        let _ = rtcp::parse(&buf);
        let _ = rtcp::parse(&buf[..cut]);
        let _ = RtpPacket::parse(&buf[..cut]);
    }
}
