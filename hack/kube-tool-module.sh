#!/usr/bin/env bash
# Sourced by hack/envtest-binaries.sh and hack/localcluster/binaries.sh.
#
# kube_tool_module DIR K8S_VERSION writes, in DIR, a small Go module from
# which `go get -tool` and `go build` can build k8s.io/kubernetes's
# commands: k8s.io/kubernetes's own go.mod replaces its 33 staging modules
# (k8s.io/api, k8s.io/client-go, ...) with ./staging/... paths that exist
# only inside its repository, so this module pins each of them to the
# published v0.<minor>.<patch> instead.
kube_tool_module() {
  local dir="$1" version="$2" kmod staging_version
  mkdir -p "$dir"
  kmod="$(go mod download -json "k8s.io/kubernetes@v$version" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
  staging_version="v0.${version#1.}"
  {
    echo "module ingresse-operator.local/tools/kube"
    echo
    echo "go 1.26.0"
    echo
    echo "replace ("
    grep -E '=> \./staging/' "$kmod" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } >"$dir/go.mod"
  echo "$(grep -c '=> k8s.io' "$dir/go.mod") staging modules pinned to $staging_version"
}

# kube_version_ldflags K8S_VERSION prints the -ldflags that make a
# Kubernetes command report its real version instead of v0.0.0-master.
kube_version_ldflags() {
  local version="$1" minor
  minor="${version#1.}"
  minor="${minor%%.*}"
  local pkg=k8s.io/component-base/version
  echo "-X $pkg.gitVersion=v$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
}
