{{/*
Helpers of the cep chart. Every per-service template ranges over
.Values.services and calls "cep.service" to get the effective block
(serviceDefaults deep-merged with the service's own values).
*/}}

{{- define "cep.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cep.fullname" -}}
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

{{- define "cep.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Deep merge, in place: (list dst src). Maps are merged recursively; any other
value of src (including false, 0, "" and lists) replaces the one of dst.
*/}}
{{- define "cep.deepMerge" -}}
{{- $dst := index . 0 -}}
{{- $src := index . 1 -}}
{{- range $k, $v := $src -}}
{{- if and (kindIs "map" $v) (kindIs "map" (index $dst $k)) -}}
{{- include "cep.deepMerge" (list (index $dst $k) $v) -}}
{{- else -}}
{{- $_ := set $dst $k $v -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Effective service block, as JSON: (dict "root" $ "name" $name).
Adds: name, binary, resourceName, databaseCluster, databaseNamespace.
*/}}
{{- define "cep.service" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- if not (regexMatch "^[a-z][a-z0-9]*$" $name) -}}
{{- fail (printf "services.%s: a service name is lowercase letters and digits (it is also the binary and the CEP_<SERVICE>__ prefix)" $name) -}}
{{- end -}}
{{- $svc := deepCopy $root.Values.serviceDefaults -}}
{{- include "cep.deepMerge" (list $svc (deepCopy (index $root.Values.services $name))) -}}
{{- $_ := set $svc "name" $name -}}
{{- $_ := set $svc "binary" (default $name $svc.binary) -}}
{{- $_ := set $svc "resourceName" (printf "%s-%s" (include "cep.fullname" $root) $name | trunc 63 | trimSuffix "-") -}}
{{- $_ := set $svc "databaseCluster" (default (printf "cep-%s-db" $name) $svc.database.cluster) -}}
{{- $_ := set $svc "databaseNamespace" (default $root.Release.Namespace $svc.database.namespace) -}}
{{- if $svc.enabled -}}
{{- if not (and $svc.grpcPort $svc.metricsPort) -}}
{{- fail (printf "services.%s: grpcPort and metricsPort are required" $name) -}}
{{- end -}}
{{- /* Its own volumes: names and mount paths clear of the chart's (config, tmp, nats-tls). */ -}}
{{- $volumeNames := list "config" "tmp" "nats-tls" -}}
{{- $mountPaths := list "/etc/cep" "/tmp" "/etc/cep-nats-tls" -}}
{{- range $v := concat (default list $svc.secretFiles) (default list $svc.persistentVolumes) -}}
{{- if has $v.name $volumeNames -}}
{{- fail (printf "services.%s: volume name %q is taken (the chart's own: config, tmp, nats-tls; or given twice)" $name $v.name) -}}
{{- end -}}
{{- if has (trimSuffix "/" $v.mountPath) $mountPaths -}}
{{- fail (printf "services.%s: mount path %s is taken (the chart's own: /etc/cep, /tmp, /etc/cep-nats-tls; or given twice)" $name $v.mountPath) -}}
{{- end -}}
{{- $volumeNames = append $volumeNames $v.name -}}
{{- $mountPaths = append $mountPaths (trimSuffix "/" $v.mountPath) -}}
{{- end -}}
{{- end -}}
{{- toJson $svc -}}
{{- end -}}

