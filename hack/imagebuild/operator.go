package imagebuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The operator image's runtime settings and the go build flags of its
// binary: the same as the Dockerfile's (TestOperatorImageMatchesDockerfile),
// so that `make image` and `docker build` give images that run alike.
const (
	OperatorUser       = "65532:65532"
	OperatorEntrypoint = "/manager"
	OperatorWorkdir    = "/"
)

// managerBuildFlags build the static manager binary (with CGO_ENABLED=0).
var managerBuildFlags = []string{"-trimpath", "-ldflags=-s -w"}

// BuildManager builds the manager binary of the repository at root into
// out, as the Dockerfile does: linux, CGO off, managerBuildFlags.
func BuildManager(ctx context.Context, root, out string) error {
	args := append(append([]string{"build"}, managerBuildFlags...), "-o", out, "./cmd")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the manager: %w: %s", err, b)
	}
	return nil
}

// Operator is the operator's image around the manager binary: /manager
// alone on an empty base, run by the non-root user 65532.
func Operator(binary string) (v1.Image, error) {
	return Build(
		[]File{{Path: OperatorEntrypoint, Src: binary, Mode: 0o755}},
		Config{User: OperatorUser, Entrypoint: []string{OperatorEntrypoint}, WorkingDir: OperatorWorkdir},
	)
}

// WriteOperator builds the manager of the repository at root and its image,
// writes the image to out (the binary next to it) tagged tag, plus its
// short digest when digestTag, and returns the reference written.
func WriteOperator(ctx context.Context, root, tag, out string, digestTag bool) (string, error) {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	binary := filepath.Join(filepath.Dir(out), "manager")
	if err := BuildManager(ctx, root, binary); err != nil {
		return "", err
	}
	img, err := Operator(binary)
	if err != nil {
		return "", err
	}
	if digestTag {
		short, err := ShortDigest(img)
		if err != nil {
			return "", err
		}
		tag += "-" + short
	}
	if err := WriteTarball(out, tag, img); err != nil {
		return "", err
	}
	return tag, nil
}
