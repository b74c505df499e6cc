//! The tokio shell: sockets, timers, channels. The only part of the server that reads the
//! clock or touches the network; everything it feeds is sans-IO.
//!
//! [`serve`] opens the store, reloads live bindings, binds SIP (UDP and TCP) and HTTP, runs
//! until SIGTERM or Ctrl-C, then stops accepting, flushes the last binding changes through
//! the store writer and closes the database cleanly.

pub mod clock;
pub mod http;
pub mod media;
pub mod panel;
pub mod sip;
pub mod store_writer;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};

use crate::calls::Calls;
use crate::cc_metrics::{CcCollector, CcRecorder};
use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::metrics::Metrics;
use crate::registrar::{GuardConfig, Registrar, RegistrarConfig};
use crate::sip::digest::Ha1;
use crate::sip::transaction::{TimerConfig, Transactions};
use crate::store::{Store, StoreError};
use switchboard_media::engine::MediaEngine;

/// UDP receive buffer we ask the kernel for: bursts of registrations must not overflow it.
const UDP_RCVBUF: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {what} {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the media engine: {0}")]
    Media(switchboard_media::engine::MediaError),
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

fn bind_err(what: &'static str, addr: SocketAddr) -> impl FnOnce(std::io::Error) -> ServeError {
    move |source| ServeError::Bind { what, addr, source }
}

/// Command-line and environment overrides, re-applied to every reloaded config.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub sip_udp: Option<SocketAddr>,
    pub sip_tcp: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub database_url: Option<String>,
}

impl Overrides {
    pub fn apply(&self, config: &mut Config) {
        if let Some(a) = self.sip_udp {
            config.sip.listen_udp = a;
        }
        if let Some(a) = self.sip_tcp {
            config.sip.listen_tcp = a;
        }
        if let Some(a) = self.http {
            config.http.listen = a;
        }
        if let Some(url) = &self.database_url {
            config.storage.database_url = url.clone();
        }
    }
}

/// Where a running server writes its process id, for `switchboard flows publish`.
pub fn pid_file(config: &Config) -> std::path::PathBuf {
    config.storage.data_dir.join("switchboard.pid")
}

