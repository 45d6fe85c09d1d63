// pause — the sandbox ("pause") container of every pod in the local test cluster.
// It holds the pod's namespaces open: it waits for SIGTERM/SIGINT and exits 0, and reaps any
// child that gets reparented to it (it is PID 1 of the pod's PID namespace when that is shared).
// Built static by images.sh; the harness has no registry to pull registry.k8s.io/pause from.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s == syscall.SIGCHLD {
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}
