{{/*
The name of one of the release's objects: namePrefix, a dash, the component.
  {{ include "ingresse.name" (list . "receiver") }}
*/}}
{{- define "ingresse.name" -}}
{{- printf "%s-%s" (index . 0).Values.namePrefix (index . 1) -}}
{{- end -}}

{{/*
The labels every object carries besides app.kubernetes.io/name and
app.kubernetes.io/component (which each template sets as config/ does):
kustomize's part-of, and Helm's own. Never used in selectors, so that the
selectors stay those of dist/install.yaml.
*/}}
{{- define "ingresse.labels" -}}
app.kubernetes.io/part-of: ingresse-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The labels that select a component's pods. */}}
{{- define "ingresse.selectorLabels" -}}
app.kubernetes.io/name: ingresse-operator
app.kubernetes.io/component: {{ . }}
{{- end -}}

{{- define "ingresse.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
A flag's value as the manager parses it. Numbers from values files arrive
as float64, which Go prints as 1.048576e+06: integral ones are printed as
integers.
*/}}
{{- define "ingresse.flagValue" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) -}}
{{- int64 . -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/*
The arguments both components take from the values, after their fixed ones:
logging, then the component's flags map, sorted by name.
  {{ include "ingresse.commonArgs" (list . .Values.receiver.flags) }}
*/}}
{{- define "ingresse.commonArgs" -}}
{{- $root := index . 0 -}}
{{- with $root.Values.logging.level }}
- --zap-log-level={{ . }}
{{- end }}
{{- with $root.Values.logging.encoder }}
- --zap-encoder={{ . }}
{{- end }}
{{- with $root.Values.logging.stacktraceLevel }}
- --zap-stacktrace-level={{ . }}
{{- end }}
{{- with $root.Values.logging.timeEncoding }}
- --zap-time-encoding={{ . }}
{{- end }}
{{- with $root.Values.metrics.certSecret }}
- --metrics-cert-path=/etc/metrics-cert
{{- end }}
{{- range $name, $value := index . 1 }}
- {{ printf "--%s=%s" $name (include "ingresse.flagValue" $value) | quote }}
{{- end }}
{{- end -}}

{{/* Pod settings both components take the same way. */}}
{{- define "ingresse.podScheduling" -}}
{{- with .imagePullSecrets }}
imagePullSecrets:
{{- range . }}
- name: {{ . }}
{{- end }}
{{- end }}
{{- with .component.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .component.nodeSelector }}
nodeSelector:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.affinity }}
affinity:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.tolerations }}
tolerations:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
Whether a monitoring object is on: true, false, or "auto" for "where the
cluster serves the Prometheus Operator's API".
  {{ if eq (include "ingresse.monitoringOn" (list . .Values.monitoring.serviceMonitor.enabled)) "true" }}
*/}}
{{- define "ingresse.monitoringOn" -}}
{{- $root := index . 0 -}}
{{- $enabled := index . 1 -}}
{{- if eq (toString $enabled) "auto" -}}
{{- $root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1" -}}
{{- else -}}
{{- $enabled -}}
{{- end -}}
{{- end -}}

{{/* The name of the Secret the receiver reads its tokens from. */}}
{{- define "ingresse.tokenSecret" -}}
{{- if .Values.receiver.token.create -}}
{{- include "ingresse.name" (list . "receiver-token") -}}
{{- else -}}
{{- .Values.receiver.token.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* The container's security context, and the pod's: restricted. */}}
{{- define "ingresse.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
  - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}
