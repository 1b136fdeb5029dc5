//! `tend run` under systemd's notify protocol (SPEC §4 "systemd"): the test
//! plays systemd by binding a Unix datagram socket and starting the real
//! binary with `NOTIFY_SOCKET` pointing at it. Expects `READY=1` only once
//! every process is ready, a `STATUS=` line, `STOPPING=1` on SIGTERM,
//! `RELOADING=1` then `READY=1` on SIGHUP, `WATCHDOG=1` pings every
//! `WATCHDOG_USEC`/2, and children that do not inherit the protocol's
//! variables.
//!
//! Self-contained: its own small helpers; waits poll with deadlines.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TEND: &str = env!("CARGO_BIN_EXE_tend");
const WAIT: Duration = Duration::from_secs(20);

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let n = next();
        let p =
            std::env::temp_dir().join(format!("tend-it-notify-{}-{tag}-{n}", std::process::id()));
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

fn next() -> usize {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

/// The fake systemd end: every line of every datagram, with its arrival.
struct Systemd {
    sock: UnixDatagram,
    lines: Vec<(Instant, String)>,
}

impl Systemd {
    fn new(sock: UnixDatagram) -> Systemd {
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        Systemd {
            sock,
            lines: Vec::new(),
        }
    }

    /// Take what has arrived, waiting at most one short read timeout.
    fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.sock.recv(&mut buf) {
            let now = Instant::now();
            for l in String::from_utf8_lossy(&buf[..n]).lines() {
                self.lines.push((now, l.to_string()));
            }
        }
    }

    fn has(&self, line: &str) -> bool {
        self.lines.iter().any(|(_, l)| l == line)
    }

    fn count(&self, line: &str) -> usize {
        self.lines.iter().filter(|(_, l)| l == line).count()
    }

    fn position(&self, line: &str) -> Option<usize> {
        self.lines.iter().position(|(_, l)| l == line)
    }

    fn text(&self) -> String {
        self.lines.iter().map(|(_, l)| format!("  {l}\n")).collect()
    }
}

struct Tend {
    child: Child,
    tmp: TempDir,
    systemd: Systemd,
}

/// How to run tend for one test.
struct Setup {
    tag: &'static str,
    /// `NOTIFY_SOCKET` is an abstract name instead of a path.
    abstract_name: bool,
    watchdog_usec: Option<&'static str>,
    /// Create the ready file before starting.
    ready: bool,
}

impl Tend {
    /// `tend --dir TMP/state run --quiet -c TMP/tend.json` with `web`
    /// (ready while TMP/ready exists) and `worker` (no probe).
    fn start(setup: Setup) -> Tend {
        let tmp = TempDir::new(setup.tag);
        let ready = tmp.path().join("ready");
        if setup.ready {
            std::fs::write(&ready, "").unwrap();
        }
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

        let (sock, notify_socket) = if setup.abstract_name {
            use std::os::linux::net::SocketAddrExt;
            let name = format!("tend-it-notify-{}-{}", std::process::id(), next());
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            (UnixDatagram::bind_addr(&addr).unwrap(), format!("@{name}"))
        } else {
            let path = tmp.path().join("notify.sock");
            (
                UnixDatagram::bind(&path).unwrap(),
                path.to_str().unwrap().to_string(),
            )
        };

        let mut cmd = Command::new(TEND);
        cmd.arg("--dir")
            .arg(tmp.path().join("state"))
            .args(["run", "--quiet", "-c"])
            .arg(&cfg)
            .env("NOTIFY_SOCKET", &notify_socket)
            .env("TEND_TEST_MARKER", "inherited")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(tmp.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(tmp.path().join("stderr")).unwrap());
        if let Some(usec) = setup.watchdog_usec {
            cmd.env("WATCHDOG_USEC", usec);
        }
        let child = cmd.spawn().unwrap();
        Tend {
            child,
            tmp,
            systemd: Systemd::new(sock),
        }
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir().join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn has_event(&self, event: &str, name: &str) -> bool {
        self.events()
            .iter()
            .any(|e| e["event"] == event && e["name"] == name)
    }

    fn dump(&mut self) -> String {
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let status = self.child.try_wait().ok().flatten();
        format!(
            "exit: {status:?}\n--- notifications\n{}--- stderr\n{}--- events.jsonl\n{}",
            self.systemd.text(),
            read(self.tmp.path().join("stderr")),
            read(self.dir().join("events.jsonl")),
        )
    }

    /// Pump notifications until `cond` holds; panic with the dump after
    /// `WAIT`. `exit_ok`: tend exiting is expected, not a failure.
    fn wait_until(&mut self, what: &str, exit_ok: bool, mut cond: impl FnMut(&Tend) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            self.systemd.pump();
            if cond(self) {
                return;
            }
            if !exit_ok {
                if let Ok(Some(st)) = self.child.try_wait() {
                    panic!(
                        "tend exited ({st}) while waiting for {what}\n{}",
                        self.dump()
                    );
                }
            }
            if Instant::now() >= deadline {
                panic!("timed out waiting for {what}\n{}", self.dump());
            }
        }
    }

