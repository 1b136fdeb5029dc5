//! Configuration → `Plan`: the one place where config files and `tend run`
//! flags are checked and every default of SPEC §2 is applied.
//!
//! The JSON value is walked by hand rather than through serde derive so
//! that every error carries its key path (`processes[0].restart_delay`),
//! every error is reported at once (the walk never stops at the first), and
//! an unknown key gets the nearest known key as a suggestion. Flags go
//! through the same field checks as file keys, so both spell the same rules
//! the same way; only the key in the message differs (`--restart-delay`).
//!
//! Nothing here starts anything or touches the system beyond reading the
//! config file (and checking whether `./tend.json` exists): a `Plan` that
//! comes out is final, and nothing downstream re-validates it.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::cli::RunArgs;
use crate::error::{show_value, ConfigError};
use crate::plan::{
    DepCondition, Limits, LogSpec, OnLimit, Plan, ProbeKind, ProbeSpec, ProcSpec, RestartPolicy,
    UserSpec,
};
use crate::{duration, signal, size};

/// Origin of errors in flags.
const COMMAND_LINE: &str = "command line";

/// Default `tick` (SPEC §2).
const DEFAULT_TICK: Duration = Duration::from_secs(60);

const TOP_KEYS: &[&str] = &["processes", "stop_file", "tick", "http", "hooks"];

const PROC_KEYS: &[&str] = &[
    "name",
    "command",
    "args",
    "cwd",
    "env",
    "user",
    "restart",
    "restart_delay",
    "backoff_max",
    "backoff_factor",
    "min_uptime",
    "max_restarts",
    "restart_window",
    "breaker_cooldown",
    "success_exit_codes",
    "stop_signal",
    "stop_timeout",
    "startup",
    "liveness",
    "readiness",
    "depends_on",
    "limits",
    "log",
];

/// Node watchdog `register()` keys accepted as aliases: (alias, tend key).
const ALIASES: &[(&str, &str)] = &[
    ("autoRestart", "restart"),
    ("maxRestarts", "max_restarts"),
    ("restartDelay", "restart_delay"),
];

/// Keys other supervisors use for a process (supervisord, PM2, Docker,
/// systemd), mapped to tend's, so a migrating user gets the right
/// suggestion rather than the nearest spelling (`cmd` is closer to `cwd`).
const FOREIGN_KEYS: &[(&str, &str)] = &[
    ("cmd", "command"),
    ("script", "command"),
    ("exec", "command"),
    ("argv", "args"),
    ("arguments", "args"),
    ("directory", "cwd"),
    ("workdir", "cwd"),
    ("working_dir", "cwd"),
    ("working_directory", "cwd"),
    ("environment", "env"),
    ("startsecs", "min_uptime"),
    ("startretries", "max_restarts"),
    ("stopwaitsecs", "stop_timeout"),
    ("kill_timeout", "stop_timeout"),
    ("healthcheck", "liveness"),
    ("depends", "depends_on"),
    ("after", "depends_on"),
];

const PROBE_KEYS: &[&str] = &[
    "exec",
    "tcp",
    "http",
    "interval",
    "timeout",
    "failure_threshold",
    "success_threshold",
    "initial_delay",
];

const LIMITS_KEYS: &[&str] = &["memory", "runtime", "procs", "on_limit"];

const LOG_KEYS: &[&str] = &["max_size", "keep"];

/// SPEC §4 event names, the keys `hooks` accepts.
pub const EVENTS: &[&str] = &[
    "starting",
    "started",
    "ready",
    "unready",
    "healthy",
    "unhealthy",
    "exited",
    "backoff",
    "stopping",
    "stopped",
    "breaker_open",
    "gave_up",
    "reset",
    "reload",
    "shutdown",
];

/// The per-process flags of `tend run -- CMD` (the keys `cli` puts in
/// `RunArgs::proc_flags`).
pub const PROC_FLAGS: &[&str] = &[
    "name",
    "restart",
    "restart_delay",
    "backoff_max",
    "backoff_factor",
    "min_uptime",
    "max_restarts",
    "restart_window",
    "breaker_cooldown",
    "stop_signal",
    "stop_timeout",
    "cwd",
    "env",
    "user",
    "health_cmd",
    "health_tcp",
    "health_http",
    "health_interval",
    "health_timeout",
    "health_retries",
    "health_start_period",
];

const DUR_FILE: &str = "a duration like 250ms, 10s, 1m30s or integer milliseconds";
const DUR_FLAG: &str = "a duration like 250ms, 10s or 1m30s";
const SIZE_FILE: &str = "a size like 512KiB, 10MiB, 1GB or integer bytes";
const HOST_PORT: &str = "HOST:PORT like 127.0.0.1:3000 or [::1]:3000";
const HTTP_URL: &str = "a URL like http://127.0.0.1:3000/health";
const HTTPS_MSG: &str = "https is not supported; use http:// (probes are plain HTTP)";

const USAGE: &str = "nothing to run: no -c FILE, no -- CMD, and no tend.json here
usage: tend run [OPTIONS] [-c FILE] [-- CMD [ARG...]]
  tend run -- node server.js        supervise one command
  tend run -c tend.json             supervise the processes in a config file
