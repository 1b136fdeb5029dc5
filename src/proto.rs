//! The control-socket protocol and the status document, shared by the
//! server (`sys::control`) and the client (`client`).
//!
//! Wire format (SPEC §4 "Control protocol"): newline-delimited JSON over
//! `DIR/tend.sock`. Each request is one JSON object on one line, at most
//! 64 KiB, with `"v": 1` and a `"cmd"`; each reply is one JSON object on one
//! line with `"ok"` and either the result or `"error"`. `events` with
//! `"follow": true` keeps the connection open and streams one event object
//! per line after the reply. Pure data: no I/O here.

use serde::{Deserialize, Serialize};

/// Protocol version; a request with another `v` gets an error reply.
pub const VERSION: u32 = 1;

/// Largest request line the server reads before replying with an error.
pub const MAX_REQUEST: usize = 64 * 1024;

/// A request, as sent on the wire: `{"v":1,"cmd":"status","names":[]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Status {
        v: u32,
        #[serde(default)]
        names: Vec<String>,
    },
    Start {
        v: u32,
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        all: bool,
    },
    Stop {
        v: u32,
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        all: bool,
    },
    Restart {
        v: u32,
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        all: bool,
    },
    Reset {
        v: u32,
        #[serde(default)]
        names: Vec<String>,
    },
    Reload {
        v: u32,
    },
    Shutdown {
        v: u32,
    },
    Health {
        v: u32,
        #[serde(default)]
        names: Vec<String>,
    },
    /// Past events from `events.jsonl` are read by the client itself;
    /// `follow` subscribes to new ones.
    Events {
        v: u32,
        #[serde(default)]
        follow: bool,
    },
    /// Paths the client needs (log directory) and tend's identity.
    Info {
        v: u32,
    },
}

impl Request {
    pub fn version(&self) -> u32 {
        match self {
            Request::Status { v, .. }
            | Request::Start { v, .. }
            | Request::Stop { v, .. }
            | Request::Restart { v, .. }
            | Request::Reset { v, .. }
            | Request::Reload { v }
            | Request::Shutdown { v }
            | Request::Health { v, .. }
            | Request::Events { v, .. }
            | Request::Info { v } => *v,
        }
    }
}

/// A reply: `{"ok":true, ...}` or `{"ok":false,"error":"..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `status`: the status document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusDoc>,
    /// `start|stop|restart|reset`: one line per process acted on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ActionResult>,
    /// `health`: names that are not ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ready: Vec<String>,
    /// `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Info>,
}

impl Reply {
    pub fn error(msg: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            error: Some(msg.into()),
            ..Reply::default()
        }
    }
    pub fn ok() -> Reply {
        Reply {
            ok: true,
            ..Reply::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    pub name: String,
    /// State after the action took effect.
    pub state: String,
    pub pid: Option<u32>,
    /// What happened, for humans: "stopped (was pid 123)".
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Info {
    pub pid: u32,
    pub version: String,
    pub dir: String,
    pub log_dir: String,
    pub config: Option<String>,
}

/// The `tend status --json` document (SPEC §5), also `GET /status` and the
/// body of `DIR/state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusDoc {
    pub tend: TendInfo,
    pub processes: Vec<ProcStatus>,
    /// Recovery records (SPEC §4 "Crash of tend itself"): only written to
    /// `state.json`, never part of the status reply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TendInfo {
    pub pid: u32,
    pub uptime_ms: u64,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcStatus {
    pub name: String,
    /// stopped starting running backoff stopping exited failed
    pub state: String,
    /// unknown healthy unhealthy
    pub health: String,
    pub ready: bool,
    pub pid: Option<u32>,
    pub uptime_ms: u64,
    pub starts: u64,
    pub restarts: u64,
    /// RFC 3339 UTC.
    pub last_start: Option<String>,
    pub last_exit: Option<LastExit>,
    pub last_error: Option<String>,
    /// Milliseconds until the scheduled restart (state `backoff`), else null.
    pub next_restart_ms: Option<u64>,
    pub breaker: BreakerStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastExit {
    pub code: Option<i32>,
    /// Signal name without `SIG`, e.g. "KILL".
    pub signal: Option<String>,
    /// RFC 3339 UTC.
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerStatus {
    pub open: bool,
    /// Restarts inside the current `restart_window`.
    pub failures: u32,
    /// RFC 3339 UTC when an open breaker closes (cooldown), else null.
    pub retry_at: Option<String>,
}

/// What a later tend needs to clean up after this one if it dies without
/// cleanup: the group it must kill and how to recognise its leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildRecord {
    pub name: String,
    pub pid: u32,
    pub pgid: u32,
    /// Field 22 of /proc/PID/stat (clock ticks since boot).
    pub start_time: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let r: Request = serde_json::from_str(r#"{"v":1,"cmd":"status"}"#).unwrap();
        assert_eq!(
            r,
            Request::Status {
                v: 1,
                names: vec![]
            }
        );
        let r: Request =
            serde_json::from_str(r#"{"v":1,"cmd":"stop","names":["a"],"all":false}"#).unwrap();
        assert_eq!(r.version(), 1);
        assert!(serde_json::from_str::<Request>(r#"{"v":1,"cmd":"nope"}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"v":1,"cmd":"status","x":1}"#).is_err());
    }
}
