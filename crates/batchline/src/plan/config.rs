//! [`Config`]: the pipeline's map of named settings, read by actions and arguments.

use std::any::type_name;
use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why a config value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No value has this key.
    #[error("no config value {key:?} (the config has: {known:?})")]
    Missing {
        /// The key asked for.
        key: String,
        /// The keys that exist.
        known: Vec<String>,
    },
    /// The value does not convert to the type asked for (or cannot be stored).
    #[error("config value {key:?}: {message}")]
    Type {
        /// The key.
        key: String,
        /// Why the conversion failed.
        message: String,
    },
}

/// A pipeline's config: named values (held as JSON values) that actions and lazy arguments
/// read, set when building the pipeline or just before a run.
///
/// # Examples
///
/// ```
/// use batchline::Config;
///
/// let config = Config::new().with("lr", 0.01)?.with("classes", vec!["cat", "dog"])?;
/// let lr: f64 = config.get("lr")?;
/// let classes: Vec<String> = config.get("classes")?;
/// assert_eq!((lr, classes.len()), (0.01, 2));
/// assert!(config.get::<f64>("epochs").is_err()); // missing: the error names the key
/// # Ok::<(), batchline::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Config {
    values: BTreeMap<String, serde_json::Value>,
}

impl Config {
    /// An empty config.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a value.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Type`] when the value cannot be represented as JSON (a map with
    /// non-string keys, say).
    pub fn with(
        mut self,
        key: impl Into<String>,
        value: impl Serialize,
    ) -> Result<Self, ConfigError> {
        self.insert(key, value)?;
        Ok(self)
    }

    /// Sets (or replaces) a value.
    ///
    /// # Errors
    ///
    /// As [`with`](Self::with).
    pub fn insert(
        &mut self,
        key: impl Into<String>,
        value: impl Serialize,
    ) -> Result<(), ConfigError> {
        let key = key.into();
        let value = serde_json::to_value(value).map_err(|e| ConfigError::Type {
            key: key.clone(),
            message: e.to_string(),
        })?;
        self.values.insert(key, value);
        Ok(())
    }

    /// The value of `key`, converted to `T`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Missing`] when there is no such key, [`ConfigError::Type`] when the
    /// value is not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T, ConfigError> {
        let value = self.values.get(key).ok_or_else(|| ConfigError::Missing {
            key: key.to_string(),
            known: self.keys().map(str::to_string).collect(),
        })?;
        T::deserialize(value).map_err(|e| ConfigError::Type {
            key: key.to_string(),
            message: format!("expected a {}: {e}", type_name::<T>()),
        })
    }

    /// The raw JSON value of `key`.
    pub fn value(&self, key: &str) -> Option<&serde_json::Value> {
        self.values.get(key)
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Overrides this config's values with those of `other`.
    pub fn merge(&mut self, other: &Config) {
        for (k, v) in &other.values {
            self.values.insert(k.clone(), v.clone());
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the config has no value.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_the_key() {
        let c = Config::new().with("a", 1).unwrap();
        assert_eq!(c.get::<i32>("a"), Ok(1));
        let err = c.get::<String>("a").unwrap_err();
        assert!(
            matches!(&err, ConfigError::Type { key, .. } if key == "a"),
            "{err}"
        );
        let err = c.get::<i32>("b").unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                key: "b".into(),
                known: vec!["a".into()]
            }
        );
        let mut d = Config::new().with("a", 2).unwrap().with("b", true).unwrap();
        d.merge(&c);
        assert_eq!(d.get::<i32>("a"), Ok(1));
        assert_eq!(d.len(), 2);
    }
}
