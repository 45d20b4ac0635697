{{/*
Names. The chart name, and the release-qualified base name every object name starts with.
*/}}
{{- define "omendb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "omendb.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "omendb.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The image tag: image.tag, else the chart's appVersion. */}}
{{- define "omendb.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString }}
{{- end }}

{{/* The one image: operator, control plane and tenant servers. */}}
{{- define "omendb.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "omendb.imageTag" .) }}
{{- end }}

{{/*
Standard labels. Call with (dict "ctx" $ "component" "operator").
*/}}
{{- define "omendb.labels" -}}
helm.sh/chart: {{ include "omendb.chart" .ctx }}
{{ include "omendb.selectorLabels" . }}
app.kubernetes.io/version: {{ include "omendb.imageTag" .ctx | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: omendb
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{/* Selector labels (immutable on Deployments and StatefulSets: never add to these). */}}
{{- define "omendb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "omendb.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Object names per component. */}}
{{- define "omendb.operator.fullname" -}}
{{- printf "%s-operator" (include "omendb.fullname" .) }}
{{- end }}

{{- define "omendb.controlPlane.fullname" -}}
{{- printf "%s-control-plane" (include "omendb.fullname" .) }}
{{- end }}

{{- define "omendb.postgresql.fullname" -}}
{{- printf "%s-postgresql" (include "omendb.fullname" .) }}
{{- end }}

{{/*
Cluster-scoped names carry the release namespace: two releases of the same name in two namespaces must not
share (and overwrite) one ClusterRole.
*/}}
{{- define "omendb.operator.clusterName" -}}
{{- printf "%s-%s-operator" .Release.Namespace (include "omendb.fullname" .) }}
{{- end }}

{{/*
Namespace the control plane creates OmenDatabase objects in: tenants.namespace, else the operator's watched
namespace, else the release namespace.
*/}}
{{- define "omendb.tenantNamespace" -}}
{{- if .Values.tenants.namespace }}
{{- .Values.tenants.namespace }}
{{- else if and .Values.operator.enabled .Values.operator.watchNamespace }}
{{- .Values.operator.watchNamespace }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- end }}

{{/* The Secret holding the control plane's DATABASE_URL, and its key. */}}
{{- define "omendb.database.secretName" -}}
{{- if .Values.postgresql.enabled }}
{{- include "omendb.postgresql.fullname" . }}
{{- else if .Values.externalDatabase.existingSecret }}
{{- .Values.externalDatabase.existingSecret }}
{{- else }}
{{- printf "%s-database" (include "omendb.fullname" .) }}
{{- end }}
{{- end }}

{{- define "omendb.database.secretKey" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret }}
{{- .Values.externalDatabase.existingSecretKey | default "database-url" }}
{{- else }}
{{- "database-url" }}
{{- end }}
{{- end }}

{{- define "omendb.jwt.secretName" -}}
{{- .Values.jwt.existingSecret | default (printf "%s-jwt" (include "omendb.fullname" .)) }}
{{- end }}

{{- define "omendb.billing.secretName" -}}
{{- .Values.billing.existingSecret | default (printf "%s-billing" (include "omendb.fullname" .)) }}
{{- end }}

{{/*
Combinations values.schema.json cannot state with a useful message. Included by every top-level workload
template, so `helm install`, `helm template` and `helm lint` all stop on them.
*/}}
{{- define "omendb.validate" -}}
{{- if .Values.controlPlane.enabled }}
{{- if .Values.postgresql.enabled }}
{{- if or .Values.externalDatabase.url .Values.externalDatabase.existingSecret }}
{{- fail "externalDatabase.url / externalDatabase.existingSecret is set while postgresql.enabled is true: set postgresql.enabled=false to use an external database" }}
{{- end }}
{{- else }}
{{- if and .Values.externalDatabase.url .Values.externalDatabase.existingSecret }}
{{- fail "set only one of externalDatabase.url and externalDatabase.existingSecret" }}
{{- end }}
{{- if not (or .Values.externalDatabase.url .Values.externalDatabase.existingSecret) }}
{{- fail "postgresql.enabled is false: the control plane needs a PostgreSQL database: set externalDatabase.url or externalDatabase.existingSecret" }}
{{- end }}
{{- end }}
{{- if and .Values.billing.enabled (not .Values.billing.existingSecret) (not (and .Values.billing.secretKey .Values.billing.webhookSecret)) }}
{{- fail "billing.enabled is true: set billing.existingSecret, or both billing.secretKey and billing.webhookSecret" }}
{{- end }}
{{- if and .Values.billing.enabled (not (and .Values.billing.prices.pro .Values.billing.prices.enterprise)) }}
{{- fail "billing.enabled is true: set billing.prices.pro and billing.prices.enterprise (Stripe price ids)" }}
{{- end }}
{{- if and .Values.controlPlane.ingress.enabled (not .Values.controlPlane.ingress.host) }}
{{- fail "controlPlane.ingress.enabled is true: set controlPlane.ingress.host" }}
{{- end }}
{{- if and .Values.operator.enabled .Values.operator.watchNamespace (ne (include "omendb.tenantNamespace" .) .Values.operator.watchNamespace) }}
{{- fail (printf "tenants.namespace (%s) differs from operator.watchNamespace (%s): the operator would never see the control plane's databases" (include "omendb.tenantNamespace" .) .Values.operator.watchNamespace) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Security contexts. Pod: non-root with a fixed uid/gid, seccomp RuntimeDefault. Container: no privilege
escalation, read-only root filesystem, no capabilities.
*/}}
{{- define "omendb.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "omendb.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
runAsNonRoot: true
capabilities:
  drop:
    - ALL
{{- end }}

{{/* imagePullSecrets, nodeSelector, tolerations and affinity for a pod. Call with (dict "ctx" $ "pod" .Values.x). */}}
{{- define "omendb.podScheduling" -}}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .pod.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .pod.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .pod.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
