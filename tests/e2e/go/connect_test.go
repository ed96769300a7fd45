package e2e

// gocql connects over TLS with a password, negotiates protocol v4, reads system.local, discovers the host, and loads
// keyspace metadata (tables, columns, clustering order, user-defined types).

import (
	"fmt"
	"net"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/gocql/gocql"
)

func TestConnectNegotiatesV4AndReadsSystemLocal(t *testing.T) {
	// The shared session was created with ProtoVersion 0, so gocql discovered the version itself.
	var clusterName, dc, rack, release, partitioner string
	err := session.Query("SELECT cluster_name, data_center, rack, release_version, partitioner FROM system.local").
		Scan(&clusterName, &dc, &rack, &release, &partitioner)
	if err != nil {
		t.Fatalf("SELECT FROM system.local: %v", err)
	}
	if clusterName != "Mica Test" || dc != "dc1" || rack != "rack1" {
		t.Errorf("system.local: cluster_name=%q data_center=%q rack=%q, want \"Mica Test\" dc1 rack1", clusterName, dc, rack)
	}
	if !strings.HasPrefix(release, "4.1.") {
		t.Errorf("release_version = %q, want 4.1.x", release)
	}
	if partitioner != "org.apache.cassandra.dht.Murmur3Partitioner" {
		t.Errorf("partitioner = %q", partitioner)
	}

	// An explicit protocol v4 session works as well.
	cluster := newCluster()
	cluster.ProtoVersion = 4
	s, err := cluster.CreateSession()
	if err != nil {
		t.Fatalf("CreateSession with ProtoVersion 4: %v", err)
	}
	defer s.Close()
	var key string
	if err := s.Query("SELECT key FROM system.local").Scan(&key); err != nil || key != "local" {
		t.Fatalf("SELECT key FROM system.local on a v4 session: key=%q err=%v", key, err)
	}
}

func TestHostDiscovery(t *testing.T) {
	// The ring describer reads system.local and system.peers; the node must appear as one host with dc and rack.
	cluster := newCluster()
	var hosts []*gocql.HostInfo
	cluster.HostFilter = gocql.HostFilterFunc(func(h *gocql.HostInfo) bool {
		hosts = append(hosts, h)
		return true
	})
	s, err := cluster.CreateSession()
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	defer s.Close()
	if len(hosts) == 0 {
		t.Fatal("no host was discovered")
	}
	for _, h := range hosts {
		if !h.ConnectAddress().Equal(mustIP(node.address)) || h.Port() != nativePort {
			t.Errorf("discovered host %s:%d, want %s:%d", h.ConnectAddress(), h.Port(), node.address, nativePort)
		}
		if h.DataCenter() != "dc1" || h.Rack() != "rack1" {
			t.Errorf("host %s has dc=%q rack=%q, want dc1 rack1", h.ConnectAddress(), h.DataCenter(), h.Rack())
		}
		if !strings.HasPrefix(h.Version().String(), "v4.1.") {
			t.Errorf("host %s reports version %s, want 4.1.x", h.ConnectAddress(), h.Version())
		}
		if len(h.Tokens()) == 0 {
			t.Errorf("host %s has no tokens", h.ConnectAddress())
		}
	}
}

func TestWrongPasswordIsRejected(t *testing.T) {
	cluster := newCluster()
	cluster.Authenticator = gocql.PasswordAuthenticator{Username: "cassandra", Password: "wrong"}
	s, err := cluster.CreateSession()
	if err == nil {
		s.Close()
		t.Fatal("CreateSession with a wrong password succeeded")
	}
	// gocql folds the node's AUTHENTICATION_ERROR (0x0100) into a plain error, so its message is what is left to check.
	if !strings.Contains(err.Error(), "Provided username cassandra and/or password are incorrect") {
		t.Errorf("wrong password: got %q, want Cassandra's \"Provided username cassandra and/or password are incorrect\"", err)
	}
}

