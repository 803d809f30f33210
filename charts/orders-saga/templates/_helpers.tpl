{{- define "orders-saga.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "orders-saga.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "orders-saga.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "orders-saga.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "orders-saga.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ include "orders-saga.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: orders-saga
{{- end -}}

{{/* selector labels for one component: (dict "root" $ "component" "orders") */}}
{{- define "orders-saga.selector" -}}
app.kubernetes.io/name: {{ include "orders-saga.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "orders-saga.secretName" -}}
{{- default (printf "%s-secrets" (include "orders-saga.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* an application image: (dict "root" $ "name" "orders") */}}
{{- define "orders-saga.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .name (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}

{{- define "orders-saga.mongoHeadless" -}}
{{- printf "%s-mongodb-headless" (include "orders-saga.fullname" .) -}}
{{- end -}}

{{- define "orders-saga.mongoHosts" -}}
{{- $fullname := include "orders-saga.fullname" . -}}
{{- $hosts := list -}}
{{- range $i := until (int .Values.mongodb.replicas) -}}
{{- $hosts = append $hosts (printf "%s-mongodb-%d.%s.%s.svc.cluster.local:27017" $fullname $i (include "orders-saga.mongoHeadless" $) $.Release.Namespace) -}}
{{- end -}}
{{- join "," $hosts -}}
{{- end -}}

{{- define "orders-saga.redisHost" -}}
{{- printf "%s-redis.%s.svc.cluster.local" (include "orders-saga.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* the container security context every container gets */}}
{{- define "orders-saga.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* env shared by the Python processes: connections, secrets, the stable consumer name */}}
{{- define "orders-saga.appEnv" -}}
- name: REDIS_URL
  valueFrom:
    secretKeyRef: {name: {{ include "orders-saga.secretName" . }}, key: REDIS_URL}
- name: MONGO_URL
  valueFrom:
    secretKeyRef: {name: {{ include "orders-saga.secretName" . }}, key: MONGO_URL}
- name: MONGO_DB
  value: {{ .Values.mongoDatabase | quote }}
- name: STREAM_PREFIX
  value: {{ .Values.streamPrefix | quote }}
- name: LOG_JSON
  value: {{ .Values.logJson | quote }}
- name: OPERATOR_API_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "orders-saga.secretName" . }}, key: OPERATOR_API_KEY}
- name: TRACKING_SECRET
  valueFrom:
    secretKeyRef: {name: {{ include "orders-saga.secretName" . }}, key: TRACKING_SECRET}
- name: POD_NAME
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
{{- end -}}

{{/*
Pod anti-affinity spreading one component's replicas over nodes (values.scheduling).
Call with (dict "root" $ "component" "orders").
*/}}
{{- define "orders-saga.spreadAffinity" -}}
{{- $mode := .root.Values.scheduling.spreadAcrossNodes -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "orders-saga.selector" . | fromYaml)) -}}
{{- if eq $mode "required" }}
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - {{- toYaml $term | nindent 8 }}
{{- else if eq $mode "preferred" }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          {{- toYaml $term | nindent 10 }}
{{- end }}
{{- end -}}

{{/*
Keep serving for preStopDelaySeconds after termination starts, while endpoints are removed.
*/}}
{{- define "orders-saga.preStop" -}}
{{- if gt (int .Values.scheduling.preStopDelaySeconds) 0 }}
lifecycle:
  preStop:
    exec:
      command: ["sleep", "{{ .Values.scheduling.preStopDelaySeconds }}"]
{{- end }}
{{- end -}}
