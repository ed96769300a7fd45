'use strict';
// Starts a real `mica node` process for the Node.js driver tests: its own temporary directory, its own loopback
// address, freshly generated certificates (openssl CLI), and a cassandra.yaml with TLS and PasswordAuthenticator.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..', '..');
const MICA_BIN = process.env.MICA_BIN || path.join(REPO, 'target', 'debug', 'mica');
const PORT = 9042;
const START_TIMEOUT_MS = 30000;
const LOG_TAIL_CHARS = 5000;

// The Python suite uses 127.0.x.y and the Go suite 127.2.x.y; this suite takes 127.1.x.y so the three never collide,
// and the process id picks the block so parallel runs of this suite do not collide either.
let nextHost = 2;
function nextAddress() {
  const block = (process.pid % 200) + 20;
  return `127.1.${block}.${nextHost++}`;
}

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

// A throwaway CA and a node certificate (with the node's IP address as subject alternative name) signed by it.
// The node reads one PEM file holding the PKCS#8 private key followed by the certificate, as PEMBasedSslContextFactory does.
function makeCertificates(dir, address) {
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30',
    '-subj', '/CN=mica test ca',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', '-new', ...ecKey, '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=node'], dir);
  fs.writeFileSync(path.join(dir, 'node.ext'),
    `basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:${address}\n`);
  openssl(['x509', '-req', '-in', 'node.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '30', '-sha256', '-extfile', 'node.ext', '-out', 'node.crt'], dir);
  fs.writeFileSync(path.join(dir, 'node.pem'),
    fs.readFileSync(path.join(dir, 'node.key'), 'utf8') + fs.readFileSync(path.join(dir, 'node.crt'), 'utf8'));
}

function writeConfig(dir, address) {
  const yaml = [
    "cluster_name: 'Mica Test'",
    `listen_address: ${address}`,
    `rpc_address: ${address}`,
    `native_transport_port: ${PORT}`,
    'data_file_directories: [data/data]',
    'commitlog_directory: data/commitlog',
    'hints_directory: data/hints',
    'saved_caches_directory: data/saved_caches',
    'endpoint_snitch: GossipingPropertyFileSnitch',
    'authenticator: PasswordAuthenticator',
    'authorizer: CassandraAuthorizer',
    'client_encryption_options:',
    '  enabled: true',
    '  optional: false',
    '  ssl_context_factory:',
    '    class_name: org.apache.cassandra.security.PEMBasedSslContextFactory',
    '  keystore: node.pem',
    '  truststore: ca.pem',
    '  require_client_auth: false',
  ];
  const config = path.join(dir, 'cassandra.yaml');
  fs.writeFileSync(config, yaml.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'cassandra-rackdc.properties'), 'dc=dc1\nrack=rack1\n');
  return config;
}

function canConnect(address, port) {
  return new Promise((resolve) => {
    const socket = net.createConnection({ host: address, port, timeout: 500 });
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

// The node must not outlive the test process, even when a test file crashes or the runner stops it with a signal.
const running = new Set();
let exitHooksInstalled = false;
function killWithThisProcess(proc) {
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  if (exitHooksInstalled) {
    return;
  }
  exitHooksInstalled = true;
  const killAll = () => {
    for (const p of running) {
      p.kill('SIGKILL');
    }
  };
  process.on('exit', killAll);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
    process.once(signal, () => {
      killAll();
      process.exit(code);
    });
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class MicaNode {
  constructor() {
    if (!fs.existsSync(MICA_BIN)) {
      throw new Error(`mica binary not found at ${MICA_BIN} (set MICA_BIN)`);
    }
    this.address = nextAddress();
    this.port = PORT;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mica-node-e2e-'));
    makeCertificates(this.dir, this.address);
    this.caPem = fs.readFileSync(path.join(this.dir, 'ca.pem'), 'utf8');
    this.config = writeConfig(this.dir, this.address);
    this.logPath = path.join(this.dir, 'node.log');
    this.proc = null;
    this.exit = null;
  }

  async start() {
    const log = fs.openSync(this.logPath, 'a');
    this.proc = spawn(MICA_BIN, ['node', '--config', this.config], { cwd: this.dir, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.proc.once('exit', (code, signal) => { this.exit = { code, signal }; });
    killWithThisProcess(this.proc);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.exit) {
        throw new Error(`mica node exited (${JSON.stringify(this.exit)}):\n${this.log()}`);
      }
      if (await canConnect(this.address, this.port)) {
        return this;
      }
      await sleep(100);
    }
    throw new Error(`mica node did not listen on ${this.address}:${this.port} within ${START_TIMEOUT_MS} ms:\n${this.log()}`);
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, 'utf8').slice(-LOG_TAIL_CHARS);
    } catch {
      return '';
    }
  }

  // Kills the node with SIGKILL and waits for it to go; the directory is removed unless KEEP_E2E_DIRS is set.
  async kill() {
    if (this.proc && !this.exit) {
      const gone = new Promise((resolve) => this.proc.once('exit', resolve));
      this.proc.kill('SIGKILL');
      await gone;
    }
    if (!process.env.KEEP_E2E_DIRS) {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  // Options for cassandra.Client: TLS verified against the generated CA, and the default superuser's password.
  clientOptions(cassandra, extra = {}) {
    return {
      contactPoints: [this.address],
      protocolOptions: { port: this.port },
      localDataCenter: 'dc1',
      sslOptions: { ca: [this.caPem], rejectUnauthorized: true },
      authProvider: new cassandra.auth.PlainTextAuthProvider('cassandra', 'cassandra'),
      ...extra,
    };
  }
}

module.exports = { MicaNode, MICA_BIN };
