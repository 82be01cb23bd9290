package plugwire

import "testing"

func TestTheHostClientHandsOutTheApplicationServicesItWasOffered(t *testing.T) {
	host := dialHost("/nonexistent/host.sock", true, []string{"acme.session.v1.Sessions"})
	if got := host.Services(); len(got) != 1 || got[0] != "acme.session.v1.Sessions" {
		t.Fatalf("services: %v", got)
	}
	call := host.forCall("chain")
	if call.Conn() != host.Conn() || len(call.Services()) != 1 {
		t.Fatalf("a call's client must share the host channel and services")
	}
	if host.Conn() == nil {
		t.Fatal("no host channel")
	}
	if none := dialHost("", true, nil); none.Conn() != nil || len(none.Services()) != 0 {
		t.Fatal("without a host socket there is no channel")
	}
}
