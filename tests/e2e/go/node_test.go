package e2e

// Starts one real `mica node` for the whole test binary: its own temporary directory, loopback address and
// certificates (made with crypto/x509), and a cassandra.yaml with TLS and PasswordAuthenticator.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gocql/gocql"
)

const (
	nativePort     = 9042
	startTimeout   = 30 * time.Second
	requestTimeout = 20 * time.Second
	logTailBytes   = 5000
)

// micaNode is a running node process.
type micaNode struct {
	dir     string
	address string
	caPool  *x509.CertPool
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
}

var (
	node    *micaNode
	session *gocql.Session
	// driverLog collects everything gocql logs, so a test can check that schema and topology parsing went quietly.
	driverLog = &syncBuffer{}
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	runtime.LockOSThread()
	gocql.Logger = log.New(driverLog, "gocql: ", log.Ltime)
	n, err := startNode()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: could not start mica node: %v\n", err)
		return 1
	}
	node = n
	defer node.kill()
	session, err = newCluster().CreateSession()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: could not connect gocql to %s: %v\n--- mica node log ---\n%s\n", node.address, err, node.log())
		return 1
	}
	code := m.Run()
	session.Close()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- mica node log (%s, %s) ---\n%s\n--- end of node log ---\n", node.address, node.dir, node.log())
	}

	return code
}

// newCluster is a cluster configuration for the node: TLS verified against the generated CA, the default superuser.
func newCluster() *gocql.ClusterConfig {
	cluster := gocql.NewCluster(node.address)
	cluster.Port = nativePort
	cluster.Timeout = requestTimeout
	cluster.ConnectTimeout = requestTimeout
	cluster.Consistency = gocql.LocalOne
	cluster.SslOpts = &gocql.SslOptions{
		Config:                 &tls.Config{RootCAs: node.caPool, MinVersion: tls.VersionTLS12},
		EnableHostVerification: true,
	}
	cluster.Authenticator = gocql.PasswordAuthenticator{Username: "cassandra", Password: "cassandra"}
	return cluster
}

// The Python suite uses 127.0.x.y and the Node.js suite 127.1.x.y; this suite takes 127.2.x.y, with the block picked
// by process id so that parallel runs do not collide.
func nodeAddress() string {
	return fmt.Sprintf("127.2.%d.2", os.Getpid()%200+20)
}

func startNode() (*micaNode, error) {
	bin := os.Getenv("MICA_BIN")
	if bin == "" {
		wd, _ := os.Getwd()
		bin = filepath.Join(wd, "..", "..", "..", "target", "debug", "mica")
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("mica binary not found at %s (set MICA_BIN): %w", bin, err)
	}
	dir, err := os.MkdirTemp("", "mica-go-e2e-")
	if err != nil {
		return nil, err
	}
	n := &micaNode{dir: dir, address: nodeAddress(), logPath: filepath.Join(dir, "node.log"), exited: make(chan struct{})}
	if n.caPool, err = writeCertificates(dir, n.address); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	config := filepath.Join(dir, "cassandra.yaml")
	yaml := strings.Join([]string{
		"cluster_name: 'Mica Test'",
		"listen_address: " + n.address,
		"rpc_address: " + n.address,
		fmt.Sprintf("native_transport_port: %d", nativePort),
		"data_file_directories: [data/data]",
		"commitlog_directory: data/commitlog",
		"hints_directory: data/hints",
		"saved_caches_directory: data/saved_caches",
		"endpoint_snitch: GossipingPropertyFileSnitch",
		"authenticator: PasswordAuthenticator",
		"authorizer: CassandraAuthorizer",
		"client_encryption_options:",
		"  enabled: true",
		"  optional: false",
		"  ssl_context_factory:",
		"    class_name: org.apache.cassandra.security.PEMBasedSslContextFactory",
		"  keystore: node.pem",
		"  truststore: ca.pem",
		"  require_client_auth: false",
	}, "\n") + "\n"
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "cassandra-rackdc.properties"), []byte("dc=dc1\nrack=rack1\n"), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(n.logPath)
	if err != nil {
		return nil, err
	}
	n.cmd = exec.Command(bin, "node", "--config", config)
	n.cmd.Dir = dir
	n.cmd.Stdout = logFile
	n.cmd.Stderr = logFile
	// The node must not outlive this test binary even if a test panics (which skips deferred cleanup): the kernel
	// kills it when the thread that started it exits, and TestMain keeps that thread locked until the end.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	logFile.Close()
	go func() {
		_ = n.cmd.Wait()
		close(n.exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-n.exited:
			return nil, fmt.Errorf("mica node exited (%v):\n%s", n.cmd.ProcessState, n.log())
		default:
		}
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(n.address, fmt.Sprint(nativePort)), 500*time.Millisecond)
		if err == nil {
			conn.Close()
			return n, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	n.kill()
	return nil, fmt.Errorf("mica node did not listen on %s:%d within %v:\n%s", n.address, nativePort, startTimeout, n.log())
}

func (n *micaNode) log() string {
	data, err := os.ReadFile(n.logPath)
	if err != nil {
		return ""
	}
	if len(data) > logTailBytes {
		data = data[len(data)-logTailBytes:]
	}
	return string(data)
}

// kill ends the node with SIGKILL, waits for it, and removes its directory unless KEEP_E2E_DIRS is set.
func (n *micaNode) kill() {
	select {
	case <-n.exited:
	default:
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
	if os.Getenv("KEEP_E2E_DIRS") == "" {
		os.RemoveAll(n.dir)
	}
}

// writeCertificates makes a throwaway CA (ca.pem) and a node certificate for `address` signed by it, stored with its
// PKCS#8 key in node.pem as PEMBasedSslContextFactory reads it. It returns a pool holding the CA.
func writeCertificates(dir, address string) (*x509.CertPool, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mica test ca"},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	nodeKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	nodeTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "node"},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.ParseIP(address)},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	nodeDER, err := x509.CreateCertificate(rand.Reader, nodeTemplate, caCert, &nodeKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(nodeKey)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	nodePEM := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: nodeDER})...)
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), caPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "node.pem"), nodePEM, 0o600); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, nil
}

// mustExec runs a statement on the shared session and fails the test with the statement if it errors.
func mustExec(t *testing.T, stmt string, values ...interface{}) {
	t.Helper()
	if err := session.Query(stmt, values...).Exec(); err != nil {
		t.Fatalf("%s\n  failed: %v", stmt, err)
	}
}

// createKeyspace creates a keyspace with SimpleStrategy RF 1, the only replication a single node needs.
func createKeyspace(t *testing.T, name string) {
	t.Helper()
	mustExec(t, fmt.Sprintf("CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", name))
}

// nodeRegression runs a check that once failed because of the node bug described by `bug` (found by this suite and
// since fixed); it fails the test if the bug returns.
func nodeRegression(t *testing.T, bug string, check func() error) {
	t.Helper()
	if err := check(); err != nil {
		t.Fatalf("node bug is back (%s): %v", bug, err)
	}
}
