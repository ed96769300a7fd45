package e2e

// Every CQL type written with gocql (bound values of a prepared statement, and CQL literals) and read back equal,
// including boundary values, empty values, nulls, nested collections, tuples, user-defined types and counters.

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"net"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"gopkg.in/inf.v0"
)

// column is a column of ty.all: its name and declared CQL type.
type column struct{ name, cql string }

var allColumns = []column{
	{"a", "ascii"}, {"b", "bigint"}, {"bl", "blob"}, {"bo", "boolean"}, {"d", "decimal"}, {"db", "double"},
	{"du", "duration"}, {"f", "float"}, {"i4", "inet"}, {"i6", "inet"}, {"n", "int"}, {"sm", "smallint"},
	{"ti", "tinyint"}, {"tx", "text"}, {"vc", "varchar"}, {"ts", "timestamp"}, {"u", "uuid"}, {"tu", "timeuuid"},
	{"dt", "date"}, {"tm", "time"}, {"vi", "varint"}, {"lvi", "list<varint>"}, {"ld", "list<decimal>"},
	{"l", "list<int>"}, {"s", "set<text>"}, {"m", "map<text, int>"}, {"mi", "map<int, frozen<list<text>>>"},
	{"fl", "frozen<list<int>>"}, {"fs", "frozen<set<bigint>>"}, {"fm", "frozen<map<text, date>>"},
	{"nm", "map<text, frozen<map<int, text>>>"}, {"tp", "tuple<int, text, double>"}, {"tn", "tuple<int, text>"},
	{"faddr", "frozen<address>"}, {"lu", "list<frozen<address>>"}, {"who", "frozen<person>"},
}

// tupleSizes gives the element count of each tuple column: gocql reads a tuple column as that many values.
var tupleSizes = map[string]int{"tp": 3, "tn": 2}

func columnList() string {
	var names []string
	for _, c := range allColumns {
		names = append(names, c.name)
	}
	return strings.Join(names, ", ")
}

func mustUUID(s string) gocql.UUID {
	u, err := gocql.ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

func bigInt(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("bad big.Int literal " + s)
	}
	return v
}

func dec(s string) *inf.Dec {
	v, ok := new(inf.Dec).SetString(s)
	if !ok {
		panic("bad inf.Dec literal " + s)
	}
	return v
}

func date(s string) time.Time {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return d
}

func bigInts(ss ...string) []*big.Int {
	var out []*big.Int
	for _, s := range ss {
		out = append(out, bigInt(s))
	}
	return out
}

func decs(ss ...string) []*inf.Dec {
	var out []*inf.Dec
	for _, s := range ss {
		out = append(out, dec(s))
	}
	return out
}

type udt = map[string]interface{}

// Ordinary values; typicalLiterals writes the same values as CQL literals.
var typical = map[string]interface{}{
	"a":  "ascii ~!",
	"b":  int64(1 << 40),
	"bl": []byte{0x00, 0x01, 0xff},
	"bo": true,
	"d":  dec("123.456"),
	"db": 1.5,
	"du": gocql.Duration{Months: 14, Days: 3, Nanoseconds: 3723000000004},
	"f":  float32(2.5),
	"i4": net.ParseIP("10.1.2.3"),
	"i6": net.ParseIP("2001:db8::ff00:42:8329"),
	"n":  -7,
	"sm": int16(300),
	"ti": int8(-5),
	"tx": "héllo ✓ 😀",
	"vc": "it's",
	"ts": time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC),
	"u":  mustUUID("0c6e2e3e-6a52-4b6e-9f0c-2b9a3c4d5e6f"),
	"tu": mustUUID("50554d6e-29bb-11e5-b345-feff819cdc9f"),
	"dt": date("2020-02-29"),
	"tm": time.Hour + 2*time.Minute + 3*time.Second + 123,
	"vi": bigInt("1000000000000000000000000000000"),
	"lvi": bigInts("0", "-1", "127", "128", "-128", "-129", "255", "256", "9223372036854775808",
		"-9223372036854775809"),
	"ld":    decs("0", "-1.5", "0.001", "-123456789012345678901234567890.123456789"),
	"l":     []int{3, 1, 2, 3},
	"s":     []string{"x", "y", "z"},
	"m":     map[string]int{"a": 1, "b": 2},
	"mi":    map[int][]string{-1: {"x"}, 2: {"p", "q"}, 10: {}},
	"fl":    []int{9, 8},
	"fs":    []int64{-1, 3},
	"fm":    map[string]time.Time{"a": date("1969-12-31"), "z": date("1970-01-01")},
	"nm":    map[string]map[int]string{"outer": {1: "one", 2: "two"}},
	"tp":    []interface{}{1, "one", 0.25},
	"tn":    []interface{}{7, ""},
	"faddr": udt{"street": "Elm"},
	"lu":    []udt{{"street": "x", "zip": 1}, {"street": "y", "zip": 2, "tags": []string{"t"}}},
	"who":   udt{"name": "Ada", "home": udt{"street": "Main St", "zip": 12345, "tags": []string{"home"}}},
}