    fn wait_line(&mut self, line: &str) {
        let l = line.to_string();
        self.wait_until(line, false, move |t| t.systemd.has(&l));
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, sig);
        }
    }

    fn pid_of(&self, name: &str) -> Option<u32> {
        self.events()
            .iter()
            .rev()
            .find(|e| e["event"] == "started" && e["name"] == name)
            .and_then(|e| e["pid"].as_u64())
            .map(|p| p as u32)
    }
}

impl Drop for Tend {
    fn drop(&mut self) {
        self.signal(libc::SIGTERM);
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

#[test]
fn ready_only_when_all_ready_then_status_and_stopping() {
    let mut t = Tend::start(Setup {
        tag: "ready",
        abstract_name: false,
        watchdog_usec: None,
        ready: false,
    });
    // worker is ready, web (no ready file) is not: no READY=1 yet.
    t.wait_until("worker ready, web started", false, |t| {
        t.has_event("ready", "worker") && t.has_event("started", "web")
    });
    t.systemd.pump();
    assert!(
        !t.systemd.has("READY=1"),
        "READY=1 before web was ready\n{}",
        t.dump()
    );

    std::fs::write(t.tmp.path().join("ready"), "").unwrap();
    t.wait_line("READY=1");
    assert!(t.has_event("ready", "web"), "{}", t.dump());
    t.wait_until("a STATUS= line", false, |t| {
        t.systemd
            .lines
            .iter()
            .any(|(_, l)| l.starts_with("STATUS=") && l.len() > 7)
    });

    t.signal(libc::SIGTERM);
    t.wait_until("STOPPING=1", true, |t| t.systemd.has("STOPPING=1"));
    let ready_at = t.systemd.position("READY=1").unwrap();
    let stopping_at = t.systemd.position("STOPPING=1").unwrap();
    assert!(ready_at < stopping_at, "{}", t.dump());
    assert_eq!(t.systemd.count("READY=1"), 1, "{}", t.dump());

    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(st) = t.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "tend did not exit\n{}", t.dump());
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}\n{}", t.dump());
}

#[test]
fn watchdog_pings_every_half_timeout() {
    let mut t = Tend::start(Setup {
        tag: "watchdog",
        abstract_name: false,
        watchdog_usec: Some("200000"),
        ready: true,
    });
    t.wait_until("6 WATCHDOG=1 pings", false, |t| {
        t.systemd.count("WATCHDOG=1") >= 6
    });
    let pings: Vec<Instant> = t
        .systemd
        .lines
        .iter()
        .filter(|(_, l)| l == "WATCHDOG=1")
        .map(|(at, _)| *at)
        .collect();
    // 5 intervals of 100 ms: not a burst (allow for early first ping and
    // scheduling jitter), and well within the 200 ms timeout on average.
    let span = pings[5] - pings[0];
    assert!(
        span >= Duration::from_millis(300),
        "pings too fast: {span:?}\n{}",
        t.dump()
    );
    assert!(
        span < Duration::from_secs(5),
        "pings too slow: {span:?}\n{}",
        t.dump()
    );
    t.wait_line("READY=1");
}

#[test]
fn abstract_notify_socket() {
    let mut t = Tend::start(Setup {
        tag: "abstract",
        abstract_name: true,
        watchdog_usec: None,
        ready: true,
    });
    t.wait_line("READY=1");
}

#[test]
fn reload_sends_reloading_then_ready() {
    let mut t = Tend::start(Setup {
        tag: "reload",
        abstract_name: false,
        watchdog_usec: None,
        ready: true,
    });
    t.wait_line("READY=1");
    t.signal(libc::SIGHUP);
    t.wait_until("RELOADING=1 then READY=1", false, |t| {
        let Some(r) = t.systemd.position("RELOADING=1") else {
            return false;
        };
        t.systemd.lines[r..].iter().any(|(_, l)| l == "READY=1")
    });
}

#[test]
fn children_do_not_inherit_the_notify_environment() {
    let mut t = Tend::start(Setup {
        tag: "env",
        abstract_name: false,
        watchdog_usec: Some("60000000"),
        ready: true,
    });
    t.wait_until("worker started", false, |t| t.pid_of("worker").is_some());
    let pid = t.pid_of("worker").unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let vars: Vec<String> = environ
        .split(|&b| b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert!(
        vars.iter().any(|v| v == "TEND_TEST_MARKER=inherited"),
        "environment not readable? {vars:?}"
    );
    for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        assert!(
            !vars.iter().any(|v| v.starts_with(&format!("{name}="))),
            "{name} leaked to a child: {vars:?}\n{}",
            t.dump()
        );
    }
}
