//! The command line: one flag table drives parsing (lexopt), `--help` and
//! the flag lists checked against the man page. Parsing is pure: it turns
//! argv into a `Cli` value and touches nothing else (no files, no
//! environment: `parse_with_env` takes `TEND_DIR` as an argument, and
//! `tend run` without `-c` or `--` is left for the caller to resolve to
//! `tend.json`).
//!
//! Values are only checked for presence here; what they mean (durations,
//! signals, `K=V`) is checked by `validate`, which reports every problem at
//! once with better context. The exceptions are the few values this module
//! itself must interpret: `--lines` (a number in `Command::Logs`).
//!
//! Usage rules decided here, beyond the table: a flag given twice is an
//! error (except `--env`); `tend run` takes its command only after `--`;
//! per-process flags and `--interactive` need `-- CMD`; `-c` with `-- CMD`,
//! and `--interactive` with `--detach`, are errors; a flag's value may not
//! be empty or `--`; an empty `TEND_DIR` counts as unset.
//!
//! # Adding a flag
//!
//! Add a row to `FLAGS`. A `run` per-process flag needs only its config key;
//! any other flag also needs an arm in its command's builder (the
//! `every_flag_is_handled` test fails until it has one), a line in
//! `man/tend.1` and in SPEC.md §1.

#![allow(dead_code)]

use std::ffi::OsString;
use std::fmt;
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
    Check {
        config: PathBuf,
    },
    Status {
        names: Vec<String>,
        json: bool,
    },
    Start {
        names: Vec<String>,
        all: bool,
    },
    Stop {
        names: Vec<String>,
        all: bool,
    },
    Restart {
        names: Vec<String>,
        all: bool,
    },
    Reset {
        names: Vec<String>,
    },
    Reload,
    Shutdown,
    Logs {
        name: String,
        follow: bool,
        lines: Option<usize>,
    },
    Events {
        follow: bool,
        json: bool,
    },
    Health {
        names: Vec<String>,
    },
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

/// A command-line mistake. The text is complete and ready to print after
/// `tend: error: `: one lowercase line saying what is wrong, then a hint
/// line (`try 'tend run --help'`). `tend` with no command carries the
/// top-level help instead of the hint. Exit code 2 (SPEC §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl UsageError {
    /// `msg` plus the hint for `cmd`'s help (`Cmd::Top` → `tend --help`).
    fn new(cmd: Cmd, msg: impl Into<String>) -> UsageError {
        let msg = msg.into();
        let hint = match cmd {
            Cmd::Top => "try 'tend --help'".to_string(),
            other => format!("try 'tend {} --help'", other.name()),
        };
        UsageError(format!("{msg}\n{hint}"))
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A command, or `Top` for what comes before the command name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Top,
    Run,
    Status,
    Start,
    Stop,
    Restart,
    Reset,
    Reload,
    Shutdown,
    Logs,
    Events,
    Health,
    Check,
}

impl Cmd {
    /// The name typed on the command line (`Top` → "tend").
    pub fn name(self) -> &'static str {
        match self {
            Cmd::Top => "tend",
            Cmd::Run => "run",
            Cmd::Status => "status",
            Cmd::Start => "start",
            Cmd::Stop => "stop",
            Cmd::Restart => "restart",
            Cmd::Reset => "reset",
            Cmd::Reload => "reload",
            Cmd::Shutdown => "shutdown",
            Cmd::Logs => "logs",
            Cmd::Events => "events",
            Cmd::Health => "health",
            Cmd::Check => "check",
        }
    }
}

/// Every command with its usage line and one-line summary, in the order of
/// SPEC §1 and of `tend --help`.
pub const COMMANDS: &[CmdInfo] = &[
    CmdInfo {
        cmd: Cmd::Run,
        usage: "tend run [OPTIONS] [-c FILE] [-- CMD [ARG...]]",
        summary: "supervise processes, in the foreground",
    },
    CmdInfo {
        cmd: Cmd::Status,
        usage: "tend status [NAME...] [--json]",
        summary: "show the states of a running tend's processes",
    },
    CmdInfo {
        cmd: Cmd::Start,
        usage: "tend start NAME...|--all",
        summary: "start processes of a running tend",
    },
    CmdInfo {
        cmd: Cmd::Stop,
        usage: "tend stop NAME...|--all",
        summary: "stop processes of a running tend",
    },
    CmdInfo {
        cmd: Cmd::Restart,
        usage: "tend restart NAME...|--all",
        summary: "restart processes of a running tend",
    },
    CmdInfo {
        cmd: Cmd::Reset,
        usage: "tend reset NAME...",
        summary: "close a tripped breaker or clear 'failed', start again",
    },
    CmdInfo {
        cmd: Cmd::Reload,
        usage: "tend reload",
        summary: "re-read the config file (same as SIGHUP)",
    },
    CmdInfo {
        cmd: Cmd::Shutdown,
        usage: "tend shutdown",
        summary: "stop everything and exit (same as SIGTERM)",
    },
    CmdInfo {
        cmd: Cmd::Logs,
        usage: "tend logs NAME [-f] [-n LINES]",
        summary: "print or follow a process's log",
    },
    CmdInfo {
        cmd: Cmd::Events,
        usage: "tend events [-f] [--json]",
        summary: "print or follow state changes",
    },
    CmdInfo {
        cmd: Cmd::Health,
        usage: "tend health [NAME...]",
        summary: "exit 0 when all named (default: all) are ready, else 1",
    },
    CmdInfo {
        cmd: Cmd::Check,
        usage: "tend check [-c FILE]",
        summary: "validate a config file and print it normalized",
    },
];

#[derive(Debug)]
pub struct CmdInfo {
    pub cmd: Cmd,
    pub usage: &'static str,
    pub summary: &'static str,
}

/// What a flag takes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// Nothing: a switch.
    Nothing,
    /// A UTF-8 string, shown in help under this name.
    Text(&'static str),
    /// A path, kept as the OS gave it (may be non-UTF-8).
    Path(&'static str),
}

/// Where a flag is listed in its command's help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// `--dir`, `--help`, `--version`.
    Global,
    /// A command's own options (all commands but `run`).
    Options,
    /// `tend run`, configures the one process of `-- CMD`.
    Process,
    /// `tend run`, the health probe of `-- CMD`.
    Health,
    /// `tend run`, the supervisor itself.
    Supervisor,
}

/// One row of the flag table.
#[derive(Debug)]
pub struct Flag {
    /// With the dashes: "--restart-delay".
    pub long: &'static str,
    pub short: Option<char>,
    pub takes: Takes,
    /// The commands (and `Cmd::Top`) that accept it.
    pub on: &'static [Cmd],
    pub group: Group,
    /// For `tend run` per-process flags: the config key (SPEC §2) the value
    /// goes to in `RunArgs::proc_flags`.
    pub key: Option<&'static str>,
    /// May be given more than once (each occurrence kept, in order).
    pub repeat: bool,
    pub help: &'static str,
}

/// Every command and `Top`: where the global flags apply.
const EVERYWHERE: &[Cmd] = &[
    Cmd::Top,
    Cmd::Run,
    Cmd::Status,
    Cmd::Start,
    Cmd::Stop,
    Cmd::Restart,
    Cmd::Reset,
    Cmd::Reload,
    Cmd::Shutdown,
    Cmd::Logs,
    Cmd::Events,
    Cmd::Health,
    Cmd::Check,
];

/// A `tend run` per-process flag: a value for config key `key`.
const fn proc(
    long: &'static str,
    value: &'static str,
    key: &'static str,
    group: Group,
    help: &'static str,
) -> Flag {
    Flag {
        long,
        short: None,
        takes: Takes::Text(value),
        on: &[Cmd::Run],
        group,
        key: Some(key),
        repeat: false,
        help,
    }
}

