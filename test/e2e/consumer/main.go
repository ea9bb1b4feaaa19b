// Command consumer is the e2e suite's consumer workload: a pod that uses
// an IngresseEvent the way a team's workload would. Its init container
// runs `consumer wait`, which waits with kubectl until the event exists and
// is Ready; its main container runs `consumer watch`, which prints the
// event's title from the environment (the ConfigMap under envFrom) and
// then from the mounted ConfigMap file each time the kubelet updates it.
// The suite reads what it printed from the pod's log.
//
//	consumer wait NAMESPACE NAME   kubectl wait --for=create, then --for=condition=Ready
//	consumer watch FILE            print "env EVENT_TITLE=..." and "file EVENT_TITLE=..." on each change
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: consumer wait NAMESPACE NAME | consumer watch FILE")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "wait":
		if len(os.Args) != 4 {
			os.Exit(2)
		}
		ref := "ingresseevent/" + os.Args[3]
		for _, cond := range []string{"create", "condition=Ready"} {
			cmd := exec.Command("/kubectl", "wait", "-n", os.Args[2], "--for="+cond, ref, "--timeout=10m")
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "kubectl wait --for=%s %s: %v\n", cond, ref, err)
				os.Exit(1)
			}
		}
	case "watch":
		fmt.Printf("env EVENT_TITLE=%s\n", os.Getenv("EVENT_TITLE"))
		var last []byte
		for {
			b, err := os.ReadFile(os.Args[2])
			if err == nil && !bytes.Equal(b, last) {
				fmt.Printf("file EVENT_TITLE=%s\n", b)
				last = b
			}
			time.Sleep(200 * time.Millisecond)
		}
	default:
		os.Exit(2)
	}
}
