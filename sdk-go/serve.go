package plugwire

// Serving a plugin: bind the socket, register the services and health,
// print the bootstrap line, and stop once on Shutdown or a signal with the
// socket removed (docs/protocol.md sections 2, 3 and 9).

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "plugwire.dev/sdk-go/pb/plugwire/v1"
)

// sigtermGrace is PW-SHUT-2's grace after SIGTERM.
const sigtermGrace = 2 * time.Second

// running is a started server: stop once, wait for the end.
type running struct {
	server   *grpc.Server
	health   *health.Server
	listener net.Listener
	socket   string
	once     sync.Once
	stopping chan struct{}
	stopped  chan struct{}
}

func start(p *Plugin, socket string, version int, hostSocket string, mtls *autoMTLS) (*running, error) {
	listener, err := net.Listen("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("cannot bind %s: %w", socket, err)
	}
	options := []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessage), grpc.MaxSendMsgSize(MaxMessage)}
	if mtls != nil {
		options = append(options, grpc.Creds(credentials.NewTLS(mtls.config)))
	}
	r := &running{
		server:   grpc.NewServer(options...),
		health:   health.NewServer(),
		listener: listener,
		socket:   socket,
		stopping: make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	s := &state{plugin: p, version: version, hostSocket: hostSocket, host: &HostClient{}}
	s.stop = func(grace float64) { r.stop(time.Duration(grace * float64(time.Second))) }
	healthpb.RegisterHealthServer(r.server, r.health)
	pb.RegisterPluginServiceServer(r.server, &pluginService{s: s})
	if len(p.tools) > 0 {
		pb.RegisterToolServiceServer(r.server, &toolService{s: s})
	}
	if len(p.commands) > 0 {
		pb.RegisterCommandServiceServer(r.server, &commandService{s: s})
	}
	if len(p.hooks) > 0 {
		pb.RegisterHookServiceServer(r.server, &hookService{s: s})
	}
	for _, v := range p.providers {
		v.register(r.server)
	}
	registerGoPlugin(r.server, func() { r.stop(defaultGrace) }, r.stopping)
	r.health.SetServingStatus("plugin", healthpb.HealthCheckResponse_SERVING)
	go func() { _ = r.server.Serve(listener) }()
	return r, nil
}

// stop refuses new work, drains for grace, cancels the rest and removes
// the socket (PW-HEALTH-2, PW-SHUT-1, PW-SHUT-3).
func (r *running) stop(grace time.Duration) {
	r.once.Do(func() {
		close(r.stopping)
		r.health.SetServingStatus("plugin", healthpb.HealthCheckResponse_NOT_SERVING)
		go func() {
			done := make(chan struct{})
			go func() { r.server.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-time.After(grace):
				r.server.Stop()
			}
			_ = os.Remove(r.socket)
			close(r.stopped)
		}()
	})
}

// Serve runs p until the host stops it; it exits 1 with the reason on
// stderr when the plugin was not started by a host.
func (p *Plugin) Serve() {
	boot, err := readBootstrap(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", p.Name, err)
		os.Exit(1)
	}
	var mtls *autoMTLS
	if clientPEM := os.Getenv(envClientCert); clientPEM != "" {
		if mtls, err = newAutoMTLS(clientPEM); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", p.Name, err)
			os.Exit(1)
		}
		boot.serverCert = mtls.cert
	}
	boot.multiplex = os.Getenv(envMultiplexGRPC) != ""
	r, err := start(p, boot.socketPath, boot.version, boot.hostSocket, mtls)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", p.Name, err)
		os.Exit(1)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		<-signals
		r.stop(sigtermGrace)
	}()
	// PW-BOOT-2: one line, once serving.
	_, _ = os.Stdout.WriteString(boot.line())
	<-r.stopped
	os.Exit(0)
}