/// The one flag table. Order is help order within a group.
pub const FLAGS: &[Flag] = &[
    // --- tend run: the process of `-- CMD` ---
    proc(
        "--name",
        "NAME",
        "name",
        Group::Process,
        "process name (default: the basename of CMD)",
    ),
    proc(
        "--restart",
        "POLICY",
        "restart",
        Group::Process,
        "always, on-failure or never (default always)",
    ),
    proc(
        "--restart-delay",
        "DUR",
        "restart_delay",
        Group::Process,
        "first delay before a restart (default 1s)",
    ),
    proc(
        "--backoff-max",
        "DUR",
        "backoff_max",
        Group::Process,
        "longest delay before a restart (default 30s)",
    ),
    proc(
        "--backoff-factor",
        "F",
        "backoff_factor",
        Group::Process,
        "delay growth after a short run (default 2)",
    ),
    proc(
        "--min-uptime",
        "DUR",
        "min_uptime",
        Group::Process,
        "a run this long resets the delay (default 1s)",
    ),
    proc(
        "--max-restarts",
        "N",
        "max_restarts",
        Group::Process,
        "restarts allowed per window (default 10)",
    ),
    proc(
        "--restart-window",
        "DUR",
        "restart_window",
        Group::Process,
        "the window of --max-restarts (default 10m)",
    ),
    proc(
        "--breaker-cooldown",
        "DUR",
        "breaker_cooldown",
        Group::Process,
        "retry this long after failing (default: never)",
    ),
    proc(
        "--stop-signal",
        "SIG",
        "stop_signal",
        Group::Process,
        "signal that asks it to stop (default TERM)",
    ),
    proc(
        "--stop-timeout",
        "DUR",
        "stop_timeout",
        Group::Process,
        "wait this long, then SIGKILL (default 10s)",
    ),
    proc(
        "--cwd",
        "DIR",
        "cwd",
        Group::Process,
        "working directory (default: the current one)",
    ),
    Flag {
        long: "--env",
        short: None,
        takes: Takes::Text("K=V"),
        on: &[Cmd::Run],
        group: Group::Process,
        key: Some("env"),
        repeat: true,
        help: "set an environment variable (repeat for more)",
    },
    proc(
        "--user",
        "USER[:GROUP]",
        "user",
        Group::Process,
        "run as USER (and GROUP); tend must be root",
    ),
    // --- tend run: the health probe of `-- CMD` ---
    proc(
        "--health-cmd",
        "CMD",
        "health_cmd",
        Group::Health,
        "probe: shell command, healthy on exit 0",
    ),
    proc(
        "--health-tcp",
        "HOST:PORT",
        "health_tcp",
        Group::Health,
        "probe: TCP connect, healthy when it connects",
    ),
    proc(
        "--health-http",
        "URL",
        "health_http",
        Group::Health,
        "probe: HTTP GET, healthy on status 200-399",
    ),
    proc(
        "--health-interval",
        "DUR",
        "health_interval",
        Group::Health,
        "time between probes (default 10s)",
    ),
    proc(
        "--health-timeout",
        "DUR",
        "health_timeout",
        Group::Health,
        "a probe running longer fails (default 5s)",
    ),
    proc(
        "--health-retries",
        "N",
        "health_retries",
        Group::Health,
        "failures in a row for unhealthy (default 3)",
    ),
    proc(
        "--health-start-period",
        "DUR",
        "health_start_period",
        Group::Health,
        "wait this long before the first probe (default 0)",
    ),
    // --- tend run: the supervisor ---
    Flag {
        long: "--config",
        short: Some('c'),
        takes: Takes::Path("FILE"),
        on: &[Cmd::Run],
        group: Group::Supervisor,
        key: None,
        repeat: false,
        help: "the config file to run (default tend.json)",
    },
    Flag {
        long: "--log-dir",
        short: None,
        takes: Takes::Path("DIR"),
        on: &[Cmd::Run],
        group: Group::Supervisor,
        key: None,
        repeat: false,
        help: "where process logs go (default: logs in --dir)",
    },
    Flag {
        long: "--stop-file",
        short: None,
        takes: Takes::Path("PATH"),
        on: &[Cmd::Run],
        group: Group::Supervisor,
        key: None,
        repeat: false,
        help: "stop all when it exists (default: STOP in --dir)",
    },
    Flag {
        long: "--http",
        short: None,
        takes: Takes::Text("ADDR"),
        on: &[Cmd::Run],
        group: Group::Supervisor,
        key: None,
        repeat: false,
        help: "serve /healthz, /status and /metrics on ADDR",
    },
    Flag {
        long: "--detach",
        short: None,
        takes: Takes::Nothing,
        on: &[Cmd::Run],
        group: Group::Supervisor,
        key: None,
        repeat: false,
        help: "run in the background, print its PID when up",
    },
    Flag {
        long: "--quiet",
        short: Some('q'),
        takes: Takes::Nothing,
        on: &[Cmd::Run],
        group: Group::Supervisor,
        key: None,
        repeat: false,
        help: "do not copy process output to stdout",
    },
    Flag {
        long: "--interactive",
        short: Some('i'),
        takes: Takes::Nothing,
        on: &[Cmd::Run],
        group: Group::Supervisor,
        key: None,
        repeat: false,
        help: "give CMD tend's terminal and stdio (no logs)",
    },
    // --- tend check ---
    Flag {
        long: "--config",
        short: Some('c'),
        takes: Takes::Path("FILE"),
        on: &[Cmd::Check],
        group: Group::Options,
        key: None,
        repeat: false,
        help: "the config file to check (default tend.json)",
    },
    // --- client commands ---
    Flag {
        long: "--json",
        short: None,
        takes: Takes::Nothing,
        on: &[Cmd::Status],
        group: Group::Options,
        key: None,
        repeat: false,
        help: "print the status document as JSON",
    },
    Flag {
        long: "--json",
        short: None,
        takes: Takes::Nothing,
        on: &[Cmd::Events],
        group: Group::Options,
        key: None,
        repeat: false,
        help: "print events as JSON lines",
    },
    Flag {
        long: "--all",
        short: None,
        takes: Takes::Nothing,
        on: &[Cmd::Start, Cmd::Stop, Cmd::Restart],
        group: Group::Options,
        key: None,
        repeat: false,
        help: "act on every process",
    },
    Flag {
        long: "--follow",
        short: Some('f'),
        takes: Takes::Nothing,
        on: &[Cmd::Logs],
        group: Group::Options,
        key: None,
        repeat: false,
        help: "keep printing new lines as they are written",
    },
    Flag {
        long: "--lines",
        short: Some('n'),
        takes: Takes::Text("LINES"),
        on: &[Cmd::Logs],
        group: Group::Options,
        key: None,
        repeat: false,
        help: "print only the last LINES lines",
    },
    Flag {
        long: "--follow",
        short: Some('f'),
        takes: Takes::Nothing,
        on: &[Cmd::Events],
        group: Group::Options,
        key: None,
        repeat: false,
        help: "keep printing new events as they happen",
    },
    // --- everywhere ---
    Flag {
        long: "--dir",
        short: None,
        takes: Takes::Path("DIR"),
        on: EVERYWHERE,
        group: Group::Global,
        key: None,
        repeat: false,
        help: "state directory (env TEND_DIR, default .tend)",
    },
    Flag {
        long: "--help",
        short: Some('h'),
        takes: Takes::Nothing,
        on: EVERYWHERE,
        group: Group::Global,
        key: None,
        repeat: false,
        help: "print this help",
    },
    Flag {
        long: "--version",
        short: Some('V'),
        takes: Takes::Nothing,
        on: &[Cmd::Top],
        group: Group::Global,
        key: None,
        repeat: false,
        help: "print the version",
    },
];