// How gocql reads back the fields left out of `typical`'s UDTs: null fields decode to Go zero values in a map.
var typicalRead = override(typical, map[string]interface{}{
	"faddr": udt{"street": "Elm", "zip": 0, "tags": []string(nil)},
	"lu":    []udt{{"street": "x", "zip": 1, "tags": []string(nil)}, {"street": "y", "zip": 2, "tags": []string{"t"}}},
})

func override(base, changes map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range changes {
		out[k] = v
	}
	return out
}

var typicalLiterals = map[string]string{
	"a": "'ascii ~!'", "b": "1099511627776", "bl": "0x0001ff", "bo": "true", "d": "123.456", "db": "1.5",
	"du": "1y2mo3d1h2m3s4ns", "f": "2.5", "i4": "'10.1.2.3'", "i6": "'2001:db8::ff00:42:8329'", "n": "-7",
	"sm": "300", "ti": "-5", "tx": "'héllo ✓ 😀'", "vc": "'it''s'", "ts": "'2024-01-02T03:04:05.678Z'",
	"u": "0c6e2e3e-6a52-4b6e-9f0c-2b9a3c4d5e6f", "tu": "50554d6e-29bb-11e5-b345-feff819cdc9f",
	"dt": "'2020-02-29'", "tm": "'01:02:03.000000123'", "vi": "1000000000000000000000000000000",
	"lvi": "[0, -1, 127, 128, -128, -129, 255, 256, 9223372036854775808, -9223372036854775809]",
	"ld":  "[0, -1.5, 0.001, -123456789012345678901234567890.123456789]",
	"l":   "[3, 1, 2, 3]", "s": "{'z', 'x', 'y'}", "m": "{'b': 2, 'a': 1}",
	"mi": "{10: [], -1: ['x'], 2: ['p', 'q']}", "fl": "[9, 8]", "fs": "{3, -1}",
	"fm": "{'z': '1970-01-01', 'a': '1969-12-31'}", "nm": "{'outer': {2: 'two', 1: 'one'}}",
	"tp": "(1, 'one', 0.25)", "tn": "(7, '')", "faddr": "{street: 'Elm'}",
	"lu":  "[{street: 'x', zip: 1}, {street: 'y', zip: 2, tags: {'t'}}]",
	"who": "{name: 'Ada', home: {street: 'Main St', zip: 12345, tags: {'home'}}}",
}

// The smallest values of each type, empty values and special floating point values. Dates stay within what
// gocql's time.Time conversion can hold (it goes through int64 nanoseconds).
var minimums = map[string]interface{}{
	"a":     "",
	"b":     int64(math.MinInt64),
	"bl":    []byte{},
	"bo":    false,
	"d":     dec("-0.000000000000000000001"),
	"db":    math.NaN(),
	"du":    gocql.Duration{Months: -14, Days: -3, Nanoseconds: 0},
	"f":     float32(math.Inf(-1)),
	"i4":    net.ParseIP("0.0.0.0"),
	"i6":    net.ParseIP("::"),
	"n":     math.MinInt32,
	"sm":    int16(math.MinInt16),
	"ti":    int8(math.MinInt8),
	"tx":    "",
	"vc":    "",
	"ts":    time.UnixMilli(-1).UTC(),
	"u":     mustUUID("00000000-0000-0000-0000-000000000000"),
	"tu":    mustUUID("00000000-0000-1000-8000-000000000000"),
	"dt":    date("1700-01-01"),
	"tm":    time.Duration(0),
	"vi":    bigInt("-123456789012345678901234567890"),
	"lvi":   bigInts("0"),
	"ld":    decs("0.00"),
	"l":     []int{math.MinInt32},
	"s":     []string{""},
	"m":     map[string]int{"": math.MinInt32},
	"mi":    map[int][]string{math.MinInt32: {""}},
	"fl":    []int{},
	"fs":    []int64{},
	"fm":    map[string]time.Time{},
	"nm":    map[string]map[int]string{"": {}},
	"tp":    []interface{}{0, "", 0.0},
	"tn":    []interface{}{0, ""},
	"faddr": udt{"street": "", "zip": 0, "tags": []string{}},
	"lu":    []udt{{"street": "", "zip": 0, "tags": []string{}}},
	"who":   udt{"name": "", "home": udt{"street": "", "zip": 0, "tags": []string{}}},
}

