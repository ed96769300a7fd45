//! `mica-loadgen`: a CQL load generator built on the Rust `scylla` driver. It runs a write, read or
//! mixed workload of prepared statements against one node (TLS and password optional) with a fixed
//! number of requests in flight, and reports throughput and latency percentiles.

mod stats;
mod tls;
mod workload;

use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use scylla::client::PoolSize;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;

use crate::stats::WorkerStats;
use crate::workload::{Mix, Op, WorkloadKind};

/// Longest keyspace name Cassandra accepts.
const MAX_KEYSPACE_NAME: usize = 48;
/// The table every workload uses, created in `--keyspace` if missing.
const TABLE: &str = "kv";

/// Runs a CQL workload against a node and reports ops/s and latency percentiles.
#[derive(Debug, Parser)]
#[command(name = "mica-loadgen", version)]
struct Args {
    /// What to run.
    #[arg(value_enum)]
    workload: WorkloadKind,
    /// Node address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// CQL native transport port.
    #[arg(long, default_value_t = 9042)]
    port: u16,
    /// Connect with TLS, accepting any server certificate.
    #[arg(long)]
    tls: bool,
    /// User name for PasswordAuthenticator.
    #[arg(long, short = 'u', env = "MICA_USER")]
    user: Option<String>,
    /// Password for PasswordAuthenticator.
    #[arg(long, short = 'p', env = "MICA_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Requests in flight at any time.
    #[arg(long, short = 'c', default_value_t = 64)]
    concurrency: usize,
    /// Connections to the node (Mica serves each connection on one core).
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// How long to run: `30s`, `2m`, `500ms` or plain seconds.
    #[arg(long, short = 'd', default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Stop after this many operations (also bounded by --duration).
    #[arg(long, short = 'n')]
    ops: Option<u64>,
    /// Keys are drawn uniformly from this many partitions.
    #[arg(long, default_value_t = 100_000)]
    partitions: u64,
    /// Seed of the key and operation choices (same seed, same requests).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of reads in the mixed workload (0 to 1).
    #[arg(long, default_value_t = 0.5)]
    read_ratio: f64,
    /// Size in bytes of the blob column of each row.
    #[arg(long, default_value_t = 64)]
    payload_size: usize,
    /// Write every partition once before measuring, so reads find their rows.
    #[arg(long)]
    populate: bool,
    /// Keyspace of the workload table (created with `--replication` if missing).
    #[arg(long, default_value = "loadgen")]
    keyspace: String,
    /// Replication map of a keyspace the load generator creates.
    #[arg(long, default_value = "{'class': 'SimpleStrategy', 'replication_factor': 1}")]
    replication: String,
    /// Consistency level of every request: one, two, three, quorum, all, local_quorum, each_quorum, local_one.
    #[arg(long, default_value = "one", value_parser = parse_consistency)]
    consistency: Consistency,
    /// Client threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// Parses a consistency level name.
fn parse_consistency(text: &str) -> Result<Consistency, String> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "one" => Consistency::One,
        "two" => Consistency::Two,
        "three" => Consistency::Three,
        "quorum" => Consistency::Quorum,
        "all" => Consistency::All,
        "local_quorum" => Consistency::LocalQuorum,
        "each_quorum" => Consistency::EachQuorum,
        "local_one" => Consistency::LocalOne,
        other => return Err(format!("unknown consistency level '{other}'")),
    })
}

/// Parses `30s`, `2m`, `1h`, `500ms` or a plain number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 30s, 2m or 500ms"))?;
    let duration = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        other => return Err(format!("unknown duration unit '{other}' (use ms, s, m or h)")),
    };
    if duration.is_zero() {
        return Err("the duration must be positive".into());
    }
    Ok(duration)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let outcome = runtime
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|rt| rt.block_on(run(&args)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The prepared statements every worker shares.
struct Statements {
    insert: PreparedStatement,
    select: PreparedStatement,
}

async fn run(args: &Args) -> Result<()> {
    let mix = Mix::new(args.workload, args.read_ratio, args.partitions)?;
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let keyspace = &args.keyspace;
    if keyspace.is_empty()
        || keyspace.len() > MAX_KEYSPACE_NAME
        || !keyspace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        bail!("--keyspace must be 1 to {MAX_KEYSPACE_NAME} letters, digits or underscores");
    }
    let session = Arc::new(connect(args).await?);
    let statements = Arc::new(prepare(&session, keyspace, &args.replication, args.consistency).await?);

    if args.populate {
        let started = Instant::now();
        populate(&session, &statements, args).await?;
        println!(
            "populated {} partitions in {:.1} s",
            args.partitions,
            started.elapsed().as_secs_f64()
        );
    }

    println!(
        "{:?} workload on {}:{} ({}{}): {} in flight over {} connections, {} partitions, seed {}{}",
        args.workload,
        args.host,
        args.port,
        if args.tls { "TLS" } else { "plaintext" },
        args.user
            .as_deref()
            .map(|u| format!(", user {u}"))
            .unwrap_or_default(),
        args.concurrency,
        args.connections,
        args.partitions,
        args.seed,
        match args.workload {
            WorkloadKind::Mixed => format!(", read ratio {}", args.read_ratio),
            _ => String::new(),
        },
    );
    let started = Instant::now();
    let deadline = started + args.duration;
    let issued = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..args.concurrency as u64 {
        let (session, statements, issued) =
            (Arc::clone(&session), Arc::clone(&statements), Arc::clone(&issued));
        let mut rng = workload::worker_rng(args.seed, worker);
        let (limit, payload_size) = (args.ops, args.payload_size);
        workers.spawn(async move {
            let mut stats = WorkerStats::new();
            while Instant::now() < deadline
                && limit.is_none_or(|limit| issued.fetch_add(1, Ordering::Relaxed) < limit)
            {
                let key = mix.next_key(&mut rng);
                match mix.next_op(&mut rng) {
                    Op::Write => write(&session, &statements.insert, key, payload_size, &mut stats).await,
                    Op::Read => read(&session, &statements.select, key, &mut stats).await,
                }
            }
            stats
        });
    }
    let mut total = WorkerStats::new();
    while let Some(done) = workers.join_next().await {
        total.merge(&done.context("a worker task failed")?);
    }
    let elapsed = started.elapsed();
    println!("elapsed {:.1} s", elapsed.as_secs_f64());
    print!("{}", stats::render(&total, elapsed));
    Ok(())
}

