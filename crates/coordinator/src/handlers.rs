//! The replica side of the coordinator's verbs: apply mutations, read raw partitions, list keys.

use std::sync::Arc;

use mica_cluster::{Handler, Messaging};
use mica_storage::{Engine, Mutation, ReadSelection, ScanLimits};

use crate::error::CoordinatorError;
use crate::verbs;

/// Registers the replica-side handlers on `messaging`.
pub(crate) fn register(
    messaging: &Messaging,
    storage: &Arc<dyn Engine>,
    paxos: &Arc<crate::paxos::PaxosStore>,
) {
    for verb in [verbs::MUTATION, verbs::HINT] {
        let storage = Arc::clone(storage);
        let handler: Handler = Arc::new(move |_peer, payload| {
            let storage = Arc::clone(&storage);
            Box::pin(async move {
                let mutations: Vec<Mutation> = verbs::decode(&payload).map_err(|e| e.to_string())?;
                // Acknowledge only once the commit log policy says the write is durable, as Cassandra does.
                storage
                    .apply(mutations)
                    .map_err(|e| e.to_string())?
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Vec::new())
            })
        });
        messaging.set_handler(verb, handler);
    }
    let read_storage = Arc::clone(storage);
    let read: Handler = Arc::new(move |_peer, payload| {
        let storage = Arc::clone(&read_storage);
        Box::pin(async move {
            let run = move || -> Result<Vec<u8>, CoordinatorError> {
                let request: verbs::ReadRequest = verbs::decode(&payload)?;
                let partitions = request
                    .keys
                    .iter()
                    .map(|k| {
                        storage.read_partition_raw(request.table, k, &request.selection, request.now_seconds)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                verbs::encode(&verbs::ReadReply { partitions })
            };
            blocking(run).await
        })
    });
    messaging.set_handler(verbs::READ, read);
    let keys_storage = Arc::clone(storage);
    let keys: Handler = Arc::new(move |_peer, payload| {
        let storage = Arc::clone(&keys_storage);
        Box::pin(async move {
            let run = move || -> Result<Vec<u8>, CoordinatorError> {
                let request: verbs::KeysRequest = verbs::decode(&payload)?;
                verbs::encode(&list_keys(&*storage, &request)?)
            };
            blocking(run).await
        })
    });
    messaging.set_handler(verbs::KEYS, keys);
    let stream_storage = Arc::clone(storage);
    let stream: Handler = Arc::new(move |_peer, payload| {
        let storage = Arc::clone(&stream_storage);
        Box::pin(async move {
            let run = move || -> Result<Vec<u8>, CoordinatorError> {
                let request: verbs::StreamRequest = verbs::decode(&payload)?;
                verbs::encode(&crate::stream::stream_page(&*storage, &request)?)
            };
            blocking(run).await
        })
    });
    messaging.set_handler(verbs::STREAM, stream);
    for (verb, op) in [
        (verbs::BATCH_STORE, crate::batchlog::store_local as BatchlogOp),
        (verbs::BATCH_REMOVE, crate::batchlog::remove_local as BatchlogOp),
    ] {
        let storage = Arc::clone(storage);
        let handler: Handler = Arc::new(move |_peer, payload| {
            let storage = Arc::clone(&storage);
            Box::pin(async move { blocking(move || op(&*storage, &payload).map(|()| Vec::new())).await })
        });
        messaging.set_handler(verb, handler);
    }
    register_paxos(messaging, storage, paxos);
}

/// Registers the Paxos verbs.
fn register_paxos(messaging: &Messaging, storage: &Arc<dyn Engine>, paxos: &Arc<crate::paxos::PaxosStore>) {
    for verb in [verbs::PAXOS_PREPARE, verbs::PAXOS_PROPOSE, verbs::PAXOS_COMMIT] {
        let (storage, paxos) = (Arc::clone(storage), Arc::clone(paxos));
        let handler: Handler = Arc::new(move |_peer, payload| {
            let (storage, paxos) = (Arc::clone(&storage), Arc::clone(&paxos));
            Box::pin(async move {
                let request: crate::paxos::PaxosRequest =
                    verbs::decode(&payload).map_err(|e| e.to_string())?;
                crate::paxos::handle(&storage, &paxos, verb, &request)
                    .await
                    .map_err(|e| e.to_string())
            })
        });
        messaging.set_handler(verb, handler);
    }
}

/// A batchlog change applied on the local metadata store.
type BatchlogOp = fn(&dyn Engine, &[u8]) -> Result<(), CoordinatorError>;

/// Runs a storage call off the messaging runtime's workers.
async fn blocking(
    run: impl FnOnce() -> Result<Vec<u8>, CoordinatorError> + Send + 'static,
) -> Result<Vec<u8>, String> {
    match tokio::task::spawn_blocking(run).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(format!("read task failed: {e}")),
    }
}

/// The keys of partitions holding anything (data or deletions) in the request's range, at most `limit`.
pub(crate) fn list_keys(
    storage: &dyn Engine,
    request: &verbs::KeysRequest,
) -> Result<verbs::KeysReply, CoordinatorError> {
    // One row (or only deletions) per partition is enough to know it exists.
    let selection = ReadSelection {
        limit_rows: Some(1),
        columns: Some(Vec::new()),
        ..ReadSelection::all()
    };
    let stream = storage.scan_raw(
        request.table,
        &request.range,
        &selection,
        ScanLimits::default(),
        request.now_seconds,
    )?;
    let mut keys = Vec::new();
    let mut truncated = false;
    for partition in stream {
        if keys.len() == request.limit {
            truncated = true;
            break;
        }
        keys.push(partition?.key);
    }
    Ok(verbs::KeysReply { keys, truncated })
}