// The largest values of each type.
var maximums = map[string]interface{}{
	"a":     "\x7f\x7f\x7f",
	"b":     int64(math.MaxInt64),
	"bl":    []byte(strings.Repeat("\xab", 70000)),
	"bo":    true,
	"d":     dec("99999999999999999999999999999999999999.99999999999999999999"),
	"db":    math.MaxFloat64,
	"du":    gocql.Duration{Months: math.MaxInt32, Days: math.MaxInt32, Nanoseconds: math.MaxInt64},
	"f":     float32(math.MaxFloat32),
	"i4":    net.ParseIP("255.255.255.255"),
	"i6":    net.ParseIP("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
	"n":     math.MaxInt32,
	"sm":    int16(math.MaxInt16),
	"ti":    int8(math.MaxInt8),
	"tx":    strings.Repeat("x", 100000),
	"vc":    "\U0010ffff",
	"ts":    time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC),
	"u":     mustUUID("ffffffff-ffff-ffff-ffff-ffffffffffff"),
	"tu":    mustUUID("ffffffff-ffff-1fff-bfff-ffffffffffff"),
	"dt":    date("2200-12-31"),
	"tm":    24*time.Hour - 1,
	"vi":    bigInt(strings.Repeat("9", 200)),
	"lvi":   bigInts("-150", "-1", "0", "1", "150"),
	"ld":    []*inf.Dec{inf.NewDec(1, math.MinInt32+1), inf.NewDec(1, math.MaxInt32)},
	"l":     sequence(5000),
	"s":     []string{"s000", "s001", "s002"},
	"m":     map[string]int{"k000": 0, "k001": 1},
	"mi":    map[int][]string{math.MaxInt32: {"a", "b", "c"}},
	"fl":    []int{math.MaxInt32},
	"fs":    []int64{math.MaxInt64},
	"fm":    map[string]time.Time{"max": date("2200-12-31")},
	"nm":    map[string]map[int]string{"a": {1: "x"}, "b": {2: "y"}},
	"tp":    []interface{}{math.MaxInt32, "max", math.MaxFloat64},
	"tn":    []interface{}{math.MaxInt32, "z"},
	"faddr": udt{"street": strings.Repeat("z", 1000), "zip": math.MaxInt32, "tags": []string{"z"}},
	"lu":    []udt{{"street": "s0", "zip": 0, "tags": []string{"a"}}, {"street": "s1", "zip": 1, "tags": []string{"b"}}},
	"who":   udt{"name": "Max", "home": udt{"street": "Top", "zip": 99999, "tags": []string{"a", "b", "c"}}},
}

