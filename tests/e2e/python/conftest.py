"""Fixtures that start real `mica node` processes on their own loopback address with TLS and a password."""

import datetime
import ipaddress
import itertools
import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[3]
MICA_BIN = Path(os.environ.get("MICA_BIN", REPO / "target" / "debug" / "mica"))

# Each test process gets its own block of loopback addresses so parallel runs never collide.
_addresses = itertools.count(2)


def next_address() -> str:
    block = (os.getpid() % 200) + 20
    return f"127.0.{block}.{next(_addresses)}"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(directory: Path):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("mica test ca"))
        .issuer_name(_name("mica test ca"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def issue(directory: Path, ca, name: str, address: str | None) -> Path:
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if address:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    path = directory / f"{name}.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return path


class Node:
    """A running `mica node` process with its own directory, address and certificates."""

    def __init__(self, directory: Path, address: str, tls: bool, auth: bool, extra_yaml: str = ""):
        self.directory = directory
        self.address = address
        self.port = 9042
        self.tls = tls
        self.auth = auth
        self.proc = None
        directory.mkdir(parents=True, exist_ok=True)
        ca = make_ca(directory)
        self.ca_path = directory / "ca.pem"
        self.keystore = issue(directory, ca, "node", address)
        self.client_cert = issue(directory, ca, "client", None)
        lines = [
            "cluster_name: 'Mica Test'",
            f"listen_address: {address}",
            f"rpc_address: {address}",
            f"native_transport_port: {self.port}",
            "data_file_directories: [data/data]",
            "commitlog_directory: data/commitlog",
            "hints_directory: data/hints",
            "saved_caches_directory: data/saved_caches",
            "endpoint_snitch: GossipingPropertyFileSnitch",
            f"authenticator: {'PasswordAuthenticator' if auth else 'AllowAllAuthenticator'}",
            f"authorizer: {'CassandraAuthorizer' if auth else 'AllowAllAuthorizer'}",
        ]
        if tls:
            lines += [
                "client_encryption_options:",
                "  enabled: true",
                "  optional: false",
                "  ssl_context_factory:",
                "    class_name: org.apache.cassandra.security.PEMBasedSslContextFactory",
                "  keystore: node.pem",
                "  truststore: ca.pem",
                "  require_client_auth: false",
            ]
        self.config = directory / "cassandra.yaml"
        self.config.write_text("\n".join(lines) + "\n" + extra_yaml)
        (directory / "cassandra-rackdc.properties").write_text("dc=dc1\nrack=rack1\n")

    def start(self, timeout: float = 30.0):
        log = open(self.directory / "node.log", "ab")
        self.proc = subprocess.Popen(
            [str(MICA_BIN), "node", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mica node exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection((self.address, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"mica node did not listen within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        path = self.directory / "node.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def ssl_context(self, client_cert: bool = False) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(self.ca_path)
        if client_cert:
            ctx.load_cert_chain(self.client_cert)
        return ctx

    def cluster(self, protocol_version=None, **kwargs):
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import Cluster
        from cassandra.policies import WhiteListRoundRobinPolicy

        args = dict(
            contact_points=[self.address],
            port=self.port,
            load_balancing_policy=WhiteListRoundRobinPolicy([self.address]),
        )
        if protocol_version:
            args["protocol_version"] = protocol_version
        if self.tls:
            args["ssl_context"] = self.ssl_context()
        if self.auth:
            args["auth_provider"] = PlainTextAuthProvider("cassandra", "cassandra")
        args.update(kwargs)
        return Cluster(**args)


def connect_one(address, ca_pem, password, client_pem=None, port=9042):
    """A driver session to exactly one node of a managed cluster, over TLS verified against the cluster CA (PEM
    text), logged in as `cassandra`; with a client certificate (key and certificate PEM file) when given.
    Returns (cluster, session); the caller shuts the cluster down."""
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster
    from cassandra.policies import WhiteListRoundRobinPolicy

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cadata=ca_pem)
    if client_pem:
        ctx.load_cert_chain(client_pem)
    cluster = Cluster([address], port=port, ssl_context=ctx,
                      auth_provider=PlainTextAuthProvider("cassandra", password),
                      load_balancing_policy=WhiteListRoundRobinPolicy([address]))
    return cluster, cluster.connect()


@pytest.fixture
def node_factory(tmp_path):
    nodes = []

    def make(tls=True, auth=True, extra_yaml="", name=None):
        n = Node(tmp_path / (name or f"node{len(nodes)}"), next_address(), tls, auth, extra_yaml)
        nodes.append(n)
        return n

    yield make
    for n in nodes:
        n.stop()


@pytest.fixture
def node(node_factory):
    return node_factory().start()


@pytest.fixture
def session(node):
    cluster = node.cluster()
    s = cluster.connect()
    yield s
    cluster.shutdown()