/// Every long flag of `tend run`, with dashes, in table order: `--name`,
/// ..., `--dir`, `--help`.
pub fn run_flag_names() -> Vec<&'static str> {
    long_names(FLAGS.iter().filter(|f| f.on.contains(&Cmd::Run)))
}

/// Every long flag of every command, with dashes, each once, in table
/// order. What `man/tend.1` must document.
pub fn all_long_flags() -> Vec<&'static str> {
    long_names(FLAGS.iter())
}

fn long_names<'a>(flags: impl Iterator<Item = &'a Flag>) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for flag in flags {
        if !out.contains(&flag.long) {
            out.push(flag.long);
        }
    }
    out
}

/// Parse the command line (without argv[0]), reading `TEND_DIR` from the
/// environment.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Cli, UsageError> {
    parse_with_env(args, std::env::var_os("TEND_DIR"))
}

/// Parse the command line (without argv[0]); `tend_dir` is the value of
/// `TEND_DIR` (an empty value counts as unset).
pub fn parse_with_env(
    args: impl IntoIterator<Item = OsString>,
    tend_dir: Option<OsString>,
) -> Result<Cli, UsageError> {
    let mut parser = lexopt::Parser::from_args(args);
    let mut state = State::default();
    let command = parse_command(&mut parser, &mut state)?;
    let dir = match (state.dir, tend_dir) {
        (Some(dir), _) => dir,
        (None, Some(env)) if !env.is_empty() => PathBuf::from(env),
        (None, _) => PathBuf::from(".tend"),
    };
    Ok(Cli { dir, command })
}

/// What the parse carries across the command name: `--dir` may come on
/// either side of it, and a flag given twice is an error wherever it is.
#[derive(Default)]
struct State {
    dir: Option<PathBuf>,
    seen: Vec<&'static str>,
}

/// A flag's value as the builder receives it.
enum Val {
    None,
    Text(String),
    Path(PathBuf),
}

/// What a command's arguments amount to before its builder checks them.
#[derive(Default)]
struct Gathered {
    flags: Vec<(&'static Flag, Val)>,
    positionals: Vec<String>,
    /// `tend run ... -- CMD [ARG...]`: everything after `--`, verbatim.
    tail: Option<Vec<String>>,
}

/// One step of the lexopt loop, with `--dir` and `--help` already handled.
enum Step {
    Done,
    Flag(&'static Flag, Val),
    Positional(String),
    /// `--help` / `-h`: print this command's help.
    Help,
    /// `--dir`, now stored in `State`: go on with the next argument.
    Dir,
}

fn parse_command(parser: &mut lexopt::Parser, state: &mut State) -> Result<Command, UsageError> {
    let name = loop {
        match step(parser, state, Cmd::Top)? {
            Step::Dir => continue,
            Step::Positional(name) => break name,
            Step::Done => {
                let help = top_help();
                return Err(UsageError(format!(
                    "no command given\n\n{}",
                    help.trim_end()
                )));
            }
            Step::Help => return Ok(Command::Print(top_help())),
            Step::Flag(flag, _) if flag.long == "--version" => {
                return Ok(Command::Print(version_text()));
            }
            Step::Flag(flag, _) => return Err(internal(Cmd::Top, flag)),
        }
    };
    if name == "help" {
        return help_command(parser);
    }
    let cmd = lookup_command(&name)?;
    match gather(parser, state, cmd)? {
        Some(gathered) => build(cmd, gathered),
        None => Ok(Command::Print(command_help(cmd))),
    }
}

/// `tend help [COMMAND]`.
fn help_command(parser: &mut lexopt::Parser) -> Result<Command, UsageError> {
    let mut topic = None;
    while let Some(arg) = parser.next().map_err(|e| lexopt_error(Cmd::Top, e))? {
        let value = match arg {
            lexopt::Arg::Value(value) => value,
            other => {
                return Err(UsageError::new(
                    Cmd::Top,
                    format!("unexpected flag '{}' after tend help", show_arg(&other)),
                ));
            }
        };
        let value = utf8_positional(Cmd::Top, value)?;
        if topic.is_some() {
            return Err(UsageError::new(
                Cmd::Top,
                format!("unexpected argument '{value}', tend help takes one command name"),
            ));
        }
        topic = Some(value);
    }
    match topic {
        None => Ok(Command::Print(top_help())),
        Some(name) => Ok(Command::Print(command_help(lookup_command(&name)?))),
    }
}

fn lookup_command(name: &str) -> Result<Cmd, UsageError> {
    if let Some(info) = COMMANDS.iter().find(|c| c.cmd.name() == name) {
        return Ok(info.cmd);
    }
    let mut msg = format!("unknown command '{name}'");
    let known = COMMANDS.iter().map(|c| c.cmd.name()).chain(["help"]);
    if let Some(near) = nearest(name, known) {
        msg.push_str(&format!(", did you mean '{near}'?"));
    }
    Err(UsageError::new(Cmd::Top, msg))
}

/// Read every argument of `cmd`. `None` means `--help` was asked for.
fn gather(
    parser: &mut lexopt::Parser,
    state: &mut State,
    cmd: Cmd,
) -> Result<Option<Gathered>, UsageError> {
    let mut out = Gathered::default();
    loop {
        // `tend run`'s `--` starts CMD: take the rest verbatim. lexopt would
        // swallow the `--` and hand back plain values, losing the fact that
        // the user asked for a command, so look at the raw argument first.
        // (`try_raw_args` is None in the middle of `--flag=value` or `-abc`,
        // where a `--` cannot start.)
        if cmd == Cmd::Run {
            if let Some(mut raw) = parser.try_raw_args() {
                if raw.next_if(|a| a == "--").is_some() {
                    let tail = raw
                        .map(|arg| utf8_positional(cmd, arg))
                        .collect::<Result<Vec<_>, _>>()?;
                    if tail.is_empty() {
                        return Err(UsageError::new(
                            cmd,
                            "missing command after --: tend run -- CMD [ARG...]",
                        ));
                    }
                    out.tail = Some(tail);
                    return Ok(Some(out));
                }
            }
        }
        match step(parser, state, cmd)? {
            Step::Done => return Ok(Some(out)),
            Step::Help => return Ok(None),
            Step::Dir => {}
            Step::Flag(flag, val) => out.flags.push((flag, val)),
            Step::Positional(value) => out.positionals.push(value),
        }
    }
}

/// The next argument of `cmd`: looked up in the table, its value read, a
/// repeat rejected. `--dir` is stored in `state` and reported as `Step::Dir`
/// so the caller can look for `--` before lexopt reads on.
fn step(parser: &mut lexopt::Parser, state: &mut State, cmd: Cmd) -> Result<Step, UsageError> {
    let arg = parser.next().map_err(|e| lexopt_error(cmd, e))?;
    let (flag, is_long) = match arg {
        None => return Ok(Step::Done),
        Some(lexopt::Arg::Value(value)) => {
            return Ok(Step::Positional(utf8_positional(cmd, value)?));
        }
        Some(lexopt::Arg::Long(long)) => match find_long(cmd, long) {
            Some(flag) => (flag, true),
            None => return Err(unknown_flag(cmd, &format!("--{long}"))),
        },
        Some(lexopt::Arg::Short(short)) => match find_short(cmd, short) {
            Some(flag) => (flag, false),
            None => return Err(unknown_flag(cmd, &format!("-{short}"))),
        },
    };
    let val = flag_value(parser, cmd, flag, is_long)?;
    if flag.long == "--help" {
        return Ok(Step::Help);
    }
    if !flag.repeat {
        if state.seen.contains(&flag.long) {
            return Err(UsageError::new(cmd, format!("{} given twice", flag.long)));
        }
        state.seen.push(flag.long);
    }
    match (flag.long, val) {
        ("--dir", Val::Path(dir)) => {
            state.dir = Some(dir);
            Ok(Step::Dir)
        }
        (_, val) => Ok(Step::Flag(flag, val)),
    }
}

/// The value `flag` takes, read from the parser. A value must be present
/// and not empty; `--` is not taken as one (`tend run --name -- node`
/// forgot the name).
fn flag_value(
    parser: &mut lexopt::Parser,
    cmd: Cmd,
    flag: &Flag,
    is_long: bool,
) -> Result<Val, UsageError> {
    let shown = flag.long;
    if flag.takes == Takes::Nothing {
        // After a long switch only `--switch=value` leaves a value pending.
        // After a short one the rest of the cluster (`-qi`) is more flags,
        // and `-q=x` is reported by lexopt's next call.
        if is_long {
            if let Some(value) = parser.optional_value() {
                return Err(UsageError::new(
                    cmd,
                    format!("{shown} takes no value (got '{}')", value.to_string_lossy()),
                ));
            }
        }
        return Ok(Val::None);
    }
    let missing = || UsageError::new(cmd, format!("missing value for {shown}"));
    let value = parser.value().map_err(|_| missing())?;
    if value.is_empty() || value == "--" {
        return Err(missing());
    }
    match flag.takes {
        Takes::Path(_) => Ok(Val::Path(PathBuf::from(value))),
        Takes::Text(_) | Takes::Nothing => match value.into_string() {
            Ok(text) => Ok(Val::Text(text)),
            Err(value) => Err(UsageError::new(
                cmd,
                format!(
                    "the value of {shown} is not valid utf-8: '{}'",
                    value.to_string_lossy()
                ),
            )),
        },
    }
}

fn utf8_positional(cmd: Cmd, value: OsString) -> Result<String, UsageError> {
    value.into_string().map_err(|value| {
        UsageError::new(
            cmd,
            format!("argument is not valid utf-8: '{}'", value.to_string_lossy()),
        )
    })
}

fn lexopt_error(cmd: Cmd, err: lexopt::Error) -> UsageError {
    let msg = match err {
        lexopt::Error::MissingValue { option: Some(opt) } => format!("missing value for {opt}"),
        lexopt::Error::UnexpectedValue { option, value } => {
            format!(
                "{option} takes no value (got '{}')",
                value.to_string_lossy()
            )
        }
        other => other.to_string(),
    };
    UsageError::new(cmd, msg)
}

fn internal(cmd: Cmd, flag: &Flag) -> UsageError {
    UsageError::new(
        cmd,
        format!(
            "internal error: {} is in the flag table but not handled",
            flag.long
        ),
    )
}

fn show_arg(arg: &lexopt::Arg<'_>) -> String {
    match arg {
        lexopt::Arg::Short(c) => format!("-{c}"),
        lexopt::Arg::Long(l) => format!("--{l}"),
        lexopt::Arg::Value(v) => v.to_string_lossy().into_owned(),
    }
}

/// `long` as lexopt gives it, without the dashes.
fn find_long(cmd: Cmd, long: &str) -> Option<&'static Flag> {
    FLAGS
        .iter()
        .find(|f| f.long.strip_prefix("--") == Some(long) && f.on.contains(&cmd))
}

fn find_short(cmd: Cmd, short: char) -> Option<&'static Flag> {
    FLAGS
        .iter()
        .find(|f| f.short == Some(short) && f.on.contains(&cmd))
}

