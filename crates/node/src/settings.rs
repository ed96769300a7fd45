//! Node-wide settings that operators change at run time (`nodetool settimeout`, `setcompactionthroughput`,
//! `setstreamthroughput`): initialised from cassandra.yaml, held in atomics so any thread reads the current value
//! without locking. Obtain them with [`crate::NodeHandle::settings`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mica_config::NodeConfig;
use mica_node_admin_api as api;

/// Cassandra's default `internode_tcp_connect_timeout`.
const DEFAULT_INTERNODE_CONNECT_MS: u64 = 2_000;
/// Cassandra's default `internode_tcp_user_timeout`.
const DEFAULT_INTERNODE_USER_MS: u64 = 30_000;
/// Cassandra's default `internode_streaming_tcp_user_timeout`.
const DEFAULT_INTERNODE_STREAMING_USER_MS: u64 = 300_000;
const BYTES_PER_MIB: u64 = 1024 * 1024;
/// Megabits are decimal: 10^6 bits.
const BITS_PER_MEGABIT: f64 = 1_000_000.0;

/// A timeout `nodetool gettimeout`/`settimeout` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// `read_request_timeout`.
    Read,
    /// `range_request_timeout`.
    Range,
    /// `write_request_timeout`.
    Write,
    /// `counter_write_request_timeout`.
    CounterWrite,
    /// `cas_contention_timeout`.
    CasContention,
    /// `truncate_request_timeout`.
    Truncate,
    /// `internode_tcp_connect_timeout`.
    InternodeConnect,
    /// `internode_tcp_user_timeout`.
    InternodeUser,
    /// `internode_streaming_tcp_user_timeout`.
    InternodeStreamingUser,
    /// `request_timeout` (everything else).
    Misc,
}

impl TimeoutKind {
    /// Every kind, in the order of [`api::TIMEOUT_TYPES`].
    pub const ALL: [TimeoutKind; 10] = [
        Self::Read,
        Self::Range,
        Self::Write,
        Self::CounterWrite,
        Self::CasContention,
        Self::Truncate,
        Self::InternodeConnect,
        Self::InternodeUser,
        Self::InternodeStreamingUser,
        Self::Misc,
    ];

    /// The name nodetool uses.
    pub fn name(self) -> &'static str {
        api::TIMEOUT_TYPES[self as usize]
    }

    /// Reads a nodetool timeout name (case-insensitive, as Cassandra's); `cas` is accepted for `cascontention`.
    pub fn parse(name: &str) -> Option<TimeoutKind> {
        let lower = name.to_ascii_lowercase();
        if lower == "cas" {
            return Some(Self::CasContention);
        }
        Self::ALL.into_iter().find(|k| k.name() == lower)
    }
}

/// The node's runtime settings.
#[derive(Debug)]
pub struct NodeSettings {
    timeouts_ms: [AtomicU64; TimeoutKind::ALL.len()],
    compaction_throughput_bytes: AtomicU64,
    stream_throughput_bytes: AtomicU64,
}