a minimal tend.json:
  {\"processes\": [{\"name\": \"web\", \"command\": \"node\", \"args\": [\"server.js\"]}]}";

// ---------------------------------------------------------------------------
// Entry points

/// Pick the source of `tend run`: `-- CMD` → flags; else `-c FILE` or
/// `./tend.json`; both or neither → a usage error. `cwd` is the current
/// directory (relative paths on the command line are taken from it).
pub fn plan_for_run(run: &RunArgs, cwd: &Path) -> Result<Plan, Vec<ConfigError>> {
    if run.config.is_some() && !run.cmd.is_empty() {
        return Err(vec![ConfigError::Usage(
            "-c FILE and -- CMD cannot be combined: put the command in the config file, or drop -c"
                .to_string(),
        )]);
    }
    if !run.cmd.is_empty() {
        return plan_from_flags(run, cwd);
    }
    let (shown, path) = match &run.config {
        // Absolute, so that `Plan::source` still names the file for a
        // reload whatever the current directory is by then.
        Some(p) => (
            p.clone(),
            std::path::absolute(cwd.join(p)).unwrap_or(cwd.join(p)),
        ),
        None => {
            let p = cwd.join("tend.json");
            if !p.exists() {
                return Err(vec![ConfigError::Usage(USAGE.to_string())]);
            }
            (PathBuf::from("tend.json"), p)
        }
    };
    let mut errors = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (key, _) in &run.proc_flags {
        if seen.contains(key) {
            continue;
        }
        seen.push(key);
        let file_key = if key.starts_with("health_") {
            "liveness"
        } else {
            key
        };
        errors.push(ConfigError::Rule {
            origin: COMMAND_LINE.to_string(),
            key: flag_name(key),
            message: format!(
                "only applies to `tend run -- CMD`; set \"{file_key}\" in the config file"
            ),
        });
    }
    let mut ctx = Ctx::new(COMMAND_LINE, true);
    let stop_file = run.stop_file.as_ref().map(|p| cwd.join(p));
    let http = run
        .http
        .as_ref()
        .and_then(|h| ctx.listen_addr("--http", &Value::String(h.clone())));
    errors.append(&mut ctx.errors);
    match file_plan(&shown, &path) {
        Ok(mut plan) if errors.is_empty() => {
            if stop_file.is_some() {
                plan.stop_file = stop_file;
            }
            if http.is_some() {
                plan.http = http;
            }
            Ok(plan)
        }
        Ok(_) => Err(errors),
        Err(mut file_errors) => {
            errors.append(&mut file_errors);
            Err(errors)
        }
    }
}

/// A plan from a config file. Errors name the file as given; `cwd` and
/// `stop_file` are resolved against the file's (absolute) directory, and
/// `Plan::source` is the absolute path, so a reload finds it again.
pub fn plan_from_file(path: &Path) -> Result<Plan, Vec<ConfigError>> {
    let abs = std::path::absolute(path).map_err(|error| {
        vec![ConfigError::Io {
            path: path.to_path_buf(),
            error,
        }]
    })?;
    file_plan(path, &abs)
}

fn file_plan(shown: &Path, abs: &Path) -> Result<Plan, Vec<ConfigError>> {
    let v = crate::config::load(abs).map_err(|e| {
        // Name the file as the user wrote it, not its absolute form.
        vec![match e {
            ConfigError::Io { error, .. } => ConfigError::Io {
                path: shown.to_path_buf(),
                error,
            },
            ConfigError::Syntax {
                line,
                column,
                message,
                ..
            } => ConfigError::Syntax {
                path: shown.to_path_buf(),
                line,
                column,
                message,
            },
            ConfigError::Invalid {
                key,
                value,
                expected,
                ..
            } => ConfigError::Invalid {
                origin: shown.display().to_string(),
                key,
                value,
                expected,
            },
            other => other,
        }]
    })?;
    let base = abs.parent().unwrap_or(Path::new("/"));
    let mut plan = plan_from_value(&v, &shown.display().to_string(), base)?;
    plan.source = Some(abs.to_path_buf());
    Ok(plan)
}

/// A plan from a parsed config document. `origin` names it in errors;
/// relative `cwd` and `stop_file` are joined to `base_dir`. `source` is
/// left None (the caller knows the file).
pub fn plan_from_value(v: &Value, origin: &str, base_dir: &Path) -> Result<Plan, Vec<ConfigError>> {
    let mut ctx = Ctx::new(origin, false);
    let plan = ctx.top(v, base_dir);
    if ctx.errors.is_empty() {
        Ok(plan)
    } else {
        Err(ctx.errors)
    }
}

/// Single-command mode, `tend run [FLAGS] -- CMD ARG...`: one process
/// configured by `run.proc_flags`, the tini role (`single`).
pub fn plan_from_flags(run: &RunArgs, cwd: &Path) -> Result<Plan, Vec<ConfigError>> {
    let mut ctx = Ctx::new(COMMAND_LINE, true);
    let mut plan = Plan {
        source: None,
        single: true,
        processes: Vec::new(),
        stop_file: run.stop_file.as_ref().map(|p| cwd.join(p)),
        tick: DEFAULT_TICK,
        http: None,
        hooks: Vec::new(),
    };
    if let Some(h) = &run.http {
        plan.http = ctx.listen_addr("--http", &Value::String(h.clone()));
    }
    let Some((cmd, args)) = run.cmd.split_first() else {
        ctx.errors
            .push(ConfigError::Usage("missing command after --".to_string()));
        return Err(ctx.errors);
    };
    if cmd.is_empty() || cmd.contains('\0') {
        ctx.push_invalid("CMD", &Value::String(cmd.clone()), "a command name or path");
    }
    if let Some(i) = args.iter().position(|a| a.contains('\0')) {
        ctx.push_invalid(
            "ARG",
            &Value::String(args[i].clone()),
            "an argument without NUL bytes",
        );
    }
    let mut spec = ProcSpec::with_defaults(&default_name(cmd), cmd);
    spec.args = args.to_vec();
    let mut given = Given::default();
    let mut health: Option<(String, ProbeKind)> = None;
    let mut probe = ProbeSpec::with_defaults(ProbeKind::Shell(String::new()));
    let mut probe_settings: Vec<String> = Vec::new();
    for (key, text) in &run.proc_flags {
        let flag = flag_name(key);
        let v = flag_value(key, text);
        match *key {
            "env" => match text.split_once('=') {
                Some((k, val)) if valid_env_name(k) && !val.contains('\0') => {
                    spec.env.push((k.to_string(), val.to_string()));
                }
                _ => ctx.push_invalid(&flag, &v, "KEY=VALUE"),
            },
            "health_cmd" | "health_tcp" | "health_http" => {
                let kind = match *key {
                    "health_cmd" => ctx.exec(&flag, &v),
                    "health_tcp" => ctx.tcp(&flag, &v),
                    _ => ctx.http(&flag, &v),
                };
                if let Some((prev, _)) = &health {
                    if *prev != flag {
                        ctx.errors.push(ConfigError::Conflict {
                            origin: ctx.origin.clone(),
                            key: flag.clone(),
                            other: prev.clone(),
                        });
                    }
                }
                if let Some(kind) = kind {
                    health = Some((flag, kind));
                }
            }
            "health_interval" => {
                probe_settings.push(flag.clone());
                if let Some(d) = ctx.duration_pos(&flag, &v) {
                    probe.interval = d;
                }
            }
            "health_timeout" => {
                probe_settings.push(flag.clone());
                if let Some(d) = ctx.duration_pos(&flag, &v) {
                    probe.timeout = d;
                }
            }
            "health_retries" => {
                probe_settings.push(flag.clone());
                if let Some(n) = ctx.int(&flag, &v, 1, u32::MAX.into(), "an integer >= 1") {
                    probe.failure_threshold = n as u32;
                }
            }
            "health_start_period" => {
                probe_settings.push(flag.clone());
                if let Some(d) = ctx.duration(&flag, &v) {
                    probe.initial_delay = d;
                }
            }
            _ if PROC_FLAGS.contains(key) => {
                ctx.proc_field(&mut spec, &mut given, key, &flag, &v, cwd);
            }
            _ => ctx.errors.push(ConfigError::UnknownKey {
                origin: ctx.origin.clone(),
                key: flag,
                suggestion: None,
            }),
        }
    }
    match health {
        Some((_, kind)) => {
            probe.kind = kind;
            spec.liveness = Some(probe);
        }
        None => {
            if let Some(flag) = probe_settings.first() {
                ctx.errors.push(ConfigError::Rule {
                    origin: ctx.origin.clone(),
                    key: flag.clone(),
                    message: "needs --health-cmd, --health-tcp or --health-http".to_string(),
                });
            }
        }
    }
    ctx.finish_restart(&mut spec, &given, &flag_name("backoff_max"));
    plan.processes.push(spec);
    if ctx.errors.is_empty() {
        Ok(plan)
    } else {
        Err(ctx.errors)
    }
}

/// `--restart-delay` for `restart_delay`.
fn flag_name(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// Flag text as the JSON value the shared field checks expect: numeric
/// flags become numbers when they parse as one (so `--max-restarts -1`
/// means unlimited), everything else stays a string.
fn flag_value(key: &str, text: &str) -> Value {
    if matches!(key, "backoff_factor" | "max_restarts" | "health_retries") {
        if let Ok(v @ Value::Number(_)) = serde_json::from_str::<Value>(text) {
            return v;
        }
    }
    Value::String(text.to_string())
}

/// The basename of CMD, with characters a name may not hold replaced.
fn default_name(cmd: &str) -> String {
    let base = Path::new(cmd)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = base
        .chars()
        .map(|c| if name_char(c) { c } else { '_' })
        .collect();
    if name.is_empty() {
        "cmd".to_string()
    } else {
        name
    }
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn valid_env_name(k: &str) -> bool {
    !k.is_empty() && !k.contains('=') && !k.contains('\0')
}

// ---------------------------------------------------------------------------
// The walk

/// Which optional process keys were given explicitly (defaults depend on
/// them).
#[derive(Default)]
struct Given {
    backoff_max: bool,
}

struct Ctx {
    origin: String,
    /// Flags, not a file: durations are strings only, and messages say so.
    flags: bool,
    errors: Vec<ConfigError>,
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

impl Ctx {
    fn new(origin: &str, flags: bool) -> Ctx {
        Ctx {
            origin: origin.to_string(),
            flags,
            errors: Vec::new(),
        }
    }

    fn push_invalid(&mut self, key: &str, v: &Value, expected: &str) {
        self.errors.push(ConfigError::Invalid {
            origin: self.origin.clone(),
            key: key.to_string(),
            value: show_value(v),
            expected: expected.to_string(),
        });
    }

    fn push_rule(&mut self, key: &str, message: impl Into<String>) {
        self.errors.push(ConfigError::Rule {
            origin: self.origin.clone(),
            key: key.to_string(),
            message: message.into(),
        });
    }

    /// Report every key of `map` not in `known` (nor an alias in
    /// `aliases`), suggesting the nearest known key.
    fn check_keys(
        &mut self,
        prefix: &str,
        map: &Map<String, Value>,
        known: &[&str],
        aliases: &[&str],
    ) {
        let all: Vec<&str> = known.iter().chain(aliases.iter()).copied().collect();
        // Only process objects take the other supervisors' key names.
        let foreign = if known == PROC_KEYS {
            FOREIGN_KEYS
        } else {
            &[]
        };
        for k in map.keys() {
            if all.contains(&k.as_str()) {
                continue;
            }
            let suggestion = foreign
                .iter()
                .find(|(f, _)| f.eq_ignore_ascii_case(k))
                .map(|(_, t)| (*t).to_string())
                .or_else(|| suggest(k, &all));
            self.errors.push(ConfigError::UnknownKey {
                origin: self.origin.clone(),
                key: join(prefix, k),
                suggestion,
            });
        }
    }

    fn object<'v>(
        &mut self,
        key: &str,
        v: &'v Value,
        expected: &str,
    ) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            _ => {
                self.push_invalid(key, v, expected);
                None
            }
        }
    }

    /// A non-empty string without NUL (argv and paths cannot hold one).
    fn string(&mut self, key: &str, v: &Value, expected: &str) -> Option<String> {
        match v {
            Value::String(s) if !s.is_empty() && !s.contains('\0') => Some(s.clone()),
            _ => {
                self.push_invalid(key, v, expected);
                None
            }
        }
    }

    /// An array of strings (each may be empty, none may hold NUL).
    fn strings(&mut self, key: &str, v: &Value, non_empty: bool) -> Option<Vec<String>> {
        let expected = if non_empty {
            "a non-empty array of strings"
        } else {
            "an array of strings"
        };
        let Value::Array(items) = v else {
            self.push_invalid(key, v, expected);
            return None;
        };
        if non_empty && items.is_empty() {
            self.push_invalid(key, v, expected);
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) if !s.contains('\0') => out.push(s.clone()),
                _ => {
                    self.push_invalid(&format!("{key}[{i}]"), item, "a string");
                    ok = false;
                }
            }
        }
        if non_empty && ok && out[0].is_empty() {
            self.push_invalid(&format!("{key}[0]"), &items[0], "a non-empty command");
            ok = false;
        }
        ok.then_some(out)
    }

    fn int(&mut self, key: &str, v: &Value, min: i64, max: i64, expected: &str) -> Option<i64> {
        match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.push_invalid(key, v, expected);
                None
            }
        }
    }

    fn dur_expected(&self) -> &'static str {
        if self.flags {
            DUR_FLAG
        } else {
            DUR_FILE
        }
    }

    /// A duration: a string with units, or (in files) integer milliseconds.
    fn duration(&mut self, key: &str, v: &Value) -> Option<Duration> {
        let d = match v {
            Value::String(s) => duration::parse(s).ok(),
            Value::Number(_) if !self.flags => v
                .as_u64()
                .map(Duration::from_millis)
                .filter(|d| *d <= duration::MAX),
            _ => None,
        };
        if d.is_none() {
            let expected = self.dur_expected();
            self.push_invalid(key, v, expected);
        }
        d
    }

    /// A duration greater than zero.
    fn duration_pos(&mut self, key: &str, v: &Value) -> Option<Duration> {
        let d = self.duration(key, v)?;
        if d.is_zero() {
            let expected = format!("a duration greater than 0 ({})", self.dur_expected());
            self.push_invalid(key, v, &expected);
            return None;
        }
        Some(d)
    }

    fn size(&mut self, key: &str, v: &Value, min: u64, expected: &str) -> Option<u64> {
        let n = match v {
            Value::String(s) => size::parse(s).ok(),
            Value::Number(_) => v.as_u64(),
            _ => None,
        };
        match n {
            Some(n) if n >= min => Some(n),
            _ => {
                self.push_invalid(key, v, expected);
                None
            }
        }
    }

    fn listen_addr(&mut self, key: &str, v: &Value) -> Option<String> {
        let s = self.string(key, v, HOST_PORT)?;
        match split_host_port(&s, None) {
            Ok(_) => Some(s),
            Err(()) => {
                self.push_invalid(key, v, HOST_PORT);
                None
            }
        }
    }

    fn exec(&mut self, key: &str, v: &Value) -> Option<ProbeKind> {
        match v {
            Value::Array(_) => self.strings(key, v, true).map(ProbeKind::Exec),
            _ => self
                .string(
                    key,
                    v,
                    "an argv array like [\"./check.sh\"] or a shell command string",
                )
                .map(ProbeKind::Shell),
        }
    }

    fn tcp(&mut self, key: &str, v: &Value) -> Option<ProbeKind> {
        let s = self.string(key, v, HOST_PORT)?;
        match split_host_port(&s, None) {
            Ok((host, port)) => Some(ProbeKind::Tcp { host, port }),
            Err(()) => {
                self.push_invalid(key, v, HOST_PORT);
                None
            }
        }
    }

    fn http(&mut self, key: &str, v: &Value) -> Option<ProbeKind> {
        let s = self.string(key, v, HTTP_URL)?;
        match parse_http_url(&s) {
            Ok(kind) => Some(kind),
            Err(UrlError::Https) => {
                self.push_rule(key, HTTPS_MSG);
                None
            }
            Err(UrlError::Bad) => {
                self.push_invalid(key, v, HTTP_URL);
                None
            }
        }
    }

    // -- top level ---------------------------------------------------------

    fn top(&mut self, v: &Value, base: &Path) -> Plan {
        let mut plan = Plan {
            source: None,
            single: false,
            processes: Vec::new(),
            stop_file: None,
            tick: DEFAULT_TICK,
            http: None,
            hooks: Vec::new(),
        };
        let Some(map) = self.object("", v, "a JSON object like {\"processes\": [...]}") else {
            return plan;
        };
        self.check_keys("", map, TOP_KEYS, &[]);
        match map.get("stop_file") {
            None | Some(Value::Null) => {}
            Some(v) => {
                plan.stop_file = self
                    .string("stop_file", v, "a file path")
                    .map(|s| base.join(s));
            }
        }
        match map.get("tick") {
            None | Some(Value::Null) => {}
            Some(v) => {
                if let Some(d) = self.duration_pos("tick", v) {
                    plan.tick = d;
                }
            }
        }
        match map.get("http") {
            None | Some(Value::Null) => {}
            Some(v) => plan.http = self.listen_addr("http", v),
        }
        match map.get("hooks") {
            None | Some(Value::Null) => {}
            Some(v) => plan.hooks = self.hooks(v),
        }
        match map.get("processes") {
            None => self.errors.push(ConfigError::Missing {
                origin: self.origin.clone(),
                key: "processes".to_string(),
            }),
            Some(Value::Array(items)) if !items.is_empty() => {
                let mut dep_keys = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let prefix = format!("processes[{i}]");
                    let (spec, deps) = self.process(&prefix, item, base);
                    plan.processes.push(spec);
                    dep_keys.push(deps);
                }
                self.check_names(&plan.processes);
                self.check_deps(&plan.processes, &dep_keys);
            }
            Some(v) => self.push_invalid(
                "processes",
                v,
                "a non-empty array of processes like [{\"name\": \"web\", \"command\": \"node\"}]",
            ),
        }
        plan
    }

    fn hooks(&mut self, v: &Value) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        let Some(map) = self.object("hooks", v, "an object of event name to argv array") else {
            return out;
        };
        for (event, argv) in map {
            let key = format!("hooks.{event}");
            if !EVENTS.contains(&event.as_str()) {
                self.errors.push(ConfigError::UnknownKey {
                    origin: self.origin.clone(),
                    key,
                    suggestion: suggest(event, EVENTS),
                });
                continue;
            }
            if let Some(argv) = self.strings(&key, argv, true) {
                out.push((event.clone(), argv));
            }
        }
        out
    }

    // -- one process -------------------------------------------------------

    /// Returns the spec and, per dependency, the key path it was given at
    /// (for messages about unknown names and cycles).
    fn process(&mut self, prefix: &str, v: &Value, base: &Path) -> (ProcSpec, Vec<String>) {
        let mut spec = ProcSpec::with_defaults("", "");
        let mut dep_keys = Vec::new();
        let Some(map) = self.object(
            prefix,
            v,
            "an object with at least \"name\" and \"command\"",
        ) else {
            return (spec, dep_keys);
        };
        let aliases: Vec<&str> = ALIASES.iter().map(|(a, _)| *a).collect();
        self.check_keys(prefix, map, PROC_KEYS, &aliases);
        for required in ["name", "command"] {
            if !map.contains_key(required) {
                self.errors.push(ConfigError::Missing {
                    origin: self.origin.clone(),
                    key: join(prefix, required),
                });
            }
        }
        let mut given = Given::default();
        for key in PROC_KEYS {
            let Some(v) = map.get(*key) else { continue };
            // null means "the default" for every optional key, so that the
            // normalized output of `tend check` (which writes null for
            // "none") reads back as the same plan.
            if v.is_null() && !matches!(*key, "name" | "command") {
                continue;
            }
            let path = join(prefix, key);
            if *key == "depends_on" {
                dep_keys = self.depends_on(&path, v, &mut spec);
                continue;
            }
            self.proc_field(&mut spec, &mut given, key, &path, v, base);
        }
        for (alias, key) in ALIASES {
            let Some(v) = map.get(*alias) else { continue };
            if v.is_null() {
                continue;
            }
            let path = join(prefix, alias);
            if map.get(*key).is_some_and(|k| !k.is_null()) {
                self.errors.push(ConfigError::Conflict {
                    origin: self.origin.clone(),
                    key: path,
                    other: (*key).to_string(),
                });
                continue;
            }
            self.proc_field(&mut spec, &mut given, alias, &path, v, base);
        }
        self.finish_restart(&mut spec, &given, &join(prefix, "backoff_max"));
        (spec, dep_keys)
    }

    /// `backoff_max` below `restart_delay` makes no sense: an error when
    /// both were written, silently raised when `backoff_max` is a default.
    fn finish_restart(&mut self, spec: &mut ProcSpec, given: &Given, key: &str) {
        if spec.backoff_max >= spec.restart_delay {
            return;
        }
        if given.backoff_max {
            let v = Value::String(duration::format(spec.backoff_max));
            let expected = format!(
                "a duration of at least restart_delay ({})",
                duration::format(spec.restart_delay)
            );
            self.push_invalid(key, &v, &expected);
        } else {
            spec.backoff_max = spec.restart_delay;
        }
    }

    /// One process key shared by files and flags. `key` is the config key
    /// (or alias); `path` is what messages call it.
    fn proc_field(
        &mut self,
        spec: &mut ProcSpec,
        given: &mut Given,
        key: &str,
        path: &str,
        v: &Value,
        base: &Path,
    ) {
        match key {
            "name" => {
                if let Some(s) = self.string(path, v, "a name of letters, digits, '_', '.' or '-'")
                {
                    if s.chars().all(name_char) {
                        spec.name = s;
                    } else {
                        self.push_invalid(path, v, "a name of letters, digits, '_', '.' or '-'");
                    }
                }
            }
            "command" => {
                if let Some(s) = self.string(path, v, "a command name or path") {
                    spec.command = s;
                }
            }
            "args" => {
                if let Some(a) = self.strings(path, v, false) {
                    spec.args = a;
                }
            }
            "cwd" => {
                if let Some(s) = self.string(path, v, "a directory path") {
                    spec.cwd = Some(base.join(s));
                }
            }
            "env" => {
                let Some(map) = self.object(path, v, "an object of name to string value") else {
                    return;
                };
                for (k, val) in map {
                    let kpath = format!("{path}.{k}");
                    if !valid_env_name(k) {
                        self.push_invalid(
                            path,
                            &Value::String(k.clone()),
                            "variable names without '=' or NUL",
                        );
                        continue;
                    }
                    match val {
                        Value::String(s) if !s.contains('\0') => {
                            spec.env.push((k.clone(), s.clone()));
                        }
                        Value::Number(_) | Value::Bool(_) => {
                            let expected = format!("a string (write \"{val}\")");
                            self.push_invalid(&kpath, val, &expected);
                        }
                        _ => self.push_invalid(&kpath, val, "a string"),
                    }
                }
            }
            "user" => {
                let expected = "a user, or user:group, like \"app\" or \"app:staff\"";
                if let Some(s) = self.string(path, v, expected) {
                    let (user, group) = match s.split_once(':') {
                        Some((u, g)) => (u, Some(g)),
                        None => (s.as_str(), None),
                    };
                    let ok = |p: &str| !p.is_empty() && !p.contains([':', ' ', '\t', '\n']);
                    if ok(user) && group.is_none_or(ok) {
                        spec.user = Some(UserSpec {
                            user: user.to_string(),
                            group: group.map(str::to_string),
                        });
                    } else {
                        self.push_invalid(path, v, expected);
                    }
                }
            }
            "restart" => match v.as_str() {
                Some("always") => spec.restart = RestartPolicy::Always,
                Some("on-failure") => spec.restart = RestartPolicy::OnFailure,
                Some("never") => spec.restart = RestartPolicy::Never,
                _ => self.push_invalid(path, v, "one of \"always\", \"on-failure\", \"never\""),
            },
            "autoRestart" => match v {
                Value::Bool(true) => spec.restart = RestartPolicy::Always,
                Value::Bool(false) => spec.restart = RestartPolicy::Never,
                _ => self.push_invalid(path, v, "true or false"),
            },
            "restart_delay" | "restartDelay" => {
                if let Some(d) = self.duration(path, v) {
                    spec.restart_delay = d;
                }
            }
            "backoff_max" => {
                given.backoff_max = true;
                if let Some(d) = self.duration(path, v) {
                    spec.backoff_max = d;
                }
            }
            "backoff_factor" => match v.as_f64() {
                Some(f) if f >= 1.0 && f.is_finite() && v.is_number() => spec.backoff_factor = f,
                _ => self.push_invalid(path, v, "a number >= 1"),
            },
            "min_uptime" => {
                if let Some(d) = self.duration(path, v) {
                    spec.min_uptime = d;
                }
            }
            "max_restarts" | "maxRestarts" => {
                if let Some(n) = self.int(
                    path,
                    v,
                    -1,
                    u32::MAX.into(),
                    "an integer >= 0, or -1 for unlimited",
                ) {
                    spec.max_restarts = u32::try_from(n).ok();
                }
            }
            "restart_window" => {
                if let Some(d) = self.duration_pos(path, v) {
                    spec.restart_window = d;
                }
            }
            "breaker_cooldown" => {
                if let Some(d) = self.duration(path, v) {
                    spec.breaker_cooldown = Some(d);
                }
            }
            "success_exit_codes" => {
                let Value::Array(items) = v else {
                    self.push_invalid(path, v, "a non-empty array of exit codes 0-255");
                    return;
                };
                if items.is_empty() {
                    self.push_invalid(path, v, "a non-empty array of exit codes 0-255");
                    return;
                }
                let mut codes = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if let Some(n) =
                        self.int(&format!("{path}[{i}]"), item, 0, 255, "an exit code 0-255")
                    {
                        codes.push(n as i32);
                    }
                }
                spec.success_exit_codes = codes;
            }
            "stop_signal" => {
                let sig = match v {
                    Value::String(s) => signal::parse(s),
                    Value::Number(_) => v
                        .as_i64()
                        .filter(|n| (1..=64).contains(n))
                        .map(|n| n as i32),
                    _ => None,
                };
                match sig {
                    Some(n) => spec.stop_signal = n,
                    None => self.push_invalid(
                        path,
                        v,
                        "a signal name like \"TERM\" or \"SIGINT\", or a number 1-64",
                    ),
                }
            }
            "stop_timeout" => {
                if let Some(d) = self.duration(path, v) {
                    spec.stop_timeout = d;
                }
            }
            "startup" => spec.startup = self.probe(path, v, false),
            "liveness" => spec.liveness = self.probe(path, v, false),
            "readiness" => spec.readiness = self.probe(path, v, true),
            "limits" => {
                if let Some(l) = self.limits(path, v) {
                    spec.limits = l;
                }
            }
            "log" => {
                if let Some(l) = self.log(path, v) {
                    spec.log = l;
                }
            }
            // Keys are filtered by the callers; a new key missing here is a
            // bug worth a loud message rather than a silent default.
            other => self.push_rule(path, format!("internal: no check for key \"{other}\"")),
        }
    }

    fn probe(&mut self, path: &str, v: &Value, readiness: bool) -> Option<ProbeSpec> {
        let map = self.object(
            path,
            v,
            "an object with one of \"exec\", \"tcp\" or \"http\"",
        )?;
        self.check_keys(path, map, PROBE_KEYS, &[]);
        let kinds: Vec<&str> = ["exec", "tcp", "http"]
            .into_iter()
            .filter(|k| map.get(*k).is_some_and(|v| !v.is_null()))
            .collect();
        let mut kind = None;
        match kinds.as_slice() {
            [] => self.push_invalid(
                path,
                v,
                "an object with one of \"exec\", \"tcp\" or \"http\"",
            ),
            [k, rest @ ..] => {
                for other in rest {
                    self.errors.push(ConfigError::Conflict {
                        origin: self.origin.clone(),
                        key: join(path, other),
                        other: (*k).to_string(),
                    });
                }
                let kpath = join(path, k);
                let kv = &map[*k];
                kind = match *k {
                    "exec" => self.exec(&kpath, kv),
                    "tcp" => self.tcp(&kpath, kv),
                    _ => self.http(&kpath, kv),
                };
            }
        }
        let mut p = ProbeSpec::with_defaults(ProbeKind::Shell(String::new()));
        let get = |k: &str| map.get(k).filter(|v| !v.is_null());
        if let Some(v) = get("interval") {
            if let Some(d) = self.duration_pos(&join(path, "interval"), v) {
                p.interval = d;
            }
        }
        if let Some(v) = get("timeout") {
            if let Some(d) = self.duration_pos(&join(path, "timeout"), v) {
                p.timeout = d;
            }
        }
        if let Some(v) = get("initial_delay") {
            if let Some(d) = self.duration(&join(path, "initial_delay"), v) {
                p.initial_delay = d;
            }
        }
        if let Some(v) = get("failure_threshold") {
            if let Some(n) = self.int(
                &join(path, "failure_threshold"),
                v,
                1,
                u32::MAX.into(),
                "an integer >= 1",
            ) {
                p.failure_threshold = n as u32;
            }
        }
        if let Some(v) = get("success_threshold") {
            let key = join(path, "success_threshold");
            if let Some(n) = self.int(&key, v, 1, u32::MAX.into(), "an integer >= 1") {
                if readiness || n == 1 {
                    p.success_threshold = n as u32;
                } else {
                    self.push_invalid(
                        &key,
                        v,
                        "1 (only a readiness probe may require several successes)",
                    );
                }
            }
        }
        p.kind = kind?;
        Some(p)
    }

    fn limits(&mut self, path: &str, v: &Value) -> Option<Limits> {
        let map = self.object(path, v, "an object with memory, runtime, procs or on_limit")?;
        self.check_keys(path, map, LIMITS_KEYS, &[]);
        let mut l = Limits::default();
        let get = |k: &str| map.get(k).filter(|v| !v.is_null());
        if let Some(v) = get("memory") {
            l.memory = self.size(&join(path, "memory"), v, 1, SIZE_FILE);
        }
        if let Some(v) = get("runtime") {
            l.runtime = self.duration_pos(&join(path, "runtime"), v);
        }
        if let Some(v) = get("procs") {
            l.procs = self
                .int(
                    &join(path, "procs"),
                    v,
                    1,
                    u32::MAX.into(),
                    "an integer >= 1",
                )
                .map(|n| n as u32);
        }
        if let Some(v) = get("on_limit") {
            match v.as_str() {
                Some("restart") => l.on_limit = OnLimit::Restart,
                Some("stop") => l.on_limit = OnLimit::Stop,
                _ => self.push_invalid(&join(path, "on_limit"), v, "\"restart\" or \"stop\""),
            }
        }
        Some(l)
    }

    fn log(&mut self, path: &str, v: &Value) -> Option<LogSpec> {
        let map = self.object(path, v, "an object with max_size or keep")?;
        self.check_keys(path, map, LOG_KEYS, &[]);
        let mut l = LogSpec::default();
        let get = |k: &str| map.get(k).filter(|v| !v.is_null());
        if let Some(v) = get("max_size") {
            if let Some(n) = self.size(
                &join(path, "max_size"),
                v,
                1024,
                "a size of at least 1KiB, like 10MiB, or integer bytes",
            ) {
                l.max_size = n;
            }
        }
        if let Some(v) = get("keep") {
            if let Some(n) = self.int(
                &join(path, "keep"),
                v,
                0,
                u32::MAX.into(),
                "an integer >= 0",
            ) {
                l.keep = n as u32;
            }
        }
        Some(l)
    }

    /// Fill `spec.depends_on`; returns the key path of each entry. Names
    /// are resolved later, once every process is known.
    fn depends_on(&mut self, path: &str, v: &Value, spec: &mut ProcSpec) -> Vec<String> {
        let mut keys = Vec::new();
        let Some(map) = self.object(
            path,
            v,
            "an object of process name to \"started\", \"ready\" or \"healthy\"",
        ) else {
            return keys;
        };
        for (name, cond) in map {
            let key = format!("{path}.{name}");
            let c = match cond.as_str() {
                Some("started") => DepCondition::Started,
                Some("ready") => DepCondition::Ready,
                Some("healthy") => DepCondition::Healthy,
                _ => {
                    self.push_invalid(&key, cond, "\"started\", \"ready\" or \"healthy\"");
                    continue;
                }
            };
            spec.depends_on.push((name.clone(), c));
            keys.push(key);
        }
        keys
    }

    fn check_names(&mut self, procs: &[ProcSpec]) {
        let mut first: HashMap<&str, usize> = HashMap::new();
        for (i, p) in procs.iter().enumerate() {
            if p.name.is_empty() {
                continue;
            }
            if let Some(&j) = first.get(p.name.as_str()) {
                self.errors.push(ConfigError::Duplicate {
                    origin: self.origin.clone(),
                    key: format!("processes[{i}].name"),
                    name: p.name.clone(),
                    first: format!("processes[{j}]"),
                });
            } else {
                first.insert(&p.name, i);
            }
        }
    }

    /// Unknown names, self-dependencies, `healthy` on a process with no
    /// probe to become healthy by, and cycles.
    fn check_deps(&mut self, procs: &[ProcSpec], dep_keys: &[Vec<String>]) {
        let index: HashMap<&str, usize> = procs
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.name.is_empty())
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        let names: Vec<&str> = index.keys().copied().collect();
        // Edges that point at a real other process, for the cycle search.
        let mut edges: Vec<Vec<usize>> = vec![Vec::new(); procs.len()];
        for (i, p) in procs.iter().enumerate() {
            for ((dep, cond), key) in p.depends_on.iter().zip(&dep_keys[i]) {
                if !p.name.is_empty() && *dep == p.name {
                    self.push_rule(key, "a process cannot depend on itself");
                    continue;
                }
                let Some(&j) = index.get(dep.as_str()) else {
                    self.errors.push(ConfigError::UnknownProcess {
                        origin: self.origin.clone(),
                        key: key.clone(),
                        name: dep.clone(),
                        suggestion: suggest(dep, &names),
                    });
                    continue;
                };
                let target = &procs[j];
                if *cond == DepCondition::Healthy
                    && target.liveness.is_none()
                    && target.startup.is_none()
                {
                    self.push_rule(
                        key,
                        format!(
                            "\"{dep}\" has no liveness or startup probe, so it never becomes healthy; use \"ready\" or \"started\""
                        ),
                    );
                }
                edges[i].push(j);
            }
        }
        for cycle in find_cycles(&edges) {
            let names: Vec<String> = cycle.iter().map(|&i| procs[i].name.clone()).collect();
            self.errors.push(ConfigError::Cycle {
                origin: self.origin.clone(),
                key: format!("processes[{}].depends_on", cycle[0]),
                cycle: names,
            });
        }
    }
}

