//! Conversion between YAML values and typed configuration fields, with errors that name the key
//! and the expected form.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml::Value;

use crate::error::{ConfigError, Result};
use crate::keys::LegacyUnit;
use crate::units::{
    DataRate, DataStorage, MEGABIT_PER_SECOND_IN_BYTES, format_duration, parse_data_rate, parse_data_storage,
    parse_duration,
};

/// One key/value pair being decoded, with what is needed to interpret and report it.
#[derive(Clone, Copy)]
pub(crate) struct Field<'a> {
    /// The key as spelled in the file (possibly dotted, e.g. `client_encryption_options.keystore`).
    pub key: &'a str,
    pub value: &'a Value,
    /// Set when the key is an old spelling whose plain numbers carry this unit.
    pub legacy: Option<LegacyUnit>,
    /// Directory relative paths are resolved against.
    pub base_dir: &'a Path,
}

impl<'a> Field<'a> {
    pub fn new(key: &'a str, value: &'a Value, base_dir: &'a Path) -> Self {
        Self {
            key,
            value,
            legacy: None,
            base_dir,
        }
    }

    pub fn invalid(&self, expected: &str) -> ConfigError {
        ConfigError::InvalidValue {
            key: self.key.to_owned(),
            value: display_value(self.value),
            expected: expected.to_owned(),
        }
    }

    /// The value as text when it is a scalar (YAML lets `16`, `true` and `'16'` mean the same thing).
    pub fn scalar(&self) -> Option<String> {
        scalar_text(self.value)
    }

    fn integer(&self, expected: &str) -> Result<i64> {
        match self.value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| self.invalid(expected))
    }

    fn legacy_number(&self, expected: &str) -> Result<u64> {
        let n = self.integer(expected)?;
        u64::try_from(n).map_err(|_| self.invalid(expected))
    }
}

/// Renders a YAML value the way the user wrote it, for error messages.
pub(crate) fn display_value(value: &Value) -> String {
    scalar_text(value).unwrap_or_else(|| {
        serde_yaml::to_string(value).map_or_else(|_| format!("{value:?}"), |s| s.trim_end().to_owned())
    })
}

pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A typed configuration value that can be read from and written to YAML.
pub(crate) trait Codec: Sized {
    fn decode(field: &Field<'_>) -> Result<Self>;
    fn encode(&self) -> Value;
}

impl Codec for String {
    fn decode(f: &Field<'_>) -> Result<Self> {
        f.scalar().ok_or_else(|| f.invalid("a string"))
    }
    fn encode(&self) -> Value {
        Value::String(self.clone())
    }
}

impl Codec for bool {
    fn decode(f: &Field<'_>) -> Result<Self> {
        match f.scalar().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            _ => Err(f.invalid("true or false")),
        }
    }
    fn encode(&self) -> Value {
        Value::Bool(*self)
    }
}

macro_rules! integer_codec {
    ($($t:ty => $expected:literal),* $(,)?) => {$(
        impl Codec for $t {
            fn decode(f: &Field<'_>) -> Result<Self> {
                let n = f.integer($expected)?;
                <$t>::try_from(n).map_err(|_| f.invalid($expected))
            }
            fn encode(&self) -> Value {
                Value::Number((*self).into())
            }
        }
    )*};
}

integer_codec! {
    u16 => "an integer between 0 and 65535",
    u32 => "a non-negative integer",
    i64 => "an integer",
}

impl Codec for f64 {
    fn decode(f: &Field<'_>) -> Result<Self> {
        match f.value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| f.invalid("a number"))
    }
    fn encode(&self) -> Value {
        Value::Number((*self).into())
    }
}

