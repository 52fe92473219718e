//go:build tools

// Package tools records the versitygw module as a dependency of this module, so that `go build
// github.com/versity/versitygw/cmd/versitygw` uses the version pinned in go.mod and go.sum.
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
