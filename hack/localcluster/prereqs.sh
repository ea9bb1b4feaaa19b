#!/usr/bin/env bash
# Installs the Debian packages the test cluster needs, when any is
# missing: runc, the CNI plugins (bridge, host-local), iptables (kube-proxy
# and the kubelet use it; Debian's is the nf_tables backend), nftables
# (its Down reads and restores the ruleset with nft) and
# conntrack (kube-proxy clears stale entries with it). Everything else the
# cluster runs is built from the Go module proxy (hack/localcluster/binaries.sh).
set -euo pipefail

missing=()
command -v runc >/dev/null || missing+=(runc)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || missing+=(containernetworking-plugins)
command -v iptables >/dev/null || missing+=(iptables)
command -v nft >/dev/null || missing+=(nftables)
command -v conntrack >/dev/null || missing+=(conntrack)
command -v ip >/dev/null || missing+=(iproute2)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "cluster-prereqs: missing Debian packages: ${missing[*]}; install them as root (the cluster needs root anyway)" >&2
  exit 1
fi
echo "cluster-prereqs: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