impl Codec for Duration {
    fn decode(f: &Field<'_>) -> Result<Self> {
        const EXPECTED: &str = "a duration like 5000ms";
        let per_unit = match f.legacy {
            None | Some(LegacyUnit::Same) => {
                return f
                    .scalar()
                    .and_then(|s| parse_duration(&s))
                    .ok_or_else(|| f.invalid(EXPECTED));
            }
            Some(LegacyUnit::Millis) => Duration::from_millis(1),
            Some(LegacyUnit::Seconds) => Duration::from_secs(1),
            Some(LegacyUnit::Minutes) => Duration::from_secs(60),
            Some(_) => return Err(f.invalid(EXPECTED)),
        };
        let expected = "a whole number (legacy unit-less spelling)";
        let n = u32::try_from(f.legacy_number(expected)?).map_err(|_| f.invalid(expected))?;
        Ok(per_unit * n)
    }
    fn encode(&self) -> Value {
        Value::String(format_duration(*self))
    }
}

impl Codec for DataStorage {
    fn decode(f: &Field<'_>) -> Result<Self> {
        const EXPECTED: &str = "a data size like 16MiB";
        let per_unit = match f.legacy {
            None | Some(LegacyUnit::Same) => {
                return f
                    .scalar()
                    .and_then(|s| parse_data_storage(&s))
                    .ok_or_else(|| f.invalid(EXPECTED));
            }
            Some(LegacyUnit::Bytes) => DataStorage::bytes(1),
            Some(LegacyUnit::Kibibytes) => DataStorage::kibibytes(1),
            Some(LegacyUnit::Mebibytes) => DataStorage::mebibytes(1),
            Some(_) => return Err(f.invalid(EXPECTED)),
        };
        let expected = "a whole number (legacy unit-less spelling)";
        let n = f.legacy_number(expected)?;
        n.checked_mul(per_unit.as_bytes())
            .map(DataStorage)
            .ok_or_else(|| f.invalid(expected))
    }
    fn encode(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl Codec for DataRate {
    fn decode(f: &Field<'_>) -> Result<Self> {
        const EXPECTED: &str = "a data rate like 64MiB/s";
        let per_unit = match f.legacy {
            None | Some(LegacyUnit::Same) => {
                return f
                    .scalar()
                    .and_then(|s| parse_data_rate(&s))
                    .ok_or_else(|| f.invalid(EXPECTED));
            }
            Some(LegacyUnit::MebibytesPerSecond) => DataRate::mebibytes_per_second(1),
            Some(LegacyUnit::MegabitsPerSecond) => DataRate::bytes_per_second(MEGABIT_PER_SECOND_IN_BYTES),
            Some(_) => return Err(f.invalid(EXPECTED)),
        };
        let expected = "a whole number (legacy unit-less spelling)";
        let n = f.legacy_number(expected)?;
        n.checked_mul(per_unit.as_bytes_per_second())
            .map(DataRate)
            .ok_or_else(|| f.invalid(expected))
    }
    fn encode(&self) -> Value {
        Value::String(self.to_string())
    }
}

impl Codec for PathBuf {
    fn decode(f: &Field<'_>) -> Result<Self> {
        let text = f
            .scalar()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| f.invalid("a path"))?;
        Ok(f.base_dir.join(text.trim()))
    }
    fn encode(&self) -> Value {
        Value::String(self.to_string_lossy().into_owned())
    }
}

impl Codec for Vec<PathBuf> {
    fn decode(f: &Field<'_>) -> Result<Self> {
        match f.value {
            Value::Sequence(items) => items
                .iter()
                .map(|item| PathBuf::decode(&Field { value: item, ..*f }))
                .collect(),
            _ => PathBuf::decode(f).map(|p| vec![p]),
        }
    }
    fn encode(&self) -> Value {
        Value::Sequence(self.iter().map(Codec::encode).collect())
    }
}

impl Codec for Vec<String> {
    fn decode(f: &Field<'_>) -> Result<Self> {
        match f.value {
            Value::Sequence(items) => items
                .iter()
                .map(|item| scalar_text(item).ok_or_else(|| f.invalid("a list of strings")))
                .collect(),
            // Cassandra also accepts a comma-separated string for list options.
            _ => Ok(String::decode(f)?
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()),
        }
    }
    fn encode(&self) -> Value {
        Value::Sequence(self.iter().map(|s| Value::String(s.clone())).collect())
    }
}

impl<T: Codec> Codec for Option<T> {
    fn decode(f: &Field<'_>) -> Result<Self> {
        if f.value.is_null() {
            Ok(None)
        } else {
            T::decode(f).map(Some)
        }
    }
    fn encode(&self) -> Value {
        self.as_ref().map_or(Value::Null, Codec::encode)
    }
}

/// A Cassandra `ParameterizedClass`: `{ class_name: X, parameters: {k: v} }`. YAML may also give a
/// bare class name, or parameters as a list of single-entry maps (the seed_provider style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterizedClass {
    pub class_name: String,
    pub parameters: BTreeMap<String, String>,
}