/// `shown` is the flag as typed: `--restart-dealy` or `-x`.
fn unknown_flag(cmd: Cmd, shown: &str) -> UsageError {
    if shown.contains('\u{FFFD}') {
        // lexopt replaced invalid bytes in the flag's name.
        return UsageError::new(cmd, format!("flag is not valid utf-8: '{shown}'"));
    }
    let here = match cmd {
        Cmd::Top => "tend".to_string(),
        other => format!("tend {}", other.name()),
    };
    let mut msg = format!("unknown flag '{shown}' for {here}");
    let is_it = |f: &&Flag| match shown.strip_prefix("--") {
        Some(_) => f.long == shown,
        None => shown.chars().nth(1).is_some_and(|c| f.short == Some(c)),
    };
    // Before the command name, a command's flag is misplaced, not misspelt.
    let owner = FLAGS
        .iter()
        .filter(is_it)
        .flat_map(|f| f.on.iter())
        .find(|c| **c != Cmd::Top);
    match owner {
        Some(owner) if cmd == Cmd::Top => msg.push_str(&format!(
            ", it is a flag of 'tend {}' and goes after the command name",
            owner.name()
        )),
        _ if shown.starts_with("--") => {
            let known = FLAGS.iter().filter(|f| f.on.contains(&cmd)).map(|f| f.long);
            if let Some(near) = nearest(shown, known) {
                msg.push_str(&format!(", did you mean '{near}'?"));
            }
        }
        _ => {}
    }
    UsageError::new(cmd, msg)
}

/// The closest of `known` to `typed` within edit distance 2 (the first one
/// wins a tie), or None.
fn nearest<'a>(typed: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for candidate in known {
        let d = edit_distance(typed, candidate);
        let better = match best {
            None => true,
            Some((best_d, _)) => d < best_d,
        };
        if d <= 2 && better {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = Vec::with_capacity(b.len() + 1);
        row.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let value = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
            row.push(value);
        }
        prev = row;
    }
    prev[b.len()]
}

/// Turn a command's gathered arguments into its `Command`, checking what
/// the table cannot say (required names, exclusive flags).
fn build(cmd: Cmd, g: Gathered) -> Result<Command, UsageError> {
    let err = |msg: String| Err(UsageError::new(cmd, msg));
    let unhandled = |flag: &Flag| Err(internal(cmd, flag));
    match cmd {
        Cmd::Run => build_run(g),
        Cmd::Check => {
            let mut config = None;
            for (flag, val) in g.flags {
                match (flag.long, val) {
                    ("--config", Val::Path(path)) => config = Some(path),
                    _ => return unhandled(flag),
                }
            }
            if let Some(arg) = g.positionals.first() {
                return err(format!(
                    "unexpected argument '{arg}', give the file with -c: tend check -c {arg}"
                ));
            }
            Ok(Command::Check {
                config: config.unwrap_or_else(|| PathBuf::from("tend.json")),
            })
        }
        Cmd::Status | Cmd::Events => {
            let (mut json, mut follow) = (false, false);
            for (flag, _) in g.flags {
                match flag.long {
                    "--json" => json = true,
                    "--follow" if cmd == Cmd::Events => follow = true,
                    _ => return unhandled(flag),
                }
            }
            if cmd == Cmd::Status {
                return Ok(Command::Status {
                    names: g.positionals,
                    json,
                });
            }
            if let Some(arg) = g.positionals.first() {
                return err(format!(
                    "unexpected argument '{arg}', tend events takes no names"
                ));
            }
            Ok(Command::Events { follow, json })
        }
        Cmd::Start | Cmd::Stop | Cmd::Restart => {
            let mut all = false;
            for (flag, _) in g.flags {
                match flag.long {
                    "--all" => all = true,
                    _ => return unhandled(flag),
                }
            }
            let name = cmd.name();
            if all && !g.positionals.is_empty() {
                return err(format!(
                    "give process names or --all, not both: tend {name} NAME... | tend {name} --all"
                ));
            }
            if !all && g.positionals.is_empty() {
                return err(format!(
                    "missing process names: tend {name} NAME... or tend {name} --all"
                ));
            }
            let names = g.positionals;
            Ok(match cmd {
                Cmd::Start => Command::Start { names, all },
                Cmd::Stop => Command::Stop { names, all },
                _ => Command::Restart { names, all },
            })
        }
        Cmd::Reset | Cmd::Health => {
            if let Some((flag, _)) = g.flags.first() {
                return unhandled(flag);
            }
            if cmd == Cmd::Health {
                return Ok(Command::Health {
                    names: g.positionals,
                });
            }
            if g.positionals.is_empty() {
                return err("missing process names: tend reset NAME...".to_string());
            }
            Ok(Command::Reset {
                names: g.positionals,
            })
        }
        Cmd::Reload | Cmd::Shutdown => {
            if let Some((flag, _)) = g.flags.first() {
                return unhandled(flag);
            }
            if let Some(arg) = g.positionals.first() {
                return err(format!(
                    "unexpected argument '{arg}', tend {} takes none",
                    cmd.name()
                ));
            }
            Ok(if cmd == Cmd::Reload {
                Command::Reload
            } else {
                Command::Shutdown
            })
        }
        Cmd::Logs => {
            let (mut follow, mut lines) = (false, None);
            for (flag, val) in g.flags {
                match (flag.long, val) {
                    ("--follow", _) => follow = true,
                    ("--lines", Val::Text(text)) => match text.parse::<usize>() {
                        Ok(n) => lines = Some(n),
                        Err(_) => {
                            return err(format!(
                                "invalid value '{text}' for --lines, expected a number of lines"
                            ));
                        }
                    },
                    _ => return unhandled(flag),
                }
            }
            let mut names = g.positionals.into_iter();
            let Some(name) = names.next() else {
                return err("missing process name: tend logs NAME".to_string());
            };
            if let Some(extra) = names.next() {
                return err(format!(
                    "unexpected argument '{extra}', tend logs takes one process name"
                ));
            }
            Ok(Command::Logs {
                name,
                follow,
                lines,
            })
        }
        Cmd::Top => err("internal error: no command to build".to_string()),
    }
}

