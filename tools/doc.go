// Package tools pins the programs rcq's build runs (goreleaser for release
// builds) as Go tool dependencies, in a module of their own so that their
// dependencies never enter rcq's go.mod. Run one with
// `go tool -modfile=tools/go.mod goreleaser ...` from the repository root
// (make release-check does).
package tools
