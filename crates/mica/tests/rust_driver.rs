//! End-to-end tests with the Rust `scylla` driver against the real `mica` binary: each test writes a
//! cassandra.yaml (TLS with PEM keystore/truststore, PasswordAuthenticator), starts `mica node`, and
//! checks what every driver needs: TLS + password login, schema metadata, prepared statements,
//! paging, batches and every CQL type read back exactly as written.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures::TryStreamExt;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::cluster::metadata::{CollectionType, ColumnKind, ColumnType, NativeType, Strategy};
use scylla::response::PagingState;
use scylla::statement::batch::{Batch, BatchType};
use scylla::value::{
    Counter, CqlDate, CqlDecimal, CqlDuration, CqlTime, CqlTimestamp, CqlTimeuuid, CqlValue, CqlVarint, Row,
};
use scylla::{DeserializeRow, DeserializeValue, SerializeRow, SerializeValue};
use uuid::Uuid;

const MICA: &str = env!("CARGO_BIN_EXE_mica");
/// How long the node may take to start listening.
const STARTUP_PATIENCE: Duration = Duration::from_secs(30);
/// The superuser Cassandra (and Mica) create on first start.
const SUPERUSER: (&str, &str) = ("cassandra", "cassandra");
const CLUSTER_NAME: &str = "Mica Rust Driver Test";
/// Rows written and paged through by the paging test (as the issue demands).
const PAGED_ROWS: i32 = 10_000;
const PAGED_PARTITIONS: i32 = 10;
/// Writes kept in flight while loading the paging table.
const LOAD_CONCURRENCY: usize = 64;
/// How much of the node's log a failure report shows.
const LOG_TAIL_BYTES: usize = 8_000;

/// Fourth octet of the next test node's loopback address; every test gets its own.
static NEXT_HOST: AtomicU8 = AtomicU8::new(10);

/// A running `mica node` process with its own loopback address, certificates and data directory.
/// Dropping it kills the process, so a failing test never leaves a node behind.
struct MicaNode {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    ca_pem: String,
    child: Child,
}

impl MicaNode {
    /// Writes certificates and a cassandra.yaml into a fresh directory and starts the real binary.
    fn start(extra_yaml: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let ip = unique_loopback();
        let port = free_port(ip)?;
        let addr = SocketAddr::new(ip, port);
        let ca_pem = write_certificates(dir.path(), ip)?;
        let yaml = format!(
            "cluster_name: '{CLUSTER_NAME}'\n\
             listen_address: {ip}\n\
             rpc_address: {ip}\n\
             native_transport_port: {port}\n\
             data_file_directories: [data/data]\n\
             commitlog_directory: data/commitlog\n\
             hints_directory: data/hints\n\
             saved_caches_directory: data/saved_caches\n\
             endpoint_snitch: GossipingPropertyFileSnitch\n\
             commitlog_sync: batch\n\
             authenticator: PasswordAuthenticator\n\
             authorizer: CassandraAuthorizer\n\
             client_encryption_options:\n  \
               enabled: true\n  \
               optional: false\n  \
               ssl_context_factory:\n    \
                 class_name: org.apache.cassandra.security.PEMBasedSslContextFactory\n  \
               keystore: node.pem\n  \
               truststore: ca.pem\n  \
               require_client_auth: false\n\
             {extra_yaml}"
        );
        let config = dir.path().join("cassandra.yaml");
        fs::write(&config, yaml)?;
        fs::write(
            dir.path().join("cassandra-rackdc.properties"),
            "dc=dc1\nrack=rack1\n",
        )?;
        let log = fs::File::create(dir.path().join("node.log"))?;
        let child = Command::new(MICA)
            .args(["node", "--config"])
            .arg(&config)
            .current_dir(dir.path())
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .context("cannot start mica node")?;
        let mut node = MicaNode {
            dir,
            addr,
            ca_pem,
            child,
        };
        node.wait_until_listening()?;
        Ok(node)
    }

    fn wait_until_listening(&mut self) -> Result<()> {
        let deadline = Instant::now() + STARTUP_PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("mica node exited with {status}:\n{}", self.log_tail());
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(500)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("mica node did not listen on {}:\n{}", self.addr, self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_tail(&self) -> String {
        let text = fs::read(self.dir.path().join("node.log")).unwrap_or_default();
        let start = text.len().saturating_sub(LOG_TAIL_BYTES);
        String::from_utf8_lossy(&text[start..]).into_owned()
    }

    /// A rustls client configuration trusting only the test CA (the server certificate is
    /// verified, including its IP address).
    fn tls(&self) -> Result<Arc<rustls::ClientConfig>> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes())?)?;
        let config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(Arc::new(config))
    }

    fn builder(&self) -> Result<SessionBuilder> {
        Ok(SessionBuilder::new()
            .known_node_addr(self.addr)
            .tls_context(Some(self.tls()?))
            .connection_timeout(Duration::from_secs(10)))
    }

    /// A session logged in as the superuser over TLS.
    async fn session(&self) -> Result<Session> {
        let session = self
            .builder()?
            .user(SUPERUSER.0, SUPERUSER.1)
            .build()
            .await
            .context("cannot connect with TLS and password")?;
        Ok(session)
    }

    /// Stops the node; a failed test's error gets the node's log attached.
    fn finish(mut self, outcome: Result<()>) -> Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        outcome.with_context(|| format!("node log (tail):\n{}", self.log_tail()))
    }
}

