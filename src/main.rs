//! tend: keep processes alive. `main` is thin on purpose: parse the command
//! line, dispatch to the command, and turn the outcome into the exit code
//! of SPEC §6 in exactly one place.

mod cli;
mod client;
mod config;
mod core;
mod duration;
mod error;
mod plan;
mod proto;
mod rfc3339;
mod signal;
mod size;
mod status;
mod sys;
#[cfg(test)]
mod testutil;
mod validate;

use cli::Command;
use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(run())
}

fn run() -> u8 {
    let cli = match cli::parse(std::env::args_os().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tend: error: {e}");
            return 2;
        }
    };
    match &cli.command {
        Command::Print(text) => {
            print!("{text}");
            0
        }
        Command::Run(run) => sys::run::main(&cli.dir, run),
        Command::Check { config } => check(config),
        _ => client::main(&cli),
    }
}

/// `tend check -c FILE`: print the normalized config, or every error.
fn check(path: &std::path::Path) -> u8 {
    match validate::plan_from_file(path) {
        Ok(plan) => {
            print!("{}", validate::normalized_text(&plan));
            0
        }
        Err(errs) => {
            for e in &errs {
                eprintln!("tend: error: {e}");
            }
            2
        }
    }
}
