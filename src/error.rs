//! Error values of the configuration boundary: everything that can be wrong
//! with a config file or with `tend run` flags, each variant carrying its
//! context (origin, key path, value, what was expected), rendered in one
//! place. `main` adds the `tend: error: ` prefix and calls `exit_code`.
//!
//! `origin` is the config file as the user named it (`tend.json`) or
//! `command line`; `key` is a key path (`processes[0].restart_delay`) or a
//! flag (`--restart-delay`); `value` is the offending value as JSON text.

#![allow(dead_code)]

use std::fmt;
use std::path::PathBuf;

/// Longest rendering of a bad value before it is cut (a whole object
/// pasted into one line helps nobody).
const MAX_VALUE_CHARS: usize = 60;

#[derive(Debug)]
pub enum ConfigError {
    /// The config file could not be read.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not valid JSON.
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A value of the wrong type, out of range or malformed.
    Invalid {
        origin: String,
        key: String,
        value: String,
        expected: String,
    },
    /// A key tend does not know, with the nearest known key if any.
    UnknownKey {
        origin: String,
        key: String,
        suggestion: Option<String>,
    },
    /// A required key is absent.
    Missing { origin: String, key: String },
    /// Two keys that mean the same thing (a Node watchdog alias and its
    /// tend key, or two probe kinds) were both given.
    Conflict {
        origin: String,
        key: String,
        other: String,
    },
    /// Two processes share a name.
    Duplicate {
        origin: String,
        key: String,
        name: String,
        first: String,
    },
    /// `depends_on` forms a cycle; `cycle` starts and ends with the same
    /// name.
    Cycle {
        origin: String,
        key: String,
        cycle: Vec<String>,
    },
    /// `depends_on` names a process that does not exist.
    UnknownProcess {
        origin: String,
        key: String,
        name: String,
        suggestion: Option<String>,
    },
    /// A rule that is not about one value's shape (a self-dependency, an
    /// https probe, a flag in the wrong mode); `message` says what is wrong
    /// and what to do instead.
    Rule {
        origin: String,
        key: String,
        message: String,
    },
    /// The command line combines sources wrongly (or names none).
    Usage(String),
}

impl ConfigError {
    /// SPEC §6: every usage or config error exits 2.
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// Render a JSON value for a message, cut to a readable length.
pub fn show_value(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= MAX_VALUE_CHARS {
        return s;
    }
    let cut: String = s.chars().take(MAX_VALUE_CHARS).collect();
    format!("{cut}...")
}

/// `origin: key: ` with the key left out when empty (top-level problems).
fn prefix(f: &mut fmt::Formatter<'_>, origin: &str, key: &str) -> fmt::Result {
    if key.is_empty() {
        write!(f, "{origin}: ")
    } else {
        write!(f, "{origin}: {key}: ")
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, error } => {
                write!(f, "{}: cannot read config: {error}", path.display())
            }
            ConfigError::Syntax {
                path,
                line,
                column,
                message,
            } => write!(
                f,
                "{}:{line}:{column}: syntax error: {message}",
                path.display()
            ),
            ConfigError::Invalid {
                origin,
                key,
                value,
                expected,
            } => {
                prefix(f, origin, key)?;
                write!(f, "invalid value {value}: expected {expected}")
            }
            ConfigError::UnknownKey {
                origin,
                key,
                suggestion,
            } => {
                prefix(f, origin, key)?;
                match suggestion {
                    Some(s) => write!(f, "unknown key (did you mean \"{s}\"?)"),
                    None => write!(f, "unknown key"),
                }
            }
            ConfigError::Missing { origin, key } => {
                prefix(f, origin, key)?;
                write!(f, "missing (required)")
            }
            ConfigError::Conflict { origin, key, other } => {
                prefix(f, origin, key)?;
                write!(f, "conflicts with \"{other}\"; give only one")
            }
            ConfigError::Duplicate {
                origin,
                key,
                name,
                first,
            } => {
                prefix(f, origin, key)?;
                write!(f, "duplicate name \"{name}\" (already used by {first})")
            }
            ConfigError::Cycle { origin, key, cycle } => {
                prefix(f, origin, key)?;
                write!(f, "dependency cycle: {}", cycle.join(" -> "))
            }
            ConfigError::UnknownProcess {
                origin,
                key,
                name,
                suggestion,
            } => {
                prefix(f, origin, key)?;
                write!(f, "unknown process \"{name}\"")?;
                match suggestion {
                    Some(s) => write!(f, " (did you mean \"{s}\"?)"),
                    None => Ok(()),
                }
            }
            ConfigError::Rule {
                origin,
                key,
                message,
            } => {
                prefix(f, origin, key)?;
                write!(f, "{message}")
            }
            ConfigError::Usage(msg) => write!(f, "{msg}"),
        }
    }
}