/// Every cycle found by a depth-first search, each as node indices with
/// the first repeated at the end (`a -> b -> a`). One cycle per back edge,
/// which is each distinct cycle in the graphs configs produce.
fn find_cycles(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    fn visit(
        n: usize,
        edges: &[Vec<usize>],
        mark: &mut [Mark],
        stack: &mut Vec<usize>,
        out: &mut Vec<Vec<usize>>,
    ) {
        mark[n] = Mark::OnStack;
        stack.push(n);
        for &m in &edges[n] {
            match mark[m] {
                Mark::New => visit(m, edges, mark, stack, out),
                Mark::OnStack => {
                    if let Some(pos) = stack.iter().position(|&x| x == m) {
                        let mut cycle = stack[pos..].to_vec();
                        cycle.push(m);
                        out.push(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        mark[n] = Mark::Done;
    }
    let mut mark = vec![Mark::New; edges.len()];
    let mut out = Vec::new();
    for n in 0..edges.len() {
        if mark[n] == Mark::New {
            visit(n, edges, &mut mark, &mut Vec::new(), &mut out);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Addresses

/// `HOST:PORT`, `[IPv6]:PORT`; with `default_port`, the port may be
/// omitted. The host is returned without brackets.
fn split_host_port(s: &str, default_port: Option<u16>) -> Result<(String, u16), ()> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or(())?;
        let ok = h.contains(':')
            && h.chars().all(|c| {
                c.is_ascii_hexdigit() || matches!(c, ':' | '.' | '%') || c.is_ascii_alphanumeric()
            });
        if !ok {
            return Err(());
        }
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(()),
        };
        (h, port)
    } else {
        let (h, p) = match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        let ok = !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !ok {
            return Err(());
        }
        (h, p)
    };
    let port = match port {
        Some(p) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(());
            }
            p.parse::<u16>().map_err(|_| ())?
        }
        None => default_port.ok_or(())?,
    };
    if port == 0 {
        return Err(());
    }
    Ok((host.to_string(), port))
}

enum UrlError {
    Https,
    Bad,
}

/// `http://host[:port][/path]`; port 80 and path `/` by default.
fn parse_http_url(s: &str) -> Result<ProbeKind, UrlError> {
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(UrlError::Https);
    }
    if !lower.starts_with("http://") {
        return Err(UrlError::Bad);
    }
    let rest = &s["http://".len()..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err(UrlError::Bad);
    }
    let (host, port) = split_host_port(authority, Some(80)).map_err(|_| UrlError::Bad)?;
    // The fragment is never sent.
    let tail = tail.split('#').next().unwrap_or("");
    if tail.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::Bad);
    }
    let path = if tail.is_empty() {
        "/".to_string()
    } else if tail.starts_with('?') {
        format!("/{tail}")
    } else {
        tail.to_string()
    };
    Ok(ProbeKind::Http {
        url: s.to_string(),
        host,
        port,
        path,
    })
}

