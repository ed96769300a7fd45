//! Resource tiers (`sku`): each maps to the cassandra.yaml settings the service writes for a node of that size
//! (memtable space, caches, concurrency) and, where the provider supports limits, CPUs and memory. The names are
//! Azure VM sizes so that commands copied from `az managed-cassandra` work.

/// One resource tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sku {
    pub name: &'static str,
    pub cpus: u32,
    pub memory_gib: u32,
    /// `memtable_heap_space`.
    pub memtable_heap_space_mib: u64,
    /// `key_cache_size`.
    pub key_cache_size_mib: u64,
    pub concurrent_reads: u32,
    pub concurrent_writes: u32,
    pub concurrent_compactors: u32,
}

/// The tier used when a datacenter names none: small, because the default provider runs on a laptop.
pub const DEFAULT_SKU: &str = "Standard_D2s_v5";

/// Every tier, smallest first.
pub const SKUS: &[Sku] = &[
    Sku {
        name: "Standard_D2s_v5",
        cpus: 2,
        memory_gib: 8,
        memtable_heap_space_mib: 128,
        key_cache_size_mib: 32,
        concurrent_reads: 8,
        concurrent_writes: 8,
        concurrent_compactors: 1,
    },
    Sku {
        name: "Standard_D4s_v5",
        cpus: 4,
        memory_gib: 16,
        memtable_heap_space_mib: 512,
        key_cache_size_mib: 64,
        concurrent_reads: 16,
        concurrent_writes: 16,
        concurrent_compactors: 2,
    },
    Sku {
        name: "Standard_E8s_v5",
        cpus: 8,
        memory_gib: 64,
        memtable_heap_space_mib: 2048,
        key_cache_size_mib: 100,
        concurrent_reads: 32,
        concurrent_writes: 32,
        concurrent_compactors: 4,
    },
    Sku {
        name: "Standard_DS14_v2",
        cpus: 16,
        memory_gib: 112,
        memtable_heap_space_mib: 4096,
        key_cache_size_mib: 100,
        concurrent_reads: 64,
        concurrent_writes: 64,
        concurrent_compactors: 8,
    },
];

/// The tier called `name` (exact spelling, as Azure compares them).
pub fn find_sku(name: &str) -> Option<&'static Sku> {
    SKUS.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sku_exists_and_tiers_grow() {
        assert!(find_sku(DEFAULT_SKU).is_some());
        assert!(find_sku("standard_d2s_v5").is_none());
        for pair in SKUS.windows(2) {
            assert!(pair[0].memtable_heap_space_mib < pair[1].memtable_heap_space_mib);
            assert!(pair[0].concurrent_reads <= pair[1].concurrent_reads);
        }
    }
}
