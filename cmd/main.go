// Command manager runs ingresse-operator: the webhook receiver that turns
// Ingresse's event webhooks into IngresseEvents, and the controller that
// reconciles each IngresseEvent into a ConfigMap and status conditions.
// Both run by default; --enable-receiver and --enable-controller split them
// into separate Deployments.
//
// `manager send` posts a webhook to a receiver, for testing (see send.go).
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	eventsv1alpha1 "github.com/ingresse-operator/ingresse-operator/api/v1alpha1"
	"github.com/ingresse-operator/ingresse-operator/controllers"
	"github.com/ingresse-operator/ingresse-operator/internal/eventcache"
	"github.com/ingresse-operator/ingresse-operator/internal/eventclient"
	"github.com/ingresse-operator/ingresse-operator/internal/eventstore"
	"github.com/ingresse-operator/ingresse-operator/internal/ingresseapi"
	"github.com/ingresse-operator/ingresse-operator/internal/resync"
	"github.com/ingresse-operator/ingresse-operator/internal/retention"
	"github.com/ingresse-operator/ingresse-operator/webhookreceiver"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(eventsv1alpha1.AddToScheme(scheme))
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "send" {
		os.Exit(runSend(os.Args[2:], os.Stdout, os.Stderr))
	}
	cfg, err := parseFlags(flag.CommandLine, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&cfg.zap)))
	if cfg.gcPercent > 0 {
		debug.SetGCPercent(cfg.gcPercent)
	}
	if err := run(ctrl.SetupSignalHandler(), cfg); err != nil {
		ctrl.Log.Error(err, "manager stopped with an error")
		os.Exit(1)
	}
}

// run starts the manager with the configured components and blocks until
// ctx is done and everything has shut down.
func run(ctx context.Context, cfg *config) error {
	log := ctrl.Log.WithName("setup")
	// First: credentials that cannot serve what is configured end the
	// start before anything else is set up.
	var ingresse *ingresseapi.Client
	if cfg.useIngresseAPI() {
		var err error
		if ingresse, err = ingresseapi.New(cfg.ingresseOptions(), ctrlmetrics.Registry, ctrl.Log.WithName("ingresse-api")); err != nil {
			return fmt.Errorf("setting up Ingresse's API client: %w", err)
		}
		if cfg.verifyWithAPI {
			cfg.receiver.VerifyWith = ingresse
		}
	}

	restConfig, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading the kubeconfig: %w", err)
	}
	restConfig.QPS = float32(cfg.kubeAPIQPS)
	restConfig.Burst = cfg.kubeAPIBurst
	restConfig.UserAgent = rest.DefaultKubernetesUserAgent() + " ingresse-operator"

	var watched *eventcache.Watched
	if cfg.enableController {
		watched = eventcache.NewWatched(cfg.watchedMaxEvents, cfg.watchedMaxBytes)
	}
	mgr, err := ctrl.NewManager(restConfig, managerOptions(cfg, watched))
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("adding the liveness check: %w", err)
	}

	// The event store's own client: its creates and updates of
	// IngresseEvents are answered with metadata only.
	events, err := eventclient.New(mgr.GetConfig(), client.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient(),
	})
	if err != nil {
		return fmt.Errorf("creating the event store's client: %w", err)
	}

	readyz := healthz.Ping
	if cfg.enableReceiver {
		receiver, err := webhookreceiver.New(cfg.receiver, events, mgr.GetAPIReader(),
			mgr.GetEventRecorder(eventstore.FieldOwner), ctrlmetrics.Registry, ctrl.Log.WithName("receiver"))
		if err != nil {
			return fmt.Errorf("setting up the webhook receiver: %w", err)
		}
		if err := mgr.Add(receiver); err != nil {
			return fmt.Errorf("adding the webhook receiver: %w", err)
		}
		readyz = receiver.ReadyzCheck
	}

	if cfg.enableController {
		reconciler := &controllers.IngresseEventReconciler{
			Client:   mgr.GetClient(),
			Scheme:   mgr.GetScheme(),
			Recorder: mgr.GetEventRecorder(controllers.FieldOwner),
			Watched:  watched,
		}
		opts := controllers.Options{MaxConcurrentReconciles: cfg.maxConcurrentReconciles, CacheSyncTimeout: cfg.cacheSyncTimeout}
		if err := reconciler.SetupWithManager(mgr, opts); err != nil {
			return fmt.Errorf("setting up the controller: %w", err)
		}
		if err := ctrlmetrics.Registry.Register(controllers.NewEventsCollector(mgr.GetCache())); err != nil {
			return fmt.Errorf("registering the events metric: %w", err)
		}
	}

	if cfg.retention.After > 0 {
		cfg.retention.Namespace = cfg.namespace
		reaper, err := retention.New(cfg.retention, mgr.GetClient(), mgr.GetAPIReader(), mgr.GetEventRecorder(retention.FieldOwner),
			ctrlmetrics.Registry, ctrl.Log.WithName("retention"))
		if err != nil {
			return fmt.Errorf("setting up retention: %w", err)
		}
		if err := mgr.Add(reaper); err != nil {
			return fmt.Errorf("adding retention: %w", err)
		}
	}

	if cfg.runResync() {
		if err := addSweeper(mgr, cfg, ingresse, events); err != nil {
			return err
		}
	}

	if err := mgr.AddReadyzCheck("ready", readyz); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}

	log.Info("starting manager", "namespace", cfg.namespace, "receiver", cfg.enableReceiver, "metricsSecure", cfg.metricsSecure,
		"controller", cfg.enableController, "leaderElection", cfg.leaderElect, "gcPercent", cfg.gcPercent,
		"ingresseAPI", cfg.useIngresseAPI(), "resync", cfg.runResync(), "verifyWithAPI", cfg.verifyWithAPI,
		"retentionAfter", cfg.retention.After.String(), "retentionDryRun", cfg.retention.DryRun)
	return mgr.Start(ctx)
}