// ---------------------------------------------------------------------------
// Did you mean

/// The known key nearest to `key`: the same word ignoring case, `_` and `-`
/// (`stopSignal` → `stop_signal`), else the closest within edit distance 2
/// (1 for keys shorter than 4 characters).
fn suggest(key: &str, known: &[&str]) -> Option<String> {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-'))
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let nk = norm(key);
    if let Some(k) = known.iter().find(|k| norm(k) == nk && !k.is_empty()) {
        return Some((*k).to_string());
    }
    let limit = if key.chars().count() >= 4 { 2 } else { 1 };
    let lk = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lk, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.to_string())
}

/// Edit distance counting a swap of two neighbours as one edit (optimal
/// string alignment), since `bd` for `db` is one slip, not two.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

// ---------------------------------------------------------------------------
// Normalized form for `tend check`

/// The plan as a config document with every default written out, in SPEC
/// §2 key names: durations and sizes as canonical strings, "none" as null,
/// unlimited `max_restarts` as -1. Feeding it back through
/// `plan_from_value` gives the same plan.
pub fn normalized_json(plan: &Plan) -> Value {
    let hooks: Map<String, Value> = plan
        .hooks
        .iter()
        .map(|(e, argv)| (e.clone(), json!(argv)))
        .collect();
    json!({
        "processes": plan.processes.iter().map(proc_json).collect::<Vec<_>>(),
        "stop_file": plan.stop_file.as_ref().map(|p| p.to_string_lossy().into_owned()),
        "tick": duration::format(plan.tick),
        "http": plan.http,
        "hooks": hooks,
    })
}

