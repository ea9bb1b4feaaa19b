package localcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/ingresse-operator/ingresse-operator/hack/imagebuild"
	"github.com/ingresse-operator/ingresse-operator/internal/testenv"
)

// buildPauseImage builds hack/localcluster/pause into the sandbox image, as a
// tarball at tar.
func buildPauseImage(ctx context.Context, tar string) error {
	bin := filepath.Join(filepath.Dir(tar), "pause")
	if err := goBuild(ctx, bin, "./localcluster/pause"); err != nil {
		return err
	}
	img, err := imagebuild.Build([]imagebuild.File{{Path: "/pause", Src: bin, Mode: 0o755}},
		imagebuild.Config{User: "65535:65535", Entrypoint: []string{"/pause"}})
	if err != nil {
		return fmt.Errorf("building the pause image: %w", err)
	}
	return imagebuild.WriteTarball(tar, pauseImage, img)
}

// goBuild builds a static binary of one of the tools module's packages
// (pkg relative to hack/).
func goBuild(ctx context.Context, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = filepath.Join(testenv.RepoRoot(), "hack")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", pkg, err, out)
	}
	return nil
}
