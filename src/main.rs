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
    Up,
    /// Run one tenant database server (PostgreSQL protocol + HTTP health and metrics).
    Server(Box<ServerArgs>),
    /// Print the SCRAM-SHA-256 verifier of a password read from standard input (for `[[users]] scram`).
    Passwd,
    /// Run the control plane (REST API and console).
    ControlPlane,
    /// Run the Kubernetes operator.
    Operator,
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
        (Some(cert), Some(key)) => c.tls = Some(omendb_server::config::Tls { cert, key }),
        (None, None) => {}
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    }
    c.validate()?;
    Ok(c)
}

fn serve(a: ServerArgs) -> anyhow::Result<()> {
    let config = server_config(a)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let running = omendb_server::start(config).await?;
        // Tests and the control plane read these lines to find the ports.
        println!("postgres listening on {}", running.pg_addr);
        println!("http listening on {}", running.http_addr);
        tokio::signal::ctrl_c().await?;
        running.stop().await;
        anyhow::Ok(())
    })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let what = match cli.command {
        Command::Server(a) => return serve(*a),
        Command::Passwd => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let pw = line.trim_end_matches(['\n', '\r']);
            anyhow::ensure!(!pw.is_empty(), "empty password on standard input");
            println!("{}", Verifier::new(pw, DEFAULT_ITERATIONS));
            return Ok(());
        }
        Command::Up => "`omendb up` (control plane + console + local tenant databases)",
        Command::ControlPlane => "`omendb control-plane`",
        Command::Operator => "`omendb operator`",
    };
    eprintln!("{what} is not built yet. See README.md, section Status.");
    std::process::exit(2);
}
