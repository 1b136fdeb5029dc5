//! `tend run --http ADDR` end to end (SPEC §4 "HTTP", §5): the real binary
//! supervising `sh -c 'sleep 1000'` processes, one of them with a readiness
//! probe `test -f READY_FILE` that the test flips by creating and removing
//! the file. Checks `/healthz` (200 ↔ 503), `/metrics` (parsed as
//! Prometheus text), `/status` (the SPEC §5 document), the error routes,
//! and that a storm of HTTP clients and a client sending 1 MB of headers
//! do not stall tend.
//!
//! Self-contained: its own small helpers (temp dir, free port, a `Tend`
//! handle that stops tend on drop, raw HTTP client, wait-with-deadline).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TEND: &str = env!("CARGO_BIN_EXE_tend");
/// Generous: the CI machine is small and shared.
const WAIT: Duration = Duration::from_secs(20);

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("tend-it-http-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port nobody listens on right now: bind port 0, note it, close.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `tend run`; stopped (TERM, then KILL) on drop.
struct Tend {
    child: Child,
    tmp: TempDir,
    addr: SocketAddr,
}

impl Tend {
    /// `tend --dir TMP/state run --quiet -c TMP/tend.json --http 127.0.0.1:PORT`
    /// with two processes: `web` (ready while TMP/ready exists) and
    /// `worker` (no probe: ready once running).
    fn start(tag: &str) -> Tend {
        let tmp = TempDir::new(tag);
        let ready = tmp.path().join("ready");
        let config = serde_json::json!({
            "processes": [
                {
                    "name": "web",
                    "command": "sh",
                    "args": ["-c", "sleep 1000"],
                    "min_uptime": "100ms",
                    "stop_timeout": "2s",
                    "readiness": {
                        "exec": ["test", "-f", ready.to_str().unwrap()],
                        "interval": "100ms"
                    }
                },
                {
                    "name": "worker",
                    "command": "sh",
                    "args": ["-c", "sleep 1000"],
                    "min_uptime": "100ms",
                    "stop_timeout": "2s"
                }
            ]
        });
        let cfg = tmp.path().join("tend.json");
        std::fs::write(&cfg, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(TEND)
            .arg("--dir")
            .arg(tmp.path().join("state"))
            .args(["run", "--quiet", "-c"])
            .arg(&cfg)
            .args(["--http", &addr.to_string()])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(tmp.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(tmp.path().join("stderr")).unwrap())
            .spawn()
            .unwrap();
        let mut t = Tend { child, tmp, addr };
        t.wait_until("the HTTP endpoint answers", || {
            get(addr, "/healthz").is_ok()
        });
        t
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    fn set_ready(&self, ready: bool) {
        let f = self.tmp.path().join("ready");
        if ready {
            std::fs::write(f, "").unwrap();
        } else {
            std::fs::remove_file(f).unwrap();
        }
    }

    /// Everything useful when a test fails: tend's output and state.
    fn dump(&mut self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.tmp.path().join(name)).unwrap_or_default();
        let events = std::fs::read_to_string(self.dir().join("events.jsonl")).unwrap_or_default();
        let status = self.child.try_wait().ok().flatten();
        format!(
            "argv: {TEND} --dir {} run --quiet -c {} --http {}\nexit: {status:?}\n--- stderr\n{}--- stdout\n{}--- events.jsonl\n{events}",
            self.dir().display(),
            self.tmp.path().join("tend.json").display(),
            self.addr,
            read("stderr"),
            read("stdout"),
        )
    }

    /// Poll `cond` until it holds; panic with the dump after `WAIT`.
    fn wait_until(&mut self, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            if cond() {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "tend exited ({st}) while waiting for {what}\n{}",
                    self.dump()
                );
            }
            if Instant::now() >= deadline {
                panic!("timed out waiting for {what}\n{}", self.dump());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait until `GET path` answers `status` and `body_ok(body)`.
    fn wait_for(&mut self, path: &str, status: u16, body_ok: impl Fn(&str) -> bool) -> Response {
        let addr = self.addr;
        let mut last = None;
        let what = format!("GET {path} → {status}");
        self.wait_until(&what, || match get(addr, path) {
            Ok(r) if r.status == status && body_ok(&r.body) => {
                last = Some(r);
                true
            }
            _ => false,
        });
        last.unwrap()
    }
}

impl Drop for Tend {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    /// Lowercased names.
    headers: HashMap<String, String>,
    body: String,
}

/// One raw HTTP/1.1 exchange: send `req`, read to EOF, split.
fn exchange(addr: SocketAddr, req: &[u8]) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(req)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad response: {:?}", String::from_utf8_lossy(&raw)),
        )
    })
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let text = std::str::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let rest = status_line.strip_prefix("HTTP/1.1 ")?;
    let status = rest.get(..3)?.parse().ok()?;
    let mut headers = HashMap::new();
    for l in lines {
        let (k, v) = l.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    Some(Response {
        status,
        headers,
        body: body.to_string(),
    })
}

