//! Compaction filter for table keyspaces (placeholder until the full filter lands).

use crate::types::TableOptions;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Table options visible to compaction filters, by keyspace name.
#[derive(Default)]
pub(crate) struct FilterState {
    options: RwLock<HashMap<String, TableOptions>>,
}

impl FilterState {
    pub fn set(&self, name: &str, options: TableOptions) {
        if let Ok(mut map) = self.options.write() {
            map.insert(name.to_string(), options);
        }
    }

    pub fn remove(&self, name: &str) {
        if let Ok(mut map) = self.options.write() {
            map.remove(name);
        }
    }
}

struct Factory;

impl lsm_tree::compaction::Factory for Factory {
    fn name(&self) -> &str {
        "mica"
    }

    fn make_filter(
        &self,
        _ctx: &lsm_tree::compaction::filter::Context,
    ) -> Box<dyn lsm_tree::compaction::CompactionFilter> {
        Box::new(Keep)
    }
}

struct Keep;

impl lsm_tree::compaction::CompactionFilter for Keep {
    fn filter_item(
        &mut self,
        _item: lsm_tree::compaction::ItemAccessor<'_>,
        _ctx: &lsm_tree::compaction::filter::Context,
    ) -> lsm_tree::Result<lsm_tree::compaction::Verdict> {
        Ok(lsm_tree::compaction::Verdict::Keep)
    }
}

pub(crate) fn factory(_state: Arc<FilterState>, _name: &str) -> Arc<dyn lsm_tree::compaction::Factory> {
    Arc::new(Factory)
}
