//! The SIP socket shell: one UDP socket, one TCP listener with a task per connection, and
//! the core loop that owns the [`Endpoint`].
//!
//! The core loop is the only place SIP state changes. It reads datagrams straight off the
//! UDP socket (draining what is queued before yielding), takes framed TCP messages from the
//! connection tasks over a channel, fires the endpoint's deadlines, and writes out whatever
//! the endpoint wants sent. Binding changes leave in batches for the store writer.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};

use super::clock;
use super::store_writer::Batch;
use crate::endpoint::Endpoint;
use crate::metrics::SipMetrics;
use crate::sip::digest::Ha1;
use crate::sip::framing::{self, Frame};
use crate::sip::transaction::{Peer, Transport};

/// Largest UDP datagram we read.
const MAX_DATAGRAM: usize = 65_535;
/// Flush binding changes at least this often...
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// ...or as soon as this many are queued.
const FLUSH_BATCH: usize = 1_000;
/// Registrar housekeeping (binding expiry, nonce sweep, block lifts) runs this often.
const HOUSEKEEPING: Duration = Duration::from_millis(250);

/// What the connection tasks and the signal handler tell the core loop.
#[derive(Debug)]
pub enum CoreInput {
    Opened(SocketAddr, mpsc::Sender<Bytes>),
    Message(SocketAddr, Bytes),
    Closed(SocketAddr),
    /// An event from the media engine.
    Media(switchboard_media::engine::MediaEvent),
    /// An agent's panel action, with where to send the answer.
    Command {
        user: String,
        command: crate::control::Command,
        reply: tokio::sync::oneshot::Sender<
            Result<crate::control::AgentSnapshot, crate::control::CommandError>,
        >,
    },
    /// A reloaded config's users and request targets.
    Reload {
        users: HashMap<String, Ha1>,
        targets: HashSet<String>,
        config: std::sync::Arc<crate::config::Config>,
    },
}

/// Runs the core loop until `shutdown` flips; then hands the last binding changes over.
pub async fn core_loop(
    mut endpoint: Endpoint,
    udp: Arc<UdpSocket>,
    mut tcp_in: mpsc::Receiver<CoreInput>,
    store_out: mpsc::Sender<Batch>,
    board: Arc<super::panel::Board>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut conns: HashMap<SocketAddr, mpsc::Sender<Bytes>> = HashMap::new();
    let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    loop {
        let deadline = endpoint
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + HOUSEKEEPING);
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            r = udp.recv_from(&mut buf) => {
                match r {
                    Ok((n, from)) => {
                        let now = clock::now();
                        endpoint.handle_input(now, Peer { transport: Transport::Udp, addr: from }, &buf[..n]);
                        // Drain what is already queued before going back to select!.
                        for _ in 0..64 {
                            match udp.try_recv_from(&mut buf) {
                                Ok((n, from)) => endpoint.handle_input(now, Peer { transport: Transport::Udp, addr: from }, &buf[..n]),
                                Err(_) => break,
                            }
                        }
                    }
                    // ICMP port unreachable from an earlier send shows up here on Linux.
                    Err(e) => tracing::debug!(error = %e, "udp receive error"),
                }
            }
            Some(input) = tcp_in.recv() => match input {
                CoreInput::Opened(addr, tx) => { conns.insert(addr, tx); }
                CoreInput::Closed(addr) => { conns.remove(&addr); }
                CoreInput::Message(addr, bytes) => {
                    endpoint.handle_input(clock::now(), Peer { transport: Transport::Tcp, addr }, &bytes);
                }
                CoreInput::Reload { users, targets, config } => {
                    board.set_config(config.clone());
                    endpoint.reload(clock::now(), users, targets, config);
                }
                CoreInput::Command { user, command, reply } => {
                    let _ = reply.send(endpoint.handle_command(clock::now(), &user, command));
                }
                CoreInput::Media(event) => endpoint.handle_media_event(clock::now(), event),
            },
            _ = tokio::time::sleep_until(deadline) => endpoint.handle_timeout(clock::now()),
            _ = housekeeping.tick() => {
                let now = clock::now();
                endpoint.handle_timeout(now);
                if let Some(floor) = endpoint.floor(now) {
                    board.publish_floor(floor);
                }
            }
            _ = flush.tick() => flush_bindings(&mut endpoint, &store_out).await,
        }
        transmit(&mut endpoint, &udp, &conns).await;
        board.publish(endpoint.take_snapshots());
        if endpoint.pending_binding_changes() >= FLUSH_BATCH {
            flush_bindings(&mut endpoint, &store_out).await;
        }
    }
    flush_bindings(&mut endpoint, &store_out).await;
}