fn get(addr: SocketAddr, path: &str) -> std::io::Result<Response> {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: tend-test\r\n\r\n").as_bytes(),
    )
}

/// Every response: `Connection: close` and a correct `Content-Length`.
fn check_framing(r: &Response, head: bool) {
    assert_eq!(
        r.headers.get("connection").map(String::as_str),
        Some("close"),
        "{r:?}"
    );
    let len: usize = r.headers["content-length"].parse().unwrap();
    if !head {
        assert_eq!(len, r.body.len(), "{r:?}");
    }
}

// ---------------------------------------------------------------------
// A small Prometheus text-format (0.0.4) parser, strict enough to catch
// what a scraper would reject.
// ---------------------------------------------------------------------

#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

#[derive(Debug, Default)]
struct Exposition {
    help: HashMap<String, String>,
    kind: HashMap<String, String>,
    samples: Vec<Sample>,
}

impl Exposition {
    fn value(&self, name: &str, proc_: &str) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == [("name".to_string(), proc_.to_string())])
            .map(|s| s.value)
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The family a sample belongs to (`_total` etc. are part of the name in
/// 0.0.4 for counters declared with it; histograms are not used by tend).
fn parse_prometheus(text: &str) -> Result<Exposition, String> {
    let mut e = Exposition::default();
    let mut seen_samples_of: Vec<String> = Vec::new();
    if !text.ends_with('\n') {
        return Err("exposition must end with a newline".into());
    }
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            let mut parts = rest.splitn(3, ' ');
            let (Some(kw), Some(name)) = (parts.next(), parts.next()) else {
                continue; // a plain comment
            };
            let arg = parts.next().unwrap_or("").to_string();
            match kw {
                "HELP" | "TYPE" => {
                    if !is_metric_name(name) {
                        return Err(format!("line {n}: bad metric name {name:?}"));
                    }
                    if seen_samples_of.iter().any(|s| s == name) {
                        return Err(format!("line {n}: {kw} for {name} after its samples"));
                    }
                    let map = if kw == "HELP" {
                        &mut e.help
                    } else {
                        &mut e.kind
                    };
                    if map.insert(name.to_string(), arg.clone()).is_some() {
                        return Err(format!("line {n}: second {kw} for {name}"));
                    }
                    if kw == "TYPE"
                        && !["counter", "gauge", "histogram", "summary", "untyped"]
                            .contains(&arg.as_str())
                    {
                        return Err(format!("line {n}: bad type {arg:?}"));
                    }
                }
                _ => {}
            }
            continue;
        }
        // name{label="value",...} value [timestamp]
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => (&line[..i], &line[i..]),
            None => return Err(format!("line {n}: no value: {line:?}")),
        };
        if !is_metric_name(name) {
            return Err(format!("line {n}: bad metric name {name:?}"));
        }
        let mut labels = Vec::new();
        let rest = if let Some(mut r) = rest.strip_prefix('{') {
            loop {
                if let Some(after) = r.strip_prefix('}') {
                    break after;
                }
                let eq = r.find('=').ok_or(format!("line {n}: label without '='"))?;
                let lname = &r[..eq];
                if !is_metric_name(lname) || lname.contains(':') {
                    return Err(format!("line {n}: bad label name {lname:?}"));
                }
                r = r[eq + 1..]
                    .strip_prefix('"')
                    .ok_or(format!("line {n}: label value not quoted"))?;
                let mut value = String::new();
                let mut chars = r.char_indices();
                let end = loop {
                    match chars.next() {
                        None => return Err(format!("line {n}: unterminated label value")),
                        Some((i, '"')) => break i,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            Some((_, 'n')) => value.push('\n'),
                            _ => return Err(format!("line {n}: bad escape")),
                        },
                        Some((_, c)) => value.push(c),
                    }
                };
                labels.push((lname.to_string(), value));
                r = &r[end + 1..];
                r = r.strip_prefix(',').unwrap_or(r);
            }
        } else {
            rest
        };
        let mut fields = rest.split_whitespace();
        let value = fields.next().ok_or(format!("line {n}: no value"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v
                .parse()
                .map_err(|_| format!("line {n}: bad value {v:?}"))?,
        };
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|_| format!("line {n}: bad timestamp {ts:?}"))?;
        }
        if fields.next().is_some() {
            return Err(format!("line {n}: trailing fields"));
        }
        // The samples of one family are contiguous.
        if seen_samples_of.last().map(String::as_str) != Some(name) {
            if seen_samples_of.iter().any(|s| s == name) {
                return Err(format!("line {n}: samples of {name} are not contiguous"));
            }
            seen_samples_of.push(name.to_string());
        }
        e.samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok(e)
}

