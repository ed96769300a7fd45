//! Several gossipers in one process on distinct loopback addresses: convergence, conviction of a
//! killed node, restart with a higher generation, shutdown announcements, and refusal of other
//! clusters and of certificates from another CA.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use mica_cluster::{AppState, EndpointInfo, GossipConfig, GossipTls, Gossiper, NodeStatus};
use mica_config::EncryptionOptions;

/// Gossip interval in tests: short, so that phi 8 convicts within a few seconds.
const INTERVAL: Duration = Duration::from_millis(100);
/// The port every test node listens on; nodes differ by loopback address.
const PORT: u16 = 27000;
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(15);

/// A loopback address unique to this test (`test`) and process, node `n`.
fn addr(test: u8, n: u8) -> SocketAddr {
    let pid = std::process::id();
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(127, 100 + test, (pid % 250) as u8 + 1, n)),
        PORT,
    )
}

fn config(cluster: &str, me: SocketAddr, seed: SocketAddr, n: u8) -> GossipConfig {
    let mut c = GossipConfig::new(cluster, me, vec![seed]);
    c.interval = INTERVAL;
    c.states = vec![
        (AppState::Status, "NORMAL".into()),
        (AppState::Dc, "dc1".into()),
        (AppState::Rack, format!("rack{}", n % 2)),
        (
            AppState::Tokens,
            format!("{},{}", i64::from(n) * 1000, i64::from(n) * 1000 + 1),
        ),
        (
            AppState::HostId,
            format!("00000000-0000-0000-0000-0000000000{n:02}"),
        ),
    ];
    c
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn find(view: &[EndpointInfo], address: SocketAddr) -> Option<&EndpointInfo> {
    view.iter().find(|e| e.address == address)
}

fn all_up(g: &Gossiper, expected: &[SocketAddr]) -> bool {
    let view = g.endpoints();
    view.len() == expected.len() && expected.iter().all(|a| find(&view, *a).is_some_and(|e| e.alive))
}

#[test]
fn gossipers_converge_to_the_same_view() {
    let addrs: Vec<SocketAddr> = (1..=4).map(|n| addr(0, n)).collect();
    let nodes: Vec<Gossiper> = addrs
        .iter()
        .zip(1u8..)
        .map(|(a, n)| Gossiper::start(config("Converge", *a, addrs[0], n)).expect("start"))
        .collect();
    wait_until("convergence", CONVERGE_TIMEOUT, || {
        nodes.iter().all(|g| all_up(g, &addrs))
    });
    // A later state change reaches everyone too.
    nodes[2].set_state(AppState::Status, "LEAVING");
    wait_until("status propagation", CONVERGE_TIMEOUT, || {
        nodes
            .iter()
            .all(|g| find(&g.endpoints(), addrs[2]).is_some_and(|e| e.status == NodeStatus::Leaving))
    });
    let reference = nodes[0].endpoints();
    let info = find(&reference, addrs[3]).expect("node 4");
    assert_eq!(info.tokens, vec![4000, 4001]);
    assert_eq!(info.rack.as_deref(), Some("rack0"));
    assert_eq!(info.dc.as_deref(), Some("dc1"));
    assert_eq!(
        info.host_id.map(|h| h.to_string()).as_deref(),
        Some("00000000-0000-0000-0000-000000000004")
    );
    for g in &nodes[1..] {
        let view = g.endpoints();
        for e in &reference {
            let other = find(&view, e.address).expect("same endpoints");
            assert_eq!(
                (other.generation, &other.tokens, other.status),
                (e.generation, &e.tokens, e.status)
            );
        }
    }
}

#[test]
fn a_killed_node_is_convicted_and_comes_back_with_a_higher_generation() {
    let addrs: Vec<SocketAddr> = (1..=3).map(|n| addr(1, n)).collect();
    let mut nodes: Vec<Gossiper> = addrs
        .iter()
        .zip(1u8..)
        .map(|(a, n)| Gossiper::start(config("Restart", *a, addrs[0], n)).expect("start"))
        .collect();
    wait_until("convergence", CONVERGE_TIMEOUT, || {
        nodes.iter().all(|g| all_up(g, &addrs))
    });
    let old_generation = nodes[2]
        .endpoints()
        .iter()
        .find(|e| e.is_local)
        .expect("self")
        .generation;

    nodes.pop().expect("node 3").kill();
    wait_until("conviction", CONVERGE_TIMEOUT, || {
        nodes
            .iter()
            .all(|g| find(&g.endpoints(), addrs[2]).is_some_and(|e| !e.alive))
    });
    // The others are still up for each other.
    assert!(
        nodes
            .iter()
            .all(|g| find(&g.endpoints(), addrs[0]).is_some_and(|e| e.alive))
    );

    // Generations are start times in seconds; conviction took longer than a second.
    let restarted = Gossiper::start(config("Restart", addrs[2], addrs[0], 3)).expect("restart");
    nodes.push(restarted);
    wait_until("the restarted node is up", CONVERGE_TIMEOUT, || {
        nodes.iter().all(|g| all_up(g, &addrs))
    });
    let seen = find(&nodes[0].endpoints(), addrs[2]).expect("node 3").generation;
    assert!(
        seen > old_generation,
        "generation {seen} after restart, {old_generation} before"
    );
}

#[test]
fn a_stopped_node_announces_its_shutdown() {
    let addrs: Vec<SocketAddr> = (1..=2).map(|n| addr(2, n)).collect();
    let mut nodes: Vec<Gossiper> = addrs
        .iter()
        .zip(1u8..)
        .map(|(a, n)| Gossiper::start(config("Stop", *a, addrs[0], n)).expect("start"))
        .collect();
    wait_until("convergence", CONVERGE_TIMEOUT, || {
        nodes.iter().all(|g| all_up(g, &addrs))
    });
    let stopped_at = Instant::now();
    nodes.pop().expect("node 2").stop();
    wait_until("shutdown seen", CONVERGE_TIMEOUT, || {
        find(&nodes[0].endpoints(), addrs[1]).is_some_and(|e| !e.alive && e.status == NodeStatus::Shutdown)
    });
    // The announcement, not the failure detector, marked it down.
    assert!(
        stopped_at.elapsed() < Duration::from_secs(1),
        "{:?}",
        stopped_at.elapsed()
    );
}

#[test]
fn another_cluster_name_is_refused() {
    let a = addr(3, 1);
    let b = addr(3, 2);
    let intruder = addr(3, 3);
    let nodes = [
        Gossiper::start(config("Mine", a, a, 1)).expect("a"),
        Gossiper::start(config("Mine", b, a, 2)).expect("b"),
    ];
    let other = Gossiper::start(config("Theirs", intruder, a, 3)).expect("intruder");
    wait_until("convergence", CONVERGE_TIMEOUT, || {
        nodes.iter().all(|g| all_up(g, &[a, b]))
    });
    std::thread::sleep(INTERVAL * 10);
    for g in &nodes {
        assert!(find(&g.endpoints(), intruder).is_none(), "intruder accepted");
    }
    assert_eq!(
        other.endpoints().len(),
        1,
        "the intruder learned about the cluster"
    );
}

mod tls {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    /// A CA certificate (PEM) and a function issuing node identities (key + certificate PEM).
    struct Ca {
        pem: String,
        key: KeyPair,
        params: CertificateParams,
    }

    impl Ca {
        fn new() -> Ca {
            let key = KeyPair::generate().expect("ca key");
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let pem = params.self_signed(&key).expect("ca cert").pem();
            Ca { pem, key, params }
        }

        fn issue(&self, ip: IpAddr) -> String {
            let issuer = Issuer::from_params(&self.params, &self.key);
            let key = KeyPair::generate().expect("key");
            let params = CertificateParams::new(vec![ip.to_string()]).expect("params");
            let cert = params.signed_by(&key, &issuer).expect("sign");
            format!("{}{}", key.serialize_pem(), cert.pem())
        }
    }

    fn tls_for(dir: &std::path::Path, name: &str, identity: &str, trusted: &Ca) -> GossipTls {
        let keystore = dir.join(format!("{name}.pem"));
        let truststore = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&keystore, identity).expect("write keystore");
        std::fs::write(&truststore, &trusted.pem).expect("write truststore");
        let opts = EncryptionOptions {
            keystore: Some(keystore),
            truststore: Some(truststore),
            internode_encryption: mica_config::InternodeEncryption::All,
            ..Default::default()
        };
        GossipTls::from_options(&opts).expect("tls")
    }

    #[test]
    fn mutual_tls_admits_only_certificates_of_the_cluster_ca() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cluster_ca = Ca::new();
        let rogue_ca = Ca::new();
        let addrs: Vec<SocketAddr> = (1..=3).map(|n| addr(4, n)).collect();
        let rogue = addr(4, 9);
        let nodes: Vec<Gossiper> = addrs
            .iter()
            .zip(1u8..)
            .map(|(a, n)| {
                let mut c = config("Secure", *a, addrs[0], n);
                c.tls = Some(tls_for(
                    dir.path(),
                    &format!("n{n}"),
                    &cluster_ca.issue(a.ip()),
                    &cluster_ca,
                ));
                Gossiper::start(c).expect("start")
            })
            .collect();
        // The rogue node trusts the cluster CA but its own certificate comes from another CA.
        let mut c = config("Secure", rogue, addrs[0], 9);
        c.tls = Some(tls_for(
            dir.path(),
            "rogue",
            &rogue_ca.issue(rogue.ip()),
            &cluster_ca,
        ));
        let rogue_node = Gossiper::start(c).expect("rogue");
        wait_until("TLS convergence", CONVERGE_TIMEOUT, || {
            nodes.iter().all(|g| all_up(g, &addrs))
        });
        std::thread::sleep(INTERVAL * 10);
        for g in &nodes {
            assert!(find(&g.endpoints(), rogue).is_none(), "rogue node admitted");
        }
        assert_eq!(rogue_node.endpoints().len(), 1);
    }
}

