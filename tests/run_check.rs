//! `tend check -c FILE` and config loading, black-box against SPEC §2 and
//! §6: a good config exits 0 and prints normalized JSON; a bad one exits 2
//! and its errors name the file and the key path, suggest the nearest key
//! for a misspelt one, and are all reported at once. The Node watchdog
//! aliases are accepted. `tend run` refuses a bad config the same way.

mod util;

use serde_json::{json, Value};
use std::time::Duration;
use util::*;

/// Write `cfg` to a fresh file and run `tend check -c FILE`.
fn check(tmp: &TempDir, file: &str, text: &str) -> (std::process::Output, String) {
    let p = write_config_named(tmp.path(), file, text);
    let ps = p.to_string_lossy().into_owned();
    let out = run_tend(&["check", "-c", &ps]);
    (out, ps)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The config with one good process plus `extra` keys merged into it.
fn one_proc(extra: Value) -> String {
    let mut p = json!({"name": "web", "command": "sleep", "args": ["1000"]});
    if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            p.insert(k.clone(), v.clone());
        }
    }
    json!({ "processes": [p] }).to_string()
}

#[test]
fn good_config_exits_0_and_prints_json() {
    let tmp = TempDir::new();
    let cfg = json!({
        "processes": [
            {"name": "web", "command": "node", "args": ["server.js"], "cwd": "app",
             "env": {"PORT": "3000"}, "restart": "always", "restart_delay": "1s",
             "backoff_max": "30s", "backoff_factor": 2, "min_uptime": "2s",
             "max_restarts": 10, "restart_window": "10m", "breaker_cooldown": "60s",
             "success_exit_codes": [0], "stop_signal": "TERM", "stop_timeout": "10s",
             "startup": {"http": "http://127.0.0.1:3000/health", "interval": "1s",
                         "failure_threshold": 30},
             "liveness": {"http": "http://127.0.0.1:3000/health", "interval": "10s",
                          "timeout": "5s", "failure_threshold": 3},
             "readiness": {"tcp": "127.0.0.1:3000", "interval": "5s"},
             "depends_on": {"db": "ready"},
             "limits": {"memory": "512MiB", "runtime": "6h", "procs": 64},
             "log": {"max_size": "10MiB", "keep": 5}},
            {"name": "db", "command": "sleep", "args": ["1000"]}
        ],
        "stop_file": "STOP",
        "tick": "60s",
        "http": "127.0.0.1:9100",
        "hooks": {"gave_up": ["/usr/local/bin/alert", "{name}", "{error}"]}
    });
    let (out, _) = check(&tmp, "tend.json", &cfg.to_string());
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is JSON: {e}\n{}", show(&out)));
    let procs = v["processes"].as_array().expect("processes array");
    assert_eq!(procs.len(), 2);
    assert_eq!(procs[0]["name"], "web");
    assert_eq!(procs[1]["name"], "db");
    // Normalized: defaults filled in for the minimal process.
    assert_eq!(procs[1]["restart"], "always", "{v}");
}

