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
  localSecret      Secret with ring.json and master-key (local), default fieldseal-keys
  awsRegion        AWS_REGION for the aws provider, default unset
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
  ports:
    - name: fieldseal
      containerPort: {{ $listen }}
      protocol: TCP
    - name: fieldseal-admin
      containerPort: {{ $admin }}
      protocol: TCP
  {{- if eq $provider "local" }}
  env:
    - name: FIELDSEAL_MASTER_KEY
      valueFrom:
        secretKeyRef:
          name: {{ default "fieldseal-keys" .localSecret }}
          key: master-key
  {{- else if .awsRegion }}
  env:
    - name: AWS_REGION
      value: {{ .awsRegion | quote }}
  {{- end }}
  volumeMounts:
    - name: fieldseal-config
      mountPath: /etc/fieldseal
      readOnly: true
    {{- if eq $provider "local" }}
    - name: fieldseal-keys
      mountPath: /var/run/fieldseal/keys
      readOnly: true
    {{- end }}
  resources:
    {{- toYaml $resources | nindent 4 }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: {{ $admin }}
    periodSeconds: 5
    failureThreshold: 3
  livenessProbe:
    httpGet:
      path: /healthz
      port: {{ $admin }}
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
{{- end }}
{{- end -}}