impl NodeSettings {
    /// The settings cassandra.yaml asks for.
    pub fn from_config(config: &NodeConfig) -> NodeSettings {
        let ms = |d: Duration| AtomicU64::new(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        NodeSettings {
            timeouts_ms: [
                ms(config.read_request_timeout),
                ms(config.range_request_timeout),
                ms(config.write_request_timeout),
                ms(config.counter_write_request_timeout),
                ms(config.cas_contention_timeout),
                ms(config.truncate_request_timeout),
                AtomicU64::new(DEFAULT_INTERNODE_CONNECT_MS),
                AtomicU64::new(DEFAULT_INTERNODE_USER_MS),
                AtomicU64::new(DEFAULT_INTERNODE_STREAMING_USER_MS),
                ms(config.request_timeout),
            ],
            compaction_throughput_bytes: AtomicU64::new(config.compaction_throughput.as_bytes_per_second()),
            stream_throughput_bytes: AtomicU64::new(config.stream_throughput_outbound.as_bytes_per_second()),
        }
    }

    pub fn timeout(&self, kind: TimeoutKind) -> Duration {
        Duration::from_millis(self.timeouts_ms[kind as usize].load(Ordering::Relaxed))
    }

    pub fn set_timeout(&self, kind: TimeoutKind, timeout: Duration) {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.timeouts_ms[kind as usize].store(ms, Ordering::Relaxed);
    }

    /// The compaction throughput cap in bytes per second (0: unthrottled).
    pub fn compaction_throughput_bytes_per_second(&self) -> u64 {
        self.compaction_throughput_bytes.load(Ordering::Relaxed)
    }

    /// The outbound stream throughput cap in bytes per second (0: unthrottled).
    pub fn stream_throughput_bytes_per_second(&self) -> u64 {
        self.stream_throughput_bytes.load(Ordering::Relaxed)
    }

    /// Applies a nodetool change; an unknown timeout name is an error naming the accepted ones.
    pub(crate) fn update(&self, update: &api::SettingsUpdate) -> Result<(), String> {
        if let Some((name, ms)) = &update.timeout {
            let kind = TimeoutKind::parse(name).ok_or_else(|| {
                format!(
                    "Invalid timeout type {name}; valid types are ({})",
                    api::TIMEOUT_TYPES.join(", ")
                )
            })?;
            self.set_timeout(kind, Duration::from_millis(*ms));
        }
        if let Some(mib) = update.compaction_throughput_mib_per_sec {
            self.compaction_throughput_bytes
                .store(mib.saturating_mul(BYTES_PER_MIB), Ordering::Relaxed);
        }
        if let Some(mbit) = update.stream_throughput_mbit_per_sec {
            let bytes = (mbit as f64 * BITS_PER_MEGABIT / 8.0).round() as u64;
            self.stream_throughput_bytes.store(bytes, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The wire form: compaction in whole MiB/s, streaming in whole megabits per second (rounded, as
    /// Cassandra 4.1 converts `stream_throughput_outbound`).
    pub(crate) fn to_api(&self) -> api::RuntimeSettings {
        api::RuntimeSettings {
            timeouts_ms: TimeoutKind::ALL
                .into_iter()
                .map(|k| {
                    (
                        k.name().to_owned(),
                        self.timeouts_ms[k as usize].load(Ordering::Relaxed),
                    )
                })
                .collect(),
            compaction_throughput_mib_per_sec: self.compaction_throughput_bytes_per_second() / BYTES_PER_MIB,
            stream_throughput_mbit_per_sec: (self.stream_throughput_bytes_per_second() as f64 * 8.0
                / BITS_PER_MEGABIT)
                .round() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_updates() {
        let settings = NodeSettings::from_config(&NodeConfig::default());
        let wire = settings.to_api();
        assert_eq!(wire.timeouts_ms["read"], 5000);
        assert_eq!(wire.timeouts_ms["misc"], 10_000);
        assert_eq!(wire.compaction_throughput_mib_per_sec, 64);
        // 24 MiB/s is 201.3 megabits per second.
        assert_eq!(wire.stream_throughput_mbit_per_sec, 201);
        settings
            .update(&api::SettingsUpdate {
                timeout: Some(("CAS".into(), 1234)),
                compaction_throughput_mib_per_sec: Some(16),
                stream_throughput_mbit_per_sec: Some(400),
            })
            .expect("update");
        assert_eq!(
            settings.timeout(TimeoutKind::CasContention),
            Duration::from_millis(1234)
        );
        let wire = settings.to_api();
        assert_eq!(wire.compaction_throughput_mib_per_sec, 16);
        assert_eq!(wire.stream_throughput_mbit_per_sec, 400);
        let err = settings
            .update(&api::SettingsUpdate {
                timeout: Some(("nope".into(), 1)),
                ..Default::default()
            })
            .expect_err("unknown type");
        assert!(err.contains("read, range, write"), "{err}");
    }
}
