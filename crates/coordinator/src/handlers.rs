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
    serve_blocking(messaging, storage, verbs::READ, read);
    serve_blocking(messaging, storage, verbs::KEYS, |storage, payload| {
        verbs::encode(&list_keys(storage, &verbs::decode(payload)?)?)
    });
    serve_blocking(messaging, storage, verbs::STREAM, |storage, payload| {
        verbs::encode(&crate::stream::stream_page(storage, &verbs::decode(payload)?)?)
    });
    serve_blocking(messaging, storage, verbs::BATCH_STORE, |storage, payload| {
        crate::batchlog::store_local(storage, payload).map(|()| Vec::new())
    });
    serve_blocking(messaging, storage, verbs::BATCH_REMOVE, |storage, payload| {
        crate::batchlog::remove_local(storage, payload).map(|()| Vec::new())
    });
    register_paxos(messaging, storage, paxos);
}

/// A replica-side storage operation: the request payload in, the reply payload out.
pub(crate) type StorageOp = fn(&dyn Engine, &[u8]) -> Result<Vec<u8>, CoordinatorError>;

/// Serves `verb` by running `op` on a blocking thread, off the messaging runtime's workers (storage calls
/// block on disk).
pub(crate) fn serve_blocking(
    messaging: &Messaging,
    storage: &Arc<dyn Engine>,
    verb: mica_cluster::Verb,
    op: StorageOp,
) {
    let storage = Arc::clone(storage);
    let handler: Handler = Arc::new(move |_peer, payload| {
        let storage = Arc::clone(&storage);
        Box::pin(async move {
            match tokio::task::spawn_blocking(move || op(&*storage, &payload)).await {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(e) => Err(format!("storage task failed: {e}")),
            }
        })
    });
    messaging.set_handler(verb, handler);
}

/// READ: the raw partitions of the requested keys.
fn read(storage: &dyn Engine, payload: &[u8]) -> Result<Vec<u8>, CoordinatorError> {
    let request: verbs::ReadRequest = verbs::decode(payload)?;
    let partitions = request
        .keys
        .iter()
        .map(|k| storage.read_partition_raw(request.table, k, &request.selection, request.now_seconds))
        .collect::<Result<Vec<_>, _>>()?;
    verbs::encode(&verbs::ReadReply { partitions })
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
                crate::paxos::handle(&storage, &paxos, verb, request)
                    .await
                    .map_err(|e| e.to_string())
            })
        });
        messaging.set_handler(verb, handler);
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
