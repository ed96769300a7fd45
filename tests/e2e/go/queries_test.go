package e2e

// Prepared statements, paging through 10,000 rows (automatically and by page state), and batches.

import (
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/gocql/gocql"
)

const (
	partitions       = 10
	rowsPerPartition = 1000
	totalRows        = partitions * rowsPerPartition
	pageSize         = 333
)

// setUpQueries creates the keyspace and tables once and loads 10,000 rows with unlogged batches of prepared inserts.
func setUpQueries(t *testing.T) {
	t.Helper()
	createKeyspace(t, "q")
	mustExec(t, "CREATE TABLE q.t (k int, c int, v text, PRIMARY KEY (k, c))")
	mustExec(t, "CREATE TABLE q.kv (k text PRIMARY KEY, n int, s set<int>)")
	mustExec(t, "CREATE TABLE q.hits (page text PRIMARY KEY, views counter, clicks counter)")
	for k := 0; k < partitions; k++ {
		batch := session.NewBatch(gocql.UnloggedBatch)
		for c := 0; c < rowsPerPartition; c++ {
			batch.Query("INSERT INTO q.t (k, c, v) VALUES (?, ?, ?)", k, c, fmt.Sprintf("v%d-%d", k, c))
		}
		if err := session.ExecuteBatch(batch); err != nil {
			t.Fatalf("unlogged batch of %d prepared inserts into partition %d: %v", rowsPerPartition, k, err)
		}
	}
}

func TestQueries(t *testing.T) {
	setUpQueries(t)
	t.Run("PreparedStatements", testPrepared)
	t.Run("CountAfterBatches", func(t *testing.T) {
		var count int64
		if err := session.Query("SELECT count(*) FROM q.t").Scan(&count); err != nil {
			t.Fatalf("SELECT count(*): %v", err)
		}
		if count != totalRows {
			t.Fatalf("count(*) = %d, want %d", count, totalRows)
		}
	})
	t.Run("AutoPaging", testAutoPaging)
	t.Run("ManualPaging", testManualPaging)
	t.Run("PagingWithinPartition", testPagingWithinPartition)
	t.Run("LoggedBatch", testLoggedBatch)
	t.Run("CounterBatch", testCounterBatch)
}

func testPrepared(t *testing.T) {
	// gocql prepares every SELECT, INSERT, UPDATE and DELETE and caches the prepared id.
	insert := "INSERT INTO q.kv (k, n, s) VALUES (?, ?, ?)"
	if err := session.Query(insert, "a", 1, []int{2, 1}).Exec(); err != nil {
		t.Fatalf("%s: %v", insert, err)
	}
	if err := session.Query(insert, "b", 2, nil).Exec(); err != nil {
		t.Fatalf("%s with a null set: %v", insert, err)
	}
	for i := 0; i < 5; i++ {
		var n int
		var s []int
		if err := session.Query("SELECT n, s FROM q.kv WHERE k = ?", "a").Scan(&n, &s); err != nil {
			t.Fatalf("prepared SELECT (run %d): %v", i, err)
		}
		if n != 1 || !reflect.DeepEqual(s, []int{1, 2}) {
			t.Fatalf("prepared SELECT (run %d): n=%d s=%v, want 1 [1 2]", i, n, s)
		}
	}
	var s []int
	if err := session.Query("SELECT s FROM q.kv WHERE k = ?", "b").Scan(&s); err != nil || s != nil {
		t.Fatalf("null set: s=%#v err=%v, want nil", s, err)
	}
	// The result metadata of a prepared SELECT names and types its columns.
	iter := session.Query("SELECT k, n, s FROM q.kv WHERE k = ?", "a").Iter()
	var got []string
	for _, col := range iter.Columns() {
		got = append(got, col.Name+" "+typeName(col.TypeInfo))
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"k varchar", "n int", "s set<int>"}; !reflect.DeepEqual(got, want) {
		t.Errorf("result columns = %v, want %v", got, want)
	}
}

type row struct {
	k, c int
	v    string
}

func checkAllRows(t *testing.T, rows []row) {
	t.Helper()
	if len(rows) != totalRows {
		t.Fatalf("read %d rows, want %d", len(rows), totalRows)
	}
	seen := make(map[[2]int]bool, totalRows)
	for _, r := range rows {
		if seen[[2]int{r.k, r.c}] {
			t.Fatalf("row (%d, %d) read twice", r.k, r.c)
		}
		seen[[2]int{r.k, r.c}] = true
		if want := fmt.Sprintf("v%d-%d", r.k, r.c); r.v != want {
			t.Fatalf("row (%d, %d) has v=%q, want %q", r.k, r.c, r.v, want)
		}
	}
}

