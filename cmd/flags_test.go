package main

import (
	"flag"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

func parse(t *testing.T, args ...string) (*config, error) {
	t.Helper()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return parseFlags(fs, args)
}

func TestFlagsDefaults(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "ingresse-system")
	c, err := parse(t, "--receiver-token-file=/etc/tokens")
	if err != nil {
		t.Fatal(err)
	}
	if c.namespace != "ingresse-system" || c.receiver.Namespace != "ingresse-system" || c.leaderElectionNamespace != "ingresse-system" {
		t.Errorf("namespace defaults: %q %q %q", c.namespace, c.receiver.Namespace, c.leaderElectionNamespace)
	}
	if !c.enableReceiver || !c.enableController || c.leaderElect {
		t.Errorf("component defaults: receiver=%v controller=%v leaderElect=%v", c.enableReceiver, c.enableController, c.leaderElect)
	}
	if c.receiver.BindAddress != ":8082" || c.metricsAddr != ":8443" || c.probeAddr != ":8081" {
		t.Errorf("addresses: %q %q %q", c.receiver.BindAddress, c.metricsAddr, c.probeAddr)
	}
	if !c.metricsSecure || c.enableHTTP2 || c.metricsCertDir != "" {
		t.Errorf("metrics must be secure by default, without HTTP/2: secure=%v http2=%v certs=%q", c.metricsSecure, c.enableHTTP2, c.metricsCertDir)
	}
	if c.receiver.EventsPerSecond != 5 {
		t.Errorf("Event budget %g/s, want 5", c.receiver.EventsPerSecond)
	}
	if c.receiver.MaxBodyBytes != 1<<20 {
		t.Errorf("body limit %d, want 1 MiB", c.receiver.MaxBodyBytes)
	}
	if want := c.receiver.ShutdownDelay + c.receiver.ShutdownTimeout + 5*time.Second; c.gracefulShutdownTimeout != want {
		t.Errorf("graceful shutdown %s, want %s", c.gracefulShutdownTimeout, want)
	}
	// controller-runtime's own defaults, so that leaving the flags out
	// changes nothing.
	if c.leaseDuration != 15*time.Second || c.renewDeadline != 10*time.Second || c.retryPeriod != 2*time.Second {
		t.Errorf("leader election timings %s/%s/%s, want 15s/10s/2s", c.leaseDuration, c.renewDeadline, c.retryPeriod)
	}
}

func TestLeaderElectionTimingsReachTheManager(t *testing.T) {
	c, err := parse(t, "--receiver-insecure-skip-auth", "--leader-elect",
		"--leader-election-lease-duration=4s", "--leader-election-renew-deadline=3s", "--leader-election-retry-period=500ms")
	if err != nil {
		t.Fatal(err)
	}
	o := managerOptions(c, nil)
	if !o.LeaderElection || o.LeaseDuration == nil || *o.LeaseDuration != 4*time.Second ||
		o.RenewDeadline == nil || *o.RenewDeadline != 3*time.Second || o.RetryPeriod == nil || *o.RetryPeriod != 500*time.Millisecond {
		t.Fatalf("manager options: leader election %v, lease %v, renew %v, retry %v", o.LeaderElection, o.LeaseDuration, o.RenewDeadline, o.RetryPeriod)
	}
}

func TestFlagsParsed(t *testing.T) {
	c, err := parse(t, "--namespace=events", "--leader-elect", "--enable-receiver=false",
		"--max-concurrent-reconciles=16", "--kube-api-qps=50", "--kube-api-burst=100",
		"--receiver-allowed-cidrs=10.0.0.0/8, 192.168.1.7", "--receiver-trusted-proxies=10.1.0.0/16",
		"--receiver-max-body-bytes=2048", "--receiver-shutdown-delay=0s")
	if err != nil {
		t.Fatal(err)
	}
	if c.namespace != "events" || !c.leaderElect || c.enableReceiver || c.maxConcurrentReconciles != 16 ||
		c.kubeAPIQPS != 50 || c.kubeAPIBurst != 100 || c.receiver.MaxBodyBytes != 2048 || c.receiver.ShutdownDelay != 0 {
		t.Errorf("parsed config: %+v", c)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}
	if len(c.receiver.AllowedCIDRs) != 2 || c.receiver.AllowedCIDRs[0] != want[0] || c.receiver.AllowedCIDRs[1] != want[1] {
		t.Errorf("allowed CIDRs %v, want %v", c.receiver.AllowedCIDRs, want)
	}
	if len(c.receiver.TrustedProxies) != 1 {
		t.Errorf("trusted proxies %v", c.receiver.TrustedProxies)
	}
}

func TestFlagsRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"receiver without any credential": {nil, "--receiver-token-file"},
		"nothing to run":                  {[]string{"--enable-receiver=false", "--enable-controller=false"}, "nothing to run"},
		"no reconcile workers":            {[]string{"--enable-receiver=false", "--max-concurrent-reconciles=0"}, "--max-concurrent-reconciles"},
		"bad CIDR":                        {[]string{"--receiver-insecure-skip-auth", "--receiver-allowed-cidrs=10.0.0.0/33"}, "not a CIDR"},
		"empty namespace":                 {[]string{"--receiver-insecure-skip-auth", "--namespace="}, "--namespace"},
		"lease not longer than renew":     {[]string{"--receiver-insecure-skip-auth", "--leader-election-lease-duration=10s"}, "--leader-election-lease-duration"},
		"renew within the retry jitter":   {[]string{"--receiver-insecure-skip-auth", "--leader-election-retry-period=9s"}, "--leader-election-retry-period"},
		"no retry period":                 {[]string{"--receiver-insecure-skip-auth", "--leader-election-retry-period=0"}, "--leader-election-retry-period"},
		"verify without credentials":      {[]string{"--receiver-insecure-skip-auth", "--receiver-verify-with-api"}, "--ingresse-api-credentials-file"},
		"sweep without a listing":         {[]string{"--receiver-insecure-skip-auth", "--ingresse-api-credentials-file=/c"}, "--ingresse-company-id"},
		"two listings":                    {[]string{"--receiver-insecure-skip-auth", "--ingresse-api-credentials-file=/c", "--ingresse-company-id=1", "--ingresse-producer-id=2"}, "both set"},
		"bad list query":                  {[]string{"--receiver-insecure-skip-auth", "--ingresse-api-list-query=a=%zz"}, "--ingresse-api-list-query"},
		"no page":                         {[]string{"--receiver-insecure-skip-auth", "--ingresse-api-page-size=0"}, "--ingresse-api-page-size"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parse(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	// Credentials without sweeps need no listing: verified mode alone.
	if _, err := parse(t, "--receiver-insecure-skip-auth", "--ingresse-api-credentials-file=/c", "--ingresse-resync-interval=0", "--receiver-verify-with-api"); err != nil {
		t.Errorf("verified mode without sweeps refused: %v", err)
	}
	// A signing secret alone is a credential too.
	if _, err := parse(t, "--receiver-signing-secret-file=/etc/secrets"); err != nil {
		t.Errorf("signing secret alone refused: %v", err)
	}
}

func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		name string
		gogc string
		args []string
		want int
	}{
		{"default", "", nil, defaultGCPercent},
		{"flag", "", []string{"--gc-percent=80"}, 80},
		{"runtime's own", "", []string{"--gc-percent=0"}, 0},
		{"GOGC wins over the default", "200", nil, 0},
		{"GOGC=off wins over the default", "off", nil, 0},
		{"a GOGC the runtime ignores does not", "lots", nil, defaultGCPercent},
		{"the flag wins over GOGC", "200", []string{"--gc-percent=30"}, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", tc.gogc)
			c, err := parse(t, append([]string{"--receiver-insecure-skip-auth"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if c.gcPercent != tc.want {
				t.Errorf("gc percent %d, want %d", c.gcPercent, tc.want)
			}
		})
	}
	if _, err := parse(t, "--receiver-insecure-skip-auth", "--gc-percent=-1"); err == nil || !strings.Contains(err.Error(), "--gc-percent") {
		t.Errorf("--gc-percent=-1: %v, want an error naming the flag", err)
	}
}

// TestIngresseOptionsAreWhatTheProcessDoes: Ingresse's API client is
// configured (and its credentials judged) for what this process does with
// it, not for every flag it was given: a listing only when it sweeps, the
// event read only when its receiver verifies.
func TestIngresseOptionsAreWhatTheProcessDoes(t *testing.T) {
	creds := "--ingresse-api-credentials-file=/c"
	for _, tc := range []struct {
		name                  string
		args                  []string
		company, producer     int64
		readEvents, sweepsToo bool
	}{
		{"the company sweep", []string{"--ingresse-company-id=7"}, 7, 0, false, true},
		{"the producer sweep", []string{"--ingresse-producer-id=8"}, 0, 8, false, true},
		{"sweeps off", []string{"--ingresse-company-id=7", "--ingresse-resync-interval=0"}, 0, 0, false, false},
		{"a receiver alone does not sweep", []string{"--ingresse-company-id=7", "--enable-controller=false"}, 0, 0, false, false},
		{"verified mode", []string{"--ingresse-resync-interval=0", "--receiver-verify-with-api"}, 0, 0, true, false},
		{"verified mode and the sweep", []string{"--ingresse-company-id=7", "--receiver-verify-with-api"}, 7, 0, true, true},
		{"verified mode on a controller alone", []string{"--ingresse-company-id=7", "--receiver-verify-with-api", "--enable-receiver=false"}, 7, 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(t, append([]string{"--receiver-insecure-skip-auth", creds}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			o := c.ingresseOptions()
			if o.CompanyID != tc.company || o.ProducerID != tc.producer || o.ReadEvents != tc.readEvents || c.runResync() != tc.sweepsToo {
				t.Errorf("company %d, producer %d, read events %v, sweeps %v; want %d, %d, %v, %v",
					o.CompanyID, o.ProducerID, o.ReadEvents, c.runResync(), tc.company, tc.producer, tc.readEvents, tc.sweepsToo)
			}
			if o.CredentialsFile != "/c" {
				t.Errorf("credentials file %q, want /c", o.CredentialsFile)
			}
		})
	}
}

// TestManagerClientIsControllerRuntimes: the manager's client, which the
// controller uses, is controller-runtime's own; only the event store asks
// for metadata-only answers, with a client of its own (eventclient).
func TestManagerClientIsControllerRuntimes(t *testing.T) {
	c, err := parse(t, "--receiver-insecure-skip-auth")
	if err != nil {
		t.Fatal(err)
	}
	if o := managerOptions(c, nil); o.NewClient != nil {
		t.Fatal("manager.Options.NewClient is set: the manager's whole client is swapped, not the event store's")
	}
}

// TestFlagTableIsTheBinarys: docs/operations.md lists every flag the binary
// registers, with its real default, and no flag it does not register.
func TestFlagTableIsTheBinarys(t *testing.T) {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	if _, err := parseFlags(fs, []string{"--receiver-insecure-skip-auth"}); err != nil {
		t.Fatal(err)
	}
	// controller-runtime registers --kubeconfig on the command line.
	fs.Var(flag.CommandLine.Lookup("kubeconfig").Value, "kubeconfig", "")
	// Defaults the binary computes at start; the zero it registers says
	// "computed", and the table says how.
	computed := map[string]bool{"graceful-shutdown-timeout": true}

	documented, err := testenv.DocumentedFlags()
	if err != nil {
		t.Fatal(err)
	}
	fs.VisitAll(func(f *flag.Flag) {
		def, ok := documented[f.Name]
		switch {
		case !ok:
			t.Errorf("--%s is not in docs/operations.md's flag table", f.Name)
		case f.DefValue != "" && !computed[f.Name] && !strings.Contains(def, "`"+f.DefValue+"`"):
			t.Errorf("--%s: the table says the default is %q, the binary %q", f.Name, def, f.DefValue)
		}
		delete(documented, f.Name)
	})
	for name := range documented {
		t.Errorf("the flag table documents --%s, which the binary does not have", name)
	}
}
