//! The `switchboard` command: thin by design; everything lives in the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: the registrar's hot path is allocation-heavy (parsed
/// headers, response buffers), and glibc's allocator took ~15 % of its CPU under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for a configuration that does not validate (sysexits EX_USAGE / EX_DATAERR family,
/// as linkerd2-proxy uses).
const EXIT_CONFIG: u8 = 64;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Switchboard contact-center server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// The server configuration file.
    #[arg(
        long,
        short,
        env = "SWITCHBOARD_CONFIG",
        default_value = "config/switchboard.yaml"
    )]
    config: PathBuf,
}

#[derive(Debug, clap::Args)]
struct Overrides {
    /// SIP over UDP listen address (overrides sip.listen_udp).
    #[arg(long, env = "SWITCHBOARD_SIP_UDP")]
    sip_udp: Option<SocketAddr>,
    /// SIP over TCP listen address (overrides sip.listen_tcp).
    #[arg(long, env = "SWITCHBOARD_SIP_TCP")]
    sip_tcp: Option<SocketAddr>,
    /// HTTP listen address for the API, panel and /metrics (overrides http.listen).
    #[arg(long, env = "SWITCHBOARD_HTTP")]
    http: Option<SocketAddr>,
    /// Database URL, sqlite://FILE or postgres://... (overrides storage.database_url).
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the configuration, then run the server until SIGTERM or Ctrl-C.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Validate the configuration and every flow it references; print each problem as
    /// file:line:col: message. Exit 0 when valid, 64 when not.
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Contact flows: render one as a diagram.
    Flows {
        #[command(subcommand)]
        command: FlowsCommand,
    },
    /// Print one day's queue and agent summary (contacts, handled, abandoned, waits, handle
    /// times, service levels; per agent handle, hold, ACW and time in each status) from the
    /// stored contact records and agent events. Exit 64 when the configuration, date or time
    /// zone is wrong, 1 when the database cannot be read.
    Report {
        #[command(flatten)]
        config: ConfigArg,
        /// The day to report, YYYY-MM-DD; default today.
        #[arg(long)]
        date: Option<String>,
        /// The IANA time zone the day is in, e.g. America/New_York; default UTC.
        #[arg(long)]
        time_zone: Option<String>,
        /// Database URL, sqlite://FILE or postgres://... (overrides storage.database_url).
        #[arg(long, env = "SWITCHBOARD_DATABASE_URL")]
        database_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum FlowsCommand {
    /// Print flow NAME (flows/NAME.yaml) as a diagram, after validating the whole
    /// configuration. Exit 64 when the configuration or the flow does not validate.
    Render {
        /// The flow's name: its file name without .yaml.
        name: String,
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long, value_enum, default_value_t = DiagramFormat::Mermaid)]
        format: DiagramFormat,
    },
    /// Validate the configuration and every flow, then tell the running server to swap them
    /// in (SIGHUP to the pid in <data_dir>/switchboard.pid). Nothing is published unless all
    /// of it is valid; contacts already running keep the flow version they started with.
    Publish {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DiagramFormat {
    /// A Mermaid flowchart (renders in GitHub Markdown and most wikis).
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => match switchboard::config::load(&config.config) {
            Ok(c) => {
                println!(
                    "{}: valid ({} users, {} queues, {} flows)",
                    config.config.display(),
                    c.users.len(),
                    c.queues.len(),
                    c.flows.len()
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{errors}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
        Command::Serve { config, overrides } => serve(config.config, overrides),
        Command::Flows {
            command:
                FlowsCommand::Render {
                    name,
                    config,
                    format,
                },
        } => render_flow(&config.config, &name, format),
        Command::Flows {
            command: FlowsCommand::Publish { config },
        } => publish(&config.config),
        Command::Report {
            config,
            date,
            time_zone,
            database_url,
        } => report(&config.config, date, time_zone, database_url),
    }
}

fn report(
    path: &std::path::Path,
    date: Option<String>,
    time_zone: Option<String>,
    database_url: Option<String>,
) -> ExitCode {
    use switchboard::report;

    let config = match switchboard::config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let zone = match time_zone.as_deref() {
        None => jiff::tz::TimeZone::UTC,
        Some(name) => match jiff::tz::TimeZone::get(name) {
            Ok(zone) => zone,
            Err(e) => {
                eprintln!("--time-zone {name}: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
    };
    // The wall clock: which day is today, and where today's status times stop.
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let date = match date.as_deref() {
        None => report::Day::containing(now_ms, zone.clone()),
        Some(text) => text.parse::<jiff::civil::Date>(),
    };
    let day = match date.map(|d| report::Day::new(d, zone)) {
        Ok(Ok(day)) => day,
        Ok(Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(e) => {
            eprintln!("--date: expected YYYY-MM-DD: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let url = database_url.unwrap_or_else(|| config.storage.database_url.clone());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rows = runtime.block_on(async {
        let store = switchboard::store::Store::open(&url).await?;
        let rows = report::load(&store, &day).await;
        store.close().await;
        rows
    });
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            let mut message = format!("switchboard report: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                // Some errors already print their source (sqlx's I/O errors do).
                let text = cause.to_string();
                if !message.ends_with(&text) {
                    message.push_str(": ");
                    message.push_str(&text);
                }
                source = cause.source();
            }
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let until_ms = now_ms.clamp(day.start_unix_ms, day.end_unix_ms);
    let summary = report::summarize(&rows.contacts, &rows.events, day.start_unix_ms, until_ms);
    print!(
        "{}",
        report::render(
            &day,
            until_ms,
            &summary,
            &report::Layout::from_config(&config)
        )
    );
    ExitCode::SUCCESS
}

fn publish(path: &std::path::Path) -> ExitCode {
    let config = match switchboard::config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("nothing published: the running server keeps its current flows");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let pid_path = switchboard::io::pid_file(&config);
    let pid = match std::fs::read_to_string(&pid_path) {
        Ok(p) => p.trim().to_string(),
        Err(e) => {
            eprintln!(
                "{}: valid, but no running server found ({}: {e})",
                path.display(),
                pid_path.display()
            );
            return ExitCode::FAILURE;
        }
    };
    match std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
    {
        Ok(s) if s.success() => {
            println!(
                "{}: valid; published {} flows to the server (pid {pid})",
                path.display(),
                config.flows.len()
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "could not signal the server (pid {pid} from {})",
                pid_path.display()
            );
            ExitCode::FAILURE
        }
    }
}

fn render_flow(path: &std::path::Path, name: &str, format: DiagramFormat) -> ExitCode {
    let config = match switchboard::config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let Some(flow) = config.flows.get(name) else {
        let known: Vec<&str> = config.flows.keys().map(String::as_str).collect();
        eprintln!("unknown flow `{name}`; known flows: {}", known.join(", "));
        return ExitCode::from(EXIT_CONFIG);
    };
    let diagram = match format {
        DiagramFormat::Mermaid => switchboard::flow::render::mermaid(flow),
        DiagramFormat::Dot => switchboard::flow::render::dot(flow),
    };
    print!("{diagram}");
    ExitCode::SUCCESS
}

fn serve(path: PathBuf, o: Overrides) -> ExitCode {
    init_tracing();
    // Validate everything before binding a single port (STYLE practice 8).
    let mut config = match switchboard::config::load(&path) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let overrides = switchboard::io::Overrides {
        sip_udp: o.sip_udp,
        sip_tcp: o.sip_tcp,
        http: o.http,
        database_url: o.database_url,
    };
    overrides.apply(&mut config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("switchboard")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(switchboard::io::serve(config, overrides)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            eprintln!("switchboard: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