impl ParameterizedClass {
    pub fn new(class_name: &str) -> Self {
        Self {
            class_name: class_name.to_owned(),
            parameters: BTreeMap::new(),
        }
    }

    /// The class name without its Java package (`org.apache.cassandra.auth.X` → `X`).
    pub fn simple_name(&self) -> &str {
        simple_class_name(&self.class_name)
    }
}

/// Strips a Java package prefix from a class name.
pub fn simple_class_name(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name).trim()
}

impl Codec for ParameterizedClass {
    fn decode(f: &Field<'_>) -> Result<Self> {
        let map = match f.value {
            Value::Mapping(map) => map,
            // The seed_provider style wraps the class in a one-element list.
            Value::Sequence(items) if items.len() == 1 => {
                return Self::decode(&Field {
                    value: &items[0],
                    ..*f
                });
            }
            other => {
                return scalar_text(other)
                    .map(|name| Self::new(&name))
                    .ok_or_else(|| f.invalid("a class name or { class_name: ..., parameters: ... }"));
            }
        };
        let mut class_name = None;
        let mut parameters = BTreeMap::new();
        for (k, v) in map {
            let key = scalar_text(k).unwrap_or_default();
            let dotted = format!("{}.{key}", f.key);
            match key.as_str() {
                "class_name" => {
                    class_name = Some(String::decode(&Field {
                        key: &dotted,
                        value: v,
                        ..*f
                    })?)
                }
                "parameters" => collect_parameters(
                    &Field {
                        key: &dotted,
                        value: v,
                        ..*f
                    },
                    &mut parameters,
                )?,
                // The loader fills in the file name.
                _ => {
                    return Err(ConfigError::UnknownKey {
                        key: dotted,
                        file: String::new(),
                    });
                }
            }
        }
        let class_name = class_name.ok_or_else(|| f.invalid("a class_name entry"))?;
        Ok(Self {
            class_name,
            parameters,
        })
    }

    /// A bare class name when there are no parameters (the Cassandra 4.1 spelling of
    /// `authenticator` and friends), otherwise the `{ class_name, parameters }` map.
    fn encode(&self) -> Value {
        if self.parameters.is_empty() {
            return Value::String(self.class_name.clone());
        }
        let mut map = serde_yaml::Mapping::new();
        map.insert("class_name".into(), self.class_name.clone().into());
        if !self.parameters.is_empty() {
            let params = self
                .parameters
                .iter()
                .map(|(k, v)| (k.clone().into(), v.clone().into()))
                .collect();
            map.insert("parameters".into(), Value::Mapping(params));
        }
        Value::Mapping(map)
    }
}

