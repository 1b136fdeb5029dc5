//! Signal names and numbers: the one table used to parse `stop_signal`,
//! to render `last_exit.signal` and to decide what single-command mode
//! forwards. Pure: no handlers are installed here (see `sys::signals`).

/// (name without `SIG`, number), every signal tend knows by name.
pub const TABLE: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("SYS", libc::SIGSYS),
];

/// Parse `TERM`, `SIGTERM`, `sigterm` or `15`.
pub fn parse(s: &str) -> Option<i32> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = t.to_ascii_uppercase();
    let bare = up.strip_prefix("SIG").unwrap_or(&up);
    TABLE.iter().find(|(n, _)| *n == bare).map(|&(_, v)| v)
}

/// `KILL` for 9; `SIG34`-style for signals without a name.
pub fn name(sig: i32) -> String {
    match TABLE.iter().find(|&&(_, v)| v == sig) {
        Some((n, _)) => (*n).to_string(),
        None => format!("SIG{sig}"),
    }
}

/// Signals single-command mode (the tini role) forwards to the child's
/// process group: every catchable signal except CHLD, TTIN, TTOU and the
/// fault signals (SEGV BUS FPE ILL ABRT TRAP SYS). KILL and STOP cannot be
/// caught. Real-time signals are forwarded too.
pub fn forwarded_in_single_mode() -> Vec<i32> {
    let excluded = [
        libc::SIGCHLD,
        libc::SIGTTIN,
        libc::SIGTTOU,
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGILL,
        libc::SIGABRT,
        libc::SIGTRAP,
        libc::SIGSYS,
        libc::SIGKILL,
        libc::SIGSTOP,
    ];
    #[allow(unused_mut)]
    let mut v: Vec<i32> = TABLE
        .iter()
        .map(|&(_, n)| n)
        .filter(|n| !excluded.contains(n))
        .collect();
    #[cfg(target_os = "linux")]
    {
        // Linux-only signals missing from the portable table: left
        // unhandled, their default action would kill tend.
        v.extend([libc::SIGSTKFLT, libc::SIGPWR]);
        // signal-hook refuses to register handlers for the real-time
        // signals libc reserves; SIGRTMIN() already skips those.
        v.extend(libc::SIGRTMIN()..=libc::SIGRTMAX());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        for &(n, v) in TABLE {
            assert_eq!(parse(n), Some(v));
            assert_eq!(parse(&format!("SIG{n}")), Some(v));
            assert_eq!(parse(&n.to_ascii_lowercase()), Some(v));
            assert_eq!(parse(&v.to_string()), Some(v));
            assert_eq!(name(v), n);
        }
        assert_eq!(parse("NOPE"), None);
        assert_eq!(parse("0"), None);
        assert_eq!(parse("65"), None);
    }

    #[test]
    fn single_mode_forwards_the_right_set() {
        let f = forwarded_in_single_mode();
        for s in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGUSR1,
            libc::SIGWINCH,
        ] {
            assert!(f.contains(&s), "{s} must be forwarded");
        }
        #[cfg(target_os = "linux")]
        for s in [libc::SIGSTKFLT, libc::SIGPWR] {
            assert!(f.contains(&s), "{s} must be forwarded");
        }
        for s in [
            libc::SIGCHLD,
            libc::SIGTTIN,
            libc::SIGTTOU,
            libc::SIGSEGV,
            libc::SIGKILL,
        ] {
            assert!(!f.contains(&s), "{s} must not be forwarded");
        }
    }
}