/// Runs the server on a validated config until a shutdown signal. SIGHUP reloads the
/// config file (with the same overrides): a valid one replaces the running one atomically,
/// an invalid one is refused with every problem logged, and the running one stays.
pub async fn serve(config: Config, overrides: Overrides) -> Result<(), ServeError> {
    let media = media::start(&config).map_err(ServeError::Media)?;
    // The panel's board and the core's input channel come first: the contact-center metrics
    // read the live floor through the handle at scrape time.
    let (tcp_tx, tcp_rx) = mpsc::channel(4096);
    let board = panel::Board::new(Arc::new(config.clone()));
    let handle = panel::CoreHandle::new(tcp_tx.clone(), board.clone());
    let cc = CcRecorder::new(&config);
    let metrics = Metrics::with_collectors(vec![
        Box::new(media::MediaCollector(media.clone())),
        Box::new(CcCollector {
            tally: cc.clone(),
            floor: handle.clone(),
        }),
    ]);
    tracing::info!(workers = media.workers(), address = %config.media.address, "media engine started");
    let store = Store::open(&config.storage.database_url).await?;
    let now = clock::now();
    let bindings = store.load_bindings(now.unix_ms).await?;
    tracing::info!(
        backend = ?store.backend(),
        bindings = bindings.len(),
        "store open; live bindings reloaded"
    );
    let mut registrar = build_registrar(&config);
    registrar.load(now.unix_ms, bindings);
    let local_sip = advertised_sip_addr(&config);
    let calls = Calls::new(
        now,
        media.clone(),
        Arc::new(config.clone()),
        local_sip,
        rand::random(),
    );
    let endpoint = Endpoint::new(
        Transactions::new(TimerConfig::default()),
        registrar,
        known_targets(&config),
        config.sip.user_agent.clone(),
        metrics.sip.clone(),
    )
    .with_calls(calls);

    let udp = bind_udp(config.sip.listen_udp)?;
    let tcp = TcpListener::bind(config.sip.listen_tcp)
        .await
        .map_err(bind_err("SIP TCP", config.sip.listen_tcp))?;
    let http = TcpListener::bind(config.http.listen)
        .await
        .map_err(bind_err("HTTP", config.http.listen))?;
    tracing::info!(
        sip_udp = %udp.local_addr().map_err(bind_err("SIP UDP", config.sip.listen_udp))?,
        sip_tcp = %config.sip.listen_tcp,
        http = %config.http.listen,
        "listening"
    );
    warn_about_demo_passwords(&config);

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (store_tx, store_rx) = mpsc::channel(1024);
    let writer = tokio::spawn(store_writer::run(
        store.clone(),
        store_rx,
        metrics.sip.clone(),
        cc,
    ));
    let reload_tx = tcp_tx.clone();
    forward_media_events(&media, tcp_tx.clone());
    let core = tokio::spawn(sip::core_loop(
        endpoint,
        Arc::new(udp),
        tcp_rx,
        store_tx,
        board,
        shutdown_rx.clone(),
    ));
    let acceptor = tokio::spawn(sip::tcp_accept_loop(
        tcp,
        tcp_tx,
        metrics.sip.clone(),
        shutdown_rx.clone(),
    ));
    let web = tokio::spawn(http::serve(
        http,
        metrics.clone(),
        handle,
        store.clone(),
        shutdown_rx,
    ));

    let pid_path = pid_file(&config);
    if let Err(e) = std::fs::create_dir_all(&config.storage.data_dir)
        .and_then(|()| std::fs::write(&pid_path, format!("{}\n", std::process::id())))
    {
        tracing::warn!(path = %pid_path.display(), error = %e, "cannot write the pid file; `flows publish` will not find this server");
    }
    let mut running = config;
    wait_for_signal(|| reload(&mut running, &overrides, &reload_tx)).await?;
    let _ = std::fs::remove_file(&pid_path);
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    let _ = acceptor.await;
    let _ = core.await; // the core's last flush closes the store channel when it drops
    let _ = writer.await;
    let _ = web.await;
    store.close().await;
    // The metrics registry holds the other reference (its collector); recordings are
    // finished and sockets closed when the engine stops.
    drop(metrics);
    match Arc::try_unwrap(media) {
        Ok(engine) => engine.shutdown(),
        Err(_) => tracing::warn!(
            "media engine still referenced at shutdown; workers stop with the process"
        ),
    }
    tracing::info!("stopped cleanly");
    Ok(())
}

