//! Status document → text: the human table of `tend status`, the `--json`
//! document and the Prometheus exposition served on `GET /metrics`.
//!
//! Pure renderers over a `proto::StatusDoc`: no I/O, no clock reads, no
//! terminal detection (the caller decides `color`). Every format here is
//! user-facing (SPEC §5) and pinned by golden tests below.

use crate::proto::{LastExit, ProcStatus, StatusDoc};

/// Longest LAST-ERROR cell, in characters, before it is cut with `…`.
const MAX_ERROR: usize = 60;

const HEADERS: [&str; 9] = [
    "NAME",
    "STATE",
    "HEALTH",
    "READY",
    "PID",
    "UPTIME",
    "RESTARTS",
    "LAST-EXIT",
    "LAST-ERROR",
];

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// The human table: a header row and one row per process, columns padded
/// to the widest cell and separated by two spaces; the last column is not
/// padded, so lines carry no trailing blanks. With `color`, STATE and
/// HEALTH cells get ANSI colours (padding stays outside the escapes so
/// columns line up either way).
pub fn table(doc: &StatusDoc, color: bool) -> String {
    let rows: Vec<[String; 9]> = doc.processes.iter().map(row).collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    push_row(&mut out, &HEADERS.map(String::from), &widths, |_, _| None);
    for r in &rows {
        push_row(&mut out, r, &widths, |col, cell| {
            if !color {
                return None;
            }
            match col {
                1 => state_color(cell),
                2 => health_color(cell),
                _ => None,
            }
        });
    }
    out
}

fn push_row(
    out: &mut String,
    cells: &[String; 9],
    widths: &[usize; 9],
    paint: impl Fn(usize, &str) -> Option<&'static str>,
) {
    let last = cells.len() - 1;
    for (col, cell) in cells.iter().enumerate() {
        match paint(col, cell) {
            Some(c) => {
                out.push_str(c);
                out.push_str(cell);
                out.push_str(RESET);
            }
            None => out.push_str(cell),
        }
        if col < last {
            let pad = widths[col] - cell.chars().count() + 2;
            out.push_str(&" ".repeat(pad));
        }
    }
    // A row whose last cell is empty would otherwise end in padding.
    let trimmed = out.trim_end_matches(' ').len();
    out.truncate(trimmed);
    out.push('\n');
}

fn state_color(state: &str) -> Option<&'static str> {
    match state {
        "running" => Some(GREEN),
        "failed" => Some(RED),
        "backoff" | "starting" => Some(YELLOW),
        _ => None,
    }
}

fn health_color(health: &str) -> Option<&'static str> {
    match health {
        "unhealthy" => Some(RED),
        "healthy" => Some(GREEN),
        _ => None,
    }
}

fn row(p: &ProcStatus) -> [String; 9] {
    [
        p.name.clone(),
        p.state.clone(),
        p.health.clone(),
        if p.ready { "yes" } else { "no" }.to_string(),
        p.pid.map_or_else(|| "-".to_string(), |v| v.to_string()),
        match p.pid {
            Some(_) => uptime(p.uptime_ms),
            None => "-".to_string(),
        },
        p.restarts.to_string(),
        last_exit(p.last_exit.as_ref()),
        last_error(p.last_error.as_deref()),
    ]
}

/// `45s`, `5m3s`, `1h2m`, `3d4h`: the two largest units, like `ps`/`docker`.
pub fn uptime(ms: u64) -> String {
    let s = ms / 1000;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    }
}

fn last_exit(e: Option<&LastExit>) -> String {
    match e {
        Some(LastExit {
            signal: Some(sig), ..
        }) => format!("sig {sig}"),
        Some(LastExit {
            code: Some(code), ..
        }) => format!("code {code}"),
        _ => "-".to_string(),
    }
}

/// One line, at most `MAX_ERROR` characters: an error is context, and the
/// full text is in `--json` and `events.jsonl`.
fn last_error(e: Option<&str>) -> String {
    let Some(e) = e.filter(|e| !e.is_empty()) else {
        return "-".to_string();
    };
    let flat: String = e
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= MAX_ERROR {
        return flat;
    }
    let mut cut: String = flat.chars().take(MAX_ERROR - 1).collect();
    cut.push('…');
    cut
}

/// The `status --json` document (SPEC §5), pretty-printed, one trailing
/// newline. The recovery records (`children`) are `state.json`-only and
/// never printed.
pub fn json(doc: &StatusDoc) -> String {
    let mut shown = doc.clone();
    shown.children.clear();
    // Serializing plain strings, numbers and options cannot fail.
    let mut s = serde_json::to_string_pretty(&shown).unwrap_or_default();
    s.push('\n');
    s
}