/// `tend status --json`, through the real client when this build has one;
/// before the client exists, the same request over the control socket.
fn status_json(dir: &Path) -> Result<serde_json::Value, String> {
    let out = Command::new(TEND)
        .arg("--dir")
        .arg(dir)
        .args(["status", "--json"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.contains("not implemented") {
        if !out.status.success() {
            return Err(format!("tend status --json: {}: {stderr}", out.status));
        }
        return serde_json::from_slice(&out.stdout).map_err(|e| e.to_string());
    }
    let mut s = UnixStream::connect(dir.join("tend.sock")).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"{\"v\":1,\"cmd\":\"status\"}\n")
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(s)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let reply: serde_json::Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
    if reply["ok"] != true {
        return Err(format!("status reply: {line}"));
    }
    Ok(reply["status"].clone())
}

/// The SPEC §5 keys of the status document.
fn check_status_doc(v: &serde_json::Value, tend_pid: u32) {
    let tend = &v["tend"];
    assert_eq!(tend["pid"], tend_pid, "{v:#}");
    assert!(tend["uptime_ms"].is_u64(), "{v:#}");
    assert!(tend["version"].is_string(), "{v:#}");
    let procs = v["processes"].as_array().expect("processes array");
    let names: Vec<&str> = procs.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["web", "worker"]);
    for p in procs {
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
            assert!(p.get(key).is_some(), "{key} missing in {p:#}");
        }
        for key in ["open", "failures", "retry_at"] {
            assert!(
                p["breaker"].get(key).is_some(),
                "breaker.{key} missing in {p:#}"
            );
        }
        assert!(p["ready"].is_boolean());
        assert!(p["restarts"].is_u64());
    }
    assert!(
        v.get("children").is_none(),
        "recovery records leaked: {v:#}"
    );
}

// ---------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------

