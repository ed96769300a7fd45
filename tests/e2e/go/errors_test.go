package e2e

// Bad CQL gets the Cassandra error code that gocql maps to the right error type, with Cassandra's wording, and the
// session keeps working afterwards.

import (
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/gocql/gocql"
)

var errorCodeNames = map[int]string{
	gocql.ErrCodeServer: "server error", gocql.ErrCodeProtocol: "protocol error", gocql.ErrCodeSyntax: "syntax error",
	gocql.ErrCodeUnauthorized: "unauthorized", gocql.ErrCodeInvalid: "invalid", gocql.ErrCodeConfig: "config error",
	gocql.ErrCodeAlreadyExists: "already exists", gocql.ErrCodeUnprepared: "unprepared",
}

func codeName(code int) string {
	if name, ok := errorCodeNames[code]; ok {
		return fmt.Sprintf("%s (%#x)", name, code)
	}
	return fmt.Sprintf("%#x", code)
}

// expectError runs stmt and checks that it fails with a gocql.RequestError of `code` whose message matches `message`.
func expectError(t *testing.T, code int, message string, stmt string, values ...interface{}) gocql.RequestError {
	t.Helper()
	err := session.Query(stmt, values...).Exec()
	if err == nil {
		t.Errorf("%s: succeeded, want %s", stmt, codeName(code))
		return nil
	}
	var reqErr gocql.RequestError
	if !errors.As(err, &reqErr) {
		t.Errorf("%s: got %T %v, want a gocql.RequestError with %s", stmt, err, err, codeName(code))
		return nil
	}
	if reqErr.Code() != code {
		t.Errorf("%s: got %s %q, want %s", stmt, codeName(reqErr.Code()), reqErr.Message(), codeName(code))
	}
	if message != "" && !regexp.MustCompile(message).MatchString(reqErr.Message()) {
		t.Errorf("%s: message %q does not match %q", stmt, reqErr.Message(), message)
	}
	return reqErr
}

func TestErrors(t *testing.T) {
	createKeyspace(t, "e")
	mustExec(t, "CREATE TABLE e.t (k int PRIMARY KEY, v text)")

	t.Run("Syntax", func(t *testing.T) {
		// gocql prepares SELECTs, so these are PREPARE requests; the DDL one is a plain QUERY.
		expectError(t, gocql.ErrCodeSyntax, `line 1:0 no viable alternative at input 'SELEKT'`, "SELEKT * FROM e.t")
		expectError(t, gocql.ErrCodeSyntax, "", "SELECT * FROM e.t WHERE")
		expectError(t, gocql.ErrCodeSyntax, "", "CREATE TABLEX e.x (k int PRIMARY KEY)")
	})
	t.Run("UnknownTable", func(t *testing.T) {
		expectError(t, gocql.ErrCodeInvalid, "unconfigured table nope", "SELECT * FROM e.nope")
		expectError(t, gocql.ErrCodeInvalid, "unconfigured table nope", "SELECT * FROM e.nope WHERE k = ?", 1)
	})
	t.Run("UnknownKeyspace", func(t *testing.T) {
		expectError(t, gocql.ErrCodeInvalid, `[Kk]eyspace '?nokeyspace'? does not exist`, "SELECT * FROM nokeyspace.t")
	})
	t.Run("UnknownColumn", func(t *testing.T) {
		expectError(t, gocql.ErrCodeInvalid, "Undefined column name nope", "SELECT nope FROM e.t")
		expectError(t, gocql.ErrCodeInvalid, "Undefined column name nope", "INSERT INTO e.t (k, nope) VALUES (1, 2)")
	})
	t.Run("MissingPartitionKey", func(t *testing.T) {
		expectError(t, gocql.ErrCodeInvalid, "Some partition key parts are missing: k", "INSERT INTO e.t (v) VALUES ('x')")
	})
	t.Run("InvalidLiteral", func(t *testing.T) {
		expectError(t, gocql.ErrCodeInvalid, "", "INSERT INTO e.t (k, v) VALUES ('not an int', 'x')")
	})
	t.Run("AlreadyExists", func(t *testing.T) {
		ksErr := expectError(t, gocql.ErrCodeAlreadyExists, "",
			"CREATE KEYSPACE e WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
		if ae, ok := ksErr.(*gocql.RequestErrAlreadyExists); ksErr != nil && (!ok || ae.Keyspace != "e" || ae.Table != "") {
			t.Errorf("CREATE KEYSPACE e: got %#v, want RequestErrAlreadyExists{Keyspace: e, Table: \"\"}", ksErr)
		}
		tableErr := expectError(t, gocql.ErrCodeAlreadyExists, "", "CREATE TABLE e.t (k int PRIMARY KEY)")
		if ae, ok := tableErr.(*gocql.RequestErrAlreadyExists); tableErr != nil && (!ok || ae.Keyspace != "e" || ae.Table != "t") {
			t.Errorf("CREATE TABLE e.t: got %#v, want RequestErrAlreadyExists{Keyspace: e, Table: t}", tableErr)
		}
		mustExec(t, "CREATE KEYSPACE IF NOT EXISTS e WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
		mustExec(t, "CREATE TABLE IF NOT EXISTS e.t (k int PRIMARY KEY)")
	})
	t.Run("AlreadyExistsWording", func(t *testing.T) {
		nodeRegression(t, "the node says 'Keyspace e already exists' and 'Object e.t already exists'; Cassandra 4.1 says "+
			"'Cannot add existing keyspace \"e\"' and 'Cannot add already existing table \"t\" to keyspace \"e\"'", func() error {
			for stmt, want := range map[string]string{
				"CREATE KEYSPACE e WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}": `Cannot add existing keyspace "e"`,
				"CREATE TABLE e.t (k int PRIMARY KEY)":                                                      `Cannot add already existing table "t" to keyspace "e"`,
			} {
				if err := session.Query(stmt).Exec(); err == nil || err.Error() != want {
					return fmt.Errorf("%s: got %v, want %q", stmt, err, want)
				}
			}
			return nil
		})
	})
	t.Run("BadBatchIsRejectedWhole", func(t *testing.T) {
		batch := session.NewBatch(gocql.LoggedBatch)
		batch.Query("INSERT INTO e.t (k, v) VALUES (100, 'a')")
		batch.Query("INSERT INTO e.nope (k, v) VALUES (101, 'b')")
		err := session.ExecuteBatch(batch)
		var reqErr gocql.RequestError
		if !errors.As(err, &reqErr) || reqErr.Code() != gocql.ErrCodeInvalid {
			t.Fatalf("batch with an unknown table: got %v, want %s", err, codeName(gocql.ErrCodeInvalid))
		}
		var count int64
		if err := session.Query("SELECT count(*) FROM e.t WHERE k = 100").Scan(&count); err != nil || count != 0 {
			t.Fatalf("after the rejected batch: count=%d err=%v, want 0 rows", count, err)
		}
	})
	t.Run("SessionStillWorks", func(t *testing.T) {
		mustExec(t, "INSERT INTO e.t (k, v) VALUES (?, ?)", 1, "still fine")
		var v string
		if err := session.Query("SELECT v FROM e.t WHERE k = ?", 1).Scan(&v); err != nil || v != "still fine" {
			t.Fatalf("SELECT after errors: v=%q err=%v", v, err)
		}
	})
}
