//! The node's persistent identity: its host id and its tokens, created on first start and read back
//! from the storage engine's node-local metadata afterwards (as Cassandra keeps them in system.local).

use mica_storage::Engine;
use uuid::Uuid;

use crate::node::NodeError;

/// Metadata key of the 16-byte host id.
const HOST_ID_KEY: &[u8] = b"node/host_id";
/// Metadata key of the tokens, stored as comma-separated decimal text.
const TOKENS_KEY: &[u8] = b"node/tokens";

/// Whether this node has saved tokens (it has started before).
pub(crate) fn has_tokens(storage: &dyn Engine) -> Result<bool, NodeError> {
    Ok(storage.get_meta(TOKENS_KEY)?.is_some())
}

/// Host id and tokens of this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub host_id: Uuid,
    /// Sorted, distinct Murmur3 tokens.
    pub tokens: Vec<i64>,
}

impl Identity {
    /// Reads the saved identity or creates and saves a new one. A new node takes `initial_tokens`
    /// when given, otherwise `num_tokens` evenly spaced tokens at a phase drawn from its host id.
    /// A restarted node keeps its saved tokens, as Cassandra does once a node has bootstrapped.
    pub fn load_or_create(
        storage: &dyn Engine,
        num_tokens: u32,
        initial_tokens: &[String],
    ) -> Result<Identity, NodeError> {
        Self::load_or_create_with(storage, num_tokens, initial_tokens, |_| None)
    }

    /// Like [`Identity::load_or_create`], but a new node without `initial_token` first asks
    /// `allocate(host_id)` for its tokens (chosen from the ring gossip shows), falling back to
    /// evenly spaced tokens when it has none.
    pub fn load_or_create_with(
        storage: &dyn Engine,
        num_tokens: u32,
        initial_tokens: &[String],
        allocate: impl FnOnce(Uuid) -> Option<Vec<i64>>,
    ) -> Result<Identity, NodeError> {
        let host_id = match storage.get_meta(HOST_ID_KEY)? {
            Some(bytes) => Uuid::from_slice(&bytes)
                .map_err(|_| NodeError::CorruptMetadata(format!("host id of {} bytes", bytes.len())))?,
            None => {
                let id = Uuid::new_v4();
                storage.put_meta(HOST_ID_KEY, id.as_bytes())?;
                id
            }
        };
        let configured = parse_tokens(initial_tokens)
            .map_err(|bad| NodeError::Config(format!("invalid token '{bad}' in initial_token")))?;
        let tokens = match storage.get_meta(TOKENS_KEY)? {
            Some(bytes) => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| NodeError::CorruptMetadata("tokens are not text".into()))?;
                let saved = parse_tokens(&text.split(',').map(str::to_owned).collect::<Vec<_>>())
                    .map_err(|bad| NodeError::CorruptMetadata(format!("invalid saved token '{bad}'")))?;
                if usize::try_from(num_tokens).ok() != Some(saved.len()) {
                    return Err(NodeError::Config(format!(
                        "Cannot change the number of tokens from {} to {num_tokens}",
                        saved.len()
                    )));
                }
                if !configured.is_empty() && configured != saved {
                    tracing::warn!(
                        "initial_token differs from this node's saved tokens; keeping the saved ones"
                    );
                }
                saved
            }
            None => {
                let tokens = if configured.is_empty() {
                    allocate(host_id)
                        .filter(|t| t.len() == num_tokens as usize)
                        .unwrap_or_else(|| random_tokens(host_id, num_tokens))
                } else {
                    configured
                };
                let text = tokens.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
                storage.put_meta(TOKENS_KEY, text.as_bytes())?;
                tokens
            }
        };
        Ok(Identity { host_id, tokens })
    }
}

/// Parses decimal Murmur3 tokens, sorted and without duplicates; the error is the offending text.
fn parse_tokens(texts: &[String]) -> Result<Vec<i64>, String> {
    let mut tokens = texts
        .iter()
        .map(|t| t.trim().parse::<i64>().map_err(|_| t.trim().to_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    tokens.sort_unstable();
    tokens.dedup();
    Ok(tokens)
}

/// `count` evenly spaced tokens at a phase drawn (SplitMix64) from the host id: a node that starts without
/// a ring to balance against (the first node, or seeds starting together) still owns equal slices, which
/// is what lets later nodes balance ownership at the replication factor, while two such nodes never pick
/// the same tokens. `i64::MIN` is Murmur3's minimum token, which no node may own.
fn random_tokens(host_id: Uuid, count: u32) -> Vec<i64> {
    if count == 0 {
        return Vec::new();
    }
    let seed = host_id.as_u128();
    let mut z = ((seed >> 64) as u64 ^ seed as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    let phase = z ^ (z >> 31);
    let step = u64::MAX / u64::from(count);
    let mut tokens: Vec<i64> = (0..u64::from(count))
        .map(|i| phase.wrapping_add(i.wrapping_mul(step)) as i64)
        .map(|t| if t == i64::MIN { t + 1 } else { t })
        .collect();
    tokens.sort_unstable();
    tokens.dedup();
    tokens
}

#[cfg(test)]
mod tests {
    use mica_storage::MemoryEngine;

    use super::*;

    #[test]
    fn identity_is_created_once_and_reloaded() {
        let storage = MemoryEngine::new();
        let first = Identity::load_or_create(&storage, 16, &[]).unwrap();
        assert_eq!(first.tokens.len(), 16);
        assert!(first.tokens.windows(2).all(|w| w[0] < w[1]));
        let again = Identity::load_or_create(&storage, 16, &[]).unwrap();
        assert_eq!(first, again);
    }

    #[test]
    fn tokens_are_deterministic_per_host_id() {
        let id = Uuid::from_u128(0x1234_5678_9abc_def0_1122_3344_5566_7788);
        assert_eq!(random_tokens(id, 8), random_tokens(id, 8));
        assert_ne!(random_tokens(id, 8), random_tokens(Uuid::from_u128(1), 8));
        assert_eq!(random_tokens(id, 256).len(), 256);
    }

    #[test]
    fn initial_token_is_honoured_on_first_start_only() {
        let storage = MemoryEngine::new();
        let initial = vec!["100".to_owned(), " -5".to_owned()];
        let id = Identity::load_or_create(&storage, 2, &initial).unwrap();
        assert_eq!(id.tokens, vec![-5, 100]);
        let later = Identity::load_or_create(&storage, 2, &["1".to_owned(), "2".to_owned()]).unwrap();
        assert_eq!(later.tokens, vec![-5, 100]);
    }

    #[test]
    fn bad_tokens_and_token_count_changes_are_errors() {
        let storage = MemoryEngine::new();
        assert!(matches!(
            Identity::load_or_create(&storage, 1, &["x".to_owned()]),
            Err(NodeError::Config(_))
        ));
        Identity::load_or_create(&storage, 4, &[]).unwrap();
        let err = Identity::load_or_create(&storage, 8, &[]).unwrap_err();
        assert!(err.to_string().contains("from 4 to 8"), "{err}");
    }
}
