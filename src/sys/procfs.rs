//! What tend reads from /proc (Linux only; elsewhere these return None and
//! the features that need them — limits, recovery, escaped descendants —
//! are off): a process's start time, its group's members and their RSS.

/// Fields of /proc/PID/stat after the command name: (state, ppid, pgrp,
/// starttime, rss pages).
#[cfg(target_os = "linux")]
fn stat_fields(pid: u32) -> Option<(char, u32, u32, u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain anything.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // rest[0] is field 3 (state); field N is f[N - 3].
    let state = f.first()?.chars().next()?;
    let ppid = f.get(1)?.parse().ok()?;
    let pgrp = f.get(2)?.parse().ok()?;
    let start = f.get(19)?.parse().ok()?;
    let rss = f.get(21)?.parse().ok()?;
    Some((state, ppid, pgrp, start, rss))
}

/// Start time of a process in clock ticks since boot (field 22).
pub fn start_time(pid: u32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        stat_fields(pid).map(|f| f.3)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// Live processes as (pid, ppid, pgrp, starttime, rss bytes), zombies
/// excluded.
pub fn all_processes() -> Vec<(u32, u32, u32, u64, u64)> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sysconf has no memory-safety requirements.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| {
                let (state, ppid, pgrp, start, rss) = stat_fields(pid)?;
                (state != 'Z' && state != 'X').then_some((pid, ppid, pgrp, start, rss * page))
            })
            .collect()
    }
    #[cfg(not(target_os = "linux"))]
    {
        Vec::new()
    }
}

/// (RSS bytes summed, number of processes) of a process group.
pub fn group_usage(pgid: u32) -> Option<(u64, u32)> {
    let procs = all_processes();
    if procs.is_empty() {
        return None;
    }
    let mut rss = 0;
    let mut n = 0;
    for (_, _, g, _, r) in procs {
        if g == pgid {
            rss += r;
            n += 1;
        }
    }
    Some((rss, n))
}

/// Direct children of `pid`, from /proc/PID/task/*/children (no scan of
/// every process on the machine).
#[cfg(target_os = "linux")]
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|w| w.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// Descendants of a supervised child named `name` that escaped its process
/// group (a daemon that double-forked and called setsid): once their
/// parent is gone they are re-parented to tend, the subreaper. They are
/// recognised among tend's adopted children (`adopted`: not one of tend's
/// own, per `known`) by the `TEND_PROCESS=name` marker tend puts in every
/// child's environment, and taken with all their descendants. Returns
/// (pid, start time). Costs one read of tend's children list, plus the
/// environment of each adopted process: nothing when none was adopted.
pub fn escaped(tend_pid: u32, known: &dyn Fn(u32) -> bool, name: &str) -> Vec<(u32, u64)> {
    #[cfg(target_os = "linux")]
    {
        let marker = format!("TEND_PROCESS={name}");
        let mut out: Vec<(u32, u64)> = Vec::new();
        let mut frontier: Vec<u32> = children_of(tend_pid)
            .into_iter()
            .filter(|&p| !known(p) && has_env(p, &marker))
            .collect();
        while let Some(p) = frontier.pop() {
            if out.iter().any(|&(q, _)| q == p) {
                continue;
            }
            if let Some(start) = start_time(p) {
                out.push((p, start));
                frontier.extend(children_of(p));
            }
        }
        out
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (tend_pid, known, name);
        Vec::new()
    }
}

#[cfg(target_os = "linux")]
fn has_env(pid: u32, entry: &str) -> bool {
    match std::fs::read(format!("/proc/{pid}/environ")) {
        Ok(env) => env.split(|&b| b == 0).any(|e| e == entry.as_bytes()),
        Err(_) => false,
    }
}