/// A minimal config (name and command only) is valid, and its normalized
/// form can be checked again (round trip).
#[test]
fn minimal_config_round_trips() {
    let tmp = TempDir::new();
    let (out, _) = check(
        &tmp,
        "a.json",
        r#"{"processes": [{"name": "w", "command": "true"}]}"#,
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let (again, _) = check(&tmp, "b.json", &String::from_utf8_lossy(&out.stdout));
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    assert_eq!(again.stdout, out.stdout, "normalization is idempotent");
}

/// autoRestart / maxRestarts / restartDelay from the Node watchdog.
#[test]
fn node_aliases_are_accepted() {
    let tmp = TempDir::new();
    let (out, _) = check(
        &tmp,
        "tend.json",
        &one_proc(json!({"autoRestart": false, "maxRestarts": -1, "restartDelay": 250})),
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["processes"][0]["restart"], "never", "{v}");
    let (out, _) = check(
        &tmp,
        "tend2.json",
        &one_proc(json!({"autoRestart": true, "maxRestarts": 5, "restartDelay": 1500})),
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["processes"][0]["restart"], "always", "{v}");
    assert_eq!(v["processes"][0]["max_restarts"], 5, "{v}");
}

/// Each bad config: exit 2, stderr names the file and the key path.
#[test]
fn bad_configs_name_file_and_key() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "bad duration",
            one_proc(json!({"restart_delay": "fast"})),
            "processes[0].restart_delay",
        ),
        (
            "bad restart policy",
            one_proc(json!({"restart": "sometimes"})),
            "processes[0].restart",
        ),
        (
            "bad signal",
            one_proc(json!({"stop_signal": "NOPE"})),
            "processes[0].stop_signal",
        ),
        (
            "bad size",
            one_proc(json!({"log": {"max_size": "10 potatoes"}})),
            "processes[0].log.max_size",
        ),
        (
            "bad name",
            one_proc(json!({"name": "has space"})),
            "processes[0].name",
        ),
        (
            "missing command",
            json!({"processes": [{"name": "w"}]}).to_string(),
            "processes[0].command",
        ),
        (
            "duplicate names",
            json!({"processes": [{"name": "w", "command": "a"}, {"name": "w", "command": "b"}]})
                .to_string(),
            "processes[1].name",
        ),
        (
            "unknown dependency",
            one_proc(json!({"depends_on": {"nope": "ready"}})),
            "processes[0].depends_on",
        ),
        (
            "wrong type",
            one_proc(json!({"max_restarts": "ten"})),
            "processes[0].max_restarts",
        ),
        (
            "bad probe",
            one_proc(json!({"liveness": {"tcp": "no-port-here"}})),
            "processes[0].liveness",
        ),
        (
            "bad top-level duration",
            json!({"tick": "often", "processes": [{"name": "w", "command": "a"}]}).to_string(),
            "tick",
        ),
    ];
    let tmp = TempDir::new();
    let mut failures = Vec::new();
    for (i, (what, text, key)) in cases.iter().enumerate() {
        let (out, path) = check(&tmp, &format!("case{i}.json"), text);
        let err = stderr(&out);
        if out.status.code() != Some(2) || !err.contains(&path) || !err.contains(key) {
            failures.push(format!(
                "{what}: want exit 2 naming {path} and {key}\nconfig: {text}\n{}",
                show(&out)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A misspelt key: "did you mean" the nearest known key.
#[test]
fn misspelt_keys_get_a_suggestion() {
    let tmp = TempDir::new();
    for (i, (text, key, near)) in [
        (
            one_proc(json!({"restart_dely": "1s"})),
            "restart_dely",
            "restart_delay",
        ),
        (
            json!({"proceses": [{"name": "w", "command": "a"}]}).to_string(),
            "proceses",
            "processes",
        ),
        (
            one_proc(json!({"liveness": {"htp": "http://127.0.0.1:1/"}})),
            "htp",
            "http",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (out, path) = check(&tmp, &format!("typo{i}.json"), &text);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(err.contains(&path), "names the file: {err}");
        assert!(err.contains(key), "names the key: {err}");
        assert!(err.contains("did you mean"), "suggests: {err}");
        assert!(err.contains(near), "suggests {near}: {err}");
    }
}

/// Every problem is reported at once, not only the first.
#[test]
fn all_errors_reported_at_once() {
    let tmp = TempDir::new();
    let (out, _) = check(
        &tmp,
        "tend.json",
        &json!({"processes": [
            {"name": "a", "command": "x", "restart_delay": "soon"},
            {"name": "b", "command": "y", "stop_signal": "NOPE"}
        ]})
        .to_string(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(err.contains("processes[0].restart_delay"), "{err}");
    assert!(err.contains("processes[1].stop_signal"), "{err}");
}

/// JSON syntax errors name the file, line and column.
#[test]
fn syntax_error_names_line() {
    let tmp = TempDir::new();
    let text = "{\n  \"processes\": [\n    {\"name\": \"w\", \"command\": \"a\",}\n  ]\n}\n";
    let (out, path) = check(&tmp, "tend.json", text);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(err.contains(&path), "{err}");
    assert!(
        err.contains("line 3") || err.contains(":3:"),
        "names line 3: {err}"
    );
}

#[test]
fn missing_config_file_exits_2() {
    let tmp = TempDir::new();
    let p = tmp.join("absent.json");
    let out = run_tend(&["check", "-c", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(stderr(&out).contains(p.to_str().unwrap()), "{}", show(&out));
}

/// `tend run -c BAD` refuses to start: exit 2, the same error, nothing run.
#[test]
fn run_with_bad_config_exits_2() {
    let tmp = TempDir::new();
    let fx = fixture();
    let cfg = write_config(
        tmp.path(),
        &json!({"processes": [{"name": "w", "command": fx,
                               "args": ["--ready-file", tmp.s("ready")],
                               "restart_delay": "fast"}]})
        .to_string(),
    );
    let mut t = Tend::run(&tmp, &["-c", cfg.to_str().unwrap()]);
    assert_eq!(t.expect_exit(Duration::from_secs(5)), 2, "{}", t.dump());
    assert!(
        t.stderr().contains("processes[0].restart_delay"),
        "{}",
        t.dump()
    );
    assert!(!tmp.join("ready").exists(), "nothing was started");
}

/// Bad `tend run` flags exit 2 too.
#[test]
fn run_with_bad_flags_exits_2() {
    let fx = fixture();
    for bad in [
        vec!["--restart", "sometimes"],
        vec!["--restart-delay", "fast"],
        vec!["--stop-signal", "NOPE"],
        vec!["--name", "has space"],
        vec!["--env", "NOEQUALS"],
        vec!["--max-restarts", "many"],
        vec!["--backoff-factor", "x"],
        vec!["--no-such-flag"],
    ] {
        let tmp = TempDir::new();
        let mut argv = bad.clone();
        argv.extend(["--", fx.as_str(), "--ready-file"]);
        let ready = tmp.s("ready");
        argv.push(&ready);
        let mut t = Tend::run(&tmp, &argv);
        assert_eq!(
            t.expect_exit(Duration::from_secs(5)),
            2,
            "{bad:?}\n{}",
            t.dump()
        );
        assert!(!tmp.join("ready").exists(), "nothing was started");
    }
}
