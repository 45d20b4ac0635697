//! `omendb`: the one binary of OmenDB Cloud. Subcommands arrive with the issues that build them.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use omendb_server::Config;
use omendb_server::scram::{DEFAULT_ITERATIONS, Verifier};

#[derive(Parser)]
#[command(
    name = "omendb",
    version,
    about = "OmenDB Cloud: managed PostgreSQL-compatible learned-index database"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole service on one machine (control plane, console, local tenant databases).
    Up(ControlPlaneArgs),
    /// Run one tenant database server (PostgreSQL protocol + HTTP health and metrics).
    Server(Box<ServerArgs>),
    /// Print the SCRAM-SHA-256 verifier of a password read from standard input (for `[[users]] scram`).
    Passwd,
    /// Run the control plane (REST API and console); `DATABASE_URL` picks SQLite or PostgreSQL.
    ControlPlane(ControlPlaneArgs),
    /// Run the Kubernetes operator (`omendb operator crd` prints the CRD).
    Operator(OperatorArgs),
}

#[derive(Args)]
struct OperatorArgs {
    #[command(subcommand)]
    command: Option<OperatorCommand>,
    /// Watch only this namespace (default: the whole cluster).
    #[arg(long)]
    namespace: Option<String>,
    /// /health and /metrics.
    #[arg(long, default_value = "0.0.0.0:8081")]
    http_listen: SocketAddr,
    /// Image of tenant servers, when a resource does not name one.
    #[arg(long, default_value = "ghcr.io/omendb/omendb:0.1.0")]
    tenant_image: String,
    /// Namespace allowed to scrape tenant metrics.
    #[arg(long, default_value = "monitoring")]
    monitoring_namespace: String,
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Print the OmenDatabase CustomResourceDefinition (YAML).
    Crd,
}

fn operator(a: OperatorArgs) -> anyhow::Result<()> {
    if let Some(OperatorCommand::Crd) = a.command {
        print!("{}", omendb_operator::crd::crd_yaml());
        return Ok(());
    }
    init_tracing();
    let opts = omendb_operator::Options {
        namespace: a.namespace,
        http_listen: a.http_listen,
        defaults: omendb_operator::tenant::Defaults {
            image: a.tenant_image,
            monitoring_namespace: a.monitoring_namespace,
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(omendb_operator::run(opts))?;
    Ok(())
}

/// Flags override `DATABASE_URL` / `OMENDB_CP_*` environment variables, which override the TOML file.
#[derive(Args)]
struct ControlPlaneArgs {
    /// TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Metadata DB (SQLite), signing key and tenant data (default ./omendb-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// REST API and console address (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<SocketAddr>,
}

fn control_plane_config(a: ControlPlaneArgs) -> anyhow::Result<omendb_control_plane::Config> {
    let mut c = match &a.config {
        Some(p) => omendb_control_plane::Config::load(p)?,
        None => omendb_control_plane::Config::default(),
    };
    c.apply_env(std::env::vars())?;
    if let Some(v) = a.data_dir {
        c.data_dir = v;
    }
    if let Some(v) = a.listen {
        c.listen = v;
    }
    c.validate()?;
    Ok(c)
}

/// Logs to stderr (stdout carries the lines tests and scripts read), filtered by `RUST_LOG`.
fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

fn control_plane(a: ControlPlaneArgs, banner: bool) -> anyhow::Result<()> {
    init_tracing();
    let config = control_plane_config(a)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let data_dir = config.data_dir.clone();
        let metadata = if !config.has_database_url() {
            "SQLite"
        } else {
            "DATABASE_URL"
        };
        let running = omendb_control_plane::start(config).await?;
        // Tests read this line to find the port.
        println!("control plane listening on http://{}", running.addr);
        if banner {
            println!();
            println!("  OmenDB Cloud is up.");
            println!("  Console and API: http://{}", running.addr);
            println!("  OpenAPI:         http://{}/v1/openapi.json", running.addr);
            println!(
                "  Data:            {} (metadata in {metadata})",
                data_dir.display()
            );
            println!("  Ctrl-C stops the service and every database it started.");
        }
        shutdown_signal().await?;
        eprintln!("stopping tenant databases...");
        running.stop().await;
        anyhow::Ok(())
    })
}

/// Flags override `OMENDB_*` environment variables, which override the TOML file.
#[derive(Args)]
struct ServerArgs {
    /// TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// PostgreSQL listen address (default 127.0.0.1:5432).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// HTTP listen address for /health, /ready, /metrics (default 127.0.0.1:8080).
    #[arg(long)]
    http_listen: Option<SocketAddr>,
    #[arg(long)]
    database: Option<String>,
    #[arg(long)]
    max_connections: Option<usize>,
    #[arg(long)]
    statement_timeout_ms: Option<u64>,
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// With TLS configured, still accept sessions that do not ask for it (refused by default).
    #[arg(long)]
    tls_allow_plaintext: bool,
    /// Auto-retraining on or off (tier setting).
    #[arg(long)]
    auto_retrain: Option<bool>,
    /// none, metrics or full (tier setting).
    #[arg(long)]
    monitoring: Option<String>,
}

fn server_config(a: ServerArgs) -> anyhow::Result<Config> {
    let mut c = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    c.apply_env(std::env::vars())?;
    if let Some(v) = a.data_dir {
        c.data_dir = v;
    }
    if let Some(v) = a.listen {
        c.listen.pg = v;
    }
    if let Some(v) = a.http_listen {
        c.listen.http = v;
    }
    if let Some(v) = a.database {
        c.database = v;
    }
    if let Some(v) = a.max_connections {
        c.limits.max_connections = v;
    }
    if let Some(v) = a.statement_timeout_ms {
        c.limits.statement_timeout_ms = v;
    }
    if let Some(v) = a.auto_retrain {
        c.tier.auto_retrain = v;
    }
    if let Some(v) = a.monitoring {
        c.tier.monitoring = v.parse()?;
    }
    match (a.tls_cert, a.tls_key) {
        (Some(cert), Some(key)) => {
            let mut tls = omendb_server::config::Tls::new(cert, key);
            tls.require = !a.tls_allow_plaintext;
            c.tls = Some(tls);
        }
        (None, None) => {}
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    }
    c.validate()?;
    Ok(c)
}

fn serve(a: ServerArgs) -> anyhow::Result<()> {
    omendb_server::tune_allocator();
    let config = server_config(a)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.limits.worker_threads())
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let running = omendb_server::start(config).await?;
        // Tests and the control plane read these lines to find the ports.
        println!("postgres listening on {}", running.pg_addr);
        println!("http listening on {}", running.http_addr);
        shutdown_signal().await?;
        running.stop().await;
        anyhow::Ok(())
    })
}

/// Ctrl-C, or SIGTERM from a supervisor (the control plane's local provisioner, Kubernetes).
async fn shutdown_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Server(a) => serve(*a),
        Command::Passwd => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let pw = line.trim_end_matches(['\n', '\r']);
            anyhow::ensure!(!pw.is_empty(), "empty password on standard input");
            println!("{}", Verifier::new(pw, DEFAULT_ITERATIONS));
            Ok(())
        }
        Command::Up(a) => control_plane(a, true),
        Command::ControlPlane(a) => control_plane(a, false),
        Command::Operator(a) => operator(a),
    }
}
