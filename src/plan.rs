//! The validated configuration: what `validate` produces and everything
//! else consumes.
//!
//! A `Plan` is the only shape of configuration the supervisor ever sees.
//! It is built either from a config file or from `tend run` flags, after
//! every value was checked, so nothing downstream re-validates or fails on
//! configuration. It owns no I/O and no defaults logic (defaults are applied
//! by `validate`).

use std::path::PathBuf;
use std::time::Duration;

/// Everything `tend run` supervises, fully validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The config file this plan came from (None in single-command mode);
    /// reload re-reads it.
    pub source: Option<PathBuf>,
    /// True for `tend run -- CMD`: the tini role (signal forwarding, exit
    /// with the child's status).
    pub single: bool,
    pub processes: Vec<ProcSpec>,
    /// `stop_file`, resolved against the config file's directory (or the
    /// current directory for flags); None means `DIR/STOP`.
    pub stop_file: Option<PathBuf>,
    /// Period of the status line in tend's log (default 60 s).
    pub tick: Duration,
    /// `http` listen address, e.g. `127.0.0.1:9100`.
    pub http: Option<String>,
    /// Event name (`gave_up`, `breaker_open`, ...) → argv with `{name}`,
    /// `{event}`, `{error}` placeholders.
    pub hooks: Vec<(String, Vec<String>)>,
}

/// One supervised process.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcSpec {
    pub name: String,
    /// As written; without a `/` it is looked up in PATH at spawn time.
    pub command: String,
    pub args: Vec<String>,
    /// Resolved against the config file's directory.
    pub cwd: Option<PathBuf>,
    /// Overrides on top of tend's own environment, in config order.
    pub env: Vec<(String, String)>,
    pub user: Option<UserSpec>,
    pub restart: RestartPolicy,
    pub restart_delay: Duration,
    pub backoff_factor: f64,
    pub backoff_max: Duration,
    pub min_uptime: Duration,
    /// None = unlimited (`maxRestarts: -1`).
    pub max_restarts: Option<u32>,
    pub restart_window: Duration,
    /// None = stay `failed` until `tend reset`.
    pub breaker_cooldown: Option<Duration>,
    pub success_exit_codes: Vec<i32>,
    /// Signal number (libc::SIGTERM by default).
    pub stop_signal: i32,
    pub stop_timeout: Duration,
    pub startup: Option<ProbeSpec>,
    pub liveness: Option<ProbeSpec>,
    pub readiness: Option<ProbeSpec>,
    /// Dependency name → condition, in config order.
    pub depends_on: Vec<(String, DepCondition)>,
    pub limits: Limits,
    pub log: LogSpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    pub user: String,
    pub group: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Never => "never",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepCondition {
    /// The dependency has been spawned (state starting or later).
    Started,
    /// The dependency is ready (see SPEC §3).
    Ready,
    /// The dependency's liveness (or startup) probe passed.
    Healthy,
}

impl DepCondition {
    pub fn as_str(self) -> &'static str {
        match self {
            DepCondition::Started => "started",
            DepCondition::Ready => "ready",
            DepCondition::Healthy => "healthy",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    pub kind: ProbeKind,
    pub interval: Duration,
    pub timeout: Duration,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub initial_delay: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    /// argv, run directly.
    Exec(Vec<String>),
    /// A string, run by `/bin/sh -c`.
    Shell(String),
    /// `HOST:PORT` as written (host may be a name, IPv4 or `[IPv6]`).
    Tcp { host: String, port: u16 },
    /// `http://host:port/path` as written, split.
    Http {
        url: String,
        host: String,
        port: u16,
        path: String,
    },
}

impl ProbeKind {
    /// How the probe is named in messages: `http://127.0.0.1:3000/health`,
    /// `tcp 127.0.0.1:3000`, `exec ./check.sh`.
    pub fn describe(&self) -> String {
        match self {
            ProbeKind::Exec(argv) => format!("exec {}", argv.join(" ")),
            ProbeKind::Shell(s) => format!("exec {s}"),
            ProbeKind::Tcp { host, port } => {
                if host.contains(':') {
                    format!("tcp [{host}]:{port}")
                } else {
                    format!("tcp {host}:{port}")
                }
            }
            ProbeKind::Http { url, .. } => url.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Bytes of RSS summed over the process group.
    pub memory: Option<u64>,
    /// Wall time since start.
    pub runtime: Option<Duration>,
    /// Number of processes in the group.
    pub procs: Option<u32>,
    pub on_limit: OnLimit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnLimit {
    #[default]
    Restart,
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSpec {
    pub max_size: u64,
    pub keep: u32,
}

impl Default for LogSpec {
    fn default() -> Self {
        LogSpec {
            max_size: 10 * 1024 * 1024,
            keep: 5,
        }
    }
}

impl ProcSpec {
    /// A spec with every default of SPEC §2, for tests and for building
    /// plans by hand.
    pub fn with_defaults(name: &str, command: &str) -> ProcSpec {
        ProcSpec {
            name: name.to_string(),
            command: command.to_string(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            user: None,
            restart: RestartPolicy::Always,
            restart_delay: Duration::from_secs(1),
            backoff_factor: 2.0,
            backoff_max: Duration::from_secs(30),
            min_uptime: Duration::from_secs(1),
            max_restarts: Some(10),
            restart_window: Duration::from_secs(600),
            breaker_cooldown: None,
            success_exit_codes: vec![0],
            stop_signal: libc::SIGTERM,
            stop_timeout: Duration::from_secs(10),
            startup: None,
            liveness: None,
            readiness: None,
            depends_on: Vec::new(),
            limits: Limits::default(),
            log: LogSpec::default(),
        }
    }
}

impl ProbeSpec {
    /// A probe with the defaults of SPEC §2.
    pub fn with_defaults(kind: ProbeKind) -> ProbeSpec {
        ProbeSpec {
            kind,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            failure_threshold: 3,
            success_threshold: 1,
            initial_delay: Duration::ZERO,
        }
    }
}
