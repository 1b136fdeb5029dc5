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
mod validate;

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = run();
    ExitCode::from(code)
}

fn run() -> u8 {
    0
}
