package plugwire

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

func TestAKnockIsReadAndRefusedInGoPluginsWireForm(t *testing.T) {
	var knock []byte
	knock = protowire.AppendTag(knock, 1, protowire.VarintType)
	knock = protowire.AppendVarint(knock, 1)
	var msg []byte
	msg = protowire.AppendTag(msg, 1, protowire.VarintType)
	msg = protowire.AppendVarint(msg, 7)
	msg = protowire.AppendTag(msg, 2, protowire.BytesType)
	msg = protowire.AppendString(msg, "unix")
	msg = protowire.AppendTag(msg, 4, protowire.BytesType)
	msg = protowire.AppendBytes(msg, knock)
	if id, ok := knockOf(msg); !ok || id != 7 {
		t.Fatalf("knockOf = %d, %v; expected a knock on service 7", id, ok)
	}
	if _, ok := knockOf(msg[:len(msg)-3]); ok {
		t.Error("a truncated message was read as a knock")
	}
	announcement := msg[:len(msg)-len(knock)-2]
	if _, ok := knockOf(announcement); ok {
		t.Error("an announcement without a knock was read as one")
	}
	refusal := knockRefusal(7)
	if id, ok := knockOf(refusal); !ok || id != 7 {
		t.Errorf("the refusal does not name service 7 as a knock: %d, %v", id, ok)
	}
	if !strings.Contains(string(refusal), "HostService") {
		t.Error("the refusal does not say where the host is reached")
	}
}

func TestAutoMTLSRefusesWhatIsNotACertificate(t *testing.T) {
	if _, err := newAutoMTLS("hello"); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("not PEM: %v", err)
	}
	if _, err := newAutoMTLS(strings.Repeat("A", maxClientCertSize+1)); err == nil || !strings.Contains(err.Error(), "16384-byte limit") {
		t.Errorf("oversized: %v", err)
	}
}

func TestAutoMTLSAnswersWithACertificateForLocalhostAndPinsTheClient(t *testing.T) {
	clientPEM := testClientPEM(t)
	client, err := newAutoMTLS(clientPEM)
	if err != nil {
		t.Fatal(err)
	}
	der, err := base64.RawStdEncoding.DecodeString(client.cert)
	if err != nil {
		t.Fatalf("the sixth field is not unpadded base64: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil || cert.VerifyHostname("localhost") != nil {
		t.Fatalf("the plugin's certificate does not name localhost: %v", err)
	}
	pinned, _ := pem.Decode([]byte(clientPEM))
	if err := client.config.VerifyPeerCertificate([][]byte{pinned.Bytes}, nil); err != nil {
		t.Errorf("the pinned certificate was refused: %v", err)
	}
	other, _ := newAutoMTLS(testClientPEM(t))
	otherDER, _ := base64.RawStdEncoding.DecodeString(other.cert)
	if err := client.config.VerifyPeerCertificate([][]byte{otherDER}, nil); err == nil {
		t.Error("a certificate other than the pinned one was admitted")
	}
}

func TestTheBootstrapLineCarriesTheCertificateAndTheMultiplexChoice(t *testing.T) {
	b := bootstrap{version: 1, socketPath: "/tmp/p.sock", serverCert: "QUJD", multiplex: true}
	if got := b.line(); got != "1|1|unix|/tmp/p.sock|grpc|QUJD|false\n" {
		t.Errorf("line = %q", got)
	}
}

// testClientPEM is a certificate as a go-plugin client makes one:
// self-signed, a CA, ECDSA P-521.
func testClientPEM(t *testing.T) string {
	t.Helper()
	return pemOf(t, selfSignedDER(t))
}

func selfSignedDER(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"localhost"}, IsCA: true, BasicConstraintsValid: true, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemOf(t *testing.T, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