/// The media engine reports on a crossbeam channel; a small thread hands its events to the
/// core loop.
fn forward_media_events(media: &Arc<MediaEngine>, core: mpsc::Sender<sip::CoreInput>) {
    let events = media.events();
    let spawned = std::thread::Builder::new()
        .name("media-events".into())
        .spawn(move || {
            for event in events.iter() {
                if core.blocking_send(sip::CoreInput::Media(event)).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the media event thread; calls will not hear DTMF");
    }
}

/// The address peers send SIP to: the UDP listen address, or the media address when the
/// server listens on every interface.
fn advertised_sip_addr(config: &Config) -> SocketAddr {
    let l = config.sip.listen_udp;
    if l.ip().is_unspecified() {
        SocketAddr::new(config.media.address, l.port())
    } else {
        l
    }
}

fn bind_udp(addr: SocketAddr) -> Result<UdpSocket, ServeError> {
    let std_sock = std::net::UdpSocket::bind(addr).map_err(bind_err("SIP UDP", addr))?;
    let sock = socket2::Socket::from(std_sock);
    if let Err(e) = sock.set_recv_buffer_size(UDP_RCVBUF) {
        tracing::warn!(error = %e, "could not enlarge the UDP receive buffer");
    }
    sock.set_nonblocking(true)
        .map_err(bind_err("SIP UDP", addr))?;
    UdpSocket::from_std(sock.into()).map_err(bind_err("SIP UDP", addr))
}

fn user_credentials(config: &Config) -> HashMap<String, Ha1> {
    config
        .users
        .values()
        .map(|u| {
            (
                u.username.clone(),
                Ha1 {
                    md5: u.credentials.ha1_md5.clone(),
                    sha256: u.credentials.ha1_sha256.clone(),
                },
            )
        })
        .collect()
}

fn build_registrar(config: &Config) -> Registrar {
    let realm = config.sip.domain.clone();
    let users = user_credentials(config);
    let secs = |d: std::time::Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
    let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let reg = &config.sip.registration;
    let auth = &config.sip.auth;
    let cfg = RegistrarConfig {
        realm,
        min_expires: secs(reg.min_expires),
        max_expires: secs(reg.max_expires),
        default_expires: secs(reg.default_expires),
        algorithms: auth.algorithms.clone(),
        nonce_lifetime: auth.nonce_lifetime,
        guard: GuardConfig {
            max_failures: auth.max_failures,
            window_ms: ms(auth.failure_window),
            block_ms: ms(auth.block_for),
        },
    };
    let secret: [u8; 32] = rand::random();
    let seed: u64 = rand::random();
    Registrar::new(cfg, users, secret, seed)
}

/// Request-URI user parts that name something here: users and phone numbers (with and
/// without the leading `+`).
fn known_targets(config: &Config) -> HashSet<String> {
    let mut t: HashSet<String> = config.users.keys().cloned().collect();
    for n in config.phone_numbers.keys() {
        t.insert(n.clone());
        t.insert(n.trim_start_matches('+').to_string());
    }
    t
}

fn warn_about_demo_passwords(config: &Config) {
    let demo = config.users_with_demo_passwords();
    let exposed = [
        config.sip.listen_udp,
        config.sip.listen_tcp,
        config.http.listen,
    ]
    .iter()
    .any(|a| !a.ip().is_loopback());
    if !demo.is_empty() && exposed {
        tracing::warn!(
            users = ?demo,
            "demo passwords are in use on a non-loopback address: change them in the config before real phones connect"
        );
    }
}

async fn wait_for_signal(mut on_hangup: impl FnMut()) -> Result<(), ServeError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
    let mut hup = signal(SignalKind::hangup()).map_err(ServeError::Signals)?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = term.recv() => return Ok(()),
            _ = hup.recv() => on_hangup(),
        }
    }
}

/// SIGHUP: validate the config file again; swap it in whole, or keep the running one.
fn reload(running: &mut Config, overrides: &Overrides, core: &mpsc::Sender<sip::CoreInput>) {
    let mut fresh = match crate::config::load(&running.source) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors.0 {
                tracing::error!("{e}");
            }
            tracing::error!(
                problems = errors.0.len(),
                "reload refused: the configuration does not validate; the running one stays"
            );
            return;
        }
    };
    overrides.apply(&mut fresh);
    let restart_needed: Vec<&str> = [
        (
            "sip.listen_udp",
            fresh.sip.listen_udp != running.sip.listen_udp,
        ),
        (
            "sip.listen_tcp",
            fresh.sip.listen_tcp != running.sip.listen_tcp,
        ),
        ("http.listen", fresh.http.listen != running.http.listen),
        (
            "storage",
            fresh.storage.database_url != running.storage.database_url,
        ),
        (
            "media",
            fresh.media.address != running.media.address
                || fresh.media.rtp_ports != running.media.rtp_ports,
        ),
        ("sip.domain", fresh.sip.domain != running.sip.domain),
    ]
    .into_iter()
    .filter_map(|(what, changed)| changed.then_some(what))
    .collect();
    if !restart_needed.is_empty() {
        tracing::warn!(settings = ?restart_needed, "these changed settings take effect after a restart");
    }
    let reloaded = sip::CoreInput::Reload {
        users: user_credentials(&fresh),
        targets: known_targets(&fresh),
        config: Arc::new(fresh.clone()),
    };
    if core.try_send(reloaded).is_err() {
        tracing::error!("reload refused: the SIP core is busy; send SIGHUP again");
        return;
    }
    tracing::info!(
        users = fresh.users.len(),
        flows = fresh.flows.len(),
        "configuration reloaded"
    );
    *running = fresh;
}
