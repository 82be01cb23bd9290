//go:build tools

// Package tools pins the code generators generate.sh builds, so go.mod and
// go.sum record their versions.
package tools

import (
	_ "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