/// Prometheus text exposition format 0.0.4, for `GET /metrics`.
///
/// `tend_process_up` is 1 while the process has a live pid (starting,
/// running, stopping); `tend_process_last_exit_code` is the exit code, or
/// 128+N for a death by signal N (shell convention), and is omitted for a
/// process that never exited.
// Until `GET /metrics` is wired in.
#[allow(dead_code)]
pub fn prometheus(doc: &StatusDoc) -> String {
    let mut out = String::new();
    metric(&mut out, "tend_up", "gauge", "1 while tend is running.");
    out.push_str("tend_up 1\n");
    metric(
        &mut out,
        "tend_uptime_seconds",
        "gauge",
        "Seconds since tend started.",
    );
    out.push_str(&format!(
        "tend_uptime_seconds {}\n",
        secs(doc.tend.uptime_ms)
    ));

    type Value = fn(&ProcStatus) -> Option<String>;
    let families: [(&str, &str, &str, Value); 5] = [
        (
            "tend_process_up",
            "gauge",
            "1 while the process has a live pid, else 0.",
            |p| Some(u8::from(p.pid.is_some()).to_string()),
        ),
        (
            "tend_process_ready",
            "gauge",
            "1 while the process is ready, else 0.",
            |p| Some(u8::from(p.ready).to_string()),
        ),
        (
            "tend_process_restarts_total",
            "counter",
            "Starts after the first, whatever the cause.",
            |p| Some(p.restarts.to_string()),
        ),
        (
            "tend_process_uptime_seconds",
            "gauge",
            "Seconds since the current run started; 0 when not running.",
            |p| Some(secs(if p.pid.is_some() { p.uptime_ms } else { 0 })),
        ),
        (
            "tend_process_last_exit_code",
            "gauge",
            "Exit code of the last run, 128+N for signal N.",
            |p| exit_value(p.last_exit.as_ref()?),
        ),
    ];
    for (name, kind, help, value) in families {
        metric(&mut out, name, kind, help);
        for p in &doc.processes {
            if let Some(v) = value(p) {
                out.push_str(&format!("{name}{{name=\"{}\"}} {v}\n", label(&p.name)));
            }
        }
    }
    out
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
}

fn exit_value(e: &LastExit) -> Option<String> {
    if let Some(sig) = &e.signal {
        return crate::signal::parse(sig).map(|n| (128 + n).to_string());
    }
    e.code.map(|c| c.to_string())
}

/// Milliseconds as decimal seconds: `12.5`, `3`, `0.001`.
fn secs(ms: u64) -> String {
    let (s, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        return s.to_string();
    }
    let f = format!("{frac:03}");
    format!("{s}.{}", f.trim_end_matches('0'))
}

