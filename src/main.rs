//! `omendb`: the one binary of OmenDB Cloud. Subcommands arrive with the issues that build them.

use clap::{Parser, Subcommand};

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
    /// Run one tenant database server (pgwire + HTTP).
    Server,
    /// Run the control plane (REST API and console).
    ControlPlane,
    /// Run the Kubernetes operator.
    Operator,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let what = match cli.command {
        Command::Up => "`omendb up` (control plane + console + local tenant databases)",
        Command::Server => "`omendb server` (pgwire SQL server)",
        Command::ControlPlane => "`omendb control-plane`",
        Command::Operator => "`omendb operator`",
    };
    eprintln!(
        "{what} is not built yet: today OmenDB ships its storage engine (crate omendb-storage). \
         See README.md, section Status."
    );
    std::process::exit(2);
}