fn build_run(g: Gathered) -> Result<Command, UsageError> {
    let err = |msg: String| Err(UsageError::new(Cmd::Run, msg));
    if let Some(arg) = g.positionals.first() {
        return err(format!(
            "unexpected argument '{arg}', put the command after --: tend run -- {arg}"
        ));
    }
    let mut run = RunArgs {
        cmd: g.tail.unwrap_or_default(),
        ..RunArgs::default()
    };
    for (flag, val) in g.flags {
        match (flag.key, flag.long, val) {
            (Some(key), _, Val::Text(text)) => run.proc_flags.push((key, text)),
            (None, "--config", Val::Path(path)) => run.config = Some(path),
            (None, "--log-dir", Val::Path(path)) => run.log_dir = Some(path),
            (None, "--stop-file", Val::Path(path)) => run.stop_file = Some(path),
            (None, "--http", Val::Text(addr)) => run.http = Some(addr),
            (None, "--detach", Val::None) => run.detach = true,
            (None, "--quiet", Val::None) => run.quiet = true,
            (None, "--interactive", Val::None) => run.interactive = true,
            _ => return Err(internal(Cmd::Run, flag)),
        }
    }
    if run.config.is_some() && !run.cmd.is_empty() {
        return err("give -c FILE or -- CMD, not both".to_string());
    }
    if run.cmd.is_empty() {
        if let Some((key, _)) = run.proc_flags.first() {
            let flag = FLAGS
                .iter()
                .find(|f| f.key == Some(key))
                .map_or(*key, |f| f.long);
            return err(format!(
                "{flag} configures a command given after --, \
                 set \"{key}\" in the config file instead"
            ));
        }
        if run.interactive {
            return err("--interactive needs a command after --: tend run -i -- CMD".to_string());
        }
    }
    if run.interactive && run.detach {
        return err("--interactive and --detach cannot be combined".to_string());
    }
    Ok(Command::Run(run))
}

/// `tend --version`.
pub fn version_text() -> String {
    format!("tend {}\n", env!("CARGO_PKG_VERSION"))
}

/// `tend run` examples, also for the caller's "no tend.json" message.
pub const RUN_EXAMPLES: &str = "\
Examples:
  tend run -c tend.json
  tend run --restart on-failure -- node server.js
  tend run --health-tcp 127.0.0.1:3000 --env PORT=3000 -- node server.js
  tend run --detach -c tend.json && tend status
";

/// `tend --help`.
pub fn top_help() -> String {
    let mut out = String::new();
    out.push_str("tend - keep processes alive\n\n");
    out.push_str("Usage: tend [--dir DIR] COMMAND [ARGS...]\n\n");
    out.push_str("Commands:\n");
    for info in COMMANDS {
        out.push_str(&two_columns(
            &format!("  {}", info.cmd.name()),
            info.summary,
            12,
        ));
    }
    out.push_str(&two_columns("  help", "print the help of a command", 12));
    out.push_str("\nGlobal options (before or after the command name):\n");
    for flag in FLAGS.iter().filter(|f| f.on.contains(&Cmd::Top)) {
        out.push_str(&flag_line(flag));
    }
    out.push_str(
        "\nExit codes:\n\
         \x20 0  success\n\
         \x20 1  not healthy, or the request failed (e.g. an unknown process name)\n\
         \x20 2  usage or config error\n\
         \x20 3  no tend runs on DIR, or DIR is locked by another tend\n",
    );
    out.push_str("\n'tend COMMAND --help' lists a command's options; see man tend.\n");
    out
}

/// `tend COMMAND --help`.
pub fn command_help(cmd: Cmd) -> String {
    let Some(info) = COMMANDS.iter().find(|c| c.cmd == cmd) else {
        return top_help();
    };
    let mut out = format!("Usage: {}\n\n", info.usage);
    out.push_str(&wrap(&format!("{}.", capitalize(info.summary)), 0, 80));
    let mine = |group: Group| {
        FLAGS
            .iter()
            .filter(move |f| f.group == group && f.on.contains(&cmd))
    };
    let sections: &[(Group, &str)] = if cmd == Cmd::Run {
        &[
            (Group::Process, "Process options (only with -- CMD):"),
            (Group::Health, "Health check (only with -- CMD):"),
            (Group::Supervisor, "Supervisor options:"),
        ]
    } else {
        &[(Group::Options, "Options:")]
    };
    for (group, title) in sections {
        if mine(*group).next().is_none() {
            continue;
        }
        out.push('\n');
        out.push_str(title);
        out.push('\n');
        for flag in mine(*group) {
            out.push_str(&flag_line(flag));
        }
    }
    out.push_str("\nGlobal options:\n");
    for flag in mine(Group::Global) {
        out.push_str(&flag_line(flag));
    }
    if cmd == Cmd::Run {
        out.push_str("\nDurations: 250ms, 10s, 5m, 1h, 1m30s.\n\n");
        out.push_str(RUN_EXAMPLES);
    }
    out
}

/// Width of the flag column in help.
const FLAG_COLUMN: usize = 33;

fn flag_line(flag: &Flag) -> String {
    let mut left = match flag.short {
        Some(c) => format!("  -{c}, {}", flag.long),
        None => format!("      {}", flag.long),
    };
    match flag.takes {
        Takes::Nothing => {}
        Takes::Text(v) | Takes::Path(v) => {
            left.push(' ');
            left.push_str(v);
        }
    }
    two_columns(&left, flag.help, FLAG_COLUMN)
}

/// `left` padded to `column`, then `text` wrapped to 80 columns. A `left`
/// too wide for the column puts the text on the next line.
fn two_columns(left: &str, text: &str, column: usize) -> String {
    let body = wrap(text, column, 80);
    if left.len() + 2 <= column {
        format!("{left:<column$}{}", &body[column..])
    } else {
        format!("{left}\n{body}")
    }
}

