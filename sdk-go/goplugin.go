package plugwire

// go-plugin interoperability (docs/protocol.md section 2.6): the three
// services a HashiCorp go-plugin client calls besides plugwire's, and its
// AutoMTLS. The services are described by hand with emptypb messages rather
// than generated: a program that links go-plugin as well (a go-plugin host
// testing its plugins, a plugin served by plugin.Serve) would otherwise
// register go-plugin's proto package twice, which the protobuf runtime
// refuses.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/emptypb"
)

// envClientCert is where a go-plugin client with AutoMTLS puts its
// certificate (PW-GP-3); envMultiplexGRPC asks for its multiplexed broker
// (PW-GP-4).
const (
	envClientCert     = "PLUGIN_CLIENT_CERT"
	envMultiplexGRPC  = "PLUGIN_MULTIPLEX_GRPC"
	maxClientCertSize = 16 * 1024
)

// defaultGrace is the drain a stop gets when the host names none
// (PW-SHUT-1): plugwire's Shutdown without a grace, go-plugin's controller.
const defaultGrace = 5 * time.Second

// noBroker is the answer to a knock on go-plugin's broker.
const noBroker = "this plugin does not use go-plugin's broker: plugwire plugins reach their host through HostService (PLUGWIRE_HOST_SOCKET)"

// registerGoPlugin adds go-plugin's controller, stdio and broker services
// (PW-GP-2). shutdown is what the controller's Shutdown does; stopping is
// closed when the plugin stops, which ends the two streams.
func registerGoPlugin(server *grpc.Server, shutdown func(), stopping <-chan struct{}) {
	server.RegisterService(&grpc.ServiceDesc{
		ServiceName: "plugin.GRPCController",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Shutdown",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				if err := dec(new(emptypb.Empty)); err != nil {
					return nil, err
				}
				shutdown()
				return new(emptypb.Empty), nil
			},
		}},
		Metadata: "plugin.proto",
	}, struct{}{})
	server.RegisterService(&grpc.ServiceDesc{
		ServiceName: "plugin.GRPCStdio",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{
			StreamName:    "StreamStdio",
			ServerStreams: true,
			// Open and empty until the plugin stops: its stderr is the
			// real one, which go-plugin reads as the plugin's log.
			Handler: func(_ any, stream grpc.ServerStream) error {
				if err := stream.RecvMsg(new(emptypb.Empty)); err != nil {
					return err
				}
				select {
				case <-stopping:
				case <-stream.Context().Done():
				}
				return nil
			},
		}},
		Metadata: "plugin.proto",
	}, struct{}{})
	server.RegisterService(&grpc.ServiceDesc{
		ServiceName: "plugin.GRPCBroker",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{
			StreamName:    "StartStream",
			ServerStreams: true,
			ClientStreams: true,
			Handler: func(_ any, stream grpc.ServerStream) error {
				return brokerStream(stream, stopping)
			},
		}},
		Metadata: "plugin.proto",
	}, struct{}{})
}

// brokerStream ignores announcements and refuses knocks, until the plugin
// stops or the client hangs up.
func brokerStream(stream grpc.ServerStream, stopping <-chan struct{}) error {
	knocks := make(chan uint32)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			msg := new(emptypb.Empty)
			if err := stream.RecvMsg(msg); err != nil {
				return
			}
			if id, ok := knockOf(msg.ProtoReflect().GetUnknown()); ok {
				select {
				case knocks <- id:
				case <-stopping:
					return
				}
			}
		}
	}()
	for {
		select {
		case <-stopping:
			return nil
		case <-done:
			return nil
		case id := <-knocks:
			refusal := new(emptypb.Empty)
			refusal.ProtoReflect().SetUnknown(knockRefusal(id))
			if err := stream.SendMsg(refusal); err != nil {
				return err
			}
		}
	}
}

// knockOf reads go-plugin's ConnInfo (service_id = 1, knock = 4 with
// knock = 1) from raw bytes: the service id, and whether it is a knock.
func knockOf(raw []byte) (uint32, bool) {
	var id uint32
	knock, wellFormed := false, true
	wellFormed = eachField(raw, func(num protowire.Number, typ protowire.Type, value []byte) {
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, _ := protowire.ConsumeVarint(value)
			id = uint32(v)
		case num == 4 && typ == protowire.BytesType:
			inner, _ := protowire.ConsumeBytes(value)
			wellFormed = eachField(inner, func(f protowire.Number, t protowire.Type, v []byte) {
				if f == 1 && t == protowire.VarintType {
					k, _ := protowire.ConsumeVarint(v)
					knock = k != 0
				}
			}) && wellFormed
		}
	}) && wellFormed
	if !wellFormed {
		return 0, false
	}
	return id, knock
}

// eachField calls visit with each top-level field of a protobuf message
// (its value still encoded); false when raw is not a well-formed message.
func eachField(raw []byte, visit func(num protowire.Number, typ protowire.Type, value []byte)) bool {
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return false
		}
		raw = raw[n:]
		m := protowire.ConsumeFieldValue(num, typ, raw)
		if m < 0 {
			return false
		}
		visit(num, typ, raw[:m])
		raw = raw[m:]
	}
	return true
}

// knockRefusal encodes ConnInfo{service_id, knock{knock: true, ack: false,
// error}}.
func knockRefusal(id uint32) []byte {
	var knock []byte
	knock = protowire.AppendTag(knock, 1, protowire.VarintType)
	knock = protowire.AppendVarint(knock, 1)
	knock = protowire.AppendTag(knock, 3, protowire.BytesType)
	knock = protowire.AppendString(knock, noBroker)
	var out []byte
	out = protowire.AppendTag(out, 1, protowire.VarintType)
	out = protowire.AppendVarint(out, uint64(id))
	out = protowire.AppendTag(out, 4, protowire.BytesType)
	out = protowire.AppendBytes(out, knock)
	return out
}

// autoMTLS is PW-GP-3's TLS side: the config to serve with and the
// plugin's certificate for the bootstrap line's sixth field.
type autoMTLS struct {
	config *tls.Config
	cert   string
}

// newAutoMTLS answers a go-plugin client's certificate (PEM) with a
// one-time certificate of the plugin's own and a TLS config that admits
// exactly that client certificate. It is pinned byte for byte: go-plugin's
// is self-signed and marked as a CA.
func newAutoMTLS(clientPEM string) (*autoMTLS, error) {
	if len(clientPEM) > maxClientCertSize {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit: expected one PEM certificate", envClientCert, len(clientPEM), maxClientCertSize)
	}
	block, _ := pem.Decode([]byte(clientPEM))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate: expected `-----BEGIN CERTIFICATE-----` ...; unset it to serve without TLS", envClientCert)
	}
	pinned := block.Bytes
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cannot generate the plugin's TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-30 * time.Second),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("cannot sign the plugin's certificate: %w", err)
	}
	return &autoMTLS{
		config: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
			ClientAuth:   tls.RequireAnyClientCert,
			MinVersion:   tls.VersionTLS12,
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 || !bytes.Equal(raw[0], pinned) {
					return errors.New("the client's certificate is not the one in PLUGIN_CLIENT_CERT")
				}
				return nil
			},
		},
		cert: base64.RawStdEncoding.EncodeToString(der),
	}, nil
}