func TestKeyspaceAndTableMetadata(t *testing.T) {
	createKeyspace(t, "meta")
	mustExec(t, "CREATE TYPE meta.address (street text, zip int, tags frozen<set<text>>)")
	mustExec(t, "CREATE TYPE meta.person (name text, home frozen<address>)")
	mustExec(t, `CREATE TABLE meta.events (
		tenant text, day date, at timeuuid, seq int, who frozen<person>, payload map<text, blob>, note text static,
		PRIMARY KEY ((tenant, day), at, seq)
	) WITH CLUSTERING ORDER BY (at DESC, seq ASC)`)

	ks, err := session.KeyspaceMetadata("meta")
	if err != nil {
		t.Fatalf("KeyspaceMetadata(meta): %v", err)
	}
	if ks.StrategyClass != "org.apache.cassandra.locator.SimpleStrategy" {
		t.Errorf("StrategyClass = %q", ks.StrategyClass)
	}
	if fmt.Sprint(ks.StrategyOptions["replication_factor"]) != "1" {
		t.Errorf("StrategyOptions = %v, want replication_factor 1", ks.StrategyOptions)
	}
	if !ks.DurableWrites {
		t.Error("DurableWrites = false, want true")
	}
	table, ok := ks.Tables["events"]
	if !ok {
		t.Fatalf("table events missing from metadata; tables: %v", keys(ks.Tables))
	}
	if got := columnNames(table.PartitionKey); !reflect.DeepEqual(got, []string{"tenant", "day"}) {
		t.Errorf("partition key = %v, want [tenant day]", got)
	}
	if got := columnNames(table.ClusteringColumns); !reflect.DeepEqual(got, []string{"at", "seq"}) {
		t.Errorf("clustering columns = %v, want [at seq]", got)
	}
	if at, seq := table.ClusteringColumns[0], table.ClusteringColumns[1]; at.Order != gocql.DESC || seq.Order != gocql.ASC {
		t.Errorf("clustering order = %v %v, want DESC ASC", at.ClusteringOrder, seq.ClusteringOrder)
	}
	// Validator is the type exactly as system_schema.columns spells it; gocql 1.3.2 parses UDT column types to an
	// empty custom type, so the type strings are compared rather than the parsed types.
	wantTypes := map[string]string{
		"tenant": "text", "day": "date", "at": "timeuuid", "seq": "int",
		"who": "frozen<person>", "payload": "map<text, blob>", "note": "text",
	}
	gotTypes := map[string]string{}
	for name, col := range table.Columns {
		gotTypes[name] = col.Validator
	}
	if !reflect.DeepEqual(gotTypes, wantTypes) {
		t.Errorf("column types = %v\n want %v", gotTypes, wantTypes)
	}
	if got := typeName(table.Columns["payload"].Type); got != "map<text, blob>" {
		t.Errorf("payload parsed as %s, want map<text, blob>", got)
	}
	if note := table.Columns["note"]; note == nil || note.Kind != gocql.ColumnStatic {
		t.Errorf("note should be a static column, got %+v", note)
	}
	if got := table.OrderedColumns; !reflect.DeepEqual(got[:4], []string{"tenant", "day", "at", "seq"}) {
		t.Errorf("OrderedColumns = %v, want the key columns first", got)
	}

	address, ok := ks.UserTypes["address"]
	if !ok {
		t.Fatalf("type address missing from metadata; types: %v", keys(ks.UserTypes))
	}
	if !reflect.DeepEqual(address.FieldNames, []string{"street", "zip", "tags"}) {
		t.Errorf("address fields = %v", address.FieldNames)
	}
	var fieldTypes []string
	for _, ft := range address.FieldTypes {
		fieldTypes = append(fieldTypes, typeName(ft))
	}
	if !reflect.DeepEqual(fieldTypes, []string{"text", "int", "set<text>"}) {
		t.Errorf("address field types = %v", fieldTypes)
	}
	person, ok := ks.UserTypes["person"]
	if !ok || !reflect.DeepEqual(person.FieldNames, []string{"name", "home"}) {
		t.Errorf("person type metadata = %+v", person)
	}

	// System keyspaces load too.
	system, err := session.KeyspaceMetadata("system")
	if err != nil {
		t.Fatalf("KeyspaceMetadata(system): %v", err)
	}
	local, ok := system.Tables["local"]
	if !ok {
		t.Fatalf("system.local missing from metadata; tables: %v", keys(system.Tables))
	}
	if got := columnNames(local.PartitionKey); !reflect.DeepEqual(got, []string{"key"}) {
		t.Errorf("system.local partition key = %v", got)
	}
}

func TestSessionWithKeyspace(t *testing.T) {
	createKeyspace(t, "scoped")
	mustExec(t, "CREATE TABLE scoped.kv (k int PRIMARY KEY, v text)")
	cluster := newCluster()
	cluster.Keyspace = "scoped"
	s, err := cluster.CreateSession()
	if err != nil {
		t.Fatalf("CreateSession with Keyspace scoped: %v", err)
	}
	defer s.Close()
	if err := s.Query("INSERT INTO kv (k, v) VALUES (?, ?)", 1, "one").Exec(); err != nil {
		t.Fatalf("INSERT without keyspace prefix: %v", err)
	}
	var v string
	if err := s.Query("SELECT v FROM kv WHERE k = ?", 1).Scan(&v); err != nil || v != "one" {
		t.Fatalf("SELECT without keyspace prefix: v=%q err=%v", v, err)
	}
}

// typeName renders a gocql TypeInfo the way gocql names native types, with collection element types.
func typeName(info gocql.TypeInfo) string {
	switch ti := info.(type) {
	case gocql.CollectionType:
		switch ti.Type() {
		case gocql.TypeMap:
			return fmt.Sprintf("map<%s, %s>", typeName(ti.Key), typeName(ti.Elem))
		case gocql.TypeList:
			return fmt.Sprintf("list<%s>", typeName(ti.Elem))
		default:
			return fmt.Sprintf("set<%s>", typeName(ti.Elem))
		}
	case gocql.TupleTypeInfo:
		var elems []string
		for _, e := range ti.Elems {
			elems = append(elems, typeName(e))
		}
		return fmt.Sprintf("tuple<%s>", strings.Join(elems, ", "))
	case gocql.UDTTypeInfo:
		return "udt"
	default:
		return info.Type().String()
	}
}

func columnNames(cols []*gocql.ColumnMetadata) []string {
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
	}
	return names
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func mustIP(s string) net.IP {
	return net.ParseIP(s)
}