async fn flush_bindings(endpoint: &mut Endpoint, store_out: &mpsc::Sender<Batch>) {
    let batch = endpoint.drain_store_writes();
    if !batch.is_empty() && store_out.send(batch).await.is_err() {
        tracing::error!("store writer has stopped; changes are not being persisted");
    }
}

async fn transmit(
    endpoint: &mut Endpoint,
    udp: &UdpSocket,
    conns: &HashMap<SocketAddr, mpsc::Sender<Bytes>>,
) {
    while let Some(t) = endpoint.poll_transmit() {
        match t.to.transport {
            Transport::Udp => {
                let sent = match udp.try_send_to(&t.bytes, t.to.addr) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        udp.send_to(&t.bytes, t.to.addr).await
                    }
                    other => other,
                };
                if let Err(e) = sent {
                    tracing::debug!(to = %t.to.addr, error = %e, "udp send failed");
                }
            }
            Transport::Tcp => match conns.get(&t.to.addr) {
                // A full queue means a peer that does not read: drop rather than stall everyone.
                Some(tx) => {
                    if tx.try_send(t.bytes).is_err() {
                        tracing::debug!(to = %t.to.addr, "tcp connection backed up; message dropped");
                    }
                }
                None => tracing::debug!(to = %t.to.addr, "no tcp connection to answer on"),
            },
        }
    }
}

/// Accepts TCP connections and spawns a reader/writer pair for each.
pub async fn tcp_accept_loop(
    listener: TcpListener,
    core: mpsc::Sender<CoreInput>,
    metrics: SipMetrics,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => match r {
                Ok((stream, addr)) => {
                    let core = core.clone();
                    let metrics = metrics.clone();
                    tokio::spawn(connection(stream, addr, core, metrics));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "tcp accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Idle TCP connections are closed after this long without a byte.
const TCP_IDLE: Duration = Duration::from_secs(600);

async fn connection(
    stream: TcpStream,
    addr: SocketAddr,
    core: mpsc::Sender<CoreInput>,
    metrics: SipMetrics,
) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Bytes>(256);
    if core
        .send(CoreInput::Opened(addr, tx.clone()))
        .await
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let mut buf = BytesMut::with_capacity(8 * 1024);
    'read: loop {
        let n = match tokio::time::timeout(TCP_IDLE, rd.read_buf(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => n,
        };
        let _ = n;
        loop {
            match framing::next_frame(&buf) {
                Ok(Frame::Incomplete) => break,
                Ok(Frame::KeepAlive { len, pong }) => {
                    let _ = buf.split_to(len);
                    if pong {
                        let _ = tx.try_send(Bytes::from_static(b"\r\n"));
                    }
                }
                Ok(Frame::Message(len)) => {
                    let msg = buf.split_to(len).freeze();
                    if core.send(CoreInput::Message(addr, msg)).await.is_err() {
                        break 'read;
                    }
                }
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "tcp framing error; closing connection");
                    metrics.parse_error("framing");
                    break 'read;
                }
            }
        }
    }
    drop(tx);
    let _ = core.send(CoreInput::Closed(addr)).await;
    writer.abort();
}
