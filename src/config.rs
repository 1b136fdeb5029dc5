//! Reading a config file: bytes → `serde_json::Value`, with I/O and syntax
//! errors turned into `ConfigError`s that name the file, line and column.
//! It checks only that the document is a JSON object; what the keys mean
//! is `validate`'s job (which walks the value by hand so that it can report
//! key paths, every error at once and the nearest known key).

#![allow(dead_code)]

use std::path::Path;

use serde_json::Value;

use crate::error::{show_value, ConfigError};

/// Read and parse `path`. The top level must be an object.
pub fn load(path: &Path) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    parse(path, &text)
}

/// Parse config text that came from `path` (named in errors only).
pub fn parse(path: &Path, text: &str) -> Result<Value, ConfigError> {
    let v: Value = serde_json::from_str(text).map_err(|e| syntax_error(path, &e))?;
    if !v.is_object() {
        return Err(ConfigError::Invalid {
            origin: path.display().to_string(),
            key: String::new(),
            value: show_value(&v),
            expected: "a JSON object like {\"processes\": [...]}".to_string(),
        });
    }
    Ok(v)
}

fn syntax_error(path: &Path, e: &serde_json::Error) -> ConfigError {
    // serde_json's Display appends " at line L column C"; we print the
    // position in front instead, compiler style, so strip it here.
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = full.strip_suffix(&suffix).unwrap_or(&full);
    // serde_json quotes with backticks (Markdown habit); plain quotes read
    // better on a terminal.
    let msg = msg.replace('`', "'");
    ConfigError::Syntax {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(Path::new("tend.json"), text).unwrap_err().to_string()
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        assert_eq!(
            err("{\n  \"processes\": [\n    {\"name\": \"a\" \"command\": \"b\"}\n  ]\n}"),
            "tend.json:3:18: syntax error: expected ',' or '}'"
        );
        assert_eq!(
            err("{\"processes\": [],}"),
            "tend.json:1:18: syntax error: trailing comma"
        );
        assert_eq!(
            err(""),
            "tend.json:1:0: syntax error: EOF while parsing a value"
        );
        assert_eq!(
            err("{} {}"),
            "tend.json:1:4: syntax error: trailing characters"
        );
    }

    #[test]
    fn top_level_must_be_an_object() {
        assert_eq!(
            err("[1, 2]"),
            "tend.json: invalid value [1,2]: expected a JSON object like {\"processes\": [...]}"
        );
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let e = load(Path::new("/nonexistent/dir/tend.json")).unwrap_err();
        assert!(matches!(e, ConfigError::Io { .. }));
        assert!(e
            .to_string()
            .starts_with("/nonexistent/dir/tend.json: cannot read config: "));
    }

    #[test]
    fn loads_a_file() {
        let tmp = crate::testutil::TempDir::new("config");
        let p = tmp.0.join("tend.json");
        std::fs::write(&p, "{\"processes\": []}").unwrap();
        let v = load(&p).unwrap();
        assert!(v["processes"].is_array());
    }
}
