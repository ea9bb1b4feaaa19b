// Command cluster starts and stops the real single-node Kubernetes cluster
// of hack/localcluster on this machine (root only):
//
//	cluster up            start it (a running one is left alone) and say how to reach it
//	cluster down          stop it, undo every change to the host, and check the host is as it was
//	cluster load TAR...   import image tarballs into the node's containerd
//	cluster kubeconfig    print the administrator's kubeconfig path
//	cluster status        say whether it is up (exit 1 when it is not)
//	cluster changes       list what the running cluster changed on the host
//
// `make cluster-up`, `make cluster-down` and `make deploy-local` run it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ingresse-operator/ingresse-operator/hack/localcluster"
)

const usage = `usage: cluster up|down|load TAR...|kubeconfig|status|changes`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "up":
		if err = localcluster.Up(ctx, os.Stdout); err == nil {
			bin, _ := localcluster.BinariesDir()
			fmt.Printf(`
  export KUBECONFIG=%s
  %s/kubectl get nodes

Load an image: go run ./hack/cluster load IMAGE.tar   Stop: make cluster-down
`, localcluster.Kubeconfig(), bin)
		}
	case "down":
		err = localcluster.Down(os.Stdout)
	case "load":
		if len(os.Args) < 3 {
			err = errors.New("usage: cluster load IMAGE.tar [IMAGE.tar]")
		} else {
			err = localcluster.Load(ctx, os.Stdout, os.Args[2:]...)
		}
	case "kubeconfig":
		if !localcluster.IsUp() {
			err = errors.New("the cluster is not up: run `make cluster-up`")
		} else {
			fmt.Println(localcluster.Kubeconfig())
		}
	case "status":
		if !localcluster.IsUp() {
			fmt.Println("down")
			os.Exit(1)
		}
		fmt.Println("up; KUBECONFIG=" + localcluster.Kubeconfig())
	case "changes":
		var diff []string
		if diff, err = localcluster.Changes(); err == nil {
			for _, d := range diff {
				fmt.Println(d)
			}
		}
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}
