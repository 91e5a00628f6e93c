{{/*
fieldseal.sidecar: the fieldseal container, for charts that add the sidecar to their
own pod template without the webhook. It renders the same container the injector
adds. Include it under `containers:` and fieldseal.sidecarVolumes under `volumes:`:

  containers:
    - name: app
      ...
    {{- include "fieldseal.sidecar" (dict "image" "ghcr.io/fieldseal/fieldseal:0.1.0" "upstreamPort" 8080) | nindent 4 }}
  volumes:
    {{- include "fieldseal.sidecarVolumes" (dict "configMap" "fieldseal-fieldmap") | nindent 4 }}

Parameters (a dict; all but image optional):
  image            sidecar image (required)
  imagePullPolicy  default IfNotPresent
  configMap        field-map ConfigMap (key config.yaml), default fieldseal-fieldmap
  listenPort       default 18080
  upstreamPort     app port on 127.0.0.1, default 8080 (inbound only)
  topology         inbound (default) | outbound: listen on 127.0.0.1 only and take
                   the upstream (the store) from the config file
  adminPort        default 19090
  keyProvider      local | aws, default aws
  localSecret      ring Secret: key ring.json only (local), default fieldseal-keys
  masterKeySecret  Secret holding the master key (local), default fieldseal-master-key;
                   never the ring's Secret
  masterKeySecretKey  its key, default master-key
  masterKeyFile    absolute path the sidecar reads the master key from (the config's
                   keys.local.master_key_file must be the same); unset: the key is
                   passed in FIELDSEAL_MASTER_KEY, which the sidecar clears once read
  masterKeyVolume  volume source (a dict: csi:, secret:, ...) holding that file under
                   its base name, mounted at its directory; default masterKeySecret with
                   mode 0400, which a non-root sidecar reads only with the pod's fsGroup
  tlsSecret        kubernetes.io/tls Secret whose certificate the sidecar serves,
                   default none (plain HTTP)
  tlsListeners     the listeners tlsSecret serves: proxy and/or admin, default both
                   (with admin the probes use HTTPS)
  resources        dict of requests/limits, default requests 50m/64Mi, limit 256Mi
*/}}
{{- define "fieldseal.sidecar" -}}
{{- $image := required "fieldseal.sidecar: image is required" .image -}}
{{- $listen := int (default 18080 .listenPort) -}}
{{- $upstream := int (default 8080 .upstreamPort) -}}
{{- $admin := int (default 19090 .adminPort) -}}
{{- $provider := default "aws" .keyProvider -}}
{{- $outbound := eq (default "inbound" .topology) "outbound" -}}
{{- if not (has (default "inbound" .topology) (list "inbound" "outbound")) -}}
{{- fail (printf "fieldseal.sidecar: topology %q: want inbound or outbound" .topology) -}}
{{- end -}}
{{- if not (has $provider (list "local" "aws")) -}}
{{- fail (printf "fieldseal.sidecar: keyProvider %q: want local or aws" $provider) -}}
{{- end -}}
{{- $local := eq $provider "local" -}}
{{- $mkFile := and $local .masterKeyFile -}}
{{- $tlsListeners := default (list "proxy" "admin") .tlsListeners -}}
{{- $tlsProxy := and .tlsSecret (has "proxy" $tlsListeners) -}}
{{- $tlsAdmin := and .tlsSecret (has "admin" $tlsListeners) -}}
{{- $scheme := ternary "HTTPS" "HTTP" (not (not $tlsAdmin)) -}}
{{- if and $local (eq (default "fieldseal-keys" .localSecret) (default "fieldseal-master-key" .masterKeySecret)) (not .masterKeyVolume) -}}
{{- fail "fieldseal.sidecar: masterKeySecret is the ring's Secret (localSecret): keep the master key in a Secret of its own" -}}
{{- end -}}
{{- $resources := default (dict "requests" (dict "cpu" "50m" "memory" "64Mi") "limits" (dict "memory" "256Mi")) .resources -}}
- name: fieldseal
  image: {{ $image | quote }}
  imagePullPolicy: {{ default "IfNotPresent" .imagePullPolicy }}
  args:
    - serve
    - --config
    - /etc/fieldseal/config.yaml
    - --listen
    {{- if $outbound }}
    - {{ printf "127.0.0.1:%d" $listen | quote }}
    {{- else }}
    - {{ printf "0.0.0.0:%d" $listen | quote }}
    - --upstream
    - {{ printf "http://127.0.0.1:%d" $upstream | quote }}
    {{- end }}
    - --admin-listen
    - {{ printf "0.0.0.0:%d" $admin | quote }}
    - --key-provider
    - {{ $provider }}
    {{- if $tlsProxy }}
    - --tls-cert-file
    - /var/run/fieldseal/tls/tls.crt
    - --tls-key-file
    - /var/run/fieldseal/tls/tls.key
    {{- end }}
    {{- if $tlsAdmin }}
    - --admin-tls-cert-file
    - /var/run/fieldseal/tls/tls.crt
    - --admin-tls-key-file
    - /var/run/fieldseal/tls/tls.key
    {{- end }}
  ports:
    - name: fieldseal
      containerPort: {{ $listen }}
      protocol: TCP
    - name: fieldseal-admin
      containerPort: {{ $admin }}
      protocol: TCP
  {{- if and $local (not $mkFile) }}
  env:
    - name: FIELDSEAL_MASTER_KEY
      valueFrom:
        secretKeyRef:
          name: {{ default "fieldseal-master-key" .masterKeySecret }}
          key: {{ default "master-key" .masterKeySecretKey }}
  {{- else if and (not $local) .awsRegion }}
  env:
    - name: AWS_REGION
      value: {{ .awsRegion | quote }}
  {{- end }}
  volumeMounts:
    - name: fieldseal-config
      mountPath: /etc/fieldseal
      readOnly: true
    {{- if $local }}
    - name: fieldseal-keys
      mountPath: /var/run/fieldseal/keys
      readOnly: true
    {{- end }}
    {{- if $mkFile }}
    - name: fieldseal-master-key
      mountPath: {{ dir .masterKeyFile }}
      readOnly: true
    {{- end }}
    {{- if .tlsSecret }}
    - name: fieldseal-tls
      mountPath: /var/run/fieldseal/tls
      readOnly: true
    {{- end }}
  resources:
    {{- toYaml $resources | nindent 4 }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: {{ $admin }}
      scheme: {{ $scheme }}
    periodSeconds: 5
    failureThreshold: 3
  livenessProbe:
    httpGet:
      path: /healthz
      port: {{ $admin }}
      scheme: {{ $scheme }}
    periodSeconds: 10
    failureThreshold: 3
  securityContext:
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

{{/* fieldseal.sidecarVolumes: the volumes fieldseal.sidecar mounts (same parameters). */}}
{{- define "fieldseal.sidecarVolumes" -}}
- name: fieldseal-config
  configMap:
    name: {{ default "fieldseal-fieldmap" .configMap }}
{{- if eq (default "aws" .keyProvider) "local" }}
- name: fieldseal-keys
  secret:
    secretName: {{ default "fieldseal-keys" .localSecret }}
    items:
      - key: ring.json
        path: ring.json
{{- if .masterKeyFile }}
- name: fieldseal-master-key
  {{- if .masterKeyVolume }}
  {{- toYaml .masterKeyVolume | nindent 2 }}
  {{- else }}
  secret:
    secretName: {{ default "fieldseal-master-key" .masterKeySecret }}
    items:
      - key: {{ default "master-key" .masterKeySecretKey }}
        path: {{ base .masterKeyFile }}
    # 0400: the sidecar refuses a master key file open to group or others; with
    # the pod's fsGroup the kubelet makes it 0440 root:fsGroup, which it accepts.
    defaultMode: 256
  {{- end }}
{{- end }}
{{- end }}
{{- with .tlsSecret }}
- name: fieldseal-tls
  secret:
    secretName: {{ . }}
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
    # 0444: readable inside the sidecar's container only (no other mounts it).
    defaultMode: 292
{{- end }}
{{- end -}}
