package plugwire

// The host's callback service (docs/protocol.md section 13): storage,
// events and other plugins' tools, each gated by a permission the user
// granted.

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	pb "plugwire.dev/sdk-go/pb/plugwire/v1"
)

const (
	// hostTimeout is PW-DL-3's deadline for the plugin's own calls.
	hostTimeout = 30 * time.Second
	callChain   = "plugwire-call-chain"
)

// ErrHostUnavailable: the host offers no HostService to this plugin.
var ErrHostUnavailable = errors.New("the host offers no HostService to this plugin: it did not list the `host.service` feature, or PLUGWIRE_HOST_SOCKET is not set")

// HostClient calls into the host. Errors are gRPC statuses
// (PERMISSION_DENIED names the permission the manifest must request).
type HostClient struct {
	client   pb.HostServiceClient
	conn     grpc.ClientConnInterface
	services []string
	chain    string
}

func dialHost(socket string, offered bool, services []string) *HostClient {
	if socket == "" || !offered {
		return &HostClient{}
	}
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority("localhost"))
	if err != nil {
		return &HostClient{}
	}
	return &HostClient{client: pb.NewHostServiceClient(conn), conn: conn, services: services}
}

func (h *HostClient) forCall(chain string) *HostClient {
	return &HostClient{client: h.client, conn: h.conn, services: h.services, chain: chain}
}

// Services lists the application's own gRPC services this plugin may call
// on the host channel (HandshakeRequest.host_services, each granted as
// host.service:<name>).
func (h *HostClient) Services() []string { return append([]string(nil), h.services...) }

// Conn is the host channel, for clients of the application's services:
// sessions := acmepb.NewSessionsClient(host.Conn()). It is nil when the
// host offers no HostService. The host answers PERMISSION_DENIED for a
// service not in Services.
func (h *HostClient) Conn() grpc.ClientConnInterface { return h.conn }

func (h *HostClient) ctx(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if h == nil || h.client == nil {
		return nil, nil, ErrHostUnavailable
	}
	if h.chain != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, callChain, h.chain)
	}
	if _, ok := ctx.Deadline(); ok {
		ctx, cancel := context.WithCancel(ctx)
		return ctx, cancel, nil
	}
	ctx, cancel := context.WithTimeout(ctx, hostTimeout)
	return ctx, cancel, nil
}

// Get returns the stored value of key (permission host.storage); nil, false when absent.
func (h *HostClient) Get(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, cancel, err := h.ctx(ctx)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	r, err := h.client.GetValue(ctx, &pb.GetValueRequest{Key: key})
	if err != nil {
		return nil, false, err
	}
	return r.Value, r.Found, nil
}

// Put stores value under key, durably (permission host.storage).
func (h *HostClient) Put(ctx context.Context, key string, value []byte) error {
	ctx, cancel, err := h.ctx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = h.client.PutValue(ctx, &pb.PutValueRequest{Key: key, Value: value})
	return err
}

// Emit emits an event to the hooks that subscribe to it (permission
// host.events.emit): whether it was denied, why, and its final payload.
func (h *HostClient) Emit(ctx context.Context, name string, payload any) (*pb.EmitEventResponse, error) {
	ctx, cancel, err := h.ctx(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	return h.client.EmitEvent(ctx, &pb.EmitEventRequest{Name: name, PayloadJson: string(raw)})
}

// CallTool calls another plugin's tool, "plugin.tool" or a bare name
// (permission host.tools.call).
func (h *HostClient) CallTool(ctx context.Context, tool string, args any) (*pb.ToolResult, error) {
	ctx, cancel, err := h.ctx(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	r, err := h.client.CallPluginTool(ctx, &pb.CallPluginToolRequest{Tool: tool, ArgumentsJson: string(raw)})
	if err != nil {
		return nil, err
	}
	return r.Result, nil
}
