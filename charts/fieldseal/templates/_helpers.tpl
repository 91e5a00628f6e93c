{{/* Chart name, possibly overridden. */}}
{{- define "fieldseal.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name prefix for every resource. */}}
{{- define "fieldseal.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "fieldseal.injectorName" -}}
{{- printf "%s-injector" (include "fieldseal.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fieldseal.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "fieldseal.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "fieldseal.injectorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "fieldseal.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: injector
{{- end -}}

{{/* The fieldseal image reference: digest wins over tag, tag defaults to appVersion. */}}
{{- define "fieldseal.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The injector's image reference, built the same way from .Values.injector.image. */}}
{{- define "fieldseal.injectorImage" -}}
{{- with .Values.injector.image -}}
{{- if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository (default $.Chart.AppVersion .tag) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "fieldseal.injectorServiceAccount" -}}
{{- if .Values.injector.serviceAccount.create -}}
{{- default (include "fieldseal.injectorName" .) .Values.injector.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.injector.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "fieldseal.rotationName" -}}
{{- printf "%s-rotation" (include "fieldseal.fullname" .) | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "fieldseal.rotationServiceAccount" -}}
{{- if .Values.rotation.serviceAccount.create -}}
{{- default (include "fieldseal.rotationName" .) .Values.rotation.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.rotation.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Namespaces the injector never touches. */}}
{{- define "fieldseal.skipNamespaces" -}}
{{- $ns := list "kube-system" .Release.Namespace -}}
{{- range .Values.webhook.skipNamespaces -}}{{- $ns = append $ns . -}}{{- end -}}
{{- toJson ($ns | uniq) -}}
{{- end -}}

{{/* Restrictive container security context shared by every fieldseal container. */}}
{{- define "fieldseal.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "fieldseal.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The sidecar config.yaml rendered from .Values.fieldMap and .Values.keys. */}}
{{- define "fieldseal.sidecarConfig" -}}
# Rendered by the fieldseal chart. listen, upstream and admin_listen are overridden
# per pod by the injector (serve --listen/--upstream/--admin-listen).
listen: 0.0.0.0:{{ .Values.sidecar.listenPort }}
upstream: http://127.0.0.1:{{ .Values.sidecar.upstreamPort }}
admin_listen: 0.0.0.0:{{ .Values.sidecar.adminPort }}
on_open_error: {{ .Values.fieldMap.onOpenError }}
keys:
  provider: {{ .Values.keys.provider }}
  {{- with .Values.fieldMap.refreshInterval }}
  refresh_interval: {{ . }}
  {{- end }}
  {{- if eq .Values.keys.provider "aws" }}
  aws:
    region: {{ .Values.keys.aws.region | quote }}
    kms_key_id: {{ .Values.keys.aws.kmsKeyId | quote }}
    secret_id: {{ .Values.keys.aws.secretId | quote }}
    {{- with .Values.keys.aws.endpoint }}
    endpoint: {{ . | quote }}
    {{- end }}
  {{- else }}
  local:
    ring_file: /var/run/fieldseal/keys/ring.json
    {{- with .Values.keys.local.masterKeyFile.path }}
    master_key_file: {{ . | quote }}
    {{- else }}
    master_key_env: FIELDSEAL_MASTER_KEY
    {{- end }}
  {{- end }}
log:
  {{- toYaml .Values.fieldMap.log | nindent 2 }}
classes:
  {{- toYaml .Values.fieldMap.classes | nindent 2 }}
routes:
  {{- toYaml .Values.fieldMap.routes | nindent 2 }}
{{- end -}}

{{/* The injector's config (inject.Config). */}}
{{- define "fieldseal.injectorConfig" -}}
{{- with .Values.keys.local }}
{{- if and (eq .secretName .masterKeySecret.name) (not .masterKeyFile.volume) }}
{{- fail "keys.local.masterKeySecret.name is keys.local.secretName: keep the master key in a Secret of its own, apart from the ring" }}
{{- end }}
{{- if and .masterKeyFile.volume (not .masterKeyFile.path) }}
{{- fail "keys.local.masterKeyFile.volume needs keys.local.masterKeyFile.path, the file the sidecar reads on it" }}
{{- end }}
{{- with .masterKeyFile.path }}
{{- /* The injector's rule (inject.Config.Validate): the sidecar already mounts these directories. */}}
{{- if has (dir .) (list "/etc/fieldseal" "/var/run/fieldseal/keys" "/var/run/fieldseal/tls") }}
{{- fail (printf "keys.local.masterKeyFile.path %q: its directory is already a mount of the sidecar; put the master key in a directory of its own, e.g. /var/run/fieldseal/master-key/master-key" .) }}
{{- end }}
{{- end }}
{{- end -}}
image: {{ include "fieldseal.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
{{- with .Values.injector.allowedImages }}
allowedImages:
  {{- toYaml . | nindent 2 }}
{{- end }}
configMap: {{ .Values.fieldMap.name }}
listenPort: {{ .Values.sidecar.listenPort }}
upstreamPort: {{ .Values.sidecar.upstreamPort }}
adminPort: {{ .Values.sidecar.adminPort }}
resources:
  {{- toYaml .Values.sidecar.resources | nindent 2 }}
keys:
  provider: {{ .Values.keys.provider }}
  localSecret: {{ .Values.keys.local.secretName }}
  masterKey:
    secret: {{ .Values.keys.local.masterKeySecret.name }}
    key: {{ .Values.keys.local.masterKeySecret.key }}
    {{- with .Values.keys.local.masterKeyFile }}
    {{- if .path }}
    file: {{ .path | quote }}
    {{- end }}
    {{- with .volume }}
    volume:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- end }}
  {{- with .Values.keys.aws.region }}
  awsRegion: {{ . }}
  {{- end }}
{{- with .Values.sidecar.tls }}
tls:
  {{- with .secretName }}
  secret: {{ . }}
  {{- end }}
  listeners: {{ toJson .listeners }}
{{- end }}
skipNamespaces: {{ include "fieldseal.skipNamespaces" . }}
{{- end -}}

{{- define "fieldseal.keysInitName" -}}
{{- printf "%s-keys-init" (include "fieldseal.fullname" .) | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "fieldseal.keysInitServiceAccount" -}}
{{- default (include "fieldseal.keysInitName" .) .Values.keysInit.serviceAccount.name -}}
{{- end -}}

{{/* Whether the keys init hook is rendered: aws provider with a KMS key to wrap under. */}}
{{- define "fieldseal.keysInitEnabled" -}}
{{- if and .Values.keysInit.enabled (eq .Values.keys.provider "aws") .Values.keys.aws.kmsKeyId -}}true{{- end -}}
{{- end -}}