/// `normalized_json` as text for `tend check`: two-space indented, keys in
/// SPEC §2 order (serde_json's map sorts them alphabetically, which would
/// put `name` in the middle of a process), arrays of scalars on one line.
/// User-named keys (env variables, dependency names, hook events) stay in
/// sorted order. Ends with a newline.
pub fn normalized_text(plan: &Plan) -> String {
    let mut out = String::new();
    write_json(&normalized_json(plan), 0, true, &mut out);
    out.push('\n');
    out
}

/// Where a key goes in `tend check` output below the top level: the order
/// of the key lists validation uses, which is SPEC §2's (keys of different
/// objects never meet, so one rank serves all of them).
fn key_rank(k: &str) -> usize {
    [PROC_KEYS, PROBE_KEYS, LIMITS_KEYS, LOG_KEYS]
        .iter()
        .find_map(|list| list.iter().position(|o| *o == k))
        .unwrap_or(usize::MAX)
}

fn write_json(v: &Value, indent: usize, ordered: bool, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    match v {
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            if ordered {
                // The top level has its own order (its `http` is not a
                // probe's).
                if indent == 0 {
                    keys.sort_by_key(|k| {
                        TOP_KEYS.iter().position(|o| o == k).unwrap_or(usize::MAX)
                    });
                } else {
                    keys.sort_by_key(|k| key_rank(k));
                }
            }
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push_str(": ");
                let child_ordered = !matches!(k.as_str(), "env" | "depends_on" | "hooks");
                write_json(&m[k.as_str()], indent + 1, ordered && child_ordered, out);
                if i + 1 < keys.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            let parts: Vec<String> = items.iter().map(Value::to_string).collect();
            out.push('[');
            out.push_str(&parts.join(", "));
            out.push(']');
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                write_json(item, indent + 1, ordered, out);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn proc_json(p: &ProcSpec) -> Value {
    let env: Map<String, Value> = p
        .env
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let deps: Map<String, Value> = p
        .depends_on
        .iter()
        .map(|(n, c)| (n.clone(), Value::String(c.as_str().to_string())))
        .collect();
    // A name only when it reads back; real-time signals stay numbers.
    let sig_name = signal::name(p.stop_signal);
    let stop_signal = if signal::TABLE.iter().any(|(n, _)| *n == sig_name) {
        Value::String(sig_name)
    } else {
        json!(p.stop_signal)
    };
    json!({
        "name": p.name,
        "command": p.command,
        "args": p.args,
        "cwd": p.cwd.as_ref().map(|c| c.to_string_lossy().into_owned()),
        "env": env,
        "user": p.user.as_ref().map(|u| match &u.group {
            Some(g) => format!("{}:{g}", u.user),
            None => u.user.clone(),
        }),
        "restart": p.restart.as_str(),
        "restart_delay": duration::format(p.restart_delay),
        "backoff_max": duration::format(p.backoff_max),
        "backoff_factor": p.backoff_factor,
        "min_uptime": duration::format(p.min_uptime),
        "max_restarts": p.max_restarts.map_or(-1, i64::from),
        "restart_window": duration::format(p.restart_window),
        "breaker_cooldown": p.breaker_cooldown.map(duration::format),
        "success_exit_codes": p.success_exit_codes,
        "stop_signal": stop_signal,
        "stop_timeout": duration::format(p.stop_timeout),
        "startup": p.startup.as_ref().map(probe_json),
        "liveness": p.liveness.as_ref().map(probe_json),
        "readiness": p.readiness.as_ref().map(probe_json),
        "depends_on": deps,
        "limits": {
            "memory": p.limits.memory.map(size::format),
            "runtime": p.limits.runtime.map(duration::format),
            "procs": p.limits.procs,
            "on_limit": match p.limits.on_limit {
                OnLimit::Restart => "restart",
                OnLimit::Stop => "stop",
            },
        },
        "log": {
            "max_size": size::format(p.log.max_size),
            "keep": p.log.keep,
        },
    })
}

fn probe_json(p: &ProbeSpec) -> Value {
    let mut m = Map::new();
    let (k, v) = match &p.kind {
        ProbeKind::Exec(argv) => ("exec", json!(argv)),
        ProbeKind::Shell(s) => ("exec", json!(s)),
        ProbeKind::Tcp { host, port } => {
            let addr = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            ("tcp", json!(addr))
        }
        ProbeKind::Http { url, .. } => ("http", json!(url)),
    };
    m.insert(k.to_string(), v);
    m.insert("interval".into(), json!(duration::format(p.interval)));
    m.insert("timeout".into(), json!(duration::format(p.timeout)));
    m.insert("failure_threshold".into(), json!(p.failure_threshold));
    m.insert("success_threshold".into(), json!(p.success_threshold));
    m.insert(
        "initial_delay".into(),
        json!(duration::format(p.initial_delay)),
    );
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = r#"{
  "processes": [
    {
      "name": "web",
      "command": "node",
      "args": ["server.js"],
      "cwd": "/app",
      "env": {"PORT": "3000"},
      "user": "app",
      "restart": "always",
      "restart_delay": "1s",
      "backoff_max": "30s",
      "backoff_factor": 2,
      "min_uptime": "2s",
      "max_restarts": 10,
      "restart_window": "10m",
      "breaker_cooldown": "60s",
      "success_exit_codes": [0],
      "stop_signal": "TERM",
      "stop_timeout": "10s",
      "startup":   {"http": "http://127.0.0.1:3000/health", "interval": "1s", "failure_threshold": 30},
      "liveness":  {"http": "http://127.0.0.1:3000/health", "interval": "10s", "timeout": "5s", "failure_threshold": 3},
      "readiness": {"tcp": "127.0.0.1:3000", "interval": "5s"},
      "depends_on": {"db": "ready"},
      "limits": {"memory": "512MiB", "runtime": "6h", "procs": 64},
      "log": {"max_size": "10MiB", "keep": 5}
    }
  ],
  "stop_file": "STOP",
  "tick": "60s",
  "http": "127.0.0.1:9100",
  "hooks": {"gave_up": ["/usr/local/bin/alert", "{name}", "{error}"]}
}"#;

    const BASE: &str = "/etc/tend";

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn value(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn ok(text: &str) -> Plan {
        match plan_from_value(&value(text), "tend.json", Path::new(BASE)) {
            Ok(p) => p,
            Err(e) => panic!("unexpected errors: {:#?}", strings(&e)),
        }
    }

    fn strings(errors: &[ConfigError]) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    fn errs(text: &str) -> Vec<String> {
        match plan_from_value(&value(text), "tend.json", Path::new(BASE)) {
            Ok(p) => panic!("expected errors, got {p:#?}"),
            Err(e) => strings(&e),
        }
    }

    /// One process `{"name": "a", "command": "x", <extra>}`; the one error.
    fn err1(extra: &str) -> String {
        let e = errs(&format!(
            r#"{{"processes": [{{"name": "a", "command": "x", {extra}}}]}}"#
        ));
        assert_eq!(e.len(), 1, "{e:#?}");
        e[0].clone()
    }

    fn flags(cmd: &[&str], pf: &[(&'static str, &str)]) -> RunArgs {
        RunArgs {
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            proc_flags: pf.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            ..RunArgs::default()
        }
    }

    use crate::testutil::TempDir;

    // -- good configs ------------------------------------------------------

    #[test]
    fn spec_example_gives_the_expected_plan() {
        let text = SPEC_EXAMPLE.replace(r#""depends_on": {"db": "ready"},"#, "");
        // The example depends on a "db" it does not define; add one.
        let text = text.replace(
            "  ],\n  \"stop_file\"",
            "  ,{\"name\": \"db\", \"command\": \"postgres\"}],\n  \"stop_file\"",
        );
        let text = text.replace(
            r#""limits": {"memory""#,
            r#""depends_on": {"db": "ready"}, "limits": {"memory""#,
        );
        let plan = ok(&text);
        let http = ProbeKind::Http {
            url: "http://127.0.0.1:3000/health".to_string(),
            host: "127.0.0.1".to_string(),
            port: 3000,
            path: "/health".to_string(),
        };
        let mut web = ProcSpec::with_defaults("web", "node");
        web.args = vec!["server.js".to_string()];
        web.cwd = Some(PathBuf::from("/app"));
        web.env = vec![("PORT".to_string(), "3000".to_string())];
        web.user = Some(UserSpec {
            user: "app".to_string(),
            group: None,
        });
        web.min_uptime = secs(2);
        web.breaker_cooldown = Some(secs(60));
        web.startup = Some(ProbeSpec {
            interval: secs(1),
            failure_threshold: 30,
            ..ProbeSpec::with_defaults(http.clone())
        });
        web.liveness = Some(ProbeSpec::with_defaults(http));
        web.readiness = Some(ProbeSpec {
            interval: secs(5),
            ..ProbeSpec::with_defaults(ProbeKind::Tcp {
                host: "127.0.0.1".to_string(),
                port: 3000,
            })
        });
        web.depends_on = vec![("db".to_string(), DepCondition::Ready)];
        web.limits = Limits {
            memory: Some(512 * 1024 * 1024),
            runtime: Some(secs(6 * 3600)),
            procs: Some(64),
            on_limit: OnLimit::Restart,
        };
        let want = Plan {
            source: None,
            single: false,
            processes: vec![web, ProcSpec::with_defaults("db", "postgres")],
            stop_file: Some(PathBuf::from("/etc/tend/STOP")),
            tick: secs(60),
            http: Some("127.0.0.1:9100".to_string()),
            hooks: vec![(
                "gave_up".to_string(),
                vec![
                    "/usr/local/bin/alert".to_string(),
                    "{name}".to_string(),
                    "{error}".to_string(),
                ],
            )],
        };
        assert_eq!(plan, want);
        // Reading the normalized form back gives the same plan.
        let again =
            plan_from_value(&normalized_json(&plan), "check", Path::new("/elsewhere")).unwrap();
        assert_eq!(again, plan);
    }

    #[test]
    fn spec_example_as_is_only_lacks_db() {
        assert_eq!(
            errs(SPEC_EXAMPLE),
            vec!["tend.json: processes[0].depends_on.db: unknown process \"db\""]
        );
    }

    #[test]
    fn minimal_config_gets_every_default() {
        let plan = ok(r#"{"processes": [{"name": "w", "command": "./worker"}]}"#);
        assert_eq!(
            plan,
            Plan {
                source: None,
                single: false,
                processes: vec![ProcSpec::with_defaults("w", "./worker")],
                stop_file: None,
                tick: secs(60),
                http: None,
                hooks: Vec::new(),
            }
        );
        let n = normalized_json(&plan);
        let p = &n["processes"][0];
        assert_eq!(p["restart"], "always");
        assert_eq!(p["restart_delay"], "1s");
        assert_eq!(p["backoff_max"], "30s");
        assert_eq!(p["backoff_factor"], 2.0);
        assert_eq!(p["min_uptime"], "1s");
        assert_eq!(p["max_restarts"], 10);
        assert_eq!(p["restart_window"], "10m");
        assert_eq!(p["breaker_cooldown"], Value::Null);
        assert_eq!(p["success_exit_codes"], json!([0]));
        assert_eq!(p["stop_signal"], "TERM");
        assert_eq!(p["stop_timeout"], "10s");
        assert_eq!(p["log"], json!({"max_size": "10MiB", "keep": 5}));
        assert_eq!(
            p["limits"],
            json!({"memory": null, "runtime": null, "procs": null, "on_limit": "restart"})
        );
        assert_eq!(n["tick"], "1m");
        assert_eq!(n["stop_file"], Value::Null);
        assert_eq!(n["hooks"], json!({}));
        let again = plan_from_value(&n, "check", Path::new("/")).unwrap();
        assert_eq!(again, plan);
    }

    #[test]
    fn node_watchdog_aliases() {
        let plan = ok(r#"{"processes": [
                {"name": "a", "command": "x", "autoRestart": false, "maxRestarts": -1, "restartDelay": 500},
                {"name": "b", "command": "x", "autoRestart": true, "maxRestarts": 3, "restartDelay": "2s"}
            ]}"#);
        let (a, b) = (&plan.processes[0], &plan.processes[1]);
        assert_eq!(a.restart, RestartPolicy::Never);
        assert_eq!(a.max_restarts, None);
        assert_eq!(a.restart_delay, Duration::from_millis(500));
        assert_eq!(b.restart, RestartPolicy::Always);
        assert_eq!(b.max_restarts, Some(3));
        assert_eq!(b.restart_delay, secs(2));
        assert_eq!(normalized_json(&plan)["processes"][0]["max_restarts"], -1);
    }

    #[test]
    fn integers_are_milliseconds_and_bytes() {
        let plan = ok(
            r#"{"tick": 5000, "processes": [{"name": "a", "command": "x",
                "restart_delay": 250, "stop_timeout": 0, "limits": {"memory": 1048576},
                "log": {"max_size": 4096, "keep": 0}}]}"#,
        );
        let a = &plan.processes[0];
        assert_eq!(plan.tick, secs(5));
        assert_eq!(a.restart_delay, Duration::from_millis(250));
        assert_eq!(a.stop_timeout, Duration::ZERO);
        assert_eq!(a.limits.memory, Some(1 << 20));
        assert_eq!(
            a.log,
            LogSpec {
                max_size: 4096,
                keep: 0
            }
        );
    }

    #[test]
    fn probes_of_every_kind() {
        let plan = ok(r#"{"processes": [{"name": "a", "command": "x",
                "startup": {"exec": ["./check.sh", "--quick"]},
                "liveness": {"exec": "curl -f localhost || exit 1", "initial_delay": "3s"},
                "readiness": {"tcp": "[::1]:8080", "success_threshold": 2}
              }, {"name": "b", "command": "x",
                "readiness": {"http": "http://localhost"},
                "liveness": {"http": "http://[::1]:81/a?b=c#frag"}
              }]}"#);
        let a = &plan.processes[0];
        assert_eq!(
            a.startup.as_ref().unwrap().kind,
            ProbeKind::Exec(vec!["./check.sh".into(), "--quick".into()])
        );
        let l = a.liveness.as_ref().unwrap();
        assert_eq!(
            l.kind,
            ProbeKind::Shell("curl -f localhost || exit 1".into())
        );
        assert_eq!(l.initial_delay, secs(3));
        let r = a.readiness.as_ref().unwrap();
        assert_eq!(
            r.kind,
            ProbeKind::Tcp {
                host: "::1".into(),
                port: 8080
            }
        );
        assert_eq!(r.success_threshold, 2);
        let b = &plan.processes[1];
        assert_eq!(
            b.readiness.as_ref().unwrap().kind,
            ProbeKind::Http {
                url: "http://localhost".into(),
                host: "localhost".into(),
                port: 80,
                path: "/".into()
            }
        );
        assert_eq!(
            b.liveness.as_ref().unwrap().kind,
            ProbeKind::Http {
                url: "http://[::1]:81/a?b=c#frag".into(),
                host: "::1".into(),
                port: 81,
                path: "/a?b=c".into()
            }
        );
        let again = plan_from_value(&normalized_json(&plan), "check", Path::new("/")).unwrap();
        assert_eq!(again, plan);
    }

    #[test]
    fn other_fields() {
        let plan = ok(
            r#"{"processes": [{"name": "a.b_c-1", "command": "x", "cwd": "work",
                "user": "app:staff", "restart": "on-failure", "stop_signal": "SIGINT",
                "success_exit_codes": [0, 143], "backoff_factor": 1.5, "max_restarts": 0,
                "limits": {"on_limit": "stop"}, "breaker_cooldown": null},
               {"name": "b", "command": "x", "stop_signal": 34, "restart": "never",
                "depends_on": {"a.b_c-1": "started"}}]}"#,
        );
        let a = &plan.processes[0];
        assert_eq!(a.cwd, Some(PathBuf::from("/etc/tend/work")));
        assert_eq!(
            a.user,
            Some(UserSpec {
                user: "app".into(),
                group: Some("staff".into())
            })
        );
        assert_eq!(a.restart, RestartPolicy::OnFailure);
        assert_eq!(a.stop_signal, libc::SIGINT);
        assert_eq!(a.success_exit_codes, vec![0, 143]);
        assert_eq!(a.backoff_factor, 1.5);
        assert_eq!(a.max_restarts, Some(0));
        assert_eq!(a.limits.on_limit, OnLimit::Stop);
        assert_eq!(plan.processes[1].stop_signal, 34);
        let n = normalized_json(&plan);
        assert_eq!(n["processes"][1]["stop_signal"], 34);
        assert_eq!(n["processes"][0]["stop_signal"], "INT");
        assert_eq!(plan_from_value(&n, "check", Path::new("/")).unwrap(), plan);
    }

    #[test]
    fn defaulted_backoff_max_follows_a_long_restart_delay() {
        let plan = ok(r#"{"processes": [{"name": "a", "command": "x", "restart_delay": "1m"}]}"#);
        assert_eq!(plan.processes[0].backoff_max, secs(60));
    }

    // -- bad configs: exact messages --------------------------------------

    #[test]
    fn misspelt_keys_get_suggestions() {
        assert_eq!(
            err1(r#""restat": "always""#),
            "tend.json: processes[0].restat: unknown key (did you mean \"restart\"?)"
        );
        assert_eq!(
            err1(r#""max_restart": 3"#),
            "tend.json: processes[0].max_restart: unknown key (did you mean \"max_restarts\"?)"
        );
        assert_eq!(
            err1(r#""stopSignal": "INT""#),
            "tend.json: processes[0].stopSignal: unknown key (did you mean \"stop_signal\"?)"
        );
        assert_eq!(
            err1(r#""auto_restart": true"#),
            "tend.json: processes[0].auto_restart: unknown key (did you mean \"autoRestart\"?)"
        );
        assert_eq!(
            err1(r#""Command": "y""#),
            "tend.json: processes[0].Command: unknown key (did you mean \"command\"?)"
        );
        assert_eq!(
            err1(r#""frobnicate": 1"#),
            "tend.json: processes[0].frobnicate: unknown key"
        );
        assert_eq!(
            err1(r#""liveness": {"exec": "true", "intervall": "1s"}"#),
            "tend.json: processes[0].liveness.intervall: unknown key (did you mean \"interval\"?)"
        );
        assert_eq!(
            errs(r#"{"stopfile": "S", "processes": [{"name": "a", "command": "x"}]}"#),
            vec!["tend.json: stopfile: unknown key (did you mean \"stop_file\"?)"]
        );
        assert_eq!(
            errs(r#"{"hooks": {"gaveup": ["x"]}, "processes": [{"name": "a", "command": "x"}]}"#),
            vec!["tend.json: hooks.gaveup: unknown key (did you mean \"gave_up\"?)"]
        );
    }

    #[test]
    fn bad_durations_and_sizes() {
        assert_eq!(
            err1(r#""restart_delay": "10x""#),
            "tend.json: processes[0].restart_delay: invalid value \"10x\": expected a duration like 250ms, 10s, 1m30s or integer milliseconds"
        );
        assert_eq!(
            err1(r#""stop_timeout": -5"#),
            "tend.json: processes[0].stop_timeout: invalid value -5: expected a duration like 250ms, 10s, 1m30s or integer milliseconds"
        );
        assert_eq!(
            err1(r#""min_uptime": 1.5"#),
            "tend.json: processes[0].min_uptime: invalid value 1.5: expected a duration like 250ms, 10s, 1m30s or integer milliseconds"
        );
        assert_eq!(
            err1(r#""restart_window": "0s""#),
            "tend.json: processes[0].restart_window: invalid value \"0s\": expected a duration greater than 0 (a duration like 250ms, 10s, 1m30s or integer milliseconds)"
        );
        assert_eq!(
            err1(r#""limits": {"memory": "10mb"}"#),
            "tend.json: processes[0].limits.memory: invalid value \"10mb\": expected a size like 512KiB, 10MiB, 1GB or integer bytes"
        );
        assert_eq!(
            err1(r#""log": {"max_size": 100}"#),
            "tend.json: processes[0].log.max_size: invalid value 100: expected a size of at least 1KiB, like 10MiB, or integer bytes"
        );
    }

    #[test]
    fn bad_numbers() {
        assert_eq!(
            err1(r#""max_restarts": -2"#),
            "tend.json: processes[0].max_restarts: invalid value -2: expected an integer >= 0, or -1 for unlimited"
        );
        assert_eq!(
            err1(r#""backoff_factor": 0.5"#),
            "tend.json: processes[0].backoff_factor: invalid value 0.5: expected a number >= 1"
        );
        assert_eq!(
            err1(r#""backoff_factor": "2""#),
            "tend.json: processes[0].backoff_factor: invalid value \"2\": expected a number >= 1"
        );
        assert_eq!(
            err1(r#""success_exit_codes": [0, 256]"#),
            "tend.json: processes[0].success_exit_codes[1]: invalid value 256: expected an exit code 0-255"
        );
        assert_eq!(
            err1(r#""limits": {"procs": 0}"#),
            "tend.json: processes[0].limits.procs: invalid value 0: expected an integer >= 1"
        );
        assert_eq!(
            err1(r#""env": {"PORT": 3000}"#),
            "tend.json: processes[0].env.PORT: invalid value 3000: expected a string (write \"3000\")"
        );
    }

    #[test]
    fn bad_names() {
        assert_eq!(
            errs(
                r#"{"processes": [{"name": "web", "command": "x"}, {"name": "db", "command": "y"},
                   {"name": "web", "command": "z"}]}"#
            ),
            vec!["tend.json: processes[2].name: duplicate name \"web\" (already used by processes[0])"]
        );
        assert_eq!(
            errs(r#"{"processes": [{"name": "my web", "command": "x"}]}"#),
            vec!["tend.json: processes[0].name: invalid value \"my web\": expected a name of letters, digits, '_', '.' or '-'"]
        );
        assert_eq!(
            errs(r#"{"processes": [{"name": "", "command": "x"}]}"#),
            vec!["tend.json: processes[0].name: invalid value \"\": expected a name of letters, digits, '_', '.' or '-'"]
        );
    }

    #[test]
    fn bad_policies_and_signals() {
        assert_eq!(
            err1(r#""restart": "sometimes""#),
            "tend.json: processes[0].restart: invalid value \"sometimes\": expected one of \"always\", \"on-failure\", \"never\""
        );
        assert_eq!(
            err1(r#""stop_signal": "TERMINATE""#),
            "tend.json: processes[0].stop_signal: invalid value \"TERMINATE\": expected a signal name like \"TERM\" or \"SIGINT\", or a number 1-64"
        );
        assert_eq!(
            err1(r#""stop_signal": 99"#),
            "tend.json: processes[0].stop_signal: invalid value 99: expected a signal name like \"TERM\" or \"SIGINT\", or a number 1-64"
        );
        assert_eq!(
            err1(r#""user": "a:b:c""#),
            "tend.json: processes[0].user: invalid value \"a:b:c\": expected a user, or user:group, like \"app\" or \"app:staff\""
        );
    }

    #[test]
    fn missing_keys() {
        assert_eq!(
            errs(r#"{"processes": [{"name": "a"}]}"#),
            vec!["tend.json: processes[0].command: missing (required)"]
        );
        assert_eq!(
            errs(r#"{"processes": [{"command": "x"}]}"#),
            vec!["tend.json: processes[0].name: missing (required)"]
        );
        assert_eq!(
            errs(r#"{}"#),
            vec!["tend.json: processes: missing (required)"]
        );
        assert_eq!(
            errs(r#"{"processes": []}"#),
            vec!["tend.json: processes: invalid value []: expected a non-empty array of processes like [{\"name\": \"web\", \"command\": \"node\"}]"]
        );
        assert_eq!(
            errs(r#"{"processes": [{"name": "a", "command": ""}]}"#),
            vec!["tend.json: processes[0].command: invalid value \"\": expected a command name or path"]
        );
    }

    #[test]
    fn dependency_errors() {
        assert_eq!(
            errs(
                r#"{"processes": [
                    {"name": "a", "command": "x", "depends_on": {"b": "started"}},
                    {"name": "b", "command": "x", "depends_on": {"a": "ready"}}]}"#
            ),
            vec!["tend.json: processes[0].depends_on: dependency cycle: a -> b -> a"]
        );
        assert_eq!(
            errs(
                r#"{"processes": [
                    {"name": "a", "command": "x", "depends_on": {"b": "started"}},
                    {"name": "b", "command": "x", "depends_on": {"c": "started"}},
                    {"name": "c", "command": "x", "depends_on": {"a": "started"}}]}"#
            ),
            vec!["tend.json: processes[0].depends_on: dependency cycle: a -> b -> c -> a"]
        );
        assert_eq!(
            err1(r#""depends_on": {"a": "ready"}"#),
            "tend.json: processes[0].depends_on.a: a process cannot depend on itself"
        );
        assert_eq!(
            errs(
                r#"{"processes": [{"name": "db", "command": "x"},
                    {"name": "a", "command": "x", "depends_on": {"bd": "ready"}}]}"#
            ),
            vec!["tend.json: processes[1].depends_on.bd: unknown process \"bd\" (did you mean \"db\"?)"]
        );
        assert_eq!(
            errs(
                r#"{"processes": [{"name": "db", "command": "x"},
                    {"name": "a", "command": "x", "depends_on": {"db": "healthy"}}]}"#
            ),
            vec!["tend.json: processes[1].depends_on.db: \"db\" has no liveness or startup probe, so it never becomes healthy; use \"ready\" or \"started\""]
        );
        assert_eq!(
            err1(r#""depends_on": {"b": "up"}"#),
            "tend.json: processes[0].depends_on.b: invalid value \"up\": expected \"started\", \"ready\" or \"healthy\""
        );
    }

    #[test]
    fn probe_errors() {
        assert_eq!(
            err1(r#""liveness": {"exec": "true", "success_threshold": 2}"#),
            "tend.json: processes[0].liveness.success_threshold: invalid value 2: expected 1 (only a readiness probe may require several successes)"
        );
        assert_eq!(
            err1(r#""readiness": {"http": "https://localhost/health"}"#),
            "tend.json: processes[0].readiness.http: https is not supported; use http:// (probes are plain HTTP)"
        );
        assert_eq!(
            err1(r#""readiness": {"http": "localhost:80/health"}"#),
            "tend.json: processes[0].readiness.http: invalid value \"localhost:80/health\": expected a URL like http://127.0.0.1:3000/health"
        );
        assert_eq!(
            err1(r#""readiness": {"tcp": "::1:80"}"#),
            "tend.json: processes[0].readiness.tcp: invalid value \"::1:80\": expected HOST:PORT like 127.0.0.1:3000 or [::1]:3000"
        );
        assert_eq!(
            err1(r#""readiness": {"tcp": "localhost:70000"}"#),
            "tend.json: processes[0].readiness.tcp: invalid value \"localhost:70000\": expected HOST:PORT like 127.0.0.1:3000 or [::1]:3000"
        );
        assert_eq!(
            err1(r#""startup": {"tcp": "h:1", "http": "http://h/"}"#),
            "tend.json: processes[0].startup.http: conflicts with \"tcp\"; give only one"
        );
        assert_eq!(
            err1(r#""startup": {"interval": "1s"}"#),
            "tend.json: processes[0].startup: invalid value {\"interval\":\"1s\"}: expected an object with one of \"exec\", \"tcp\" or \"http\""
        );
        assert_eq!(
            err1(r#""startup": {"exec": []}"#),
            "tend.json: processes[0].startup.exec: invalid value []: expected a non-empty array of strings"
        );
    }

    #[test]
    fn alias_and_key_conflict() {
        assert_eq!(
            err1(r#""autoRestart": false, "restart": "always""#),
            "tend.json: processes[0].autoRestart: conflicts with \"restart\"; give only one"
        );
        assert_eq!(
            err1(r#""maxRestarts": 3, "max_restarts": 3"#),
            "tend.json: processes[0].maxRestarts: conflicts with \"max_restarts\"; give only one"
        );
        assert_eq!(
            err1(r#""autoRestart": "yes""#),
            "tend.json: processes[0].autoRestart: invalid value \"yes\": expected true or false"
        );
    }

    #[test]
    fn backoff_max_below_restart_delay() {
        assert_eq!(
            err1(r#""restart_delay": "10s", "backoff_max": "5s""#),
            "tend.json: processes[0].backoff_max: invalid value \"5s\": expected a duration of at least restart_delay (10s)"
        );
    }

    #[test]
    fn top_level_errors() {
        assert_eq!(
            errs(r#"{"tick": "0", "http": "localhost", "processes": [{"name": "a", "command": "x"}]}"#),
            vec![
                "tend.json: tick: invalid value \"0\": expected a duration greater than 0 (a duration like 250ms, 10s, 1m30s or integer milliseconds)",
                "tend.json: http: invalid value \"localhost\": expected HOST:PORT like 127.0.0.1:3000 or [::1]:3000",
            ]
        );
        assert_eq!(
            errs(r#"{"hooks": {"gave_up": []}, "processes": [{"name": "a", "command": "x"}]}"#),
            vec![
                "tend.json: hooks.gave_up: invalid value []: expected a non-empty array of strings"
            ]
        );
        assert_eq!(
            errs(r#"{"processes": [3]}"#),
            vec!["tend.json: processes[0]: invalid value 3: expected an object with at least \"name\" and \"command\""]
        );
    }

    #[test]
    fn every_error_at_once() {
        let e = errs(
            r#"{"processes": [
                {"name": "a", "command": "x", "restat": "always", "restart_delay": "10x"},
                {"name": "a", "cmd": "y", "liveness": {"http": "https://h/"}}
            ], "tik": "1s"}"#,
        );
        assert_eq!(
            e,
            vec![
                "tend.json: tik: unknown key (did you mean \"tick\"?)",
                "tend.json: processes[0].restat: unknown key (did you mean \"restart\"?)",
                "tend.json: processes[0].restart_delay: invalid value \"10x\": expected a duration like 250ms, 10s, 1m30s or integer milliseconds",
                "tend.json: processes[1].cmd: unknown key (did you mean \"command\"?)",
                "tend.json: processes[1].command: missing (required)",
                "tend.json: processes[1].liveness.http: https is not supported; use http:// (probes are plain HTTP)",
                "tend.json: processes[1].name: duplicate name \"a\" (already used by processes[0])",
            ]
        );
    }

    // -- files -------------------------------------------------------------

    #[test]
    fn file_paths_resolve_against_the_config_directory() {
        let dir = TempDir::new("paths");
        let cfg = dir.0.join("tend.json");
        std::fs::write(
            &cfg,
            r#"{"stop_file": "STOP", "processes": [{"name": "a", "command": "x", "cwd": "sub"}]}"#,
        )
        .unwrap();
        let plan = plan_from_file(&cfg).unwrap();
        assert_eq!(plan.source.as_deref(), Some(cfg.as_path()));
        assert_eq!(plan.stop_file, Some(dir.0.join("STOP")));
        assert_eq!(plan.processes[0].cwd, Some(dir.0.join("sub")));
        assert!(!plan.single);
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let dir = TempDir::new("syntax");
        std::fs::write(
            dir.0.join("tend.json"),
            "{\n  \"processes\": [\n    {\"name\": \"a\" \"command\": \"x\"}\n  ]\n}\n",
        )
        .unwrap();
        let run = RunArgs {
            config: Some(PathBuf::from("tend.json")),
            ..RunArgs::default()
        };
        let e = strings(&plan_for_run(&run, &dir.0).unwrap_err());
        assert_eq!(e, vec!["tend.json:3:18: syntax error: expected ',' or '}'"]);
    }

    // -- flags and the choice of source ------------------------------------

    #[test]
    fn flags_build_one_process() {
        let mut run = flags(
            &["/usr/bin/node", "server.js", "--port", "3000"],
            &[
                ("restart", "on-failure"),
                ("restart_delay", "100ms"),
                ("backoff_max", "5s"),
                ("backoff_factor", "1.5"),
                ("max_restarts", "-1"),
                ("restart_window", "1m"),
                ("breaker_cooldown", "30s"),
                ("min_uptime", "0"),
                ("stop_signal", "INT"),
                ("stop_timeout", "3s"),
                ("cwd", "app"),
                ("env", "A=1"),
                ("env", "B=x=y"),
                ("user", "nobody"),
                ("health_http", "http://127.0.0.1:3000/health"),
                ("health_interval", "2s"),
                ("health_timeout", "1s"),
                ("health_retries", "5"),
                ("health_start_period", "10s"),
            ],
        );
        run.stop_file = Some(PathBuf::from("STOP"));
        run.http = Some("0.0.0.0:9100".to_string());
        let plan = plan_from_flags(&run, Path::new("/srv")).unwrap();
        let mut want = ProcSpec::with_defaults("node", "/usr/bin/node");
        want.args = vec!["server.js".into(), "--port".into(), "3000".into()];
        want.restart = RestartPolicy::OnFailure;
        want.restart_delay = Duration::from_millis(100);
        want.backoff_max = secs(5);
        want.backoff_factor = 1.5;
        want.max_restarts = None;
        want.restart_window = secs(60);
        want.breaker_cooldown = Some(secs(30));
        want.min_uptime = Duration::ZERO;
        want.stop_signal = libc::SIGINT;
        want.stop_timeout = secs(3);
        want.cwd = Some(PathBuf::from("/srv/app"));
        want.env = vec![("A".into(), "1".into()), ("B".into(), "x=y".into())];
        want.user = Some(UserSpec {
            user: "nobody".into(),
            group: None,
        });
        want.liveness = Some(ProbeSpec {
            interval: secs(2),
            timeout: secs(1),
            failure_threshold: 5,
            success_threshold: 1,
            initial_delay: secs(10),
            kind: ProbeKind::Http {
                url: "http://127.0.0.1:3000/health".into(),
                host: "127.0.0.1".into(),
                port: 3000,
                path: "/health".into(),
            },
        });
        assert_eq!(
            plan,
            Plan {
                source: None,
                single: true,
                processes: vec![want],
                stop_file: Some(PathBuf::from("/srv/STOP")),
                tick: secs(60),
                http: Some("0.0.0.0:9100".into()),
                hooks: Vec::new(),
            }
        );
        let again = plan_from_value(&normalized_json(&plan), "check", Path::new("/")).unwrap();
        assert_eq!(again.processes, plan.processes);
    }

    #[test]
    fn flags_minimal_and_name() {
        let plan = plan_from_flags(&flags(&["sleep", "10"], &[]), Path::new("/")).unwrap();
        let mut want = ProcSpec::with_defaults("sleep", "sleep");
        want.args = vec!["10".into()];
        assert_eq!(plan.processes, vec![want]);
        assert!(plan.single);
        let plan = plan_from_flags(
            &flags(&["./my prog"], &[("name", "web"), ("health_cmd", "true")]),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(plan.processes[0].name, "web");
        assert_eq!(
            plan.processes[0].liveness,
            Some(ProbeSpec::with_defaults(ProbeKind::Shell("true".into())))
        );
        let plan = plan_from_flags(&flags(&["./my prog"], &[]), Path::new("/")).unwrap();
        assert_eq!(plan.processes[0].name, "my_prog");
    }

    #[test]
    fn flag_errors_name_the_flag() {
        let e = plan_from_flags(
            &flags(
                &["x"],
                &[
                    ("restart_delay", "10x"),
                    ("max_restarts", "-2"),
                    ("restart_window", "500"),
                    ("env", "NOEQUALS"),
                    ("health_tcp", "h:1"),
                    ("health_cmd", "true"),
                    ("name", "a b"),
                ],
            ),
            Path::new("/"),
        )
        .unwrap_err();
        assert_eq!(
            strings(&e),
            vec![
                "command line: --restart-delay: invalid value \"10x\": expected a duration like 250ms, 10s or 1m30s",
                "command line: --max-restarts: invalid value -2: expected an integer >= 0, or -1 for unlimited",
                "command line: --restart-window: invalid value \"500\": expected a duration like 250ms, 10s or 1m30s",
                "command line: --env: invalid value \"NOEQUALS\": expected KEY=VALUE",
                "command line: --health-cmd: conflicts with \"--health-tcp\"; give only one",
                "command line: --name: invalid value \"a b\": expected a name of letters, digits, '_', '.' or '-'",
            ]
        );
        let e = plan_from_flags(&flags(&["x"], &[("health_interval", "5s")]), Path::new("/"))
            .unwrap_err();
        assert_eq!(
            strings(&e),
            vec!["command line: --health-interval: needs --health-cmd, --health-tcp or --health-http"]
        );
        let e = plan_from_flags(
            &flags(&["x"], &[("health_http", "https://h/")]),
            Path::new("/"),
        )
        .unwrap_err();
        assert_eq!(
            strings(&e),
            vec!["command line: --health-http: https is not supported; use http:// (probes are plain HTTP)"]
        );
    }

    #[test]
    fn config_and_cmd_together_is_a_usage_error() {
        let mut run = flags(&["sleep", "1"], &[]);
        run.config = Some(PathBuf::from("tend.json"));
        let e = plan_for_run(&run, Path::new("/")).unwrap_err();
        assert_eq!(
            strings(&e),
            vec!["-c FILE and -- CMD cannot be combined: put the command in the config file, or drop -c"]
        );
        assert!(matches!(e[0], ConfigError::Usage(_)));
        assert_eq!(e[0].exit_code(), 2);
    }

    #[test]
    fn run_picks_its_source() {
        let dir = TempDir::new("run");
        // Neither -c nor CMD nor ./tend.json: usage with an example.
        let e = plan_for_run(&RunArgs::default(), &dir.0).unwrap_err();
        assert!(
            matches!(&e[0], ConfigError::Usage(m) if m.contains("{\"processes\": [{\"name\": \"web\""))
        );
        // ./tend.json is found; --stop-file and --http override the file's.
        std::fs::write(
            dir.0.join("tend.json"),
            r#"{"stop_file": "S", "http": "127.0.0.1:1", "processes": [{"name": "a", "command": "x"}]}"#,
        )
        .unwrap();
        let plan = plan_for_run(&RunArgs::default(), &dir.0).unwrap();
        assert_eq!(plan.source, Some(dir.0.join("tend.json")));
        assert_eq!(plan.stop_file, Some(dir.0.join("S")));
        assert_eq!(plan.http.as_deref(), Some("127.0.0.1:1"));
        let run = RunArgs {
            stop_file: Some(PathBuf::from("/tmp/STOP")),
            http: Some("127.0.0.1:2".into()),
            ..RunArgs::default()
        };
        let plan = plan_for_run(&run, &dir.0).unwrap();
        assert_eq!(plan.stop_file, Some(PathBuf::from("/tmp/STOP")));
        assert_eq!(plan.http.as_deref(), Some("127.0.0.1:2"));
        // Process flags with a config file name the flag.
        let run = RunArgs {
            proc_flags: vec![("restart", "never".into()), ("health_cmd", "true".into())],
            ..RunArgs::default()
        };
        assert_eq!(
            strings(&plan_for_run(&run, &dir.0).unwrap_err()),
            vec![
                "command line: --restart: only applies to `tend run -- CMD`; set \"restart\" in the config file",
                "command line: --health-cmd: only applies to `tend run -- CMD`; set \"liveness\" in the config file",
            ]
        );
        // A missing -c file.
        let run = RunArgs {
            config: Some(PathBuf::from("nope.json")),
            ..RunArgs::default()
        };
        let e = strings(&plan_for_run(&run, &dir.0).unwrap_err());
        assert!(e[0].starts_with("nope.json: cannot read config: "), "{e:?}");
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("restat", PROC_KEYS).as_deref(), Some("restart"));
        assert_eq!(
            suggest("STOP_TIMEOUT", PROC_KEYS).as_deref(),
            Some("stop_timeout")
        );
        assert_eq!(suggest("xyz", PROC_KEYS), None);
        assert_eq!(suggest("lg", PROC_KEYS).as_deref(), Some("log"));
        assert_eq!(suggest("cmd", PROC_KEYS).as_deref(), Some("cwd"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("db", "bd"), 1);
        assert_eq!(edit_distance("restrat", "restart"), 1);
    }

    #[test]
    fn flag_table_matches_spec_flags() {
        // Every per-process flag maps to a config key or a health setting.
        for f in PROC_FLAGS {
            assert!(PROC_KEYS.contains(f) || f.starts_with("health_"), "{f}");
        }
    }

    #[test]
    fn normalized_text_is_in_spec_order_and_reads_back() {
        let plan = ok(
            r#"{"processes": [{"name": "web", "command": "node", "args": ["a, b", "c"],
                "env": {"name": "x", "A": "y"}, "liveness": {"tcp": "[::1]:80"}}],
                "hooks": {"gave_up": ["alert", "{name}"]}}"#,
        );
        let text = normalized_text(&plan);
        assert!(
            text.starts_with(
                "{\n  \"processes\": [\n    {\n      \"name\": \"web\",\n      \"command\": \"node\",\n      \"args\": [\"a, b\", \"c\"],\n      \"cwd\": null,\n      \"env\": {\n        \"A\": \"y\",\n        \"name\": \"x\"\n      },\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "\"liveness\": {\n        \"tcp\": \"[::1]:80\",\n        \"interval\": \"10s\","
            ),
            "{text}"
        );
        assert!(text.ends_with("  \"stop_file\": null,\n  \"tick\": \"1m\",\n  \"http\": null,\n  \"hooks\": {\n    \"gave_up\": [\"alert\", \"{name}\"]\n  }\n}\n"), "{text}");
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, normalized_json(&plan));
    }
}
