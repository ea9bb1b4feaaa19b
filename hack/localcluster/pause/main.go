// Command pause is the test cluster's sandbox ("pause") process: it holds a
// pod's namespaces open and does nothing else until it is told to stop.
// The cluster builds it into its pause image, since no registry is
// reachable to pull Kubernetes' own.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	children := make(chan os.Signal, 1)
	signal.Notify(children, syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			return
		case <-children:
			// As PID 1 of a pod that shares its PID namespace, reap.
			for {
				pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}
