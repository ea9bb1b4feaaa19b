// Command image builds the operator's container image without a Docker
// engine: the static manager binary, built as the Dockerfile builds it, as
// the only layer on an empty base, run as the non-root user 65532 with the
// entrypoint /manager, written as a tarball for `ctr images import` or
// `docker load`. `make image` runs it; the Dockerfile stays the path for
// users with Docker (hack/imagebuild keeps the two from drifting apart).
//
//	go run ./hack/image --tag ingresse-operator:dev --out bin/image/ingresse-operator.tar
//
// With --digest-tag the tag gets the image's short digest appended
// (ingresse-operator:dev-0123456789ab), so that a new build changes the
// Deployment and rolls it out. It prints the reference it wrote.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ingresse-operator/ingresse-operator/hack/imagebuild"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

func main() {
	tag := flag.String("tag", "ingresse-operator:latest", "the image's reference")
	digestTag := flag.Bool("digest-tag", false, "append the image's short digest to the tag")
	out := flag.String("out", "bin/image/ingresse-operator.tar", "where to write the image tarball")
	flag.Parse()
	ref, err := imagebuild.WriteOperator(context.Background(), testenv.RepoRoot(), *tag, *out, *digestTag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	abs, _ := filepath.Abs(*out)
	fmt.Fprintf(os.Stderr, "wrote %s (%s)\n", abs, ref)
	fmt.Println(ref)
}
