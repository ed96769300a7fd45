package e2e

// Runs last (go test runs files in name order): nothing the other tests did made gocql log a problem, such as a
// schema or topology row it could not parse or a connection it lost.

import "testing"

func TestDriverLoggedNothing(t *testing.T) {
	if log := driverLog.String(); log != "" {
		t.Errorf("gocql logged:\n%s", log)
	}
}
