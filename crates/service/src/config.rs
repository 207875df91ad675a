//! Configuration in layers: a TOML file, then environment variables over it.
//!
//! An environment variable `<PREFIX>__<a>__<b>=value` sets the field `a.b` (the double
//! underscore separates levels; names are lowercased). The value is parsed as a TOML value when
//! it is one (`8080`, `true`, `"x"`, `[1, 2]`), else taken as a string. So
//! `REPRINT_LAB__STORE__URL=postgres://...` overrides `[store] url = ...`.
//!
//! Errors name the file, the field and the value: a bad file fails at start, clearly.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// `[store]` of a service that keeps its own store (the lab and the counter; the gateway's has
/// more): the store's URL, `sqlite://...` or `postgres://...` (absent: the service's SQLite file
/// in its data directory), and `[store.retention]`, how long published messages and handled
/// message ids are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    pub url: Option<String>,
    #[serde(default)]
    pub retention: crate::housekeeping::RetentionConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("configuration {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// Reads `path` (if given), applies the environment overrides under `env_prefix`, and
/// deserialises the result.
pub fn load<T: DeserializeOwned>(path: Option<&Path>, env_prefix: &str) -> Result<T, ConfigError> {
    let (text, origin) = match path {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.display().to_string(),
                source,
            })?,
            p.display().to_string(),
        ),
        None => (String::new(), "(defaults)".to_string()),
    };
    let vars: Vec<(String, String)> = std::env::vars().collect();
    from_str_with_env(&text, &origin, env_prefix, &vars)
}

/// As [`load`], from text and an explicit list of variables (for tests).
pub fn from_str_with_env<T: DeserializeOwned>(
    text: &str,
    origin: &str,
    env_prefix: &str,
    vars: &[(String, String)],
) -> Result<T, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        origin: origin.to_string(),
        message,
    };
    let mut root: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let prefix = format!("{env_prefix}__");
    for (name, value) in vars {
        let Some(path) = name.strip_prefix(&prefix) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(|k| k.to_lowercase()).collect();
        if keys.iter().any(|k| k.is_empty()) {
            return Err(invalid(format!("environment variable {name}: empty key")));
        }
        let parsed = parse_env_value(value);
        set_path(&mut root, &keys, parsed)
            .map_err(|m| invalid(format!("environment variable {name}: {m}")))?;
    }
    let text = toml::to_string(&root).map_err(|e| invalid(e.to_string()))?;
    toml::from_str(&text).map_err(|e| invalid(e.to_string()))
}

fn parse_env_value(value: &str) -> toml::Value {
    // `x = <value>` parses only when value is a TOML value.
    match toml::from_str::<toml::Table>(&format!("x = {value}")) {
        Ok(mut t) => t
            .remove("x")
            .unwrap_or_else(|| toml::Value::String(value.to_string())),
        Err(_) => toml::Value::String(value.to_string()),
    }
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = keys.split_last().ok_or_else(|| "no key".to_string())?;
    let mut cur = table;
    for k in parents {
        let entry = cur
            .entry(k.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{k}` is not a table"))?;
    }
    cur.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        http: Http,
        store: Store,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Http {
        port: u16,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Store {
        url: String,
    }

    #[test]
    fn environment_overrides_the_file() {
        let vars = vec![
            (
                "REPRINT_LAB__STORE__URL".to_string(),
                "postgres://db/lab".to_string(),
            ),
            ("REPRINT_LAB__HTTP__PORT".to_string(), "9000".to_string()),
            ("OTHER__HTTP__PORT".to_string(), "1".to_string()),
        ];
        let c: Cfg = from_str_with_env(
            "[http]\nport = 8080\n[store]\nurl = \"sqlite://x\"\n",
            "lab.toml",
            "REPRINT_LAB",
            &vars,
        )
        .unwrap();
        assert_eq!(c.http.port, 9000);
        assert_eq!(c.store.url, "postgres://db/lab");
    }

    #[test]
    fn a_bad_file_names_the_field() {
        let e = from_str_with_env::<Cfg>(
            "[http]\nport = \"eighty\"\n[store]\nurl = \"x\"\n",
            "lab.toml",
            "P",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("lab.toml") && e.contains("port"), "{e}");
        let e = from_str_with_env::<Cfg>(
            "[http]\nport = 1\nhost = 2\n[store]\nurl = \"x\"\n",
            "lab.toml",
            "P",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("host"), "{e}");
    }
}