#[test]
fn healthz_follows_readiness() {
    let mut t = Tend::start("healthz");
    // No ready file: web is not ready (worker is, once running).
    let r = t.wait_for("/healthz", 503, |b| b == "not ready: web\n");
    check_framing(&r, false);
    t.set_ready(true);
    let r = t.wait_for("/healthz", 200, |b| b == "ok\n");
    check_framing(&r, false);
    t.set_ready(false);
    t.wait_for("/healthz", 503, |b| b == "not ready: web\n");
    t.set_ready(true);
    t.wait_for("/healthz", 200, |b| b == "ok\n");
}

#[test]
fn metrics_parse_as_prometheus_text() {
    let mut t = Tend::start("metrics");
    t.set_ready(true);
    t.wait_for("/healthz", 200, |_| true);
    let r = t.wait_for("/metrics", 200, |_| true);
    check_framing(&r, false);
    assert_eq!(
        r.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let e = parse_prometheus(&r.body).unwrap_or_else(|err| panic!("{err}\n{}", r.body));
    for (name, kind) in [
        ("tend_up", "gauge"),
        ("tend_process_up", "gauge"),
        ("tend_process_ready", "gauge"),
        ("tend_process_restarts_total", "counter"),
        ("tend_process_uptime_seconds", "gauge"),
        ("tend_process_last_exit_code", "gauge"),
    ] {
        assert_eq!(
            e.kind.get(name).map(String::as_str),
            Some(kind),
            "TYPE of {name}\n{}",
            r.body
        );
        assert!(
            e.help.get(name).is_some_and(|h| !h.is_empty()),
            "HELP of {name}\n{}",
            r.body
        );
    }
    assert!(e
        .samples
        .iter()
        .any(|s| s.name == "tend_up" && s.labels.is_empty() && s.value == 1.0));
    for p in ["web", "worker"] {
        assert_eq!(e.value("tend_process_up", p), Some(1.0), "{p}\n{}", r.body);
        assert_eq!(
            e.value("tend_process_ready", p),
            Some(1.0),
            "{p}\n{}",
            r.body
        );
        assert_eq!(
            e.value("tend_process_restarts_total", p),
            Some(0.0),
            "{p}\n{}",
            r.body
        );
        let up = e.value("tend_process_uptime_seconds", p).unwrap();
        assert!(up >= 0.0, "{p}: {up}");
    }
    // Every sample has a declared family and a `name` label when per process.
    for s in &e.samples {
        assert!(e.kind.contains_key(&s.name), "no TYPE for {}", s.name);
        if s.name.starts_with("tend_process_") {
            assert_eq!(s.labels.len(), 1, "{s:?}");
            assert_eq!(s.labels[0].0, "name", "{s:?}");
        }
    }
    // Readiness shows in the metric too.
    t.set_ready(false);
    let addr = t.addr;
    t.wait_until("tend_process_ready{name=\"web\"} 0", || {
        get(addr, "/metrics").is_ok_and(|r| {
            parse_prometheus(&r.body)
                .is_ok_and(|e| e.value("tend_process_ready", "web") == Some(0.0))
        })
    });
}

#[test]
fn status_is_the_status_document() {
    let mut t = Tend::start("status");
    let r = t.wait_for("/status", 200, |_| true);
    check_framing(&r, false);
    assert_eq!(r.headers["content-type"], "application/json");
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    check_status_doc(&v, t.child.id());
    let web = &v["processes"][0];
    assert!(web["pid"].is_u64(), "{web:#}");
    assert_eq!(web["restarts"], 0);
}

#[test]
fn head_unknown_paths_methods_and_garbage() {
    let mut t = Tend::start("errors");
    let addr = t.addr;
    let r = exchange(addr, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "", "HEAD has no body");
    check_framing(&r, true);
    assert!(r.headers["content-length"].parse::<usize>().unwrap() > 0);

    let r = get(addr, "/nope").unwrap();
    assert_eq!(r.status, 404);
    check_framing(&r, false);

    for m in ["POST", "PUT", "DELETE"] {
        let req = format!("{m} /status HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}");
        let r = exchange(addr, req.as_bytes()).unwrap();
        assert_eq!(r.status, 405, "{m}");
        check_framing(&r, false);
    }

    for junk in [
        &b"hello\r\n\r\n"[..],
        b"GET /status\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ] {
        let r = exchange(addr, junk).unwrap();
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(junk));
        check_framing(&r, false);
    }
    // Still serving.
    t.wait_for("/healthz", 503, |_| true);
}