async fn connect(args: &Args) -> Result<Session> {
    let connections = NonZeroUsize::new(args.connections).context("--connections must be at least 1")?;
    let mut builder = SessionBuilder::new()
        .known_node(format!("{}:{}", args.host, args.port))
        .pool_size(PoolSize::PerHost(connections));
    if args.tls {
        builder = builder.tls_context(Some(tls::accept_any_certificate()?));
    }
    match (&args.user, &args.password) {
        (Some(user), Some(password)) => builder = builder.user(user, password),
        (None, None) => {}
        _ => bail!("give both --user and --password, or neither"),
    }
    builder
        .build()
        .await
        .with_context(|| format!("cannot connect to {}:{}", args.host, args.port))
}

async fn prepare(
    session: &Session,
    keyspace: &str,
    replication: &str,
    consistency: Consistency,
) -> Result<Statements> {
    for ddl in [
        format!("CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {keyspace}.{TABLE} \
             (key bigint PRIMARY KEY, name text, number bigint, payload blob)"
        ),
    ] {
        session
            .query_unpaged(ddl.as_str(), &[])
            .await
            .with_context(|| format!("cannot run {ddl}"))?;
    }
    // Every node must know the table before requests reach it.
    session
        .await_schema_agreement()
        .await
        .context("the nodes did not agree on the schema")?;
    let mut insert = session
        .prepare(format!(
            "INSERT INTO {keyspace}.{TABLE} (key, name, number, payload) VALUES (?, ?, ?, ?)"
        ))
        .await?;
    insert.set_consistency(consistency);
    let mut select = session
        .prepare(format!(
            "SELECT name, number, payload FROM {keyspace}.{TABLE} WHERE key = ?"
        ))
        .await?;
    select.set_consistency(consistency);
    Ok(Statements { insert, select })
}

/// Writes every partition once, with `--concurrency` writes in flight.
async fn populate(session: &Arc<Session>, statements: &Arc<Statements>, args: &Args) -> Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (session, statements, next) = (Arc::clone(session), Arc::clone(statements), Arc::clone(&next));
        let (partitions, payload_size) = (args.partitions, args.payload_size);
        writers.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= partitions {
                    return Ok::<(), anyhow::Error>(());
                }
                let row = workload::row_for(workload::key_of(index), payload_size);
                session
                    .execute_unpaged(&statements.insert, row)
                    .await
                    .context("populating failed")?;
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done??;
    }
    Ok(())
}

async fn write(
    session: &Session,
    insert: &PreparedStatement,
    key: i64,
    size: usize,
    stats: &mut WorkerStats,
) {
    let row = workload::row_for(key, size);
    let started = Instant::now();
    match session.execute_unpaged(insert, row).await {
        Ok(_) => stats.write.record(started.elapsed()),
        Err(e) => {
            stats.write.errors += 1;
            stats.first_error.get_or_insert_with(|| format!("write: {e}"));
        }
    }
}

async fn read(session: &Session, select: &PreparedStatement, key: i64, stats: &mut WorkerStats) {
    let started = Instant::now();
    let result = session.execute_unpaged(select, (key,)).await;
    let latency = started.elapsed();
    let row = result.map_err(anyhow::Error::from).and_then(|r| {
        Ok(r.into_rows_result()?
            .maybe_first_row::<(Option<String>, Option<i64>, Option<Vec<u8>>)>()?)
    });
    match row {
        Ok(Some((_, number, _))) if number == Some(workload::expected_number(key)) => {
            stats.read.record(latency);
        }
        Ok(Some((_, number, _))) => {
            stats.read.errors += 1;
            stats
                .first_error
                .get_or_insert_with(|| format!("read: key {key} has number {number:?}"));
        }
        Ok(None) => {
            stats.read.record(latency);
            stats.read.misses += 1;
        }
        Err(e) => {
            stats.read.errors += 1;
            stats.first_error.get_or_insert_with(|| format!("read: {e:#}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn command_line_parses() {
        let args = Args::try_parse_from([
            "mica-loadgen",
            "mixed",
            "--tls",
            "-u",
            "cassandra",
            "-p",
            "secret",
            "--read-ratio",
            "0.9",
            "-c",
            "128",
            "-d",
            "20s",
        ])
        .unwrap();
        assert_eq!(args.workload, WorkloadKind::Mixed);
        assert!(args.tls);
        assert_eq!(args.user.as_deref(), Some("cassandra"));
        assert_eq!(args.concurrency, 128);
        assert_eq!(args.duration, Duration::from_secs(20));
        assert_eq!(args.read_ratio, 0.9);
        assert!(Args::try_parse_from(["mica-loadgen", "scan"]).is_err());
    }

    #[test]
    fn the_tls_configuration_builds() {
        tls::accept_any_certificate().unwrap();
    }
}