{{/* Names of the enabled services, as JSON list. */}}
{{- define "cep.enabledServices" -}}
{{- $names := list -}}
{{- range $name, $raw := .Values.services -}}
{{- if (include "cep.service" (dict "root" $ "name" $name) | fromJson).enabled -}}
{{- $names = append $names $name -}}
{{- end -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/* Common labels: (dict "root" $ "svc" $svc ["role" "server"]). */}}
{{- define "cep.labels" -}}
helm.sh/chart: {{ include "cep.chart" .root }}
{{ include "cep.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: cep
{{- end -}}

{{/*
Selector labels of a service's pods. Every pod of a service (server, migration
job, cron jobs) carries app.kubernetes.io/component=<service>: that is what the
NetworkPolicies of k8s/base (PostgreSQL, NATS) let in. `cep-role` tells the
server pods (selected by the Service, Deployment and PDB) from the jobs.
*/}}
{{- define "cep.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cep.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .svc.name }}
{{- with .role }}
cep-role: {{ . }}
{{- end }}
{{- end -}}

{{- define "cep.image" -}}
{{- $img := deepCopy .root.Values.image -}}
{{- with .svc.image }}{{ include "cep.deepMerge" (list $img .) }}{{ end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .root.Chart.AppVersion $img.tag | toString) -}}
{{- end -}}
{{- end -}}

{{- define "cep.imagePullPolicy" -}}
{{- $img := deepCopy .root.Values.image -}}
{{- with .svc.image }}{{ include "cep.deepMerge" (list $img .) }}{{ end -}}
{{- $img.pullPolicy -}}
{{- end -}}

{{/* Upper-case env segment: "nir" -> "NIR", "jwt_secret" -> "JWT_SECRET". */}}
{{- define "cep.envSegment" -}}
{{- . | upper -}}
{{- end -}}

{{/*
Secret references of a service, as JSON map env-name -> {name, key}:
the chart-wide `secrets`, the service's `secrets` over them, and the database
URL (default: CloudNativePG app secret <cluster>-app, key uri).
*/}}
{{- define "cep.secretEnv" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $refs := deepCopy (default dict $root.Values.secrets) -}}
{{- if not (hasKey $refs "database") -}}{{- $_ := set $refs "database" dict -}}{{- end -}}
{{- if not (hasKey $refs.database "url") -}}
{{- $_ := set $refs.database "url" (dict "name" (printf "%s-app" $svc.databaseCluster) "key" "uri") -}}
{{- end -}}
{{- /* The service's NATS password: settings.nats.credentialsSecret, key <service>. */ -}}
{{- if not (hasKey $refs "nats") -}}{{- $_ := set $refs "nats" dict -}}{{- end -}}
{{- if not (hasKey $refs.nats "password") -}}
{{- $_ := set $refs.nats "password" (dict "name" $root.Values.settings.nats.credentialsSecret "key" $svc.name) -}}
{{- end -}}
{{- include "cep.deepMerge" (list $refs (default dict $svc.secrets)) -}}
{{- $out := dict -}}
{{- range $section, $keys := $refs -}}
{{- range $key, $ref := $keys -}}
{{- if $ref -}}
{{- if not (and (kindIs "map" $ref) $ref.name $ref.key) -}}
{{- fail (printf "services.%s.secrets.%s.%s: a secret reference needs name and key" $svc.name $section $key) -}}
{{- end -}}
{{- $env := printf "CEP_%s__%s__%s" (include "cep.envSegment" $svc.name) (include "cep.envSegment" $section) (include "cep.envSegment" $key) -}}
{{- $_ := set $out $env (dict "name" $ref.name "key" $ref.key "setting" (printf "%s.%s" $section $key)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
The settings of a service as a map (section -> key -> value), before TOML
rendering: (dict "root" $ "svc" $svc).
*/}}
{{- define "cep.settings" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $s := $root.Values.settings -}}
{{- $operator := dict "id" ($s.operator.id | toString) "lots" $s.operator.lots -}}
{{- if $s.operator.structures -}}{{- $_ := set $operator "structures" $s.operator.structures -}}{{- end -}}
{{- $auth := dict "jwt_issuer" $s.auth.jwtIssuer "shared_key_allowed" (default false $s.auth.sharedKeyAllowed) -}}
{{- if $s.auth.jwks -}}{{- $_ := set $auth "jwks_path" "/etc/cep/jwks.json" -}}{{- end -}}
{{- if $s.auth.jwksIssuer -}}{{- $_ := set $auth "jwks_issuer" $s.auth.jwksIssuer -}}{{- end -}}
{{- if $s.auth.jwksAudience -}}{{- $_ := set $auth "jwks_audience" $s.auth.jwksAudience -}}{{- end -}}
{{- if and $s.auth.jwks (not $s.auth.jwksAudience) -}}
{{- fail "settings.auth.jwksAudience is required with settings.auth.jwks: the identity provider also issues tokens to other applications" -}}
{{- end -}}
{{- /* NATS: the service's own user (its password is a secret, see cep.secretEnv) and TLS. */ -}}
{{- $nats := dict
  "url" $s.nats.url
  "user" $svc.name
  "stream_replicas" (int $s.nats.streamReplicas)
  "stream_max_age_days" (int $s.nats.streamMaxAgeDays) -}}
{{- $natsTls := default dict $s.nats.tls -}}
{{- if ne (hasPrefix "tls://" $s.nats.url) (and $natsTls.enabled true) -}}
{{- fail "settings.nats.tls.enabled and a tls:// settings.nats.url go together: TLS is required and verified only with both" -}}
{{- end -}}
{{- if and $natsTls.enabled $natsTls.caSecret $natsTls.caSecret.name -}}
{{- $_ := set $nats "tls_ca_path" "/etc/cep-nats-tls/ca.crt" -}}
{{- end -}}
{{- $telemetry := dict "log_level" $s.telemetry.logLevel -}}
{{- if $s.telemetry.otlpEndpoint -}}{{- $_ := set $telemetry "otlp_endpoint" $s.telemetry.otlpEndpoint -}}{{- end -}}
{{- $out := dict
  "environment" $s.environment
  "server" (dict
    "grpc_listen" (printf "0.0.0.0:%d" (int $svc.grpcPort))
    "metrics_listen" (printf "0.0.0.0:%d" (int $svc.metricsPort))
    "shutdown_grace_seconds" (int $s.shutdownGraceSeconds))
  "database" (dict
    "max_connections" (int $svc.database.maxConnections)
    "migrate_on_start" false)
  "nats" $nats
  "auth" $auth
  "telemetry" $telemetry
  "operator" $operator
-}}
{{- include "cep.deepMerge" (list $out (deepCopy (default dict $svc.settings))) -}}
{{- /* peerEndpoints: [<peer>] endpoint = the in-cluster Service of each peer it calls, unless given. */ -}}
{{- if $svc.peerEndpoints -}}
{{- $enabled := include "cep.enabledServices" $root | fromJsonArray -}}
{{- range $peer := (default list $svc.peers) -}}
{{- if not (dig $peer "endpoint" "" $out) -}}
{{- if not (has $peer $enabled) -}}
{{- fail (printf "services.%s calls %s (peers), which is not enabled: enable services.%s or give services.%s.settings.%s.endpoint" $svc.name $peer $peer $svc.name $peer) -}}
{{- end -}}
{{- $o := include "cep.service" (dict "root" $root "name" $peer) | fromJson -}}
{{- include "cep.setSetting" (dict "out" $out "svc" $svc.name "setting" (printf "%s.endpoint" $peer) "from" "peerEndpoints"
  "value" (printf "http://%s.%s.svc:%d" $o.resourceName $root.Release.Namespace (int $o.grpcPort))) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* Files mounted from Secrets and persistent folders: the settings naming them. */ -}}
{{- range $f := (default list $svc.secretFiles) -}}
{{- range $item := $f.items -}}
{{- with $item.setting -}}
{{- include "cep.setSetting" (dict "out" $out "svc" $svc.name "setting" . "from" "secretFiles"
  "value" (printf "%s/%s" (trimSuffix "/" $f.mountPath) $item.path)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $v := (default list $svc.persistentVolumes) -}}
{{- with $v.setting -}}
{{- include "cep.setSetting" (dict "out" $out "svc" $svc.name "setting" . "from" "persistentVolumes"
  "value" (trimSuffix "/" $v.mountPath)) -}}
{{- end -}}
{{- end -}}
{{- /* A secret never lands in a ConfigMap. */ -}}
{{- $secretEnv := include "cep.secretEnv" . | fromJson -}}
{{- range $env, $ref := $secretEnv -}}
{{- $parts := splitList "." $ref.setting -}}
{{- $section := index $out (index $parts 0) -}}
{{- if and (kindIs "map" $section) (hasKey $section (index $parts 1)) -}}
{{- fail (printf "services.%s.settings.%s is a secret: give it in secrets as {name, key}, not as a value" $svc.name $ref.setting) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
Sets a setting the chart derives ("section.key") in the settings map, in place:
(dict "out" $map "svc" name "setting" "section.key" "value" v "from" "<values key>").
A different value given under the service's settings is refused rather than
silently replaced.
*/}}
{{- define "cep.setSetting" -}}
{{- $parts := splitList "." .setting -}}
{{- if ne (len $parts) 2 -}}
{{- fail (printf "services.%s.%s: setting %q is not \"section.key\"" .svc .from .setting) -}}
{{- end -}}
{{- $section := index $parts 0 -}}
{{- $key := index $parts 1 -}}
{{- if not (hasKey .out $section) -}}{{- $_ := set .out $section dict -}}{{- end -}}
{{- $table := index .out $section -}}
{{- if not (kindIs "map" $table) -}}
{{- fail (printf "services.%s: setting %s needs [%s] to be a section" .svc .setting $section) -}}
{{- end -}}
{{- if and (hasKey $table $key) (ne (toString (index $table $key)) (toString .value)) -}}
{{- fail (printf "services.%s.settings.%s is %v but %s makes it %v: remove it from settings" .svc .setting (index $table $key) .from .value) -}}
{{- end -}}
{{- $_ := set $table $key .value -}}
{{- end -}}

{{/* A TOML value: string, bool, number, or a list of these. */}}
{{- define "cep.tomlValue" -}}
{{- $v := . -}}
{{- if kindIs "string" $v -}}
{{- toJson $v -}}
{{- else if kindIs "bool" $v -}}
{{- $v -}}
{{- else if or (kindIs "int" $v) (kindIs "int64" $v) (kindIs "float64" $v) -}}
{{- if eq (float64 (int64 $v)) (float64 $v) -}}{{- int64 $v -}}{{- else -}}{{- $v -}}{{- end -}}
{{- else if kindIs "slice" $v -}}
{{- $items := list -}}
{{- range $v -}}{{- $items = append $items (include "cep.tomlValue" .) -}}{{- end -}}
[{{ join ", " $items }}]
{{- else if kindIs "invalid" $v -}}
{{- fail "a setting is null: remove it instead" -}}
{{- else -}}
{{- fail (printf "unsupported setting value %v (%s)" $v (kindOf $v)) -}}
{{- end -}}
{{- end -}}

{{- define "cep.tomlKey" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . -}}{{ . }}{{- else -}}{{ toJson . }}{{- end -}}
{{- end -}}

{{/* A TOML table body, then its sub-tables: (dict "prefix" "a.b" "table" $map). */}}
{{- define "cep.tomlTable" -}}
{{- $prefix := .prefix -}}
{{- range $k, $v := .table }}
{{- if not (kindIs "map" $v) }}
{{ include "cep.tomlKey" $k }} = {{ include "cep.tomlValue" $v }}
{{- end }}
{{- end }}
{{- range $k, $v := .table }}
{{- if kindIs "map" $v }}
{{- $name := ternary (include "cep.tomlKey" $k) (printf "%s.%s" $prefix (include "cep.tomlKey" $k)) (eq $prefix "") }}

[{{ $name }}]
{{- include "cep.tomlTable" (dict "prefix" $name "table" $v) }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "cep.toml" -}}
# Rendered by the cep Helm chart from its values; secrets come from the
# environment (CEP_<SERVICE>__<SECTION>__<KEY>), never from this file.
{{- include "cep.tomlTable" (dict "prefix" "" "table" .) }}
{{ end -}}

{{/* Env vars of a service container: (dict "root" $ "svc" $svc). */}}
{{- define "cep.env" -}}
- name: CEP_CONFIG_DIR
  value: /etc/cep
{{- range $env, $ref := (include "cep.secretEnv" . | fromJson) }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- end }}
{{- with .svc.env }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod-level fields shared by the Deployment, the migration Job and CronJobs. */}}
{{- define "cep.podCommon" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
automountServiceAccountToken: false
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $svc.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $svc.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $svc.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{/* The Secret of the NATS server's CA when TLS verifies against it, else nothing: root. */}}
{{- define "cep.natsCaSecret" -}}
{{- $tls := default dict .Values.settings.nats.tls -}}
{{- if and $tls.enabled $tls.caSecret $tls.caSecret.name -}}
{{- toJson (dict "name" $tls.caSecret.name "key" (default "ca.crt" $tls.caSecret.key)) -}}
{{- end -}}
{{- end -}}

{{/*
Volumes of a service's pods: (dict "root" $ "svc" $svc "configMap" name "persistent" bool).
The service's secretFiles in every pod (the migration Job loads the same settings);
its persistentVolumes only where "persistent" (the server and cron jobs, not the
migration Job: migrate touches only the database).
*/}}
{{- define "cep.volumes" -}}
- name: config
  configMap:
    name: {{ .configMap }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .svc.tmpSizeLimit }}
{{- with include "cep.natsCaSecret" .root }}
{{- $ca := . | fromJson }}
# the CA of the NATS server's certificate (settings.nats.tls.caSecret)
- name: nats-tls
  secret:
    secretName: {{ $ca.name }}
    items:
      - key: {{ $ca.key }}
        path: ca.crt
{{- end }}
{{- range $f := (default list .svc.secretFiles) }}
# files of the Secret {{ $f.secretName }} (secretFiles), read by the service user only
- name: {{ $f.name }}
  secret:
    secretName: {{ $f.secretName }}
    defaultMode: 288 # 0440: the owner and fsGroup
    items:
      {{- range $f.items }}
      - key: {{ .key }}
        path: {{ .path }}
      {{- end }}
{{- end }}
{{- if .persistent }}
{{- range $v := (default list .svc.persistentVolumes) }}
# the existing PersistentVolumeClaim {{ $v.claimName }} (persistentVolumes)
- name: {{ $v.name }}
  persistentVolumeClaim:
    claimName: {{ $v.claimName }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Volume mounts of a service's container: (dict "root" $ "svc" $svc "persistent" bool), as cep.volumes. */}}
{{- define "cep.volumeMounts" -}}
- name: config
  mountPath: /etc/cep
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if include "cep.natsCaSecret" .root }}
- name: nats-tls
  mountPath: /etc/cep-nats-tls
  readOnly: true
{{- end }}
{{- range $f := (default list .svc.secretFiles) }}
- name: {{ $f.name }}
  mountPath: {{ trimSuffix "/" $f.mountPath }}
  readOnly: true
{{- end }}
{{- if .persistent }}
{{- range $v := (default list .svc.persistentVolumes) }}
- name: {{ $v.name }}
  mountPath: {{ trimSuffix "/" $v.mountPath }}
{{- end }}
{{- end }}
{{- end -}}

{{/* NetworkPolicy egress rules to DNS and to the service's own database. */}}
{{- define "cep.egressDnsAndDatabase" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $np := $root.Values.networkPolicy -}}
# DNS
- to:
    {{- toYaml $np.dns.peers | nindent 4 }}
  ports:
    - port: {{ $np.dns.port }}
      protocol: UDP
    - port: {{ $np.dns.port }}
      protocol: TCP
# PostgreSQL: the pods of this service's CloudNativePG cluster only
- to:
    - podSelector:
        matchLabels:
          cnpg.io/cluster: {{ $svc.databaseCluster }}
      {{- if ne $svc.databaseNamespace $root.Release.Namespace }}
      namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ $svc.databaseNamespace }}
      {{- end }}
  ports:
    - port: {{ $np.database.port }}
      protocol: TCP
{{- end -}}

