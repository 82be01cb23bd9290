package plugwire

// Hooks: ordered events a plugin observes or intercepts (docs/protocol.md
// section 7).

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	pb "plugwire.dev/sdk-go/pb/plugwire/v1"
)

// HookEvent is an event delivered to a hook.
type HookEvent struct {
	ID      string
	Name    string
	Payload json.RawMessage
	// Source is "host" or "plugin:NAME".
	Source  string
	Time    time.Time
	Pattern string
}

// Decision is what an intercepting hook decides (PW-HOOK-4).
type Decision struct {
	kind    pb.Decision
	payload any
	reason  string
}

// Continue lets the event through unchanged.
func Continue() Decision { return Decision{kind: pb.Decision_DECISION_CONTINUE} }

// Modify replaces the payload for later hooks and the emitter.
func Modify(payload any) Decision { return Decision{kind: pb.Decision_DECISION_MODIFY, payload: payload} }

// Deny stops the event; the emitter learns reason.
func Deny(reason string) Decision { return Decision{kind: pb.Decision_DECISION_DENY, reason: reason} }

func (d Decision) response() (*pb.HandleEventResponse, error) {
	r := &pb.HandleEventResponse{Decision: d.kind, Reason: d.reason}
	switch d.kind {
	case pb.Decision_DECISION_MODIFY:
		raw, err := json.Marshal(d.payload)
		if err != nil {
			return nil, err
		}
		r.PayloadJson = string(raw)
	case pb.Decision_DECISION_DENY:
		if d.reason == "" {
			return nil, errors.New("a denial needs a reason the emitter can read")
		}
	case pb.Decision_DECISION_UNSPECIFIED:
		r.Decision = pb.Decision_DECISION_CONTINUE
	}
	return r, nil
}

// Hook subscribes to events matching Pattern (`*`, a name, or `prefix.*`).
type Hook struct {
	Pattern   string
	Intercept bool
	Priority  int32
	// FailClosed denies the event when this hook fails (intercepting only).
	FailClosed bool
	// Handle decides; ctx carries the delivery's deadline.
	Handle func(ctx context.Context, event HookEvent) (Decision, error)
}

func (h *Hook) subscription() *pb.HookSubscription {
	s := &pb.HookSubscription{Pattern: h.Pattern, Mode: pb.HookMode_HOOK_MODE_OBSERVE, Priority: h.Priority}
	if h.Intercept {
		s.Mode = pb.HookMode_HOOK_MODE_INTERCEPT
		s.FailurePolicy = pb.FailurePolicy_FAILURE_POLICY_OPEN
		if h.FailClosed {
			s.FailurePolicy = pb.FailurePolicy_FAILURE_POLICY_CLOSED
		}
	}
	return s
}

// patternMatches is PW-HOOK-2: `prefix.*` matches below prefix, not prefix.
func patternMatches(pattern, name string) bool {
	if pattern == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok && strings.HasSuffix(prefix, ".") {
		return strings.HasPrefix(name, prefix) && len(name) > len(prefix)
	}
	return pattern == name
}
