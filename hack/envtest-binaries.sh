#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver, kube-controller-manager,
# kubectl and etcd) from source through the Go module proxy and prints the
# directory that holds them, for KUBEBUILDER_ASSETS.
#
# Why from source: setup-envtest's download bucket is not reachable from our
# build machines, but the Go module proxy is. The binaries are cached outside
# the clone, keyed by version, so every fresh clone on the same machine reuses
# them (the first build takes about 5 minutes on 2 cores).
#
# Usage: hack/envtest-binaries.sh            # build if missing, print the dir
#        K8S_VERSION=1.37.2 ETCD_VERSION=3.6.16 hack/envtest-binaries.sh
set -euo pipefail
# shellcheck source=kube-tool-module.sh
source "$(dirname "$0")/kube-tool-module.sh"

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
CACHE_ROOT="${INGRESSE_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ingresse-operator/envtest}"
ASSETS="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
BINARIES=(kube-apiserver kube-controller-manager kubectl etcd)

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

complete() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$ASSETS/$b" ]] || return 1; done
}

if complete; then echo "$ASSETS"; exit 0; fi

mkdir -p "$CACHE_ROOT"
# Two clones building at once must not race on the same directory.
exec 9>"$CACHE_ROOT/.lock"
flock 9
if complete; then echo "$ASSETS"; exit 0; fi

log() { echo "envtest-binaries: $*" >&2; }
staging="$(mktemp -d "$CACHE_ROOT/.build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

# kube-apiserver and friends: a small tool module that requires
# k8s.io/kubernetes and pins every staging module (hack/kube-tool-module.sh).
kube_mod="$staging/kube"
log "resolving k8s.io/kubernetes v$K8S_VERSION ($(kube_tool_module "$kube_mod" "$K8S_VERSION"))"
(cd "$kube_mod" && go get -tool \
  "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" \
  "k8s.io/kubernetes/cmd/kube-controller-manager@v$K8S_VERSION" \
  "k8s.io/kubernetes/cmd/kubectl@v$K8S_VERSION" >&2)
log "building kube-apiserver, kube-controller-manager and kubectl (first time: several minutes)"
(cd "$kube_mod" && go build -trimpath -o "$staging/out/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kubectl >&2)

# etcd: its server module is itself a main package.
etcd_mod="$staging/etcd"
mkdir -p "$etcd_mod"
printf 'module ingresse-operator.local/envtest/etcd\n\ngo 1.26.0\n' >"$etcd_mod/go.mod"
log "building etcd v$ETCD_VERSION"
(cd "$etcd_mod" && go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2 &&
  go build -trimpath -o "$staging/out/etcd" go.etcd.io/etcd/server/v3)

mkdir -p "$ASSETS"
for b in "${BINARIES[@]}"; do mv "$staging/out/$b" "$ASSETS/$b"; done
log "ready in $ASSETS"
echo "$ASSETS"