#[test]
fn a_removed_endpoint_state_spreads_and_a_left_node_stops_silently() {
    let addrs: Vec<SocketAddr> = (1..=4).map(|n| addr(9, n)).collect();
    let mut nodes: Vec<Gossiper> = addrs
        .iter()
        .zip(1u8..)
        .map(|(a, n)| Gossiper::start(config("Remove", *a, addrs[0], n)).expect("start"))
        .collect();
    wait_until("convergence", CONVERGE_TIMEOUT, || {
        nodes.iter().all(|g| all_up(g, &addrs))
    });
    // Node 4 leaves: it announces LEFT and stops without turning that into a shutdown.
    let leaving = nodes.pop().expect("node 4");
    leaving.set_state(AppState::Status, "LEFT");
    wait_until("LEFT seen", CONVERGE_TIMEOUT, || {
        find(&nodes[1].endpoints(), addrs[3]).is_some_and(|e| e.status == NodeStatus::Left)
    });
    leaving.stop();
    // Node 3 dies; node 1 removes it, and node 2 learns the removal through gossip alone.
    nodes.pop().expect("node 3").kill();
    wait_until("node 3 down", CONVERGE_TIMEOUT, || {
        find(&nodes[0].endpoints(), addrs[2]).is_some_and(|e| !e.alive)
    });
    assert!(nodes[0].set_remote_status(addrs[2], "removed,00000000-0000-0000-0000-000000000003"));
    assert!(!nodes[0].set_remote_status(addrs[0], "removed"));
    wait_until("removal seen", CONVERGE_TIMEOUT, || {
        find(&nodes[1].endpoints(), addrs[2]).is_some_and(|e| e.status == NodeStatus::Left && !e.alive)
    });
    std::thread::sleep(INTERVAL * 10);
    assert_eq!(
        find(&nodes[1].endpoints(), addrs[3]).map(|e| e.status),
        Some(NodeStatus::Left)
    );
}
