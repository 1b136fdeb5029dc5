//! Durations: parse `250ms`, `1m30s`; format canonically. (Placeholder
//! until the config branch lands.)
use std::time::Duration;
pub fn format(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}
