//! The real `mica` binary: configuration errors exit non-zero with a clear message, and `mica node`
//! serves CQL until SIGTERM, then exits 0.
#![allow(clippy::unwrap_used)] // Test helpers; a panic is the failure report.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MICA: &str = env!("CARGO_BIN_EXE_mica");
/// How long the node may take to start listening or to stop.
const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn unknown_config_key_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cassandra.yaml");
    std::fs::write(&config, "cluster_name: x\nno_such_setting: 1\n").unwrap();
    let output = Command::new(MICA)
        .args(["node", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown configuration key 'no_such_setting'"),
        "{stderr}"
    );
}

#[test]
fn missing_config_file_fails_clearly() {
    let output = Command::new(MICA)
        .args(["node", "--config", "/nonexistent/cassandra.yaml"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/cassandra.yaml"), "{stderr}");
}

#[test]
fn node_serves_until_sigterm_then_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let pid = std::process::id();
    let address = format!("127.{}.{}.250", 200 + (pid / 256) % 50, pid % 256);
    let config = dir.path().join("cassandra.yaml");
    std::fs::write(
        &config,
        format!("listen_address: {address}\nrpc_address: {address}\nnative_transport_port: 9042\n"),
    )
    .unwrap();
    let mut child = Command::new(MICA)
        .args(["node", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + PATIENCE;
    let mut socket = loop {
        match TcpStream::connect((address.as_str(), 9042)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("node did not listen: {e}"),
        }
    };
    // OPTIONS (v4, stream 1) must be answered with SUPPORTED (opcode 0x06).
    socket.write_all(&[0x04, 0, 0, 1, 0x05, 0, 0, 0, 0]).unwrap();
    let mut header = [0u8; 9];
    socket.read_exact(&mut header).unwrap();
    assert_eq!(header[0], 0x84);
    assert_eq!(header[4], 0x06);

    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + PATIENCE;
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "node did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    assert!(stdout.contains("node started"), "{stdout}");
    assert!(stdout.contains(&format!("{address}:9042")), "{stdout}");
}