/// `text` in lines of at most `width` columns, each indented by `indent`,
/// ending with a newline.
fn wrap(text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > width {
            out.push_str(&" ".repeat(indent));
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&" ".repeat(indent));
    out.push_str(&line);
    out.push('\n');
    out
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn parse_ok(args: &[&str]) -> Cli {
        match parse_with_env(os(args), None) {
            Ok(cli) => cli,
            Err(e) => panic!("{args:?} failed: {e}"),
        }
    }

    fn cmd(args: &[&str]) -> Command {
        parse_ok(args).command
    }

    fn err(args: &[&str]) -> String {
        match parse_with_env(os(args), None) {
            Ok(cli) => panic!("{args:?} parsed to {cli:?}"),
            Err(e) => e.0,
        }
    }

    fn run(args: &[&str]) -> RunArgs {
        match cmd(args) {
            Command::Run(run) => run,
            other => panic!("{args:?} parsed to {other:?}"),
        }
    }

    fn help_of(cmd: Cmd) -> String {
        match cmd {
            Cmd::Top => top_help(),
            other => command_help(other),
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    // --- invariants of the table ---

    #[test]
    fn every_flag_appears_in_its_commands_help() {
        for flag in FLAGS {
            for &c in flag.on {
                let help = help_of(c);
                let mut left = match flag.short {
                    Some(s) => format!("-{s}, {}", flag.long),
                    None => format!("    {}", flag.long),
                };
                if let Takes::Text(v) | Takes::Path(v) = flag.takes {
                    left = format!("{left} {v}");
                }
                assert!(
                    help.lines().any(|l| l.starts_with(&format!("  {left}"))),
                    "{} missing from help of {c:?}:\n{help}",
                    flag.long
                );
                assert!(help.contains(flag.help.split(' ').next().unwrap_or("")));
            }
        }
    }

    #[test]
    fn names_are_unique_per_command() {
        for &c in EVERYWHERE {
            let mine: Vec<&Flag> = FLAGS.iter().filter(|f| f.on.contains(&c)).collect();
            for (i, a) in mine.iter().enumerate() {
                for b in &mine[i + 1..] {
                    assert_ne!(a.long, b.long, "{c:?}: {} twice", a.long);
                    if a.short.is_some() {
                        assert_ne!(a.short, b.short, "{c:?}: -{:?} twice", a.short);
                    }
                }
            }
        }
    }

    #[test]
    fn flag_names_are_well_formed() {
        for flag in FLAGS {
            let bare = flag.long.strip_prefix("--").unwrap_or("");
            assert!(
                bare.len() > 1 && bare.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                flag.long
            );
            if let Some(key) = flag.key {
                // The config key is the flag's name in snake case.
                assert_eq!(key, bare.replace('-', "_"), "{}", flag.long);
                assert_eq!(flag.on, &[Cmd::Run], "{}", flag.long);
                assert!(matches!(flag.takes, Takes::Text(_)), "{}", flag.long);
            }
            assert!(!flag.help.is_empty() && !flag.help.ends_with('.'));
        }
    }

    #[test]
    fn every_spec_run_flag_is_in_the_table() {
        // SPEC §1, `tend run` flags, copied by hand on purpose: a change to
        // either side must be made on both.
        let spec = [
            "--config",
            "--name",
            "--restart",
            "--restart-delay",
            "--backoff-max",
            "--backoff-factor",
            "--min-uptime",
            "--max-restarts",
            "--restart-window",
            "--breaker-cooldown",
            "--stop-signal",
            "--stop-timeout",
            "--cwd",
            "--env",
            "--user",
            "--health-cmd",
            "--health-tcp",
            "--health-http",
            "--health-interval",
            "--health-timeout",
            "--health-retries",
            "--health-start-period",
            "--log-dir",
            "--stop-file",
            "--detach",
            "--quiet",
            "--interactive",
            "--http",
            "--dir",
            "--help",
        ];
        let table = run_flag_names();
        for flag in spec {
            assert!(table.contains(&flag), "{flag} not in the table");
        }
        for flag in &table {
            assert!(spec.contains(flag), "{flag} not in SPEC §1");
        }
    }

    #[test]
    fn proc_flag_keys_are_the_agreed_ones() {
        let agreed = crate::validate::PROC_FLAGS;
        let keys: Vec<&str> = FLAGS.iter().filter_map(|f| f.key).collect();
        assert_eq!(keys, agreed);
    }

    #[test]
    fn all_long_flags_lists_each_once() {
        let all = all_long_flags();
        for flag in FLAGS {
            assert_eq!(all.iter().filter(|f| **f == flag.long).count(), 1);
        }
        assert!(all.contains(&"--version") && all.contains(&"--json"));
    }

    /// Every (flag, command) pair parses: no row of the table lacks a
    /// builder arm.
    #[test]
    fn every_flag_is_handled() {
        for flag in FLAGS {
            for &c in flag.on {
                let mut args: Vec<&str> = Vec::new();
                if c != Cmd::Top {
                    args.push(c.name());
                }
                args.push(flag.long);
                match flag.takes {
                    Takes::Nothing => {}
                    Takes::Text(_) | Takes::Path(_) => args.push("7"),
                }
                match c {
                    Cmd::Top => args.push("reload"),
                    Cmd::Run if flag.long != "--config" => args.extend(["--", "x"]),
                    Cmd::Start | Cmd::Stop | Cmd::Restart if flag.long != "--all" => {
                        args.push("web")
                    }
                    Cmd::Reset | Cmd::Logs => args.push("web"),
                    _ => {}
                }
                let result = parse_with_env(os(&args), None);
                assert!(result.is_ok(), "{args:?}: {result:?}");
            }
        }
    }

    #[test]
    fn help_fits_80_columns() {
        for &c in EVERYWHERE {
            for line in help_of(c).lines() {
                assert!(line.chars().count() <= 80, "{c:?}: {line:?}");
            }
        }
    }

    #[test]
    fn help_lists_every_command_and_exit_code() {
        let help = top_help();
        for info in COMMANDS {
            assert!(help.contains(&format!("  {} ", info.cmd.name())));
            assert!(command_help(info.cmd).starts_with(&format!("Usage: {}\n", info.usage)));
        }
        for code in ["  0  ", "  1  ", "  2  ", "  3  "] {
            assert!(help.contains(code), "exit code {code}");
        }
        assert!(help.contains("man tend"));
    }

    #[test]
    fn run_help_groups_flags() {
        let help = command_help(Cmd::Run);
        let at = |s: &str| help.find(s).unwrap_or_else(|| panic!("{s} not in help"));
        assert!(at("Process options") < at("--restart-delay"));
        assert!(at("--restart-delay") < at("Health check"));
        assert!(at("Health check") < at("--health-cmd"));
        assert!(at("--health-cmd") < at("Supervisor options"));
        assert!(at("Supervisor options") < at("--detach"));
        assert!(at("--detach") < at("Global options"));
    }

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("--restart-dealy", "--restart-delay"), 2);
        assert_eq!(edit_distance("stauts", "status"), 2);
    }

    // --- parse: every command ---

    #[test]
    fn status() {
        assert_eq!(
            cmd(&["status"]),
            Command::Status {
                names: vec![],
                json: false
            }
        );
        assert_eq!(
            cmd(&["status", "web", "--json", "db"]),
            Command::Status {
                names: names(&["web", "db"]),
                json: true
            }
        );
    }

    #[test]
    fn start_stop_restart() {
        assert_eq!(
            cmd(&["start", "web", "db"]),
            Command::Start {
                names: names(&["web", "db"]),
                all: false
            }
        );
        assert_eq!(
            cmd(&["stop", "--all"]),
            Command::Stop {
                names: vec![],
                all: true
            }
        );
        assert_eq!(
            cmd(&["restart", "web"]),
            Command::Restart {
                names: names(&["web"]),
                all: false
            }
        );
        for c in ["start", "stop", "restart"] {
            let e = err(&[c]);
            assert!(e.starts_with("missing process names"), "{e}");
            assert!(e.ends_with(&format!("try 'tend {c} --help'")), "{e}");
            let e = err(&[c, "web", "--all"]);
            assert!(e.contains("not both"), "{e}");
            let e = err(&[c, "--all", "web"]);
            assert!(e.contains("not both"), "{e}");
        }
    }

    #[test]
    fn reset_reload_shutdown_health() {
        assert_eq!(
            cmd(&["reset", "web"]),
            Command::Reset {
                names: names(&["web"])
            }
        );
        assert!(err(&["reset"]).starts_with("missing process names"));
        assert_eq!(cmd(&["reload"]), Command::Reload);
        assert_eq!(cmd(&["shutdown"]), Command::Shutdown);
        assert!(err(&["reload", "web"]).starts_with("unexpected argument 'web'"));
        assert_eq!(cmd(&["health"]), Command::Health { names: vec![] });
        assert_eq!(
            cmd(&["health", "a", "b"]),
            Command::Health {
                names: names(&["a", "b"])
            }
        );
    }

    #[test]
    fn logs() {
        assert_eq!(
            cmd(&["logs", "web"]),
            Command::Logs {
                name: "web".into(),
                follow: false,
                lines: None
            }
        );
        let want = Command::Logs {
            name: "web".into(),
            follow: true,
            lines: Some(20),
        };
        assert_eq!(cmd(&["logs", "web", "-f", "-n", "20"]), want);
        assert_eq!(cmd(&["logs", "-n20", "--follow", "web"]), want);
        assert_eq!(cmd(&["logs", "--lines=20", "-f", "web"]), want);
        assert_eq!(cmd(&["logs", "-fn", "20", "web"]), want);
        assert!(err(&["logs"]).starts_with("missing process name"));
        assert!(err(&["logs", "a", "b"]).starts_with("unexpected argument 'b'"));
        let e = err(&["logs", "web", "-n", "many"]);
        assert!(e.starts_with("invalid value 'many' for --lines"), "{e}");
        assert!(err(&["logs", "web", "-n"]).starts_with("missing value for --lines"));
    }

    #[test]
    fn events() {
        assert_eq!(
            cmd(&["events"]),
            Command::Events {
                follow: false,
                json: false
            }
        );
        assert_eq!(
            cmd(&["events", "-f", "--json"]),
            Command::Events {
                follow: true,
                json: true
            }
        );
        assert!(err(&["events", "web"]).starts_with("unexpected argument 'web'"));
    }

    #[test]
    fn check() {
        assert_eq!(
            cmd(&["check"]),
            Command::Check {
                config: "tend.json".into()
            }
        );
        assert_eq!(
            cmd(&["check", "-c", "a.json"]),
            Command::Check {
                config: "a.json".into()
            }
        );
        assert_eq!(
            cmd(&["check", "--config=b.json"]),
            Command::Check {
                config: "b.json".into()
            }
        );
        let e = err(&["check", "a.json"]);
        assert!(e.contains("tend check -c a.json"), "{e}");
    }

    #[test]
    fn run_config_mode() {
        assert_eq!(run(&["run"]), RunArgs::default());
        let r = run(&[
            "run",
            "-c",
            "x.json",
            "--log-dir",
            "/var/log/tend",
            "--stop-file=STOP",
            "--http",
            "127.0.0.1:9100",
            "--detach",
            "-q",
        ]);
        assert_eq!(r.config, Some("x.json".into()));
        assert_eq!(r.log_dir, Some("/var/log/tend".into()));
        assert_eq!(r.stop_file, Some("STOP".into()));
        assert_eq!(r.http.as_deref(), Some("127.0.0.1:9100"));
        assert!(r.detach && r.quiet && !r.interactive);
        assert!(r.cmd.is_empty() && r.proc_flags.is_empty());
    }

    #[test]
    fn run_single_command_mode() {
        let r = run(&[
            "run",
            "--name",
            "web",
            "--restart=on-failure",
            "--env",
            "B=2",
            "--restart-delay",
            "100ms",
            "--env=A=1",
            "--health-cmd",
            "curl -f http://x/",
            "--env",
            "C=--x",
            "-i",
            "--",
            "node",
            "--inspect",
            "server.js",
            "--",
            "-c",
        ]);
        assert_eq!(
            r.proc_flags,
            vec![
                ("name", "web".to_string()),
                ("restart", "on-failure".to_string()),
                ("env", "B=2".to_string()),
                ("restart_delay", "100ms".to_string()),
                ("env", "A=1".to_string()),
                ("health_cmd", "curl -f http://x/".to_string()),
                ("env", "C=--x".to_string()),
            ]
        );
        assert_eq!(
            r.cmd,
            names(&["node", "--inspect", "server.js", "--", "-c"])
        );
        assert!(r.interactive);
        assert_eq!(r.config, None);
    }

    #[test]
    fn run_values_are_not_validated_here() {
        let r = run(&["run", "--restart-delay", "soon", "--", "x"]);
        assert_eq!(r.proc_flags, vec![("restart_delay", "soon".to_string())]);
        // A value may look like a flag.
        let r = run(&["run", "--health-cmd", "-x", "--", "x"]);
        assert_eq!(r.proc_flags, vec![("health_cmd", "-x".to_string())]);
    }

    #[test]
    fn run_double_dash_handling() {
        assert_eq!(run(&["run", "--", "--help"]).cmd, names(&["--help"]));
        assert_eq!(run(&["run", "-q", "--", "-q"]).cmd, names(&["-q"]));
        let e = err(&["run", "--"]);
        assert!(e.starts_with("missing command after --"), "{e}");
        let e = err(&["run", "node", "server.js"]);
        assert!(
            e.starts_with("unexpected argument 'node', put the command after --: tend run -- node"),
            "{e}"
        );
        // `--` is never a flag's value: the name was forgotten.
        let e = err(&["run", "--name", "--", "node"]);
        assert!(e.starts_with("missing value for --name"), "{e}");
    }

    #[test]
    fn run_errors() {
        let e = err(&["run", "-c", "tend.json", "--", "node"]);
        assert!(e.starts_with("give -c FILE or -- CMD, not both"), "{e}");
        assert!(e.ends_with("\ntry 'tend run --help'"), "{e}");
        let e = err(&["run", "-c", "tend.json", "--restart", "never"]);
        assert!(
            e.starts_with("--restart configures a command given after --"),
            "{e}"
        );
        assert!(e.contains("\"restart\""), "{e}");
        let e = err(&["run", "--stop-timeout", "3s"]);
        assert!(e.starts_with("--stop-timeout configures"), "{e}");
        assert!(err(&["run", "-i"]).starts_with("--interactive needs a command"));
        assert!(err(&["run", "-i", "--detach", "--", "sh"]).contains("cannot be combined"));
        let e = err(&["run", "--restart-dealy", "1s", "--", "x"]);
        assert_eq!(
            e,
            "unknown flag '--restart-dealy' for tend run, did you mean '--restart-delay'?\n\
             try 'tend run --help'"
        );
        let e = err(&["run", "--restart_delay=1s", "--", "x"]);
        assert!(e.contains("did you mean '--restart-delay'?"), "{e}");
        let e = err(&["run", "--frobnicate", "--", "x"]);
        assert!(
            e.starts_with("unknown flag '--frobnicate' for tend run\n"),
            "{e}"
        );
        let e = err(&["run", "--restart-delay"]);
        assert!(e.starts_with("missing value for --restart-delay"), "{e}");
        let e = err(&["run", "--name=", "--", "x"]);
        assert!(e.starts_with("missing value for --name"), "{e}");
        let e = err(&["run", "--detach=yes"]);
        assert!(e.starts_with("--detach takes no value (got 'yes')"), "{e}");
        let e = err(&["run", "--name", "a", "--name", "b", "--", "x"]);
        assert!(e.starts_with("--name given twice"), "{e}");
        let e = err(&["run", "-x"]);
        assert!(e.starts_with("unknown flag '-x' for tend run"), "{e}");
    }

    #[test]
    fn short_clusters_of_switches() {
        let r = run(&["run", "-qi", "--", "sh"]);
        assert!(r.quiet && r.interactive);
        let e = err(&["run", "-q=1"]);
        assert!(e.starts_with("-q takes no value"), "{e}");
    }

    // --- global options ---

    #[test]
    fn dir_before_or_after_the_command() {
        assert_eq!(parse_ok(&["status"]).dir, PathBuf::from(".tend"));
        assert_eq!(
            parse_ok(&["--dir", "/a", "status"]).dir,
            PathBuf::from("/a")
        );
        assert_eq!(parse_ok(&["--dir=/a", "status"]).dir, PathBuf::from("/a"));
        assert_eq!(
            parse_ok(&["status", "--dir", "/b"]).dir,
            PathBuf::from("/b")
        );
        let cli = parse_ok(&["run", "--dir", "/c", "--", "x", "--dir", "/d"]);
        assert_eq!(cli.dir, PathBuf::from("/c"));
        assert_eq!(
            cli.command,
            Command::Run(RunArgs {
                cmd: names(&["x", "--dir", "/d"]),
                ..RunArgs::default()
            })
        );
        let e = err(&["--dir", "/a", "status", "--dir", "/b"]);
        assert!(e.starts_with("--dir given twice"), "{e}");
        assert!(err(&["--dir"]).starts_with("missing value for --dir"));
    }

    #[test]
    fn tend_dir_env_is_the_fallback() {
        let env = |args: &[&str], v: Option<&str>| {
            parse_with_env(os(args), v.map(OsString::from))
                .map(|c| c.dir)
                .unwrap_or_default()
        };
        assert_eq!(env(&["status"], Some("/env")), PathBuf::from("/env"));
        assert_eq!(
            env(&["status", "--dir", "/x"], Some("/env")),
            PathBuf::from("/x")
        );
        assert_eq!(env(&["status"], Some("")), PathBuf::from(".tend"));
        assert_eq!(env(&["status"], None), PathBuf::from(".tend"));
    }

    #[test]
    fn help_and_version() {
        let version = format!("tend {}\n", env!("CARGO_PKG_VERSION"));
        assert_eq!(cmd(&["--version"]), Command::Print(version.clone()));
        assert_eq!(cmd(&["-V"]), Command::Print(version));
        assert_eq!(cmd(&["--help"]), Command::Print(top_help()));
        assert_eq!(cmd(&["-h"]), Command::Print(top_help()));
        assert_eq!(cmd(&["help"]), Command::Print(top_help()));
        assert_eq!(cmd(&["--dir", "x", "-h"]), Command::Print(top_help()));
        for info in COMMANDS {
            let name = info.cmd.name();
            let want = Command::Print(command_help(info.cmd));
            assert_eq!(cmd(&[name, "--help"]), want);
            assert_eq!(cmd(&[name, "-h"]), want);
            assert_eq!(cmd(&["help", name]), want);
        }
        // Help wins over missing required arguments.
        assert_eq!(
            cmd(&["logs", "-h"]),
            Command::Print(command_help(Cmd::Logs))
        );
        assert!(err(&["help", "stauts"]).contains("did you mean 'status'?"));
        assert!(err(&["help", "run", "x"]).starts_with("unexpected argument 'x'"));
        assert!(err(&["run", "--version"]).starts_with("unknown flag '--version'"));
    }

    #[test]
    fn no_command_prints_help_as_a_usage_error() {
        let e = err(&[]);
        assert!(
            e.starts_with("no command given\n\ntend - keep processes alive"),
            "{e}"
        );
        assert!(!e.ends_with('\n'));
        let e = err(&["--dir", "x"]);
        assert!(e.starts_with("no command given"), "{e}");
    }

    #[test]
    fn unknown_command_suggests() {
        let e = err(&["stauts"]);
        assert_eq!(
            e,
            "unknown command 'stauts', did you mean 'status'?\ntry 'tend --help'"
        );
        assert_eq!(
            err(&["frobnicate"]),
            "unknown command 'frobnicate'\ntry 'tend --help'"
        );
    }

    #[test]
    fn command_flag_before_the_command_name() {
        let e = err(&["--json", "status"]);
        assert!(
            e.starts_with("unknown flag '--json' for tend, it is a flag of 'tend status'"),
            "{e}"
        );
        let e = err(&["--jsn", "status"]);
        assert!(e.starts_with("unknown flag '--jsn' for tend\n"), "{e}");
    }

    #[test]
    fn flags_of_other_commands_are_unknown() {
        let e = err(&["status", "-f"]);
        assert!(e.starts_with("unknown flag '-f' for tend status"), "{e}");
        assert!(e.ends_with("try 'tend status --help'"), "{e}");
        let e = err(&["status", "--all"]);
        assert!(e.starts_with("unknown flag '--all' for tend status"), "{e}");
    }

    #[test]
    fn non_utf8_arguments_are_named() {
        let bad = || OsString::from_vec(vec![b'w', 0xff]);
        let e = parse_with_env(vec![OsString::from("status"), bad()], None).unwrap_err();
        assert!(
            e.0.starts_with("argument is not valid utf-8: 'w\u{FFFD}'"),
            "{e}"
        );
        let e =
            parse_with_env(os(&["run", "--", "x"]).into_iter().chain([bad()]), None).unwrap_err();
        assert!(e.0.starts_with("argument is not valid utf-8"), "{e}");
        let e = parse_with_env(
            vec![OsString::from("run"), OsString::from("--name"), bad()],
            None,
        )
        .unwrap_err();
        assert!(
            e.0.starts_with("the value of --name is not valid utf-8"),
            "{e}"
        );
        let mut flag = b"--na".to_vec();
        flag.push(0xff);
        let e = parse_with_env(vec![OsString::from("run"), OsString::from_vec(flag)], None)
            .unwrap_err();
        assert!(e.0.starts_with("flag is not valid utf-8"), "{e}");
        // Paths may be any bytes.
        let cli = parse_with_env(
            vec![OsString::from("--dir"), bad(), OsString::from("reload")],
            None,
        )
        .unwrap();
        assert_eq!(cli.dir, PathBuf::from(bad()));
    }

    #[test]
    fn usage_error_shape() {
        for args in [
            &["run", "--nope"][..],
            &["start"],
            &["logs"],
            &["stauts"],
            &["run", "-c", "a", "--", "b"],
        ] {
            let e = err(args);
            let lines: Vec<&str> = e.lines().collect();
            assert_eq!(lines.len(), 2, "{e}");
            assert!(lines[1].starts_with("try 'tend "), "{e}");
            let first = lines[0].chars().next().unwrap_or(' ');
            assert!(!first.is_uppercase() && !lines[0].ends_with('.'), "{e}");
        }
    }

    /// Not a check: `cargo test print_help -- --nocapture` shows the texts.
    #[test]
    fn print_help() {
        println!("{}", top_help());
        println!("{}", command_help(Cmd::Run));
    }
}
