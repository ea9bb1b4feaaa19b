#!/usr/bin/env bash
# `make helm-chart`: refresh the parts of the Helm chart in dist/chart that
# come from config/, so that they are never edited by hand there:
#
#   crds/                      the CRD, as controller-gen writes it (Helm installs
#                              crds/ as is, never templated)
#   files/*_role.yaml          the Roles controller-gen writes from the RBAC
#                              markers; the chart's Role templates take their rules
#   files/prometheus_rule.yaml the alerts of config/prometheus (read with
#                              .Files.Get, so their {{ $value }} stays Prometheus's)
#   files/ingresse-operator.json  the Grafana dashboard
#   Chart.yaml appVersion      the image tag config/manager installs
#
# The templates themselves are written by hand; config/helm_test.go proves
# that with default values they render what config/default does, object for
# object. `make verify-generated` runs this and fails if the result differs
# from what is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

chart=dist/chart
rm -rf "$chart/crds" "$chart/files"
mkdir -p "$chart/crds" "$chart/files"
cp config/crd/bases/*.yaml "$chart/crds/"
cp config/rbac/controller_role.yaml config/rbac/receiver_role.yaml \
  config/components/ingresse-api/resync_role.yaml \
  config/components/retention/retention_role.yaml \
  config/prometheus/prometheus_rule.yaml \
  config/prometheus/dashboard/ingresse-operator.json \
  "$chart/files/"

tag="$(sed -n 's/^ *newTag: *//p' config/manager/kustomization.yaml)"
if [ -z "$tag" ]; then
  echo "no newTag in config/manager/kustomization.yaml" >&2
  exit 1
fi
sed -i -E "s/^appVersion: .*/appVersion: \"$tag\"/" "$chart/Chart.yaml"
echo "refreshed $chart (crds/, files/, appVersion $tag)"