impl Drop for MicaNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("node log (tail):\n{}", self.log_tail());
        }
    }
}

/// 127.a.b.c, distinct per test process and per test, so parallel runs never share an address.
fn unique_loopback() -> IpAddr {
    let pid = std::process::id();
    let host = NEXT_HOST.fetch_add(1, Ordering::Relaxed);
    IpAddr::V4(Ipv4Addr::new(
        127,
        100 + ((pid >> 8) % 90) as u8,
        (pid & 0xff) as u8,
        host,
    ))
}

/// A port nothing listens on at `ip` right now (the kernel picks it).
fn free_port(ip: IpAddr) -> Result<u16> {
    Ok(TcpListener::bind((ip, 0))?.local_addr()?.port())
}

/// Creates a CA (ca.pem, the truststore) and a node certificate for `ip` signed by it (node.pem,
/// the keystore: key then certificate chain). Returns the CA certificate in PEM.
fn write_certificates(dir: &std::path::Path, ip: IpAddr) -> Result<String> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mica rust driver test ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, &ca_key);

    let mut node_params = CertificateParams::new(vec![ip.to_string()])?;
    node_params
        .distinguished_name
        .push(DnType::CommonName, format!("mica node {ip}"));
    let node_key = KeyPair::generate()?;
    let node_cert = node_params.signed_by(&node_key, &issuer)?;

    let ca_pem = ca_cert.pem();
    fs::write(dir.join("ca.pem"), &ca_pem)?;
    fs::write(
        dir.join("node.pem"),
        format!("{}{}{ca_pem}", node_key.serialize_pem(), node_cert.pem()),
    )?;
    Ok(ca_pem)
}

/// Runs `body` against a fresh node and stops the node whatever happens.
async fn with_node<F>(body: F) -> Result<()>
where
    F: AsyncFnOnce(&MicaNode) -> Result<()>,
{
    let node = MicaNode::start("")?;
    let outcome = body(&node).await;
    node.finish(outcome)
}

