package main

// The protocol's process side (docs/protocol.md sections 2, 3 and 9) for
// grpc-go: check the cookie, choose the version, bind the socket, print the
// bootstrap line, serve health, and shut down on Shutdown or SIGTERM with
// the socket removed.

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

const (
	cookieKey      = "PLUGWIRE_PLUGIN"
	cookieValue    = "5d3c1f0e-plugwire"
	maxMessage     = 16 << 20
	sigtermGrace   = 2 * time.Second
	healthService  = "plugin"
	socketFileName = "plugin.sock"
)

var supportedVersions = []int{1}

// fail explains on stderr, prints nothing on stdout and exits 1
// (PW-BOOT-1, PW-BOOT-3).
func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "echo-go: "+format+"\n", args...)
	os.Exit(1)
}

// chooseVersion returns the highest offered version this plugin speaks.
func chooseVersion() int {
	if os.Getenv(cookieKey) != cookieValue {
		fail("this is a plugwire plugin; it is started by a plugwire host, not by hand (the %s cookie is missing)", cookieKey)
	}
	raw := os.Getenv("PLUGIN_PROTOCOL_VERSIONS")
	best := 0
	for _, field := range strings.Split(raw, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		v, err := strconv.Atoi(field)
		if err != nil || v <= 0 {
			best = 0
			break
		}
		for _, s := range supportedVersions {
			if v == s && v > best {
				best = v
			}
		}
	}
	if best == 0 {
		fail("no common protocol version: the host offered %q, this plugin speaks %v", raw, supportedVersions)
	}
	return best
}

// lifecycle stops the server once, by Shutdown or by signal.
type lifecycle struct {
	server *grpc.Server
	health *health.Server
	socket string
	once   sync.Once
}

// stop refuses new work, drains for grace, cancels the rest, removes the
// socket and exits 0 (PW-HEALTH-2, PW-SHUT-1, PW-SHUT-3).
func (l *lifecycle) stop(grace time.Duration) {
	l.once.Do(func() {
		go func() {
			l.health.SetServingStatus(healthService, healthpb.HealthCheckResponse_NOT_SERVING)
			drained := make(chan struct{})
			go func() {
				l.server.GracefulStop()
				close(drained)
			}()
			select {
			case <-drained:
			case <-time.After(grace):
				l.server.Stop()
			}
			_ = os.Remove(l.socket)
			os.Exit(0)
		}()
	})
}

// serve runs a plugin whose services register makes.
func serve(register func(server *grpc.Server, l *lifecycle, version int)) {
	version := chooseVersion()
	dir := os.Getenv("PLUGIN_UNIX_SOCKET_DIR")
	if info, err := os.Stat(dir); !filepath.IsAbs(dir) || err != nil || !info.IsDir() {
		fail("PLUGIN_UNIX_SOCKET_DIR must name an existing absolute directory")
	}
	socket := filepath.Join(dir, socketFileName)
	listener, err := net.Listen("unix", socket)
	if err != nil {
		fail("cannot bind %s: %v", socket, err)
	}
	server := grpc.NewServer(grpc.MaxRecvMsgSize(maxMessage), grpc.MaxSendMsgSize(maxMessage))
	healthServer := health.NewServer()
	healthpb.RegisterHealthServer(server, healthServer)
	l := &lifecycle{server: server, health: healthServer, socket: socket}
	register(server, l, version)
	healthServer.SetServingStatus(healthService, healthpb.HealthCheckResponse_SERVING)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		l.stop(sigtermGrace)
	}()

	go func() {
		if err := server.Serve(listener); err != nil {
			fail("serving: %v", err)
		}
	}()
	// PW-BOOT-2: one line, once serving (stdout is unbuffered in Go).
	fmt.Printf("1|%d|unix|%s|grpc|\n", version, socket)
	select {}
}
