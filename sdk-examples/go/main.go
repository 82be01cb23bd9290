// The echo plugin in Go, on the plugwire SDK (../../sdk-go): the echo tool,
// the command cat, and the conformance fixture profile of
// docs/conformance.md (the tools sleep and stats, the command exit, the
// hook conformance.intercept).
package main

import (
	"context"
	"encoding/json"
	"io"
	"sync/atomic"
	"time"

	"plugwire.dev/sdk-go"
)

// Sleeps in progress and sleeps stopped by cancellation.
var sleeping, cancelled atomic.Int64

// sleep waits ms or until ctx ends, counting both.
func sleep(ctx context.Context, ms int) error {
	sleeping.Add(1)
	defer sleeping.Add(-1)
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return nil
	case <-ctx.Done():
		cancelled.Add(1)
		return ctx.Err()
	}
}

type echoArgs struct {
	Text string `json:"text" jsonschema:"The text to return"`
}

type sleepArgs struct {
	MS int `json:"ms" jsonschema:"Milliseconds to sleep, 0 to 60000"`
}

func main() {
	p := plugwire.New("echo-go", "0.1.0", "Echo tools and the conformance fixture profile, in Go").Feature("conformance")
	plugwire.AddTool(p, plugwire.ToolSpec{Name: "echo", Description: "Returns the `text` argument unchanged", ReadOnly: true, Idempotent: true},
		func(_ context.Context, _ *plugwire.ToolContext, a echoArgs) (string, error) { return a.Text, nil })
	plugwire.AddTool(p, plugwire.ToolSpec{Name: "sleep", Description: "Sleeps `ms` milliseconds; stops when cancelled (conformance fixture)", ReadOnly: true,
		Schema: json.RawMessage(`{"type":"object","properties":{"ms":{"type":"integer","minimum":0,"maximum":60000}},"required":["ms"],"additionalProperties":false}`)},
		func(ctx context.Context, _ *plugwire.ToolContext, a sleepArgs) (map[string]int, error) {
			return map[string]int{"slept_ms": a.MS}, sleep(ctx, a.MS)
		})
	plugwire.AddTool(p, plugwire.ToolSpec{Name: "stats", Description: "Sleeps in progress and sleeps cancelled (conformance fixture)", ReadOnly: true},
		func(context.Context, *plugwire.ToolContext, struct{}) (map[string]int64, error) {
			return map[string]int64{"sleeping": sleeping.Load(), "cancelled": cancelled.Load()}, nil
		})
	p.AddCommand(plugwire.Command{Name: "cat", Short: "Copy standard input to standard output", Usage: "cat",
		Run: func(_ context.Context, cx *plugwire.CommandContext) int {
			if _, err := io.Copy(cx.Stdout, cx.Stdin); err != nil { // streamed as it arrives (PW-CMD-6)
				return 1
			}
			return 0
		}})
	p.AddCommand(plugwire.Command{Name: "exit", Short: "Print to both streams and exit with --code (conformance fixture)", Usage: "exit [--code N]",
		Flags: []plugwire.Flag{plugwire.IntFlag("code", 0, "The exit code")},
		Run: func(_ context.Context, cx *plugwire.CommandContext) int {
			_, _ = io.WriteString(cx.Stdout, "out\n")
			_, _ = io.WriteString(cx.Stderr, "err\n")
			return cx.Int("code")
		}})
	p.AddHook(plugwire.Hook{Pattern: "conformance.intercept", Intercept: true, Handle: intercept})
	p.Serve()
}

func intercept(ctx context.Context, e plugwire.HookEvent) (plugwire.Decision, error) {
	var payload map[string]any
	if json.Unmarshal(e.Payload, &payload) != nil || payload == nil {
		return plugwire.Continue(), nil
	}
	if ms, ok := payload["sleep_ms"].(float64); ok {
		if err := sleep(ctx, min(int(ms), 60000)); err != nil {
			return plugwire.Decision{}, err
		}
	}
	switch payload["decision"] {
	case "modify":
		payload["modified"] = true
		return plugwire.Modify(payload), nil
	case "deny":
		reason, _ := payload["reason"].(string)
		if reason == "" {
			reason = "denied by the conformance fixture"
		}
		return plugwire.Deny(reason), nil
	}
	return plugwire.Continue(), nil
}
