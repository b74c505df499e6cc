//! RFC 4733 receiver and sender scenarios, in virtual time.

use super::*;

#[allow(clippy::disallowed_methods)] // tests need one arbitrary origin; all else is offsets
fn t0() -> Instant {
    Instant::now()
}

fn ms(base: Instant, n: u64) -> Instant {
    base + Duration::from_millis(n)
}

fn pkt(event: u8, end: bool, duration: u16) -> [u8; 4] {
    TelephoneEvent {
        event,
        end,
        volume: 10,
        duration,
    }
    .to_bytes()
}

fn drain(rx: &mut DtmfReceiver) -> Vec<DtmfDigit> {
    std::iter::from_fn(|| rx.poll_event()).collect()
}

#[test]
fn digits_map_to_event_codes() {
    let keys = "0123456789*#ABCD";
    for (i, c) in keys.chars().enumerate() {
        let d = Digit::from_char(c).unwrap();
        assert_eq!(usize::from(d.event()), i);
        assert_eq!(d.as_char(), c);
        assert_eq!(Digit::from_event(i as u8), Some(d));
    }
    assert_eq!(Digit::from_char('b'), Digit::from_char('B'));
    assert_eq!(Digit::from_char('E'), None);
    assert_eq!(Digit::from_event(16), None);
}

#[test]
fn payload_round_trip_and_wire_layout() {
    let ev = TelephoneEvent {
        event: 11,
        end: true,
        volume: 10,
        duration: 1600,
    };
    let b = ev.to_bytes();
    assert_eq!(b, [11, 0x8A, 0x06, 0x40]);
    assert_eq!(TelephoneEvent::parse(&b).unwrap(), ev);
    assert_eq!(
        TelephoneEvent::parse(&[1, 2, 3]),
        Err(DtmfError::ShortPayload(3))
    );
    // Reserved bit set by a sloppy peer is ignored, padding tolerated.
    let p = TelephoneEvent::parse(&[5, 0x4A, 0, 160, 0, 0]).unwrap();
    assert_eq!((p.event, p.end, p.volume, p.duration), (5, false, 10, 160));
}

#[test]
fn redundant_end_packets_report_once() {
    let base = t0();
    let mut rx = DtmfReceiver::new(8000);
    let ts = 1000;
    rx.handle_packet(ms(base, 0), ts, true, &pkt(5, false, 160))
        .unwrap();
    rx.handle_packet(ms(base, 50), ts, false, &pkt(5, false, 560))
        .unwrap();
    assert!(drain(&mut rx).is_empty(), "nothing until the end");
    for i in 0..3 {
        rx.handle_packet(ms(base, 100 + i), ts, false, &pkt(5, true, 800))
            .unwrap();
    }
    let got = drain(&mut rx);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].digit.as_char(), '5');
    assert_eq!(got[0].duration, Duration::from_millis(100));
    assert_eq!(got[0].started_at, ms(base, 0) - Duration::from_millis(20));
    assert_eq!(got[0].rtp_timestamp, ts);
    // A late update of the same event after its end changes nothing.
    rx.handle_packet(ms(base, 130), ts, false, &pkt(5, false, 560))
        .unwrap();
    assert!(drain(&mut rx).is_empty());
    assert_eq!(rx.poll_timeout(), None);
}

#[test]
fn lost_start_packet_still_reports_with_estimated_start() {
    let base = t0();
    let mut rx = DtmfReceiver::new(8000);
    // Start (marker) packet lost: first seen is an update 400 units (50 ms) in.
    rx.handle_packet(ms(base, 50), 4242, false, &pkt(12, false, 400))
        .unwrap();
    rx.handle_packet(ms(base, 80), 4242, false, &pkt(12, true, 640))
        .unwrap();
    let got = drain(&mut rx);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].digit.as_char(), 'A');
    assert_eq!(got[0].started_at, base);
    assert_eq!(got[0].duration, Duration::from_millis(80));
}

#[test]
fn only_end_packets_arrive() {
    let base = t0();
    let mut rx = DtmfReceiver::new(8000);
    rx.handle_packet(ms(base, 100), 7, false, &pkt(1, true, 800))
        .unwrap();
    rx.handle_packet(ms(base, 101), 7, false, &pkt(1, true, 800))
        .unwrap();
    let got = drain(&mut rx);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].digit.as_char(), '1');
}

#[test]
fn two_consecutive_same_digits_are_two_events() {
    let base = t0();
    let mut rx = DtmfReceiver::new(8000);
    for (start_ms, ts) in [(0u64, 8000u32), (200, 8000 + 1600)] {
        rx.handle_packet(ms(base, start_ms), ts, true, &pkt(9, false, 160))
            .unwrap();
        for i in 0..3 {
            rx.handle_packet(ms(base, start_ms + 100 + i), ts, false, &pkt(9, true, 800))
                .unwrap();
        }
    }
    let got = drain(&mut rx);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|d| d.digit.as_char() == '9'));
    assert_eq!(got[1].rtp_timestamp, 9600);
}

