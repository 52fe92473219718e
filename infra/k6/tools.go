//go:build tools

// Package tools records the k6 module as a dependency of this module, so that `go build
// go.k6.io/k6/v2` uses the version pinned in go.mod and go.sum.
package tools

import _ "go.k6.io/k6/v2"
