// Package echo is the service the go-plugin baseline runs in plugwire's
// benchmark: one unary method that returns the bytes it was sent, over raw
// protobuf (google.protobuf.BytesValue), as go-plugin's own gRPC examples
// do their work. The service descriptor is written out here rather than
// generated, so the baseline needs no protoc.
package echo

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Handshake is the baseline's own: the plugin and the host agree on it.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "PLUGWIRE_BENCH_GO_PLUGIN",
	MagicCookieValue: "echo",
}

// Method is the full gRPC method name of the one call.
const Method = "/bench.Echo/Echo"

// Client calls the echo service on a go-plugin connection.
type Client struct{ conn *grpc.ClientConn }

// Echo sends data and returns what came back.
func (c Client) Echo(ctx context.Context, data []byte) ([]byte, error) {
	out := new(wrapperspb.BytesValue)
	err := c.conn.Invoke(ctx, Method, wrapperspb.Bytes(data), out)
	return out.GetValue(), err
}

// Server is what the plugin implements.
type Server interface {
	Echo(context.Context, []byte) ([]byte, error)
}

// Plugin is the go-plugin plugin on both sides: Impl is set in the plugin
// process, and the host's side hands out a Client.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Server
}

// GRPCServer registers the echo service on go-plugin's server.
func (p Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	s.RegisterService(&serviceDesc, p.Impl)
	return nil
}

// GRPCClient hands the host a Client on go-plugin's connection.
func (Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return Client{conn: conn}, nil
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: "bench.Echo",
	HandlerType: (*Server)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(srv any, ctx context.Context, decode func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.BytesValue)
			if err := decode(in); err != nil {
				return nil, err
			}
			out, err := srv.(Server).Echo(ctx, in.GetValue())
			if err != nil {
				return nil, err
			}
			return wrapperspb.Bytes(out), nil
		},
	}},
	Streams:  []grpc.StreamDesc{},
	Metadata: "bench/echo",
}
