//! `invite-loadtest`: load test and trace replay for the invite-limiter engine.
//!
//! `cargo run --release -p invite-loadtest` runs the default workload for about ten
//! seconds on the in-memory engine (`--backend redis://…` runs it on the Redis engine);
//! `redis-bench` compares the Redis engine with a hand-written script and the in-memory
//! engine. `--help` lists every flag. See loadtest/README.md.

mod baseline;
mod bench;
mod bench_memory;
mod bench_module;
mod cli;
mod memory;
mod ops;
mod outcome;
mod plot;
mod populate;
mod population;
mod redis_run;
mod redis_util;
mod replay;
mod report;
mod stats;
mod sweep_stall;
mod text;
mod trace;
mod worker;
mod workload;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        None => workload::run(&cli.run),
        Some(cli::Command::Run(args)) => workload::run(args),
        Some(cli::Command::Replay(args)) => replay::run(args),
        Some(cli::Command::RedisBench(args)) => bench::run(args),
        Some(cli::Command::SweepStall(args)) => sweep_stall::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("invite-loadtest: {e}");
            ExitCode::FAILURE
        }
    }
}
