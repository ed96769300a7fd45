//! Internode messaging between gossipers in one process on distinct loopback addresses: round
//! trips, pipelining from several runtimes, remote errors, timeouts, a killed and restarted peer,
//! mutual TLS and refusal of other clusters.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mica_cluster::{GossipConfig, Gossiper, Handler, Messaging, MessagingError};

const PORT: u16 = 27100;
const TIMEOUT: Duration = Duration::from_secs(10);

const ECHO: u16 = 1;
const FAIL: u16 = 2;
const SLEEP: u16 = 3;
const COUNT: u16 = 4;
const WHO: u16 = 5;

/// A loopback address unique to this test (`test`) and process, node `n`.
fn addr(test: u8, n: u8) -> SocketAddr {
    let pid = std::process::id();
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(127, 120 + test, (pid % 250) as u8 + 1, n)),
        PORT,
    )
}

fn config(cluster: &str, me: SocketAddr) -> GossipConfig {
    let mut c = GossipConfig::new(cluster, me, vec![]);
    c.interval = Duration::from_millis(100);
    c
}

fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(SocketAddr, Vec<u8>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<u8>, String>> + Send + 'static,
{
    Arc::new(move |from, payload| Box::pin(f(from, payload)))
}

/// Registers the test verbs; COUNT counts one-way messages into `counter`.
fn serve(m: &Messaging, counter: Arc<AtomicUsize>) {
    m.set_handler(ECHO, handler(|_, p| async move { Ok(p) }));
    m.set_handler(FAIL, handler(|_, _| async move { Err("boom".to_string()) }));
    m.set_handler(
        SLEEP,
        handler(|_, p| async move {
            tokio::time::sleep(Duration::from_millis(u64::from(p[0]) * 100)).await;
            Ok(p)
        }),
    );
    m.set_handler(
        COUNT,
        handler(move |_, _| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(vec![])
            }
        }),
    );
    m.set_handler(
        WHO,
        handler(|from, _| async move { Ok(from.to_string().into_bytes()) }),
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn round_trips_remote_errors_unknown_verbs_and_timeouts() {
    let (a, b) = (addr(0, 1), addr(0, 2));
    let ga = Gossiper::start(config("Msg", a)).expect("a");
    let gb = Gossiper::start(config("Msg", b)).expect("b");
    let counter = Arc::new(AtomicUsize::new(0));
    serve(&gb.messaging(), counter.clone());
    let m = ga.messaging();
    let rt = runtime();
    rt.block_on(async {
        assert_eq!(
            m.request(b, ECHO, b"hello".to_vec(), TIMEOUT).await,
            Ok(b"hello".to_vec())
        );
        assert_eq!(m.request(b, ECHO, vec![], TIMEOUT).await, Ok(vec![]));
        let big = vec![7u8; 3 * 1024 * 1024];
        assert_eq!(m.request(b, ECHO, big.clone(), TIMEOUT).await, Ok(big));
        // The handler sees the requester's storage address, not its ephemeral port.
        assert_eq!(
            m.request(b, WHO, vec![], TIMEOUT).await,
            Ok(a.to_string().into_bytes())
        );
        assert_eq!(
            m.request(b, FAIL, vec![], TIMEOUT).await,
            Err(MessagingError::Remote("boom".into()))
        );
        assert_eq!(
            m.request(b, 99, vec![], TIMEOUT).await,
            Err(MessagingError::NoHandler(99))
        );
        let started = Instant::now();
        assert_eq!(
            m.request(b, SLEEP, vec![5], Duration::from_millis(100)).await,
            Err(MessagingError::Timeout)
        );
        assert!(started.elapsed() < Duration::from_millis(400));
        // The late reply is dropped and the connection keeps working.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            m.request(b, ECHO, b"again".to_vec(), TIMEOUT).await,
            Ok(b"again".to_vec())
        );
        for _ in 0..10 {
            m.send(b, COUNT, vec![1, 2, 3]);
        }
    });
    let start = Instant::now();
    while counter.load(Ordering::SeqCst) < 10 {
        assert!(start.elapsed() < TIMEOUT, "one-way messages lost");
        std::thread::sleep(Duration::from_millis(10));
    }
    // From a blocking thread through Handle::block_on, as storage code does.
    let handle = rt.handle().clone();
    let reply = rt.block_on(async move {
        tokio::task::spawn_blocking(move || {
            handle.block_on(m.request(b, ECHO, b"blocking".to_vec(), TIMEOUT))
        })
        .await
        .expect("join")
    });
    assert_eq!(reply, Ok(b"blocking".to_vec()));
}