#[test]
fn many_clients_and_huge_headers_do_not_stall_tend() {
    let mut t = Tend::start("storm");
    t.set_ready(true);
    t.wait_for("/healthz", 200, |_| true);
    let addr = t.addr;
    let dir = t.dir();

    // Silent connections that hold a slot until the idle deadline.
    let idle: Vec<TcpStream> = (0..10).map(|_| TcpStream::connect(addr).unwrap()).collect();

    // 1 MB of headers: refused with 400, tend keeps serving.
    let big = std::thread::spawn(move || {
        let mut req = b"GET /status HTTP/1.1\r\nHost: x\r\n".to_vec();
        while req.len() < 1 << 20 {
            req.extend_from_slice(b"X-Filler: 0123456789012345678901234567890123456789\r\n");
        }
        req.extend_from_slice(b"\r\n");
        // Write in a helper thread so a server that stops reading cannot
        // hang this one; the response is what counts.
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut w = s.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = w.write_all(&req);
            let _ = w.shutdown(Shutdown::Write);
        });
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let _ = writer.join();
        parse_response(&raw)
    });

    let started = Instant::now();
    let clients: Vec<_> = (0..100)
        .map(|i| {
            let path = ["/status", "/metrics", "/healthz"][i % 3];
            std::thread::spawn(move || get(addr, path).map(|r| r.status))
        })
        .collect();

    // Meanwhile the control socket and HTTP both answer promptly.
    let v = status_json(&dir).unwrap_or_else(|e| panic!("{e}\n{}", t.dump()));
    check_status_doc(&v, t.child.id());
    let r = get(addr, "/status").unwrap();
    assert_eq!(r.status, 200);

    for (i, c) in clients.into_iter().enumerate() {
        let st = c.join().unwrap();
        assert_eq!(
            st.as_ref().ok(),
            Some(&200),
            "client {i}: {st:?}\n{}",
            t.dump()
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "100 clients took {:?}",
        started.elapsed()
    );
    let big = big.join().unwrap().expect("a response to the 1 MB request");
    assert_eq!(big.status, 400, "{big:?}");

    // And afterwards.
    let v = status_json(&dir).unwrap_or_else(|e| panic!("{e}\n{}", t.dump()));
    check_status_doc(&v, t.child.id());
    t.wait_for("/healthz", 200, |b| b == "ok\n");
    drop(idle);
}

#[test]
fn prometheus_parser_rejects_what_scrapers_reject() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{name=\"x\\\"y\"} 3\n# TYPE b gauge\nb 1.5 1700000000000\n";
    let e = parse_prometheus(good).unwrap();
    assert_eq!(e.samples.len(), 2);
    assert_eq!(
        e.samples[0].labels,
        [("name".to_string(), "x\"y".to_string())]
    );
    for bad in [
        "a 1",                              // no final newline
        "a\n",                              // no value
        "a x\n",                            // not a number
        "a{name=x} 1\n",                    // unquoted label
        "1a 1\n",                           // bad name
        "a 1\n# TYPE a gauge\n",            // TYPE after samples
        "# TYPE a gauge\n# TYPE a gauge\n", // twice
        "# TYPE a thing\n",                 // bad type
        "a 1\nb 1\na 2\n",                  // not contiguous
    ] {
        assert!(parse_prometheus(bad).is_err(), "{bad:?}");
    }
}