fn collect_parameters(f: &Field<'_>, out: &mut BTreeMap<String, String>) -> Result<()> {
    match f.value {
        Value::Null => Ok(()),
        Value::Mapping(map) => {
            for (k, v) in map {
                let (Some(k), Some(v)) = (
                    scalar_text(k),
                    scalar_text(v).or_else(|| v.is_null().then(String::new)),
                ) else {
                    return Err(f.invalid("a map of string parameters"));
                };
                out.insert(k, v);
            }
            Ok(())
        }
        Value::Sequence(items) => items
            .iter()
            .try_for_each(|item| collect_parameters(&Field { value: item, ..*f }, out)),
        _ => Err(f.invalid("a map of string parameters")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode<T: Codec>(key: &str, yaml: &str, legacy: Option<LegacyUnit>) -> Result<T> {
        let value: Value = serde_yaml::from_str(yaml).expect("test yaml");
        T::decode(&Field {
            key,
            value: &value,
            legacy,
            base_dir: Path::new("/etc/mica"),
        })
    }

    #[test]
    fn legacy_numbers_convert_with_their_unit() {
        let d: Duration = decode("read_request_timeout_in_ms", "5000", Some(LegacyUnit::Millis)).expect("ms");
        assert_eq!(d, Duration::from_millis(5000));
        let s: DataStorage = decode("key_cache_size_in_mb", "100", Some(LegacyUnit::Mebibytes)).expect("mb");
        assert_eq!(s, DataStorage::mebibytes(100));
        let r: DataRate =
            decode("x_megabits_per_sec", "200", Some(LegacyUnit::MegabitsPerSecond)).expect("mbps");
        assert_eq!(r, DataRate(25_000_000));
        let r: DataRate = decode("x_mb_per_sec", "'16'", Some(LegacyUnit::MebibytesPerSecond)).expect("mb/s");
        assert_eq!(r, DataRate::mebibytes_per_second(16));
    }

    #[test]
    fn wrong_forms_name_key_and_expected_form() {
        let err = decode::<Duration>("read_request_timeout", "abc", None).expect_err("invalid");
        assert_eq!(
            err.to_string(),
            "invalid value 'abc' for read_request_timeout: expected a duration like 5000ms"
        );
        // A bare number under the new name is rejected, as Cassandra does.
        assert!(decode::<Duration>("read_request_timeout", "5000", None).is_err());
        assert!(decode::<Duration>("read_request_timeout_in_ms", "5s", Some(LegacyUnit::Millis)).is_err());
        assert!(decode::<DataStorage>("k_in_mb", "-1", Some(LegacyUnit::Mebibytes)).is_err());
        let err = decode::<u16>("storage_port", "70000", None).expect_err("range");
        assert!(err.to_string().contains("storage_port"), "{err}");
        assert!(decode::<bool>("auto_snapshot", "yes please", None).is_err());
        assert!(decode::<bool>("auto_snapshot", "'TRUE'", None).expect("bool"));
    }

    #[test]
    fn parameterized_class_accepts_all_yaml_shapes() {
        let bare: ParameterizedClass = decode("authenticator", "PasswordAuthenticator", None).expect("bare");
        assert_eq!(bare, ParameterizedClass::new("PasswordAuthenticator"));
        let seeds: ParameterizedClass = decode(
            "seed_provider",
            "- class_name: org.apache.cassandra.locator.SimpleSeedProvider\n  parameters:\n    - seeds: \"a,b\"\n",
            None,
        )
        .expect("seed style");
        assert_eq!(seeds.simple_name(), "SimpleSeedProvider");
        assert_eq!(seeds.parameters.get("seeds").map(String::as_str), Some("a,b"));
        let round =
            ParameterizedClass::decode(&Field::new("x", &seeds.encode(), Path::new("/"))).expect("rt");
        assert_eq!(round, seeds);
        assert!(decode::<ParameterizedClass>("authenticator", "{ parameters: {} }", None).is_err());
    }

    #[test]
    fn paths_resolve_against_the_config_directory() {
        let p: PathBuf = decode("commitlog_directory", "data/commitlog", None).expect("relative");
        assert_eq!(p, Path::new("/etc/mica/data/commitlog"));
        let p: PathBuf = decode("commitlog_directory", "/var/lib/c", None).expect("absolute");
        assert_eq!(p, Path::new("/var/lib/c"));
        let dirs: Vec<PathBuf> = decode("data_file_directories", "[a, /b]", None).expect("list");
        assert_eq!(dirs, vec![PathBuf::from("/etc/mica/a"), PathBuf::from("/b")]);
    }
}
