//! `omendb-bench`: OmenDB's benchmark harness.
//!
//! ```text
//! cargo run --release -p omendb-benches -- storage --quick            # 1M and 10M keys, < 3 minutes
//! cargo run --release -p omendb-benches -- storage --json bench.json  # adds 100M keys
//! ```
//!
//! Each suite fills one [`report::Report`]; the report prints markdown tables and, with `--json`, writes
//! every figure and ratio as one JSON object. To add a suite, add a [`Suite`] variant and a module with a
//! `run(&mut Report, quick)` function.

mod engine_suite;
mod index_suite;
mod report;

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::report::Report;

#[derive(Parser, Debug)]
#[command(name = "omendb-bench", about = "OmenDB benchmark harness")]
struct Args {
    /// Which suite to run.
    suite: Suite,
    /// Smaller sizes and fewer repetitions (the storage suite finishes in under 3 minutes).
    #[arg(long)]
    quick: bool,
    /// Also write every figure and ratio to this file as one JSON object.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Suite {
    /// Storage: learned index vs peers (index_suite), then table-level figures (engine_suite).
    Storage,
    /// Only the learned index vs peers (the first half of `storage`).
    Index,
    /// Only the table-level engine figures (the second half of `storage`).
    Engine,
    /// Every storage measurement at a tiny size, in seconds: `scripts/test` runs it so the harness never rots.
    Smoke,
}

fn main() -> anyhow::Result<()> {
    if let Ok(dir) = std::env::var(engine_suite::PROBE_ENV) {
        return engine_suite::probe(&dir);
    }
    let args = Args::parse();
    let mut report = Report::new(format!("{:?}", args.suite).to_lowercase(), args.quick);
    match args.suite {
        Suite::Storage | Suite::Index | Suite::Engine => {
            let (size, scale) = if args.quick {
                (index_suite::Size::Quick, engine_suite::Scale::QUICK)
            } else {
                (index_suite::Size::Full, engine_suite::Scale::FULL)
            };
            if !matches!(args.suite, Suite::Engine) {
                index_suite::run(&mut report, size)?;
            }
            if !matches!(args.suite, Suite::Index) {
                engine_suite::run(&mut report, scale)?;
            }
        }
        Suite::Smoke => {
            index_suite::run(&mut report, index_suite::Size::Smoke)?;
            engine_suite::run(&mut report, engine_suite::Scale::SMOKE)?;
        }
    }
    if let Some(path) = &args.json {
        report.write_json(path)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
