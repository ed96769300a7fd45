// Package e2e drives a real `mica node` process with gocql, the Go Cassandra driver: TLS, password
// authentication, schema metadata, prepared statements, paging, batches, every CQL type and error codes.
//
// Run it with the node binary in MICA_BIN, in GOPATH mode against Debian's gocql package
// (golang-github-gocql-gocql-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode MICA_BIN=/path/to/mica go test -v .
package e2e