func sequence(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// show renders a value as deterministic text: exact for decimals, varints, floats (NaN, -0), IPs and times, and
// with map keys sorted, so that comparing two renderings compares values and a failure prints readably.
func show(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case *inf.Dec:
		if x == nil {
			return "null"
		}
		return fmt.Sprintf("decimal(%sE%d)", x.UnscaledBig(), -int64(x.Scale()))
	case *big.Int:
		if x == nil {
			return "null"
		}
		return "varint(" + x.String() + ")"
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return fmt.Sprintf("time(%dns)", int64(x))
	case net.IP:
		return "inet(" + x.String() + ")"
	case []byte:
		if x == nil {
			return "null"
		}
		if len(x) > 64 {
			return fmt.Sprintf("blob(%d bytes, first %x, last %x)", len(x), x[0], x[len(x)-1])
		}
		return "0x" + hex.EncodeToString(x)
	case gocql.UUID:
		return x.String()
	case gocql.Duration:
		return fmt.Sprintf("duration(%dmo %dd %dns)", x.Months, x.Days, x.Nanoseconds)
	case float64:
		return "double(" + strconv.FormatFloat(x, 'g', -1, 64) + ")"
	case float32:
		return "float(" + strconv.FormatFloat(float64(x), 'g', -1, 32) + ")"
	case string:
		if len(x) > 64 {
			return fmt.Sprintf("%d chars %q...", len(x), x[:16])
		}
		return strconv.Quote(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice:
		if rv.IsNil() {
			return "null"
		}
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = show(rv.Index(i).Interface())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		if rv.IsNil() {
			return "null"
		}
		var parts []string
		for _, k := range rv.MapKeys() {
			parts = append(parts, show(k.Interface())+": "+show(rv.MapIndex(k).Interface()))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.Ptr:
		if rv.IsNil() {
			return "null"
		}
		return show(rv.Elem().Interface())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	}
	return fmt.Sprintf("%v", v)
}

// boundColumns are the columns insertAll binds: all but the tuples, because gocql 1.3.2 cannot bind a top-level
// tuple marker (it expects one value per tuple element but marshals values against whole columns), so
// writeRow sets the tuple columns with literals instead.
var boundColumns = func() []string {
	var names []string
	for _, c := range allColumns {
		if _, isTuple := tupleSizes[c.name]; !isTuple {
			names = append(names, c.name)
		}
	}
	return names
}()

var insertAll = fmt.Sprintf("INSERT INTO ty.all (k, %s) VALUES (?%s)", strings.Join(boundColumns, ", "),
	strings.Repeat(", ?", len(boundColumns)))

// writeRow writes row k: the bound columns with a prepared INSERT, the tuple columns with a literal UPDATE.
func writeRow(t *testing.T, k int, values map[string]interface{}) {
	t.Helper()
	bound := []interface{}{k}
	for _, name := range boundColumns {
		bound = append(bound, values[name])
	}
	mustExec(t, insertAll, bound...)
	var sets []string
	for name := range tupleSizes {
		sets = append(sets, name+" = "+tupleLiteral(values[name]))
	}
	sort.Strings(sets)
	mustExec(t, fmt.Sprintf("UPDATE ty.all SET %s WHERE k = ?", strings.Join(sets, ", ")), k)
}

// tupleLiteral renders a tuple of ints, strings and doubles (nil for null) as a CQL literal.
func tupleLiteral(v interface{}) string {
	elems, ok := v.([]interface{})
	if !ok {
		return "null"
	}
	var parts []string
	for _, e := range elems {
		switch x := e.(type) {
		case nil:
			parts = append(parts, "null")
		case string:
			parts = append(parts, "'"+strings.ReplaceAll(x, "'", "''")+"'")
		case float64:
			lit := strconv.FormatFloat(x, 'e', -1, 64)
			parts = append(parts, lit)
		default:
			parts = append(parts, fmt.Sprint(x))
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// readRow reads row k with MapScan, which decodes every column into gocql's default Go type for its CQL type.
func readRow(t *testing.T, k int) map[string]interface{} {
	t.Helper()
	row := map[string]interface{}{}
	if err := session.Query(fmt.Sprintf("SELECT %s FROM ty.all WHERE k = ?", columnList()), k).MapScan(row); err != nil {
		t.Fatalf("SELECT row %d: %v", k, err)
	}
	return row
}

// checkRow compares every column of row k with `want`, reporting each column that differs.
func checkRow(t *testing.T, k int, want map[string]interface{}) {
	t.Helper()
	row := readRow(t, k)
	for _, c := range allColumns {
		got := row[c.name]
		if n, ok := tupleSizes[c.name]; ok {
			elems := make([]interface{}, n)
			for i := range elems {
				elems[i] = row[gocql.TupleColumnName(c.name, i)]
			}
			got = elems
		}
		if ip, ok := got.(string); ok && c.cql == "inet" {
			// MapScan decodes inet to its string form.
			got = net.ParseIP(ip)
		}
		if g, w := show(got), show(want[c.name]); g != w {
			t.Errorf("row %d column %s (%s):\n   got %s\n  want %s", k, c.name, c.cql, g, w)
		}
	}
}

func TestTypes(t *testing.T) {
	createKeyspace(t, "ty")
	mustExec(t, "CREATE TYPE ty.address (street text, zip int, tags frozen<set<text>>)")
	mustExec(t, "CREATE TYPE ty.person (name text, home frozen<address>)")
	var defs []string
	for _, c := range allColumns {
		defs = append(defs, c.name+" "+c.cql)
	}
	mustExec(t, fmt.Sprintf("CREATE TABLE ty.all (k int PRIMARY KEY, %s)", strings.Join(defs, ", ")))
	mustExec(t, "CREATE TABLE ty.counts (k int PRIMARY KEY, c1 counter, c2 counter)")

	t.Run("ResultMetadata", testResultMetadata)
	t.Run("TypicalPrepared", func(t *testing.T) {
		writeRow(t, 1, typical)
		checkRow(t, 1, typicalRead)
	})
	t.Run("TypicalLiterals", func(t *testing.T) {
		var literals []string
		for _, c := range allColumns {
			literals = append(literals, typicalLiterals[c.name])
		}
		// gocql prepares this INSERT too, but every value is a literal in the statement text, parsed by the node.
		mustExec(t, fmt.Sprintf("INSERT INTO ty.all (k, %s) VALUES (2, %s)", columnList(), strings.Join(literals, ", ")))
		checkRow(t, 2, typicalRead)
	})
	t.Run("Minimums", func(t *testing.T) {
		writeRow(t, 3, minimums)
		checkRow(t, 3, minimums)
	})
	t.Run("Maximums", func(t *testing.T) {
		writeRow(t, 4, maximums)
		checkRow(t, 4, maximums)
	})
	t.Run("Nulls", testNulls)
	t.Run("EmptyNonFrozenCollectionsAreNull", func(t *testing.T) {
		mustExec(t, "INSERT INTO ty.all (k, l, s, m) VALUES (?, ?, ?, ?)", 6, []int{}, []string{}, map[string]int{})
		var l []int
		var s []string
		var m map[string]int
		if err := session.Query("SELECT l, s, m FROM ty.all WHERE k = 6").Scan(&l, &s, &m); err != nil {
			t.Fatal(err)
		}
		if l != nil || s != nil || m != nil {
			t.Errorf("empty non-frozen collections read back as l=%#v s=%#v m=%#v, want nil (no cells, as in Cassandra)", l, s, m)
		}
	})
	t.Run("CollectionUpdates", testCollectionUpdates)
	t.Run("Counters", testCounters)
	t.Run("NonFrozenUDT", testNonFrozenUDT)
}

func testResultMetadata(t *testing.T) {
	iter := session.Query(fmt.Sprintf("SELECT %s FROM ty.all LIMIT 1", columnList())).Iter()
	cols := iter.Columns()
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if len(cols) != len(allColumns) {
		t.Fatalf("result has %d columns, want %d", len(cols), len(allColumns))
	}
	// The wire types: frozen is not on the wire, text and varchar are both sent as varchar, UDTs carry their fields.
	want := map[string]string{
		"a": "ascii", "b": "bigint", "bl": "blob", "bo": "boolean", "d": "decimal", "db": "double",
		"du": "duration", "f": "float", "i4": "inet", "i6": "inet", "n": "int", "sm": "smallint", "ti": "tinyint",
		"tx": "varchar", "vc": "varchar", "ts": "timestamp", "u": "uuid", "tu": "timeuuid", "dt": "date",
		"tm": "time", "vi": "varint", "lvi": "list<varint>", "ld": "list<decimal>", "l": "list<int>",
		"s": "set<varchar>", "m": "map<varchar, int>", "mi": "map<int, list<varchar>>", "fl": "list<int>",
		"fs": "set<bigint>", "fm": "map<varchar, date>", "nm": "map<varchar, map<int, varchar>>",
		"tp": "tuple<int, varchar, double>", "tn": "tuple<int, varchar>",
		"faddr": "ty.address{street varchar, zip int, tags set<varchar>}",
		"lu":    "list<ty.address{street varchar, zip int, tags set<varchar>}>",
		"who":   "ty.person{name varchar, home ty.address{street varchar, zip int, tags set<varchar>}}",
	}
	for i, col := range cols {
		if col.Name != allColumns[i].name {
			t.Errorf("result column %d is %s, want %s", i, col.Name, allColumns[i].name)
			continue
		}
		if got := wireTypeName(col.TypeInfo); got != want[col.Name] {
			t.Errorf("column %s has wire type %s, want %s", col.Name, got, want[col.Name])
		}
	}
}

// wireTypeName renders result metadata types, including UDT keyspace, name and fields.
func wireTypeName(info gocql.TypeInfo) string {
	switch ti := info.(type) {
	case gocql.UDTTypeInfo:
		var fields []string
		for _, f := range ti.Elements {
			fields = append(fields, f.Name+" "+wireTypeName(f.Type))
		}
		return fmt.Sprintf("%s.%s{%s}", ti.KeySpace, ti.Name, strings.Join(fields, ", "))
	case gocql.CollectionType:
		switch ti.Type() {
		case gocql.TypeMap:
			return fmt.Sprintf("map<%s, %s>", wireTypeName(ti.Key), wireTypeName(ti.Elem))
		case gocql.TypeList:
			return fmt.Sprintf("list<%s>", wireTypeName(ti.Elem))
		default:
			return fmt.Sprintf("set<%s>", wireTypeName(ti.Elem))
		}
	case gocql.TupleTypeInfo:
		var elems []string
		for _, e := range ti.Elems {
			elems = append(elems, wireTypeName(e))
		}
		return fmt.Sprintf("tuple<%s>", strings.Join(elems, ", "))
	default:
		return info.Type().String()
	}
}

func testNulls(t *testing.T) {
	mustExec(t, "INSERT INTO ty.all (k) VALUES (5)")
	// gocql refuses a bare nil for a UDT, but writes null for a typed nil pointer.
	writeRow(t, 7, map[string]interface{}{"faddr": (*udt)(nil), "who": (*udt)(nil)})
	for _, k := range []int{5, 7} {
		row := map[string]interface{}{}
		if err := session.Query(fmt.Sprintf("SELECT %s FROM ty.all WHERE k = ?", columnList()), k).MapScan(row); err != nil {
			t.Fatalf("MapScan of all-null row %d: %v", k, err)
		}
		// Pointer and slice destinations tell a null (nil) from a zero value.
		var text *string
		var blob []byte
		var list []int
		if err := session.Query("SELECT tx, bl, l FROM ty.all WHERE k = ?", k).Scan(&text, &blob, &list); err != nil {
			t.Fatalf("SELECT tx, bl, l of row %d: %v", k, err)
		}
		if text != nil || blob != nil || list != nil {
			t.Errorf("row %d: tx=%v bl=%#v l=%#v, want all null", k, show(text), blob, list)
		}
		var n *int
		var ts *time.Time
		var vi *big.Int
		var d *inf.Dec
		var faddr *udt
		if err := session.Query("SELECT n, ts, vi, d, faddr FROM ty.all WHERE k = ?", k).Scan(&n, &ts, &vi, &d, &faddr); err != nil {
			t.Fatalf("SELECT n, ts, vi, d, faddr of row %d: %v", k, err)
		}
		if n != nil || ts != nil || vi != nil || d != nil || faddr != nil {
			t.Errorf("row %d: n=%s ts=%s vi=%s d=%s faddr=%s, want all null", k, show(n), show(ts), show(vi), show(d), show(faddr))
		}
	}
}

func testCollectionUpdates(t *testing.T) {
	writeRow(t, 9, typical)
	mustExec(t, "UPDATE ty.all SET l = l + ?, s = s - ?, m[?] = ? WHERE k = ?", []int{4}, []string{"y"}, "c", 3, 9)
	mustExec(t, "UPDATE ty.all SET nm['outer'] = {5: 'five'} WHERE k = 9")
	mustExec(t, "DELETE m['a'] FROM ty.all WHERE k = 9")
	var l []int
	var s []string
	var m map[string]int
	var nm map[string]map[int]string
	if err := session.Query("SELECT l, s, m, nm FROM ty.all WHERE k = 9").Scan(&l, &s, &m, &nm); err != nil {
		t.Fatal(err)
	}
	for _, check := range []struct{ name, got, want string }{
		{"l", show(l), show([]int{3, 1, 2, 3, 4})},
		{"s", show(s), show([]string{"x", "z"})},
		{"m", show(m), show(map[string]int{"b": 2, "c": 3})},
		{"nm", show(nm), show(map[string]map[int]string{"outer": {5: "five"}})},
	} {
		if check.got != check.want {
			t.Errorf("%s after updates: got %s, want %s", check.name, check.got, check.want)
		}
	}

	t.Run("Prepend", func(t *testing.T) {
		nodeRegression(t, "`SET l = [0] + l` appends instead of prepending; Cassandra gives prepended elements cell "+
			"paths that sort before every existing element", func() error {
			if err := session.Query("INSERT INTO ty.all (k, l) VALUES (12, [3, 1, 2])").Exec(); err != nil {
				return err
			}
			if err := session.Query("UPDATE ty.all SET l = ? + l WHERE k = 12", []int{-1, 0}).Exec(); err != nil {
				return err
			}
			var l []int
			if err := session.Query("SELECT l FROM ty.all WHERE k = 12").Scan(&l); err != nil {
				return err
			}
			if want := []int{-1, 0, 3, 1, 2}; !reflect.DeepEqual(l, want) {
				return fmt.Errorf("l = %v, want %v", l, want)
			}
			return nil
		})
	})
	t.Run("MapKeyRemoval", func(t *testing.T) {
		nodeRegression(t, "`SET m = m - {'a'}` on a map<text, int> is refused with 0x2200 'Invalid set literal for m "+
			"of type map<text, int>'; Cassandra (since 2.1, CASSANDRA-6599) removes the listed keys", func() error {
			if err := session.Query("INSERT INTO ty.all (k, m) VALUES (11, {'a': 1, 'b': 2})").Exec(); err != nil {
				return err
			}
			if err := session.Query("UPDATE ty.all SET m = m - {'a'} WHERE k = 11").Exec(); err != nil {
				return err
			}
			var m map[string]int
			if err := session.Query("SELECT m FROM ty.all WHERE k = 11").Scan(&m); err != nil {
				return err
			}
			if want := map[string]int{"b": 2}; !reflect.DeepEqual(m, want) {
				return fmt.Errorf("m = %v, want %v", m, want)
			}
			return nil
		})
	})
}

func testCounters(t *testing.T) {
	update := "UPDATE ty.counts SET c1 = c1 + ?, c2 = c2 - ? WHERE k = ?"
	mustExec(t, update, int64(5), int64(2), 1)
	mustExec(t, update, int64(-1), int64(-10), 1)
	mustExec(t, "UPDATE ty.counts SET c1 = c1 + 9223372036854775806 WHERE k = 2")
	mustExec(t, "UPDATE ty.counts SET c1 = c1 + 1 WHERE k = 2")
	iter := session.Query("SELECT k, c1, c2 FROM ty.counts WHERE k IN (1, 2)").Iter()
	var types []string
	for _, c := range iter.Columns() {
		types = append(types, c.Name+" "+wireTypeName(c.TypeInfo))
	}
	got := map[int]string{}
	var k int
	var c1 int64
	var c2 *int64
	for iter.Scan(&k, &c1, &c2) {
		got[k] = fmt.Sprintf("%d %s", c1, show(c2))
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"k int", "c1 counter", "c2 counter"}; !reflect.DeepEqual(types, want) {
		t.Errorf("counter columns = %v, want %v", types, want)
	}
	if want := map[int]string{1: "4 8", 2: "9223372036854775807 null"}; !reflect.DeepEqual(got, want) {
		t.Errorf("counters = %v, want %v", got, want)
	}
}

func testNonFrozenUDT(t *testing.T) {
	nodeRegression(t, "INSERT of a whole value into a non-frozen UDT column is refused with 0x2200 'Invalid value for "+
		"collection column addr' (prepared and literal); Cassandra 3.6+ accepts it", func() error {
		if err := session.Query("CREATE TABLE IF NOT EXISTS ty.nf (k int PRIMARY KEY, addr address)").Exec(); err != nil {
			return err
		}
		value := udt{"street": "Main St", "zip": 12345, "tags": []string{"a", "b"}}
		if err := session.Query("INSERT INTO ty.nf (k, addr) VALUES (?, ?)", 1, value).Exec(); err != nil {
			return err
		}
		if err := session.Query("UPDATE ty.nf SET addr.zip = ? WHERE k = ?", 54321, 1).Exec(); err != nil {
			return err
		}
		got := udt{}
		if err := session.Query("SELECT addr FROM ty.nf WHERE k = 1").Scan(&got); err != nil {
			return err
		}
		value["zip"] = 54321
		if show(got) != show(value) {
			return fmt.Errorf("addr = %s, want %s", show(got), show(value))
		}
		return nil
	})
}