/// Runs `count` requests with `in_flight` outstanding at a time; every reply must echo its request.
async fn pipeline(m: Messaging, peer: SocketAddr, tag: u8, count: u32, in_flight: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        if tasks.len() >= in_flight {
            tasks.join_next().await.expect("task").expect("join");
        }
        let m = m.clone();
        tasks.spawn(async move {
            let mut payload = vec![tag];
            payload.extend_from_slice(&i.to_be_bytes());
            payload.extend_from_slice(&[0u8; 32]);
            let reply = m.request(peer, ECHO, payload.clone(), TIMEOUT).await;
            assert_eq!(reply, Ok(payload), "request {tag}/{i}");
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("join");
    }
}

#[test]
fn ten_thousand_pipelined_requests_from_two_runtimes() {
    let (a, b) = (addr(1, 1), addr(1, 2));
    let ga = Gossiper::start(config("Msg", a)).expect("a");
    let gb = Gossiper::start(config("Msg", b)).expect("b");
    serve(&gb.messaging(), Arc::new(AtomicUsize::new(0)));
    // Warm the connection up so that the figure below measures steady state.
    runtime()
        .block_on(ga.messaging().request(b, ECHO, vec![], TIMEOUT))
        .expect("warm-up");
    let started = Instant::now();
    let threads: Vec<_> = (0..2u8)
        .map(|tag| {
            let m = ga.messaging();
            std::thread::spawn(move || runtime().block_on(pipeline(m, b, tag, 5_000, 128)))
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let elapsed = started.elapsed();
    println!(
        "messaging throughput: 10000 requests (37-byte payloads, 256 in flight) in {elapsed:?}: {:.0} requests/s",
        10_000.0 / elapsed.as_secs_f64()
    );
}

#[test]
fn a_killed_peer_fails_requests_fast_and_a_restarted_one_is_reached_again() {
    let (a, b) = (addr(2, 1), addr(2, 2));
    let ga = Gossiper::start(config("Msg", a)).expect("a");
    let gb = Gossiper::start(config("Msg", b)).expect("b");
    serve(&gb.messaging(), Arc::new(AtomicUsize::new(0)));
    let m = ga.messaging();
    let rt = runtime();
    rt.block_on(async {
        assert_eq!(m.request(b, ECHO, vec![1], TIMEOUT).await, Ok(vec![1]));
        let mut in_flight = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let m = m.clone();
            // Each handler sleeps 20 s, far longer than the test waits.
            in_flight.spawn(async move { m.request(b, SLEEP, vec![200], Duration::from_secs(60)).await });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let killed = Instant::now();
        gb.kill();
        while let Some(r) = in_flight.join_next().await {
            let r = r.expect("join");
            assert!(
                matches!(r, Err(MessagingError::Closed | MessagingError::Connect(_))),
                "{r:?}"
            );
        }
        assert!(
            killed.elapsed() < Duration::from_secs(2),
            "took {:?}",
            killed.elapsed()
        );
        // Nobody listens now: connecting fails fast.
        let r = m.request(b, ECHO, vec![2], TIMEOUT).await;
        assert!(matches!(r, Err(MessagingError::Connect(_))), "{r:?}");
        assert!(killed.elapsed() < Duration::from_secs(3));
    });
    let gb = Gossiper::start(config("Msg", b)).expect("restart b");
    serve(&gb.messaging(), Arc::new(AtomicUsize::new(0)));
    rt.block_on(async {
        let start = Instant::now();
        loop {
            match m.request(b, ECHO, vec![3], TIMEOUT).await {
                Ok(reply) => break assert_eq!(reply, vec![3]),
                Err(MessagingError::Connect(_)) => {
                    assert!(start.elapsed() < TIMEOUT, "restarted peer not reached");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
    });
    // Stopping the local gossiper closes its messaging too.
    ga.stop();
    let r = rt.block_on(m.request(b, ECHO, vec![4], TIMEOUT));
    assert_eq!(r, Err(MessagingError::Closed));
}

#[test]
fn three_nodes_message_each_other_in_both_directions() {
    let addrs: Vec<SocketAddr> = (1..=3).map(|n| addr(5, n)).collect();
    let nodes: Vec<Gossiper> = addrs
        .iter()
        .map(|a| Gossiper::start(config("Msg", *a)).expect("start"))
        .collect();
    for g in &nodes {
        serve(&g.messaging(), Arc::new(AtomicUsize::new(0)));
    }
    runtime().block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (from, g) in addrs.iter().zip(&nodes) {
            for to in addrs.iter().filter(|t| *t != from) {
                let (m, from, to) = (g.messaging(), *from, *to);
                tasks.spawn(async move {
                    for _ in 0..50 {
                        let reply = m.request(to, WHO, vec![], TIMEOUT).await;
                        assert_eq!(reply, Ok(from.to_string().into_bytes()));
                    }
                });
            }
        }
        while let Some(r) = tasks.join_next().await {
            r.expect("join");
        }
    });
}

#[test]
fn another_cluster_cannot_open_messaging() {
    let (a, intruder) = (addr(3, 1), addr(3, 2));
    let ga = Gossiper::start(config("Mine", a)).expect("a");
    serve(&ga.messaging(), Arc::new(AtomicUsize::new(0)));
    let other = Gossiper::start(config("Theirs", intruder)).expect("intruder");
    let r = runtime().block_on(other.messaging().request(a, ECHO, vec![1], TIMEOUT));
    assert!(matches!(r, Err(MessagingError::Connect(_))), "{r:?}");
}

#[test]
fn mutual_tls_messaging_admits_only_certificates_of_the_cluster_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster_ca = support::Ca::new();
    let rogue_ca = support::Ca::new();
    let (a, b, rogue) = (addr(4, 1), addr(4, 2), addr(4, 9));
    let start = |me: SocketAddr, name: &str, issuer: &support::Ca| {
        let mut c = config("Secure", me);
        c.tls = Some(support::tls_for(
            dir.path(),
            name,
            &issuer.issue(me.ip()),
            &cluster_ca,
        ));
        Gossiper::start(c).expect("start")
    };
    let ga = start(a, "a", &cluster_ca);
    let gb = start(b, "b", &cluster_ca);
    // The rogue node trusts the cluster CA but its own certificate comes from another CA.
    let gr = start(rogue, "rogue", &rogue_ca);
    for g in [&ga, &gb, &gr] {
        serve(&g.messaging(), Arc::new(AtomicUsize::new(0)));
    }
    let rt = runtime();
    rt.block_on(async {
        assert_eq!(
            ga.messaging().request(b, ECHO, b"tls".to_vec(), TIMEOUT).await,
            Ok(b"tls".to_vec())
        );
        assert_eq!(
            gb.messaging().request(a, WHO, vec![], TIMEOUT).await,
            Ok(b.to_string().into_bytes())
        );
        let started = Instant::now();
        pipeline(ga.messaging(), b, 0, 2_000, 64).await;
        let elapsed = started.elapsed();
        println!(
            "messaging throughput over TLS: 2000 requests (64 in flight) in {elapsed:?}: {:.0} requests/s",
            2_000.0 / elapsed.as_secs_f64()
        );
        let r = gr.messaging().request(a, ECHO, vec![1], TIMEOUT).await;
        assert!(
            matches!(r, Err(MessagingError::Connect(_))),
            "rogue admitted: {r:?}"
        );
        let r = ga.messaging().request(rogue, ECHO, vec![1], TIMEOUT).await;
        assert!(
            matches!(r, Err(MessagingError::Connect(_))),
            "rogue trusted: {r:?}"
        );
    });
}
