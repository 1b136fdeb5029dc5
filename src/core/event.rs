//! Events: the state changes tend reports (SPEC §4 "Events"). Produced by
//! the core, written by `sys` to `events.jsonl`, streamed to `tend events
//! -f` clients and used to fire hooks.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    Starting,
    Started {
        pid: u32,
    },
    Ready,
    Unready {
        error: Option<String>,
    },
    Healthy {
        probe: &'static str,
    },
    Unhealthy {
        probe: &'static str,
        error: String,
    },
    Exited {
        code: Option<i32>,
        signal: Option<String>,
    },
    Backoff {
        delay_ms: u64,
    },
    Stopping,
    Stopped,
    BreakerOpen {
        failures: u32,
        error: String,
    },
    GaveUp {
        error: String,
    },
    Reset,
    Reload {
        added: usize,
        removed: usize,
        changed: usize,
        unchanged: usize,
    },
    Shutdown {
        reason: String,
    },
}

/// One event about one process (or about tend: `name` is "tend").
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    pub kind: EventKind,
}

impl Event {
    pub fn new(name: &str, kind: EventKind) -> Event {
        Event {
            name: name.to_string(),
            kind,
        }
    }

    /// The event name as in SPEC §4 and in `hooks` keys.
    pub fn event_name(&self) -> &'static str {
        match self.kind {
            EventKind::Starting => "starting",
            EventKind::Started { .. } => "started",
            EventKind::Ready => "ready",
            EventKind::Unready { .. } => "unready",
            EventKind::Healthy { .. } => "healthy",
            EventKind::Unhealthy { .. } => "unhealthy",
            EventKind::Exited { .. } => "exited",
            EventKind::Backoff { .. } => "backoff",
            EventKind::Stopping => "stopping",
            EventKind::Stopped => "stopped",
            EventKind::BreakerOpen { .. } => "breaker_open",
            EventKind::GaveUp { .. } => "gave_up",
            EventKind::Reset => "reset",
            EventKind::Reload { .. } => "reload",
            EventKind::Shutdown { .. } => "shutdown",
        }
    }

    /// The error text the event carries, for `{error}` in hooks.
    pub fn error(&self) -> Option<&str> {
        match &self.kind {
            EventKind::Unready { error } => error.as_deref(),
            EventKind::Unhealthy { error, .. }
            | EventKind::BreakerOpen { error, .. }
            | EventKind::GaveUp { error } => Some(error),
            _ => None,
        }
    }

    /// One JSON object: `{"ts", "event", "name", ...fields}`.
    pub fn to_json(&self, ts: &str) -> Value {
        let mut m = Map::new();
        m.insert("ts".into(), ts.into());
        m.insert("event".into(), self.event_name().into());
        m.insert("name".into(), self.name.clone().into());
        match &self.kind {
            EventKind::Started { pid } => {
                m.insert("pid".into(), (*pid).into());
            }
            EventKind::Unready { error } => {
                if let Some(e) = error {
                    m.insert("error".into(), e.clone().into());
                }
            }
            EventKind::Healthy { probe } => {
                m.insert("probe".into(), (*probe).into());
            }
            EventKind::Unhealthy { probe, error } => {
                m.insert("probe".into(), (*probe).into());
                m.insert("error".into(), error.clone().into());
            }
            EventKind::Exited { code, signal } => {
                m.insert("code".into(), (*code).into());
                m.insert("signal".into(), signal.clone().into());
            }
            EventKind::Backoff { delay_ms } => {
                m.insert("delay_ms".into(), (*delay_ms).into());
            }
            EventKind::BreakerOpen { failures, error } => {
                m.insert("failures".into(), (*failures).into());
                m.insert("error".into(), error.clone().into());
            }
            EventKind::GaveUp { error } => {
                m.insert("error".into(), error.clone().into());
            }
            EventKind::Reload {
                added,
                removed,
                changed,
                unchanged,
            } => {
                m.insert("added".into(), (*added).into());
                m.insert("removed".into(), (*removed).into());
                m.insert("changed".into(), (*changed).into());
                m.insert("unchanged".into(), (*unchanged).into());
            }
            EventKind::Shutdown { reason } => {
                m.insert("reason".into(), reason.clone().into());
            }
            EventKind::Starting
            | EventKind::Ready
            | EventKind::Stopping
            | EventKind::Stopped
            | EventKind::Reset => {}
        }
        Value::Object(m)
    }
}