#[test]
fn lost_end_packets_end_on_next_event_or_timeout() {
    let base = t0();
    let mut rx = DtmfReceiver::new(8000);
    rx.handle_packet(ms(base, 0), 100, true, &pkt(2, false, 160))
        .unwrap();
    rx.handle_packet(ms(base, 60), 100, false, &pkt(2, false, 640))
        .unwrap();
    // All three ends of '2' lost; '3' begins.
    rx.handle_packet(ms(base, 200), 1700, true, &pkt(3, false, 160))
        .unwrap();
    let got = drain(&mut rx);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].digit.as_char(), '2');
    assert_eq!(got[0].duration, Duration::from_millis(80));
    // '3' also loses its ends: the stall timer ends it.
    let deadline = rx.poll_timeout().unwrap();
    assert_eq!(deadline, ms(base, 200) + DtmfReceiver::STALL);
    rx.handle_timeout(deadline - Duration::from_millis(1));
    assert!(drain(&mut rx).is_empty());
    rx.handle_timeout(deadline);
    let got = drain(&mut rx);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].digit.as_char(), '3');
}

#[test]
fn non_dtmf_events_and_garbage_are_ignored_without_panic() {
    let base = t0();
    let mut rx = DtmfReceiver::new(8000);
    rx.handle_packet(base, 1, true, &pkt(16, true, 800))
        .unwrap(); // flash
    assert!(rx.handle_packet(base, 2, true, &[]).is_err());
    assert!(rx.handle_packet(base, 2, true, &[0xFF]).is_err());
    assert!(drain(&mut rx).is_empty());
}

#[test]
fn restarted_stream_with_lower_timestamp_is_not_taken_for_late() {
    let base = t0();
    let mut rx = DtmfReceiver::new(8000);
    rx.handle_packet(base, 3_000_000_000, false, &pkt(4, true, 800))
        .unwrap();
    rx.handle_packet(ms(base, 500), 12, false, &pkt(6, true, 800))
        .unwrap();
    let got: Vec<char> = drain(&mut rx).iter().map(|d| d.digit.as_char()).collect();
    assert_eq!(got, ['4', '6']);
}

#[test]
fn timestamp_wraparound_between_events() {
    let base = t0();
    let mut rx = DtmfReceiver::new(8000);
    rx.handle_packet(base, u32::MAX - 100, true, &pkt(7, true, 800))
        .unwrap();
    rx.handle_packet(ms(base, 200), 1500, true, &pkt(8, true, 800))
        .unwrap();
    // A late end of the first (before the wrap) is recognised as late.
    rx.handle_packet(ms(base, 210), u32::MAX - 100, false, &pkt(7, true, 800))
        .unwrap();
    let got: Vec<char> = drain(&mut rx).iter().map(|d| d.digit.as_char()).collect();
    assert_eq!(got, ['7', '8']);
}

#[test]
fn sender_sequence_for_one_digit() {
    let mut tx = DtmfSender::with_timing(8000, 40, 40);
    tx.send_digit(Digit::from_char('#').unwrap(), 100, 10);
    assert!(tx.is_busy());
    let mut ts = 5000u32;
    let mut ticks = Vec::new();
    while tx.is_busy() {
        ticks.push(tx.tick(ts));
        ts = ts.wrapping_add(160);
    }
    // 5 event ticks (100 ms) then 2 gap ticks.
    assert_eq!(ticks.len(), 7);
    let packets: Vec<DtmfPacket> = ticks[..5]
        .iter()
        .flat_map(|t| match t {
            DtmfTick::Event(p) => p.clone(),
            DtmfTick::Idle => panic!("event tick expected"),
        })
        .collect();
    assert_eq!(ticks[5], DtmfTick::Idle);
    assert_eq!(ticks[6], DtmfTick::Idle);
    assert!(packets.iter().all(|p| p.timestamp == 5000));
    let parsed: Vec<TelephoneEvent> = packets
        .iter()
        .map(|p| TelephoneEvent::parse(&p.payload).unwrap())
        .collect();
    let durations: Vec<u16> = parsed.iter().map(|e| e.duration).collect();
    // start at 20 ms, updates at 60 and (end) 100 ms, the end three times.
    assert_eq!(durations, [160, 480, 800, 800, 800]);
    assert!(packets[0].marker);
    assert!(packets[1..].iter().all(|p| !p.marker));
    assert_eq!(parsed.iter().filter(|e| e.end).count(), 3);
    assert!(parsed.iter().all(|e| e.event == 11 && e.volume == 10));
    assert_eq!(tx.tick(ts), DtmfTick::Idle);
}

#[test]
fn sender_to_receiver_loopback_with_losses() {
    let base = t0();
    let mut tx = DtmfSender::new(8000);
    for c in "1#1".chars() {
        tx.send_digit(Digit::from_char(c).unwrap(), 120, 10);
    }
    let mut rx = DtmfReceiver::new(8000);
    let (mut ts, mut now_ms, mut n) = (0u32, 0u64, 0usize);
    while tx.is_busy() {
        if let DtmfTick::Event(packets) = tx.tick(ts) {
            for p in packets {
                n += 1;
                // Lose the first start packet and two of the last digit's end packets.
                if n == 1 || n == 13 || n == 14 {
                    continue;
                }
                rx.handle_packet(ms(base, now_ms), p.timestamp, p.marker, &p.payload)
                    .unwrap();
            }
        }
        ts = ts.wrapping_add(160);
        now_ms += 20;
    }
    let got: Vec<(char, Duration)> = drain(&mut rx)
        .iter()
        .map(|d| (d.digit.as_char(), d.duration))
        .collect();
    let d = Duration::from_millis(120);
    assert_eq!(got, [('1', d), ('#', d), ('1', d)]);
}
