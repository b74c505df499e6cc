//! rtp-echo: sends every UDP datagram back where it came from, on PORT (RTP) and PORT+1
//! (RTCP), one thread each. It is the far end of `bench/call-load.sh`'s fake phones: sipp's
//! own `-rtp_echo` runs on the same single thread as all of sipp's SIP work and, from a few
//! hundred calls up, drops packets on its socket, which the server then counts as lost.
//!
//!   rtp-echo IP:PORT SECONDS
//!
//! Stops by itself after SECONDS (or when killed) and prints how many datagrams each socket
//! echoed.

// A load tool that runs for a wall-clock time: the clock rule is for protocol cores.
#![allow(clippy::disallowed_methods)]

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(addr), Some(secs)) = (
        args.first().and_then(|a| a.parse::<SocketAddr>().ok()),
        args.get(1).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: rtp-echo IP:PORT SECONDS");
        return ExitCode::from(64);
    };
    let until = Instant::now() + Duration::from_secs(secs);
    let rtcp = SocketAddr::new(addr.ip(), addr.port().saturating_add(1));
    let threads: Vec<_> = [addr, rtcp]
        .into_iter()
        .map(|a| (a, std::thread::spawn(move || echo(a, until))))
        .collect();
    let mut code = ExitCode::SUCCESS;
    for (a, t) in threads {
        match t.join() {
            Ok(Ok(n)) => println!("rtp-echo {a}: {n} datagrams echoed"),
            Ok(Err(e)) => {
                eprintln!("rtp-echo {a}: {e}");
                code = ExitCode::FAILURE;
            }
            Err(_) => code = ExitCode::FAILURE,
        }
    }
    code
}

/// Receive buffer: the server sends every leg's packet in one burst per 20 ms tick (hundreds
/// of datagrams), more than the default buffer holds.
const RCVBUF: usize = 4 * 1024 * 1024;

fn echo(addr: SocketAddr, until: Instant) -> std::io::Result<u64> {
    let sock = UdpSocket::bind(addr)?;
    let sock = socket2::Socket::from(sock);
    sock.set_recv_buffer_size(RCVBUF)?;
    let sock = UdpSocket::from(sock);
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut buf = [0u8; 2048];
    let mut echoed = 0u64;
    while Instant::now() < until {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                if sock.send_to(buf.get(..n).unwrap_or(&[]), from).is_ok() {
                    echoed += 1;
                }
            }
            // Timeouts, and ICMP port-unreachable from an earlier send (a leg that closed).
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::ConnectionRefused
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(echoed)
}