/// An OS error as std prints it, without its ` (os error N)` suffix:
/// `Address already in use`.
pub fn os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn renders_one_line_each() {
        let cases: Vec<(ConfigError, &str)> = vec![
            (
                ConfigError::Invalid {
                    origin: s("tend.json"),
                    key: s("processes[0].restart_delay"),
                    value: s("\"10x\""),
                    expected: s("a duration like 250ms, 10s, 1m30s or integer milliseconds"),
                },
                "tend.json: processes[0].restart_delay: invalid value \"10x\": expected a duration like 250ms, 10s, 1m30s or integer milliseconds",
            ),
            (
                ConfigError::UnknownKey {
                    origin: s("tend.json"),
                    key: s("processes[1].restat"),
                    suggestion: Some(s("restart")),
                },
                "tend.json: processes[1].restat: unknown key (did you mean \"restart\"?)",
            ),
            (
                ConfigError::UnknownKey {
                    origin: s("tend.json"),
                    key: s("zzz"),
                    suggestion: None,
                },
                "tend.json: zzz: unknown key",
            ),
            (
                ConfigError::Syntax {
                    path: PathBuf::from("tend.json"),
                    line: 3,
                    column: 17,
                    message: s("expected ',' or '}'"),
                },
                "tend.json:3:17: syntax error: expected ',' or '}'",
            ),
            (
                ConfigError::Missing {
                    origin: s("tend.json"),
                    key: s("processes[0].command"),
                },
                "tend.json: processes[0].command: missing (required)",
            ),
            (
                ConfigError::Conflict {
                    origin: s("tend.json"),
                    key: s("processes[0].autoRestart"),
                    other: s("restart"),
                },
                "tend.json: processes[0].autoRestart: conflicts with \"restart\"; give only one",
            ),
            (
                ConfigError::Duplicate {
                    origin: s("tend.json"),
                    key: s("processes[1].name"),
                    name: s("web"),
                    first: s("processes[0]"),
                },
                "tend.json: processes[1].name: duplicate name \"web\" (already used by processes[0])",
            ),
            (
                ConfigError::Cycle {
                    origin: s("tend.json"),
                    key: s("processes[0].depends_on"),
                    cycle: vec![s("a"), s("b"), s("a")],
                },
                "tend.json: processes[0].depends_on: dependency cycle: a -> b -> a",
            ),
            (
                ConfigError::Invalid {
                    origin: s("tend.json"),
                    key: s(""),
                    value: s("[]"),
                    expected: s("an object"),
                },
                "tend.json: invalid value []: expected an object",
            ),
            (ConfigError::Usage(s("give one")), "give one"),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
            assert_eq!(e.exit_code(), 2);
        }
    }

    #[test]
    fn io_error_names_the_path() {
        let e = ConfigError::Io {
            path: PathBuf::from("/nope/tend.json"),
            error: std::io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert!(e
            .to_string()
            .starts_with("/nope/tend.json: cannot read config: "));
    }

    #[test]
    fn long_values_are_cut() {
        let v = serde_json::Value::String("x".repeat(200));
        let shown = show_value(&v);
        assert_eq!(shown.chars().count(), MAX_VALUE_CHARS + 3);
        assert!(shown.ends_with("..."));
        assert_eq!(show_value(&serde_json::json!(-5)), "-5");
    }
}