func testAutoPaging(t *testing.T) {
	// gocql prepares every SELECT, and fetches the next page (with the previous page's paging state) as the
	// iterator reaches the end of the current one.
	iter := session.Query("SELECT k, c, v FROM q.t").PageSize(pageSize).Iter()
	var rows []row
	var r row
	for iter.Scan(&r.k, &r.c, &r.v) {
		rows = append(rows, r)
	}
	if err := iter.Close(); err != nil {
		t.Fatalf("SELECT k, c, v FROM q.t with page size %d: %v", pageSize, err)
	}
	checkAllRows(t, rows)
}

func testManualPaging(t *testing.T) {
	var rows []row
	var state []byte
	pages := 0
	for {
		iter := session.Query("SELECT k, c, v FROM q.t").PageSize(pageSize).PageState(state).Iter()
		if n := iter.NumRows(); n > pageSize {
			t.Fatalf("page %d has %d rows, more than the page size %d", pages, n, pageSize)
		}
		next := iter.PageState()
		scanner := iter.Scanner()
		for scanner.Next() {
			var r row
			if err := scanner.Scan(&r.k, &r.c, &r.v); err != nil {
				t.Fatalf("page %d: %v", pages, err)
			}
			rows = append(rows, r)
		}
		if err := scanner.Err(); err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		if len(next) == 0 {
			break
		}
		state = next
	}
	checkAllRows(t, rows)
	if min := (totalRows + pageSize - 1) / pageSize; pages < min {
		t.Errorf("read %d pages, want at least %d", pages, min)
	}
}

func testPagingWithinPartition(t *testing.T) {
	read := func(stmt string) []int {
		iter := session.Query(stmt, 7).PageSize(100).Iter()
		var cs []int
		var c int
		for iter.Scan(&c) {
			cs = append(cs, c)
		}
		if err := iter.Close(); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		return cs
	}
	forward := read("SELECT c FROM q.t WHERE k = ?")
	if len(forward) != rowsPerPartition || !sort.IntsAreSorted(forward) {
		t.Fatalf("partition 7 read %d rows, sorted=%v; want %d rows in clustering order", len(forward), sort.IntsAreSorted(forward), rowsPerPartition)
	}
	reversed := read("SELECT c FROM q.t WHERE k = ? ORDER BY c DESC")
	for i := range reversed {
		if reversed[i] != forward[len(forward)-1-i] {
			t.Fatalf("ORDER BY c DESC: position %d is %d, want %d", i, reversed[i], forward[len(forward)-1-i])
		}
	}
}

func testLoggedBatch(t *testing.T) {
	batch := session.NewBatch(gocql.LoggedBatch)
	batch.Query("INSERT INTO q.kv (k, n) VALUES (?, ?)", "batch1", 10)
	batch.Query("INSERT INTO q.kv (k, n) VALUES ('batch2', 20)")
	batch.Query("UPDATE q.kv SET s = s + ? WHERE k = ?", []int{5}, "batch1")
	batch.Query("DELETE FROM q.kv WHERE k = ?", "b")
	if err := session.ExecuteBatch(batch); err != nil {
		t.Fatalf("logged batch: %v", err)
	}
	got := map[string]string{}
	iter := session.Query("SELECT k, n, s FROM q.kv").Iter()
	var k string
	var n int
	var s []int
	for iter.Scan(&k, &n, &s) {
		got[k] = fmt.Sprint(n, s)
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1 [1 2]", "batch1": "10 [5]", "batch2": "20 []"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after the logged batch: %v, want %v", got, want)
	}
}

func testCounterBatch(t *testing.T) {
	batch := session.NewBatch(gocql.CounterBatch)
	incr := "UPDATE q.hits SET views = views + ?, clicks = clicks + ? WHERE page = ?"
	batch.Query(incr, int64(3), int64(1), "home")
	batch.Query(incr, int64(2), int64(-4), "home")
	batch.Query(incr, int64(1), int64(0), "about")
	if err := session.ExecuteBatch(batch); err != nil {
		t.Fatalf("counter batch: %v", err)
	}
	got := map[string][2]int64{}
	iter := session.Query("SELECT page, views, clicks FROM q.hits").Iter()
	var page string
	var views, clicks int64
	for iter.Scan(&page, &views, &clicks) {
		got[page] = [2]int64{views, clicks}
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if want := map[string][2]int64{"home": {5, -3}, "about": {1, 0}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("counters = %v, want %v", got, want)
	}
}