/// Label value escaping of the text format: `\`, `"` and newline.
fn label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{ChildRecord, TendInfo};

    fn proc_(name: &str, state: &str) -> ProcStatus {
        ProcStatus {
            state: state.to_string(),
            ..crate::testutil::proc_status(name)
        }
    }

    fn sample() -> StatusDoc {
        let mut web = proc_("web", "running");
        web.health = "healthy".into();
        web.ready = true;
        web.pid = Some(4242);
        web.uptime_ms = 3_725_000;
        web.starts = 3;
        web.restarts = 2;
        web.last_start = Some("2026-01-02T03:04:05Z".into());
        web.last_exit = Some(LastExit {
            code: Some(1),
            signal: None,
            at: "2026-01-02T03:04:00Z".into(),
        });
        let mut worker = proc_("worker", "backoff");
        worker.restarts = 7;
        worker.next_restart_ms = Some(2000);
        worker.last_exit = Some(LastExit {
            code: None,
            signal: Some("KILL".into()),
            at: "2026-01-02T03:04:00Z".into(),
        });
        worker.last_error = Some(
            "killed by signal KILL after running 120ms; restart in 2s; the breaker has seen 7 failures"
                .into(),
        );
        let mut db = proc_("db\"x", "failed");
        db.health = "unhealthy".into();
        db.last_error = Some("line one\nline two".into());
        StatusDoc {
            tend: TendInfo {
                pid: 1,
                uptime_ms: 90_500,
                version: "0.1.0".into(),
            },
            processes: vec![web, worker, db, proc_("idle", "stopped")],
            children: vec![ChildRecord {
                name: "web".into(),
                pid: 4242,
                pgid: 4242,
                start_time: 99,
            }],
        }
    }

    #[test]
    fn table_golden_plain() {
        let want = "\
NAME    STATE    HEALTH     READY  PID   UPTIME  RESTARTS  LAST-EXIT  LAST-ERROR
web     running  healthy    yes    4242  1h2m    2         code 1     -
worker  backoff  unknown    no     -     -       7         sig KILL   killed by signal KILL after running 120ms; restart in 2s; t…
db\"x    failed   unhealthy  no     -     -       0         -          line one line two
idle    stopped  unknown    no     -     -       0         -          -
";
        let got = table(&sample(), false);
        assert_eq!(got, want, "\n{got}");
        assert!(!got.contains('\x1b'));
    }

    #[test]
    fn table_color_wraps_state_and_health_only() {
        let got = table(&sample(), true);
        assert!(got.contains("\x1b[32mrunning\x1b[0m  "));
        assert!(got.contains("\x1b[33mbackoff\x1b[0m  "));
        assert!(got.contains("\x1b[31mfailed\x1b[0m   "));
        assert!(got.contains("\x1b[31munhealthy\x1b[0m  "));
        assert!(got.contains("\x1b[32mhealthy\x1b[0m    "));
        assert!(got.contains("idle    stopped  unknown"));
        // Stripping the escapes gives back the plain table exactly.
        let stripped = got
            .replace(GREEN, "")
            .replace(RED, "")
            .replace(YELLOW, "")
            .replace(RESET, "");
        assert_eq!(stripped, table(&sample(), false));
    }

    #[test]
    fn table_empty_is_the_header() {
        let mut doc = sample();
        doc.processes.clear();
        assert_eq!(
            table(&doc, false),
            "NAME  STATE  HEALTH  READY  PID  UPTIME  RESTARTS  LAST-EXIT  LAST-ERROR\n"
        );
    }

    #[test]
    fn uptime_units() {
        for (ms, want) in [
            (0, "0s"),
            (999, "0s"),
            (45_000, "45s"),
            (60_000, "1m0s"),
            (303_000, "5m3s"),
            (3_725_000, "1h2m"),
            (86_400_000 * 3 + 3_600_000 * 4 + 1, "3d4h"),
        ] {
            assert_eq!(uptime(ms), want, "{ms}");
        }
    }

    #[test]
    fn json_has_spec_keys_and_no_children() {
        let s = json(&sample());
        assert!(s.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert!(v.get("children").is_none());
        assert_eq!(v["tend"]["pid"], 1);
        assert_eq!(v["tend"]["uptime_ms"], 90_500);
        assert_eq!(v["tend"]["version"], "0.1.0");
        let web = &v["processes"][0];
        for key in [
            "name",
            "state",
            "health",
            "ready",
            "pid",
            "uptime_ms",
            "starts",
            "restarts",
            "last_start",
            "last_exit",
            "last_error",
            "next_restart_ms",
            "breaker",
        ] {
            assert!(web.get(key).is_some(), "missing {key}");
        }
        assert_eq!(web["last_exit"]["code"], 1);
        assert!(web["last_exit"]["signal"].is_null());
        assert_eq!(v["processes"][1]["last_exit"]["signal"], "KILL");
        assert!(v["processes"][3]["pid"].is_null());
        assert_eq!(v["processes"][0]["breaker"]["open"], false);
        // It reads back as the same document, minus `children`.
        let back: StatusDoc = serde_json::from_str(&s).unwrap();
        assert_eq!(back.processes, sample().processes);
    }

    #[test]
    fn prometheus_golden() {
        let want = r#"# HELP tend_up 1 while tend is running.
# TYPE tend_up gauge
tend_up 1
# HELP tend_uptime_seconds Seconds since tend started.
# TYPE tend_uptime_seconds gauge
tend_uptime_seconds 90.5
# HELP tend_process_up 1 while the process has a live pid, else 0.
# TYPE tend_process_up gauge
tend_process_up{name="web"} 1
tend_process_up{name="worker"} 0
tend_process_up{name="db\"x"} 0
tend_process_up{name="idle"} 0
# HELP tend_process_ready 1 while the process is ready, else 0.
# TYPE tend_process_ready gauge
tend_process_ready{name="web"} 1
tend_process_ready{name="worker"} 0
tend_process_ready{name="db\"x"} 0
tend_process_ready{name="idle"} 0
# HELP tend_process_restarts_total Starts after the first, whatever the cause.
# TYPE tend_process_restarts_total counter
tend_process_restarts_total{name="web"} 2
tend_process_restarts_total{name="worker"} 7
tend_process_restarts_total{name="db\"x"} 0
tend_process_restarts_total{name="idle"} 0
# HELP tend_process_uptime_seconds Seconds since the current run started; 0 when not running.
# TYPE tend_process_uptime_seconds gauge
tend_process_uptime_seconds{name="web"} 3725
tend_process_uptime_seconds{name="worker"} 0
tend_process_uptime_seconds{name="db\"x"} 0
tend_process_uptime_seconds{name="idle"} 0
# HELP tend_process_last_exit_code Exit code of the last run, 128+N for signal N.
# TYPE tend_process_last_exit_code gauge
tend_process_last_exit_code{name="web"} 1
tend_process_last_exit_code{name="worker"} 137
"#;
        let got = prometheus(&sample());
        assert_eq!(got, want, "\n{got}");
    }

    #[test]
    fn label_and_secs_edges() {
        assert_eq!(label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(label("a\nb"), "a\\nb");
        assert_eq!(secs(0), "0");
        assert_eq!(secs(1), "0.001");
        assert_eq!(secs(1500), "1.5");
        assert_eq!(secs(12_345), "12.345");
    }
}