{{/*
The scheduled jobs of a service, expanded, as JSON list: (dict "root" $ "svc" $svc).
Each is the job's values plus: fullName (the CronJob's name), args ("{item}"
replaced under forEach), client (true when `command` runs another binary than the
service's: a client of the service, see cronjobs.yaml). A job with `forEach: <key>`
is expanded once per element of the list services.<name>.<key> (none when empty).
*/}}
{{- define "cep.cronJobs" -}}
{{- $svc := .svc -}}
{{- $out := list -}}
{{- range $job := (default list $svc.cronJobs) -}}
{{- if not (and $job.name $job.schedule $job.args) -}}
{{- fail (printf "services.%s.cronJobs: each job needs name, schedule and args" $svc.name) -}}
{{- end -}}
{{- $base := printf "%s-%s" $svc.resourceName $job.name -}}
{{- $client := and $job.command (ne $job.command $svc.binary) | default false -}}
{{- if and (or $job.env $job.secretEnv) (not $client) -}}
{{- fail (printf "services.%s.cronJobs %s: env and secretEnv are for a job with its own command (a client of the service); a job of the service's binary has the service's environment" $svc.name $job.name) -}}
{{- end -}}
{{- if $job.forEach -}}
{{- $items := index $svc $job.forEach -}}
{{- if not (kindIs "slice" $items) -}}
{{- fail (printf "services.%s.cronJobs %s: forEach %q names no list of services.%s" $svc.name $job.name $job.forEach $svc.name) -}}
{{- end -}}
{{- range $item := $items -}}
{{- $label := toString $item -}}
{{- if or (kindIs "float64" $item) (kindIs "int64" $item) (kindIs "int" $item) -}}
{{- $label = toString (int64 $item) -}}
{{- end -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $label) -}}
{{- fail (printf "services.%s.%s: %q cannot be part of a CronJob name (lowercase letters, digits and '-')" $svc.name $job.forEach $label) -}}
{{- end -}}
{{- $name := printf "%s-%s" $base $label -}}
{{- if gt (len $name) 52 -}}
{{- fail (printf "services.%s.cronJobs %s: the CronJob name %s is longer than 52 characters: shorten the job's name (or the release's)" $svc.name $job.name $name) -}}
{{- end -}}
{{- $args := list -}}
{{- range $a := $job.args -}}{{- $args = append $args (replace "{item}" $label (toString $a)) -}}{{- end -}}
{{- $j := deepCopy $job -}}
{{- $_ := set $j "fullName" $name -}}
{{- $_ := set $j "args" $args -}}
{{- $_ := set $j "client" $client -}}
{{- $out = append $out $j -}}
{{- end -}}
{{- else -}}
{{- $j := deepCopy $job -}}
{{- $_ := set $j "fullName" ($base | trunc 52 | trimSuffix "-") -}}
{{- $_ := set $j "client" $client -}}
{{- $out = append $out $j -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* Labels selecting the pods of a service's client jobs (cron jobs with their own command): (dict "root" $ "svc" $svc). */}}
{{- define "cep.clientJobSelectorLabels" -}}
{{- include "cep.selectorLabels" (dict "root" .root "svc" (dict "name" (printf "%s-client" .svc.name)) "role" "cron") -}}
{{- end -}}
