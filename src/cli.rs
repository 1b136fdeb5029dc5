//! The command line: one flag table drives parsing (lexopt), `--help` and
//! the flag lists checked against the man page. Parsing is pure: it turns
//! argv into a `Cli` value and touches nothing else.

use std::path::PathBuf;

/// The parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Cli {
    /// `--dir DIR` / `TEND_DIR`, default `.tend`.
    pub dir: PathBuf,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Run(RunArgs),
    Check { config: PathBuf },
    Status { names: Vec<String>, json: bool },
    Start { names: Vec<String>, all: bool },
    Stop { names: Vec<String>, all: bool },
    Restart { names: Vec<String>, all: bool },
    Reset { names: Vec<String> },
    Reload,
    Shutdown,
    Logs { name: String, follow: bool, lines: Option<usize> },
    Events { follow: bool, json: bool },
    Health { names: Vec<String> },
    /// Print this text to stdout and exit 0 (`--help`, `--version`).
    Print(String),
}

/// `tend run`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunArgs {
    /// `-c FILE`.
    pub config: Option<PathBuf>,
    /// `-- CMD [ARG...]`.
    pub cmd: Vec<String>,
    /// Per-process flags as (config key, value) in command-line order, e.g.
    /// ("restart_delay", "100ms"), ("env", "K=V") once per `--env`,
    /// ("health_cmd", "curl -f ..."). Only valid with `-- CMD`.
    pub proc_flags: Vec<(&'static str, String)>,
    pub log_dir: Option<PathBuf>,
    pub stop_file: Option<PathBuf>,
    pub http: Option<String>,
    pub detach: bool,
    pub quiet: bool,
    pub interactive: bool,
}
