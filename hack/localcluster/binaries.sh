#!/usr/bin/env bash
# Builds what the single-node test cluster (hack/localcluster) runs, beyond the
# envtest control plane, and prints the directory that holds it all:
#   - kubelet, kube-scheduler and kube-proxy, from k8s.io/kubernetes through
#     the Go module proxy (the same tool module as hack/envtest-binaries.sh);
#   - containerd, ctr and containerd-shim-runc-v2 from the Go module proxy
#     (Kubernetes 1.36+ needs containerd 2.x; Debian's is 1.6);
#   - links to kube-apiserver, kube-controller-manager, kubectl and etcd in
#     the envtest cache, which hack/envtest-binaries.sh builds.
# runc, the CNI plugins, iptables, nft and conntrack come from Debian
# packages, installed with apt-get when missing (hack/localcluster/prereqs.sh).
#
# The binaries are cached outside the clone, keyed by version, so every
# clone on the machine reuses them: about 4 minutes the first time (with the
# Go build cache warm from the envtest build), nothing after that.
#
# Usage: hack/localcluster/binaries.sh        # build if missing, print the dir
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../kube-tool-module.sh
source "$here/../kube-tool-module.sh"

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
CONTAINERD_VERSION="${CONTAINERD_VERSION:-2.4.2}"
CACHE_ROOT="${INGRESSE_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ingresse-operator/cluster}"
DIR="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-containerd-$CONTAINERD_VERSION"
BUILT=(kubelet kube-scheduler kube-proxy containerd ctr containerd-shim-runc-v2)
LINKED=(kube-apiserver kube-controller-manager kubectl etcd)

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

complete() {
  local b
  for b in "${BUILT[@]}" "${LINKED[@]}"; do [[ -x "$DIR/$b" ]] || return 1; done
}

if complete; then echo "$DIR"; exit 0; fi

log() { echo "cluster-binaries: $*" >&2; }
assets="$(K8S_VERSION="$K8S_VERSION" ETCD_VERSION="$ETCD_VERSION" "$here/../envtest-binaries.sh")"

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
flock 9
if complete; then echo "$DIR"; exit 0; fi

staging="$(mktemp -d "$CACHE_ROOT/.build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/out"

if ! [[ -x "$DIR/kubelet" && -x "$DIR/kube-scheduler" && -x "$DIR/kube-proxy" ]]; then
  log "resolving k8s.io/kubernetes v$K8S_VERSION ($(kube_tool_module "$staging/kube" "$K8S_VERSION"))"
  (cd "$staging/kube" && go get -tool \
    "k8s.io/kubernetes/cmd/kubelet@v$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-scheduler@v$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-proxy@v$K8S_VERSION" >&2)
  log "building kubelet, kube-scheduler and kube-proxy v$K8S_VERSION"
  (cd "$staging/kube" && go build -trimpath -ldflags "$(kube_version_ldflags "$K8S_VERSION")" -o "$staging/out/" \
    k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kube-proxy >&2)
fi

if ! [[ -x "$DIR/containerd" && -x "$DIR/ctr" && -x "$DIR/containerd-shim-runc-v2" ]]; then
  mkdir -p "$staging/containerd"
  printf 'module ingresse-operator.local/tools/containerd\n\ngo 1.26.0\n' >"$staging/containerd/go.mod"
  pkg=github.com/containerd/containerd/v2
  log "building containerd, ctr and containerd-shim-runc-v2 v$CONTAINERD_VERSION"
  (cd "$staging/containerd" && go get -tool \
    "$pkg/cmd/containerd@v$CONTAINERD_VERSION" \
    "$pkg/cmd/ctr@v$CONTAINERD_VERSION" \
    "$pkg/cmd/containerd-shim-runc-v2@v$CONTAINERD_VERSION" >&2 &&
    go build -trimpath -tags "no_btrfs no_devmapper no_zfs no_aufs urfave_cli_no_docs" \
      -ldflags "-X $pkg/version.Version=v$CONTAINERD_VERSION" -o "$staging/out/" \
      "$pkg/cmd/containerd" "$pkg/cmd/ctr" >&2 &&
    go build -trimpath -tags "no_grpc urfave_cli_no_docs" \
      -ldflags "-X $pkg/version.Version=v$CONTAINERD_VERSION" -o "$staging/out/" \
      "$pkg/cmd/containerd-shim-runc-v2" >&2)
fi

mkdir -p "$DIR"
for b in "${BUILT[@]}"; do
  if [[ -x "$staging/out/$b" ]]; then mv "$staging/out/$b" "$DIR/$b"; fi
done
for b in "${LINKED[@]}"; do ln -sfn "$assets/$b" "$DIR/$b"; done
log "ready in $DIR"
echo "$DIR"
