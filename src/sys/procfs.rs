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

/// Processes outside group `pgid` that descend from a supervised child
/// named `name` and escaped its group (a daemon that called setsid):
/// recognised by the `TEND_PROCESS=name` marker tend puts in every child's
/// environment, among tend's own descendants. Returns (pid, start time).
pub fn escaped(tend_pid: u32, pgid: u32, name: &str) -> Vec<(u32, u64)> {
    #[cfg(target_os = "linux")]
    {
        let marker = format!("TEND_PROCESS={name}");
        let procs = all_processes();
        let mut under: Vec<u32> = vec![tend_pid];
        let mut out = Vec::new();
        let mut i = 0;
        while i < under.len() {
            let parent = under[i];
            for &(pid, ppid, pgrp, start, _) in &procs {
                if ppid == parent && !under.contains(&pid) {
                    under.push(pid);
                    if pgrp != pgid && has_env(pid, &marker) {
                        out.push((pid, start));
                    }
                }
            }
            i += 1;
        }
        out
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (tend_pid, pgid, name);
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