async fn create_keyspace(session: &Session, name: &str) -> Result<()> {
    session
        .query_unpaged(
            format!(
                "CREATE KEYSPACE {name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
            ),
            &[],
        )
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_only_with_tls_and_the_right_password() -> Result<()> {
    with_node(async |node| {
        let session = node.session().await?;
        let (release, cluster_name): (String, String) = session
            .query_unpaged("SELECT release_version, cluster_name FROM system.local", &[])
            .await?
            .into_rows_result()?
            .single_row()?;
        assert_eq!(cluster_name, CLUSTER_NAME);
        assert!(release_version_looks_like_cassandra(&release), "{release}");

        let wrong = node
            .builder()?
            .user(SUPERUSER.0, "not the password")
            .build()
            .await;
        let error = wrong.err().context("a wrong password was accepted")?.to_string();
        assert!(
            error.contains("Provided username cassandra and/or password are incorrect"),
            "{error}"
        );

        let anonymous = node.builder()?.build().await;
        ensure!(anonymous.is_err(), "a session without credentials was accepted");

        let plaintext = SessionBuilder::new()
            .known_node_addr(node.addr)
            .user(SUPERUSER.0, SUPERUSER.1)
            .connection_timeout(Duration::from_secs(5))
            .build()
            .await;
        ensure!(plaintext.is_err(), "a plaintext connection was accepted");

        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_created_over_cql_can_log_in() -> Result<()> {
    with_node(async |node| {
        let session = node.session().await?;
        // A role created over CQL can log in with its own password.
        session
            .query_unpaged(
                "CREATE ROLE app WITH PASSWORD = 'app-secret' AND LOGIN = true",
                &[],
            )
            .await?;
        let app = node.builder()?.user("app", "app-secret").build().await?;
        let (key,): (String,) = app
            .query_unpaged("SELECT key FROM system.local", &[])
            .await?
            .into_rows_result()?
            .single_row()?;
        assert_eq!(key, "local");
        Ok(())
    })
    .await
}

fn release_version_looks_like_cassandra(release: &str) -> bool {
    let mut parts = release.split('.');
    parts
        .next()
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|m| m >= 3)
        && parts.next().is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_schema_metadata() -> Result<()> {
    with_node(async |node| {
        let session = node.session().await?;
        create_keyspace(&session, "meta").await?;
        for ddl in [
            "CREATE TYPE meta.point (x double, y double, label text)",
            "CREATE TYPE meta.shape (name text, points frozen<list<frozen<point>>>)",
            "CREATE TABLE meta.events (tenant text, day date, seq timeuuid, kind text static, \
             payload blob, tags set<text>, attrs map<text, int>, origin frozen<point>, shapes list<frozen<shape>>, \
             pair tuple<int, text>, embedding vector<float, 4>, \
             PRIMARY KEY ((tenant, day), seq)) WITH CLUSTERING ORDER BY (seq DESC)",
            "CREATE TABLE meta.hits (page text PRIMARY KEY, n counter)",
        ] {
            session.query_unpaged(ddl, &[]).await.with_context(|| ddl.to_owned())?;
        }
        session
            .refresh_metadata()
            .await
            .context("refreshing the schema metadata failed")?;
        let state = session.get_cluster_state();

        assert_eq!(state.cluster_name(), CLUSTER_NAME);
        let nodes = state.get_nodes_info();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].address.ip(), node.addr.ip());
        assert_eq!(nodes[0].datacenter.as_deref(), Some("dc1"));
        assert_eq!(nodes[0].rack.as_deref(), Some("rack1"));

        let names: HashSet<&str> = state.keyspaces_iter().map(|(name, _)| name).collect();
        for expected in ["system", "system_schema", "system_auth", "meta"] {
            assert!(names.contains(expected), "{expected} missing from {names:?}");
        }

        let ks = state.get_keyspace("meta").context("keyspace meta")?;
        assert!(ks.durable_writes);
        match &ks.strategy {
            Strategy::SimpleStrategy { replication_factor } => assert_eq!(*replication_factor, 1),
            other => bail!("unexpected strategy {other:?}"),
        }

        let point = ks.user_defined_types.get("point").context("UDT point")?;
        assert_eq!(point.keyspace, "meta");
        assert_eq!(
            point.field_types.iter().map(|(n, t)| (n.as_ref(), t.clone())).collect::<Vec<_>>(),
            vec![
                ("x", ColumnType::Native(NativeType::Double)),
                ("y", ColumnType::Native(NativeType::Double)),
                ("label", ColumnType::Native(NativeType::Text)),
            ]
        );
        let shape = ks.user_defined_types.get("shape").context("UDT shape")?;
        let (field, typ) = &shape.field_types[1];
        assert_eq!(field, "points");
        match typ {
            ColumnType::Collection {
                frozen: true,
                typ: CollectionType::List(element),
            } => match element.as_ref() {
                ColumnType::UserDefinedType { frozen: true, definition } => {
                    assert_eq!(definition.name, "point");
                    assert_eq!(definition.field_types.len(), 3);
                }
                other => bail!("unexpected element type {other:?}"),
            },
            other => bail!("unexpected points type {other:?}"),
        }

        let events = ks.tables.get("events").context("table events")?;
        assert_eq!(events.partition_key, vec!["tenant", "day"]);
        assert_eq!(events.clustering_key, vec!["seq"]);
        let column = |name: &str| events.columns.get(name).with_context(|| format!("column {name}"));
        assert_eq!(column("tenant")?.kind, ColumnKind::PartitionKey);
        assert_eq!(column("day")?.typ, ColumnType::Native(NativeType::Date));
        assert_eq!(column("seq")?.kind, ColumnKind::Clustering);
        assert_eq!(column("seq")?.typ, ColumnType::Native(NativeType::Timeuuid));
        assert_eq!(column("kind")?.kind, ColumnKind::Static);
        assert_eq!(column("payload")?.kind, ColumnKind::Regular);
        assert_eq!(
            column("tags")?.typ,
            ColumnType::Collection {
                frozen: false,
                typ: CollectionType::Set(Box::new(ColumnType::Native(NativeType::Text)))
            }
        );
        assert_eq!(
            column("attrs")?.typ,
            ColumnType::Collection {
                frozen: false,
                typ: CollectionType::Map(
                    Box::new(ColumnType::Native(NativeType::Text)),
                    Box::new(ColumnType::Native(NativeType::Int))
                )
            }
        );
        assert!(matches!(
            &column("origin")?.typ,
            ColumnType::UserDefinedType { frozen: true, definition } if definition.name == "point"
        ));
        assert_eq!(
            column("pair")?.typ,
            ColumnType::Tuple(vec![
                ColumnType::Native(NativeType::Int),
                ColumnType::Native(NativeType::Text)
            ])
        );
        assert_eq!(
            column("embedding")?.typ,
            ColumnType::Vector {
                typ: Box::new(ColumnType::Native(NativeType::Float)),
                dimensions: 4
            }
        );
        assert_eq!(events.columns.len(), 11);

        let hits = ks.tables.get("hits").context("table hits")?;
        assert_eq!(
            hits.columns.get("n").context("column n")?.typ,
            ColumnType::Native(NativeType::Counter)
        );

        // Schema changes are pushed to the driver: a new table shows up after a refresh.
        session
            .query_unpaged("CREATE TABLE meta.later (k int PRIMARY KEY, v text)", &[])
            .await?;
        session.refresh_metadata().await?;
        let state = session.get_cluster_state();
        let later = state
            .get_keyspace("meta")
            .and_then(|ks| ks.tables.get("later"))
            .context("table later after refresh")?;
        assert_eq!(later.partition_key, vec!["k"]);
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_paging_and_batches() -> Result<()> {
    with_node(async |node| {
        let session = Arc::new(node.session().await?);
        create_keyspace(&session, "pg").await?;
        session
            .query_unpaged(
                "CREATE TABLE pg.rows (p int, c int, v text, PRIMARY KEY (p, c))",
                &[],
            )
            .await?;

        let insert = session
            .prepare("INSERT INTO pg.rows (p, c, v) VALUES (?, ?, ?)")
            .await?;
        let bind_names: Vec<&str> = insert.get_variable_col_specs().iter().map(|s| s.name()).collect();
        assert_eq!(bind_names, vec!["p", "c", "v"]);
        assert_eq!(insert.get_variable_pk_indexes().len(), 1);
        assert!(insert.is_token_aware());
        assert_eq!(insert.get_keyspace_name(), Some("pg"));
        assert_eq!(insert.get_table_name(), Some("rows"));

        // Load 10,000 rows through the prepared statement with many requests in flight.
        let mut pending = tokio::task::JoinSet::new();
        for i in 0..PAGED_ROWS {
            let (session, insert) = (Arc::clone(&session), insert.clone());
            pending.spawn(async move {
                let (p, c) = (i % PAGED_PARTITIONS, i / PAGED_PARTITIONS);
                session
                    .execute_unpaged(&insert, (p, c, format!("v{p}-{c}")))
                    .await
            });
            if pending.len() >= LOAD_CONCURRENCY {
                pending.join_next().await.context("a write task")???;
            }
        }
        while let Some(done) = pending.join_next().await {
            done??;
        }

        // A prepared full scan, paged 333 rows at a time by hand.
        let mut scan = session.prepare("SELECT p, c, v FROM pg.rows").await?;
        scan.set_page_size(333);
        let mut seen = BTreeSet::new();
        let mut pages = 0;
        let mut paging = PagingState::start();
        loop {
            let (result, next) = session.execute_single_page(&scan, (), paging).await?;
            let rows = result.into_rows_result()?;
            assert!(rows.rows_num() <= 333, "page of {} rows", rows.rows_num());
            for row in rows.rows::<(i32, i32, String)>()? {
                let (p, c, v) = row?;
                assert_eq!(v, format!("v{p}-{c}"));
                assert!(seen.insert((p, c)), "row {p}/{c} returned twice");
            }
            pages += 1;
            match next.into_paging_control_flow() {
                std::ops::ControlFlow::Continue(state) => paging = state,
                std::ops::ControlFlow::Break(()) => break,
            }
        }
        assert_eq!(seen.len(), PAGED_ROWS as usize);
        assert!(pages >= PAGED_ROWS / 333, "only {pages} pages");

        // The driver's own pager over an unprepared statement, and over one partition in
        // clustering order.
        let mut statement = scylla::statement::Statement::new("SELECT p, c FROM pg.rows");
        statement.set_page_size(1000);
        let all: Vec<(i32, i32)> = session
            .query_iter(statement, ())
            .await?
            .rows_stream::<(i32, i32)>()?
            .try_collect()
            .await?;
        assert_eq!(all.len(), PAGED_ROWS as usize);
        // Partitions come back whole, each in clustering order, and in the order of the tokens the
        // driver computes for them: client and node agree on Murmur3, which token-aware routing
        // relies on.
        let mut partitions = vec![all[0].0];
        for window in all.windows(2) {
            let ((p1, c1), (p2, c2)) = (window[0], window[1]);
            if p1 == p2 {
                assert_eq!(c2, c1 + 1, "clustering order within partition {p1}");
            } else {
                partitions.push(p2);
            }
        }
        assert_eq!(partitions.len(), PAGED_PARTITIONS as usize);
        let mut tokens = Vec::new();
        for p in &partitions {
            let token = insert
                .calculate_token(&(p, 0, "x"))?
                .context("the insert is token aware")?;
            tokens.push(token.value());
        }
        assert!(
            tokens.is_sorted(),
            "partitions {partitions:?} have tokens {tokens:?}"
        );

        let mut in_partition = session
            .prepare("SELECT c, v FROM pg.rows WHERE p = ? AND c >= ?")
            .await?;
        in_partition.set_page_size(100);
        let rows: Vec<(i32, String)> = session
            .execute_iter(in_partition, (4, 250))
            .await?
            .rows_stream::<(i32, String)>()?
            .try_collect()
            .await?;
        let per_partition = PAGED_ROWS / PAGED_PARTITIONS;
        assert_eq!(rows.len(), (per_partition - 250) as usize);
        for (i, (c, v)) in rows.iter().enumerate() {
            assert_eq!(*c, 250 + i as i32);
            assert_eq!(v, &format!("v4-{c}"));
        }

        let (count,): (i64,) = session
            .query_unpaged("SELECT count(*) FROM pg.rows WHERE p = 9", &[])
            .await?
            .into_rows_result()?
            .single_row()?;
        assert_eq!(count, per_partition as i64);

        // A logged batch mixing prepared and simple statements: inserts, an update and a delete.
        let update = session
            .prepare("UPDATE pg.rows SET v = ? WHERE p = ? AND c = ?")
            .await?;
        let mut batch = Batch::new(BatchType::Logged);
        batch.append_statement(insert.clone());
        batch.append_statement(insert.clone());
        batch.append_statement(update);
        batch.append_statement("DELETE FROM pg.rows WHERE p = 100 AND c = ?");
        batch.append_statement("INSERT INTO pg.rows (p, c, v) VALUES (100, 3, 'simple')");
        session
            .batch(
                &batch,
                (
                    (100, 1, "one"),
                    (100, 2, "two"),
                    ("two, updated", 100, 2),
                    (1,),
                    (),
                ),
            )
            .await?;
        let read_partition = session.prepare("SELECT c, v FROM pg.rows WHERE p = ?").await?;
        let rows: Vec<(i32, String)> = session
            .execute_unpaged(&read_partition, (100,))
            .await?
            .into_rows_result()?
            .rows::<(i32, String)>()?
            .collect::<Result<_, _>>()?;
        assert_eq!(
            rows,
            vec![(2, "two, updated".to_owned()), (3, "simple".to_owned())]
        );

        // An unlogged batch over several partitions, with a client-side timestamp.
        let mut unlogged = Batch::new(BatchType::Unlogged);
        for _ in 0..3 {
            unlogged.append_statement(insert.clone());
        }
        unlogged.set_timestamp(Some(1_000));
        session
            .batch(&unlogged, ((200, 0, "a"), (201, 0, "b"), (202, 0, "c")))
            .await?;
        let (writetime,): (i64,) = session
            .query_unpaged("SELECT writetime(v) FROM pg.rows WHERE p = 201 AND c = 0", &[])
            .await?
            .into_rows_result()?
            .single_row()?;
        assert_eq!(writetime, 1_000);

        // A batch the driver prepares first (its statements are all prepared server side).
        let mut simple = Batch::new(BatchType::Logged);
        simple.append_statement("INSERT INTO pg.rows (p, c, v) VALUES (?, ?, ?)");
        simple.append_statement("INSERT INTO pg.rows (p, c, v) VALUES (?, ?, ?)");
        let prepared = session.prepare_batch(&simple).await?;
        session.batch(&prepared, ((300, 1, "x"), (300, 2, "y"))).await?;
        let rows: Vec<(i32, String)> = session
            .execute_unpaged(&read_partition, (300,))
            .await?
            .into_rows_result()?
            .rows::<(i32, String)>()?
            .collect::<Result<_, _>>()?;
        assert_eq!(rows, vec![(1, "x".to_owned()), (2, "y".to_owned())]);
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_and_the_node_compute_the_same_token() -> Result<()> {
    with_node(async |node| {
        let session = node.session().await?;
        create_keyspace(&session, "tk").await?;
        session
            .query_unpaged(
                "CREATE TABLE tk.t (p int, q text, v int, PRIMARY KEY ((p, q)))",
                &[],
            )
            .await?;
        let insert = session
            .prepare("INSERT INTO tk.t (p, q, v) VALUES (?, ?, ?)")
            .await?;
        let token_of = session
            .prepare("SELECT token(p, q) FROM tk.t WHERE p = ? AND q = ?")
            .await?;
        for (p, q) in [(0, "a"), (3, ""), (-7, "zzz")] {
            session.execute_unpaged(&insert, (p, q, 1)).await?;
            let (server,): (i64,) = session
                .execute_unpaged(&token_of, (p, q))
                .await?
                .into_rows_result()?
                .single_row()?;
            let client = insert
                .calculate_token(&(p, q, 1))?
                .context("the insert is token aware")?;
            assert_eq!(server, client.value(), "token of ({p}, {q:?})");
        }
        Ok(())
    })
    .await
}

/// Every native type in one row; `Option` so a row of nulls round-trips as well.
#[derive(Debug, Clone, PartialEq, SerializeRow, DeserializeRow)]
struct NativeRow {
    k: i32,
    a: Option<String>,
    b: Option<i64>,
    bl: Option<Vec<u8>>,
    bo: Option<bool>,
    d: Option<CqlDecimal>,
    db: Option<f64>,
    du: Option<CqlDuration>,
    f: Option<f32>,
    ip: Option<IpAddr>,
    n: Option<i32>,
    sm: Option<i16>,
    ti: Option<i8>,
    tx: Option<String>,
    vc: Option<String>,
    ts: Option<CqlTimestamp>,
    u: Option<Uuid>,
    tu: Option<CqlTimeuuid>,
    dt: Option<CqlDate>,
    tm: Option<CqlTime>,
    vi: Option<CqlVarint>,
}

const NATIVE_TABLE: &str = "CREATE TABLE ty.native (k int PRIMARY KEY, a ascii, b bigint, bl blob, \
     bo boolean, d decimal, db double, du duration, f float, ip inet, n int, sm smallint, ti tinyint, \
     tx text, vc varchar, ts timestamp, u uuid, tu timeuuid, dt date, tm time, vi varint)";

/// The minimal two's complement big-endian bytes of `value`, as Cassandra's `BigInteger` writes them.
fn varint_bytes(value: i128) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    // Drop leading bytes that only repeat the sign of the next byte.
    while start + 1 < bytes.len()
        && ((bytes[start] == 0x00 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    bytes[start..].to_vec()
}

fn varint(value: i128) -> CqlVarint {
    CqlVarint::from_signed_bytes_be(varint_bytes(value))
}

fn decimal(unscaled: i128, scale: i32) -> CqlDecimal {
    CqlDecimal::from_signed_be_bytes_and_exponent(varint_bytes(unscaled), scale)
}

/// Days since the epoch as a CQL date (which counts from 2^31 days before it).
fn date(days_since_epoch: i64) -> CqlDate {
    CqlDate(u32::try_from((1_i64 << 31) + days_since_epoch).expect("date in range"))
}

fn native_rows() -> Vec<NativeRow> {
    let timeuuid = |s: &str| CqlTimeuuid::from(Uuid::parse_str(s).expect("valid uuid"));
    vec![
        NativeRow {
            k: 1,
            a: Some("plain ascii ~!".to_owned()),
            b: Some(1 << 40),
            bl: Some(vec![0x00, 0x01, 0xfe, 0xff]),
            bo: Some(true),
            d: Some(decimal(123_456, 3)),
            db: Some(std::f64::consts::PI),
            du: Some(CqlDuration {
                months: 14,
                days: 3,
                nanoseconds: 4 * 3_600_000_000_000 + 5,
            }),
            f: Some(2.5),
            ip: Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))),
            n: Some(-7),
            sm: Some(300),
            ti: Some(-5),
            tx: Some("héllo wörld ✓ 🚀".to_owned()),
            vc: Some("varchar is text".to_owned()),
            ts: Some(CqlTimestamp(1_704_164_645_678)),
            u: Some(Uuid::parse_str("7d5b4c1e-3f2a-4b8c-9d0e-1f2a3b4c5d6e").expect("uuid")),
            tu: Some(timeuuid("5c4e8c30-a8c7-11ee-8c90-0242ac120002")),
            dt: Some(date(18_321)), // 2020-02-29
            tm: Some(CqlTime(3_723_000_000_123)),
            vi: Some(varint(10_i128.pow(30))),
        },
        // Extremes and edge encodings.
        NativeRow {
            k: 2,
            a: Some(String::new()),
            b: Some(i64::MIN),
            bl: Some(Vec::new()),
            bo: Some(false),
            d: Some(decimal(-15, 31)),
            db: Some(f64::NEG_INFINITY),
            du: Some(CqlDuration {
                months: -1,
                days: -2,
                nanoseconds: -3,
            }),
            f: Some(f32::MAX),
            ip: Some(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))),
            n: Some(i32::MIN),
            sm: Some(i16::MIN),
            ti: Some(i8::MIN),
            tx: Some(String::new()),
            vc: Some("x".repeat(10_000)),
            ts: Some(CqlTimestamp(-62_135_596_800_000)), // 0001-01-01
            u: Some(Uuid::nil()),
            tu: Some(timeuuid("00000000-0000-1000-8000-000000000000")),
            dt: Some(CqlDate(0)),
            tm: Some(CqlTime(86_399_999_999_999)),
            vi: Some(varint(-(1_i128 << 70))),
        },
        NativeRow {
            k: 3,
            a: None,
            b: Some(i64::MAX),
            bl: None,
            bo: None,
            d: Some(decimal(1, -10)),
            db: Some(-0.5),
            du: Some(CqlDuration {
                months: 0,
                days: 0,
                nanoseconds: 0,
            }),
            f: Some(f32::INFINITY),
            ip: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            n: Some(i32::MAX),
            sm: Some(i16::MAX),
            ti: Some(i8::MAX),
            tx: None,
            vc: None,
            ts: Some(CqlTimestamp(0)),
            u: None,
            tu: None,
            dt: Some(CqlDate(u32::MAX)),
            tm: Some(CqlTime(0)),
            vi: Some(varint(-129)),
        },
        // Only the key: every other column reads back null.
        NativeRow {
            k: 4,
            a: None,
            b: None,
            bl: None,
            bo: None,
            d: None,
            db: None,
            du: None,
            f: None,
            ip: None,
            n: None,
            sm: None,
            ti: None,
            tx: None,
            vc: None,
            ts: None,
            u: None,
            tu: None,
            dt: None,
            tm: None,
            vi: None,
        },
    ]
}

#[derive(Debug, Clone, PartialEq, SerializeValue, DeserializeValue)]
struct Address {
    street: Option<String>,
    zip: Option<i32>,
    tags: Option<BTreeSet<String>>,
}

/// Collections, frozen values, tuples, UDTs (frozen and not) and a vector.
#[derive(Debug, Clone, PartialEq, SerializeRow, DeserializeRow)]
struct CompositeRow {
    k: i32,
    l: Option<Vec<i32>>,
    s: Option<BTreeSet<String>>,
    m: Option<BTreeMap<String, i64>>,
    fl: Option<Vec<String>>,
    fs: Option<BTreeSet<i32>>,
    fm: Option<BTreeMap<i32, String>>,
    nested: Option<BTreeMap<String, Vec<i32>>>,
    tp: Option<(Option<i32>, Option<String>, Option<bool>)>,
    faddr: Option<Address>,
    addrs: Option<Vec<Address>>,
    vec: Option<Vec<f32>>,
}

const COMPOSITE_TABLE: &str = "CREATE TABLE ty.composite (k int PRIMARY KEY, l list<int>, s set<text>, \
     m map<text, bigint>, fl frozen<list<text>>, fs frozen<set<int>>, fm frozen<map<int, text>>, \
     nested map<text, frozen<list<int>>>, tp tuple<int, text, boolean>, \
     faddr frozen<address>, addrs list<frozen<address>>, vec vector<float, 3>)";

fn address(street: &str, zip: Option<i32>, tags: &[&str]) -> Address {
    Address {
        street: Some(street.to_owned()),
        zip,
        tags: Some(tags.iter().map(|t| (*t).to_owned()).collect()),
    }
}

fn composite_rows() -> Vec<CompositeRow> {
    vec![
        CompositeRow {
            k: 1,
            l: Some(vec![3, 1, 2, 1]),
            s: Some(["x", "y", "a"].iter().map(|s| (*s).to_owned()).collect()),
            m: Some([("a".to_owned(), 1), ("b".to_owned(), -2)].into()),
            fl: Some(vec!["f".to_owned(), "e".to_owned()]),
            fs: Some([5, -1, 3].into()),
            fm: Some([(2, "two".to_owned()), (1, "one".to_owned())].into()),
            nested: Some([("p".to_owned(), vec![1, 2]), ("q".to_owned(), vec![])].into()),
            tp: Some((Some(1), Some("one".to_owned()), Some(true))),
            faddr: Some(Address {
                street: Some("2 Side St".to_owned()),
                zip: None,
                tags: None,
            }),
            addrs: Some(vec![address("a", Some(1), &[]), address("b", Some(2), &["t"])]),
            vec: Some(vec![0.5, -1.25, 3.0]),
        },
        // Tuples with null elements; frozen empty collections are values, not null.
        CompositeRow {
            k: 2,
            l: None,
            s: None,
            m: None,
            fl: Some(Vec::new()),
            fs: Some(BTreeSet::new()),
            fm: Some(BTreeMap::new()),
            nested: None,
            tp: Some((None, Some(String::new()), None)),
            faddr: None,
            addrs: None,
            vec: Some(vec![f32::MIN_POSITIVE, f32::MAX, 0.0]),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cql_type_reads_back_as_written() -> Result<()> {
    with_node(async |node| {
        let session = node.session().await?;
        create_keyspace(&session, "ty").await?;
        session
            .query_unpaged(
                "CREATE TYPE ty.address (street text, zip int, tags frozen<set<text>>)",
                &[],
            )
            .await?;
        for ddl in [
            NATIVE_TABLE,
            COMPOSITE_TABLE,
            "CREATE TABLE ty.counters (k text PRIMARY KEY, hits counter, misses counter)",
        ] {
            session.query_unpaged(ddl, &[]).await.with_context(|| ddl.to_owned())?;
        }

        // Native types, written with a prepared statement and read back typed and untyped.
        let insert = session
            .prepare(
                "INSERT INTO ty.native (k, a, b, bl, bo, d, db, du, f, ip, n, sm, ti, tx, vc, ts, u, tu, dt, tm, vi) \
                 VALUES (:k, :a, :b, :bl, :bo, :d, :db, :du, :f, :ip, :n, :sm, :ti, :tx, :vc, :ts, :u, :tu, :dt, :tm, :vi)",
            )
            .await?;
        for row in native_rows() {
            session.execute_unpaged(&insert, &row).await.with_context(|| format!("insert {}", row.k))?;
        }
        let select = session.prepare("SELECT * FROM ty.native WHERE k = ?").await?;
        for expected in native_rows() {
            let result = session.execute_unpaged(&select, (expected.k,)).await?.into_rows_result()?;
            // SELECT * lists the key, then the other columns in alphabetical order, as Cassandra does.
            let names: Vec<&str> = result.column_specs().iter().map(|s| s.name()).collect();
            let mut sorted = names[1..].to_vec();
            sorted.sort_unstable();
            assert_eq!(names[0], "k");
            assert_eq!(names[1..], sorted[..]);
            let actual: NativeRow = result.single_row()?;
            assert_eq!(actual, expected, "row {}", expected.k);
            // Varints and decimals come back in the same minimal encoding, byte for byte.
            if let (Some(got), Some(want)) = (&actual.vi, &expected.vi) {
                assert_eq!(got.as_signed_bytes_be_slice(), want.as_signed_bytes_be_slice());
            }
        }

        // The same rows through the driver's untyped value model.
        let result = session
            .query_unpaged("SELECT k, vi, d, du, ip, dt, tm, tu FROM ty.native WHERE k = 1", &[])
            .await?
            .into_rows_result()?;
        let types: Vec<ColumnType> = result.column_specs().iter().map(|s| s.typ().clone().into_owned()).collect();
        assert_eq!(
            types,
            [
                NativeType::Int,
                NativeType::Varint,
                NativeType::Decimal,
                NativeType::Duration,
                NativeType::Inet,
                NativeType::Date,
                NativeType::Time,
                NativeType::Timeuuid
            ]
            .map(ColumnType::Native)
        );
        let row: Row = result.single_row()?;
        let first = &native_rows()[0];
        assert_eq!(
            row.columns,
            vec![
                Some(CqlValue::Int(1)),
                first.vi.clone().map(CqlValue::Varint),
                first.d.clone().map(CqlValue::Decimal),
                first.du.map(CqlValue::Duration),
                first.ip.map(CqlValue::Inet),
                first.dt.map(CqlValue::Date),
                first.tm.map(CqlValue::Time),
                first.tu.map(CqlValue::Timeuuid),
            ]
        );

        // NaN is not equal to itself, so it gets its own check.
        session
            .query_unpaged("INSERT INTO ty.native (k, db, f) VALUES (5, NaN, -NaN)", &[])
            .await?;
        let (db, f): (f64, f32) = session
            .query_unpaged("SELECT db, f FROM ty.native WHERE k = 5", &[])
            .await?
            .into_rows_result()?
            .single_row()?;
        assert!(db.is_nan() && f.is_nan(), "{db} {f}");

        // Literals in CQL text reach the same values as bound ones.
        session
            .query_unpaged(
                "INSERT INTO ty.native (k, d, du, ip, dt, tm, ts, vi) VALUES (6, 123.456, 1y2mo3d4h5ns, \
                 '10.1.2.3', '2020-02-29', '01:02:03.000000123', '2024-01-02 03:04:05.678+0000', \
                 1000000000000000000000000000000)",
                &[],
            )
            .await?;
        let literal: (CqlDecimal, CqlDuration, IpAddr, CqlDate, CqlTime, CqlTimestamp, CqlVarint) = session
            .query_unpaged("SELECT d, du, ip, dt, tm, ts, vi FROM ty.native WHERE k = 6", &[])
            .await?
            .into_rows_result()?
            .single_row()?;
        assert_eq!(
            literal,
            (
                decimal(123_456, 3),
                CqlDuration { months: 14, days: 3, nanoseconds: 4 * 3_600_000_000_000 + 5 },
                IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
                date(18_321),
                CqlTime(3_723_000_000_123),
                CqlTimestamp(1_704_164_645_678),
                varint(10_i128.pow(30)),
            )
        );

        // Collections, frozen values, tuples, UDTs and vectors.
        let insert = session
            .prepare(
                "INSERT INTO ty.composite (k, l, s, m, fl, fs, fm, nested, tp, faddr, addrs, vec) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .await?;
        for row in composite_rows() {
            session.execute_unpaged(&insert, &row).await.with_context(|| format!("insert {}", row.k))?;
        }
        let select = session.prepare("SELECT * FROM ty.composite WHERE k = ?").await?;
        for expected in composite_rows() {
            let actual: CompositeRow = session
                .execute_unpaged(&select, (expected.k,))
                .await?
                .into_rows_result()?
                .single_row()?;
            assert_eq!(actual, expected, "row {}", expected.k);
        }

        // Element updates of non-frozen collections.
        session
            .query_unpaged(
                "UPDATE ty.composite SET l = l + [9], s = s - {'x'}, m['c'] = 3 WHERE k = 1",
                &[],
            )
            .await?;
        let (l, s, m): (Vec<i32>, BTreeSet<String>, BTreeMap<String, i64>) = session
            .query_unpaged("SELECT l, s, m FROM ty.composite WHERE k = 1", &[])
            .await?
            .into_rows_result()?
            .single_row()?;
        assert_eq!(l, vec![3, 1, 2, 1, 9]);
        assert_eq!(s, ["a", "y"].iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(m, [("a".to_owned(), 1), ("b".to_owned(), -2), ("c".to_owned(), 3)].into());

        // The untyped model: UDTs carry their keyspace and name, vectors are vectors.
        let result = session
            .query_unpaged("SELECT faddr, vec, tp FROM ty.composite WHERE k = 1", &[])
            .await?
            .into_rows_result()?;
        let vec_type = result.column_specs().get_by_name("vec").map(|(_, s)| s.typ().clone().into_owned());
        assert_eq!(
            vec_type,
            Some(ColumnType::Vector { typ: Box::new(ColumnType::Native(NativeType::Float)), dimensions: 3 })
        );
        let row: Row = result.single_row()?;
        assert_eq!(
            row.columns,
            vec![
                Some(CqlValue::UserDefinedType {
                    keyspace: "ty".to_owned(),
                    name: "address".to_owned(),
                    fields: vec![
                        ("street".to_owned(), Some(CqlValue::Text("2 Side St".to_owned()))),
                        ("zip".to_owned(), None),
                        ("tags".to_owned(), None),
                    ],
                }),
                Some(CqlValue::Vector(vec![
                    CqlValue::Float(0.5),
                    CqlValue::Float(-1.25),
                    CqlValue::Float(3.0)
                ])),
                Some(CqlValue::Tuple(vec![
                    Some(CqlValue::Int(1)),
                    Some(CqlValue::Text("one".to_owned())),
                    Some(CqlValue::Boolean(true)),
                ])),
            ]
        );

        // Counters live in their own table and only move by increments.
        let bump = session
            .prepare("UPDATE ty.counters SET hits = hits + ?, misses = misses - ? WHERE k = ?")
            .await?;
        for _ in 0..3 {
            session.execute_unpaged(&bump, (Counter(5), Counter(2), "page")).await?;
        }
        let mut counter_batch = Batch::new(BatchType::Counter);
        counter_batch.append_statement(bump.clone());
        counter_batch.append_statement(bump);
        session
            .batch(
                &counter_batch,
                ((Counter(100), Counter(0), "page"), (Counter(i64::MAX), Counter(0), "other")),
            )
            .await?;
        let counters: Vec<(String, Counter, Option<Counter>)> = session
            .query_unpaged("SELECT k, hits, misses FROM ty.counters", &[])
            .await?
            .into_rows_result()?
            .rows::<(String, Counter, Option<Counter>)>()?
            .collect::<Result<_, _>>()?;
        let counters: BTreeMap<String, (i64, Option<i64>)> = counters
            .into_iter()
            .map(|(k, hits, misses)| (k, (hits.0, misses.map(|m| m.0))))
            .collect();
        assert_eq!(
            counters,
            [
                ("page".to_owned(), (115, Some(-6))),
                ("other".to_owned(), (i64::MAX, Some(0))),
            ]
            .into()
        );
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_frozen_udt_reads_back_as_written() -> Result<()> {
    with_node(async |node| {
        let session = node.session().await?;
        create_keyspace(&session, "nf").await?;
        for ddl in [
            "CREATE TYPE nf.address (street text, zip int, tags frozen<set<text>>)",
            "CREATE TABLE nf.t (k int PRIMARY KEY, addr address)",
        ] {
            session
                .query_unpaged(ddl, &[])
                .await
                .with_context(|| ddl.to_owned())?;
        }
        let insert = session
            .prepare("INSERT INTO nf.t (k, addr) VALUES (?, ?)")
            .await?;
        let select = session.prepare("SELECT addr FROM nf.t WHERE k = ?").await?;
        let written = address("1 Main St", Some(12345), &["home", "billing"]);
        session.execute_unpaged(&insert, (1, &written)).await?;
        let (read,): (Address,) = session
            .execute_unpaged(&select, (1,))
            .await?
            .into_rows_result()?
            .single_row()?;
        assert_eq!(read, written);

        // A field update leaves the other fields alone.
        session
            .query_unpaged("UPDATE nf.t SET addr.zip = 54321 WHERE k = 1", &[])
            .await?;
        let (read,): (Address,) = session
            .execute_unpaged(&select, (1,))
            .await?
            .into_rows_result()?
            .single_row()?;
        assert_eq!(read, address("1 Main St", Some(54321), &["home", "billing"]));
        Ok(())
    })
    .await
}