// addSweeper adds the resync sweep of Ingresse's listing, which the leader
// runs. It stores events with the receiver's Writer, so that a sweep and a
// delivery order versions the same way.
func addSweeper(mgr manager.Manager, cfg *config, lister resync.Lister, events eventstore.EventWriter) error {
	scopeLabel, scopeValue := eventsv1alpha1.LabelCompanyID, strconv.FormatInt(cfg.ingresse.CompanyID, 10)
	if cfg.ingresse.ProducerID > 0 {
		scopeLabel, scopeValue = eventsv1alpha1.LabelProducerID, strconv.FormatInt(cfg.ingresse.ProducerID, 10)
	}
	writer := eventstore.NewWriter(events, mgr.GetAPIReader(), mgr.GetEventRecorder(resync.FieldOwner),
		eventstore.WriterOptions{
			Namespace: cfg.namespace, EventsPerSecond: cfg.receiver.EventsPerSecond, MaxClockSkew: cfg.receiver.MaxClockSkew,
		}).ReadLiveFirst()
	sweeper, err := resync.New(resync.Options{
		Namespace: cfg.namespace, Interval: cfg.resyncInterval, ScopeLabel: scopeLabel, ScopeValue: scopeValue,
	}, lister, writer, mgr.GetClient(), ctrlmetrics.Registry, ctrl.Log.WithName("resync"))
	if err != nil {
		return fmt.Errorf("setting up the resync sweep: %w", err)
	}
	if err := mgr.Add(sweeper); err != nil {
		return fmt.Errorf("adding the resync sweep: %w", err)
	}
	return nil
}

// metricsOptions serves metrics as the kubebuilder v4 scaffold does: over
// HTTPS, to clients the API server authenticates and authorizes, unless
// --metrics-secure=false.
func metricsOptions(cfg *config) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: cfg.metricsAddr}
	if !cfg.metricsSecure {
		return opts
	}
	opts.SecureServing = true
	opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	opts.CertDir = cfg.metricsCertDir
	if !cfg.enableHTTP2 {
		opts.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	}
	return opts
}

// managerOptions turns the flags into controller-runtime manager options.
// watched, when not nil, keeps the events not reconciled yet whole for the
// controller (see eventcache.Watched).
func managerOptions(cfg *config, watched *eventcache.Watched) manager.Options {
	// IngresseEvents are cached without their spec (the controller
	// reconciles a new spec from the object its watch decoded, kept in
	// watched until then, and reads it from the API server otherwise) and with a summary of their
	// status, so that a cached event costs about a tenth of its decoded
	// size. The receiver keeps no cache: a process running only the
	// receiver starts no informer at all.
	transform := eventcache.Transform
	if watched != nil {
		transform = watched.Transform
	}
	byObject := map[client.Object]cache.ByObject{
		&eventsv1alpha1.IngresseEvent{}: {Transform: transform},
	}
	if cfg.enableController {
		// ConfigMaps are cached without their data (only a hash of it), so
		// that 10k derived ConfigMaps cost little memory.
		byObject[&corev1.ConfigMap{}] = cache.ByObject{Transform: controllers.ConfigMapCacheTransform}
	}
	return manager.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOptions(cfg),
		HealthProbeBindAddress:        cfg.probeAddr,
		PprofBindAddress:              cfg.pprofAddr,
		LeaderElection:                cfg.leaderElect,
		LeaderElectionID:              cfg.leaderElectionID,
		LeaderElectionNamespace:       cfg.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &cfg.leaseDuration,
		RenewDeadline:                 &cfg.renewDeadline,
		RetryPeriod:                   &cfg.retryPeriod,
		GracefulShutdownTimeout:       &cfg.gracefulShutdownTimeout,
		Cache: cache.Options{
			// Everything the operator reads lives in one namespace, so it
			// needs a Role there, not cluster-wide rights.
			DefaultNamespaces: map[string]cache.Config{cfg.namespace: {}},
			DefaultTransform:  cache.TransformStripManagedFields(),
			ByObject:          byObject,
		},
	}
}
