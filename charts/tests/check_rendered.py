#!/usr/bin/env python3
"""Checks of the rendered Helm chart and kustomize overlays.

Run by scripts/check-charts.sh, which renders into a folder first:

  chart-default.yaml       helm template, values.yaml            (pairs with k8s-dev.yaml)
  chart-production.yaml    helm template, values-production.yaml (pairs with k8s-production.yaml)
  chart-all-services.yaml  helm template, ci/all-services-values.yaml (every service block on)
  chart-jwks.yaml          helm template, values-production.yaml with an identity provider's
                           JWKS and no shared HS256 key
  chart-nats-tls.yaml      helm template, values-production.yaml with TLS to NATS (tls:// and
                           the server's CA from a Secret)
  k8s-dev.yaml, k8s-production.yaml   kubectl kustomize of the overlays
  k8s-db-<service>.yaml    kubectl kustomize of each k8s/base/databases/<service>

What it checks:
  schema      every core-kind document against the Kubernetes OpenAPI schema of
              each version in --kube-versions (kubernetes-validate, strict: unknown
              fields are errors); custom resources (CloudNativePG, Barman Cloud)
              are listed as skipped, with the reason, and get a structural check.
  workloads   each service Deployment (and Job, CronJob, StatefulSet): gRPC startup,
              liveness and readiness probes on its gRPC port, resource requests and
              limits, non-root / read-only root / no capabilities / no privilege
              escalation / RuntimeDefault seccomp, no service-account token, and a
              NetworkPolicy (Ingress+Egress) selecting its pods; a Service, a PDB, an
              HPA when autoscaled.
  alerts      the PrometheusRule only where alerts are enabled (production), each
              rule with expr, for, severity and summary, querying only cep_* metrics
              the services register (crates/kit/src/metrics.rs).
  settings    each ConfigMap's TOML parses, carries no secret, listens on the ports
              the pod declares, leaves migrations to the hook Job, and asks for no
              more JetStream replicas than the paired overlay runs; each service
              connects to NATS as its own user with its password from a Secret, and
              over TLS with the CA mounted where nats.tls_ca_path says; every file
              setting (`*_path`, `root`) points into a volume the pod mounts (a file
              of a Secret it projects, a writable claim for a `root`), and every
              `[<peer>] endpoint` names the Service of a rendered service that its
              NetworkPolicies let it reach (its egress, the peer's ingress).
  platform    namespace under the restricted Pod Security Standard, default-deny
              NetworkPolicy, NATS and PostgreSQL sizes per overlay, WAL archiving
              and daily ScheduledBackup wired to an ObjectStore, and the chart's
              references (database secrets and selectors, NATS service and labels,
              NATS users and the Secret of their passwords, PersistentVolumeClaims,
              ReadWriteMany where several replicas mount one) matching what the
              overlay creates; the NATS servers include the generated users
              (accounts.conf) and get every password they reference.
  check-config  for each enabled service of the default and production renders,
              `<bin-dir>/<service> check-config` with CEP_CONFIG_DIR holding the
              rendered TOML and dummy secrets in the environment must print
              "configuration ok" and exit 0; the same file plus an unknown key
              must be refused (proves the rendered file is what was read). Files the
              pod reads from a Secret get stand-ins (a test CA from `<bin-dir>/cepctl
              pki init` for PEM certificates and keys) and claims a temporary folder,
              their settings pointed there through the environment.

Prints a summary and writes the counts as JSON to --counts.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import re
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

try:
    import kubernetes_validate
    import kubernetes_validate.utils as kv_utils
except ImportError:  # pragma: no cover - reported as a failure below
    kubernetes_validate = None
    kv_utils = None

# API groups whose kinds kubernetes-validate knows (built-in Kubernetes APIs).
CORE_GROUPS = {
    "", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
    "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "discovery.k8s.io",
    "admissionregistration.k8s.io", "apiextensions.k8s.io", "node.k8s.io", "certificates.k8s.io",
}

# Custom resources we render on purpose, and why their schema is not checked here.
CRD_SKIP_REASONS = {
    ("postgresql.cnpg.io", "Cluster"): "CloudNativePG CRD: its schema ships with the operator, not with kubernetes-validate",
    ("postgresql.cnpg.io", "ScheduledBackup"): "CloudNativePG CRD: its schema ships with the operator, not with kubernetes-validate",
    ("monitoring.coreos.com", "PrometheusRule"): "Prometheus Operator CRD: its schema ships with the operator, not with kubernetes-validate",
    ("barmancloud.cnpg.io", "ObjectStore"): "Barman Cloud plugin CRD: its schema ships with the plugin, not with kubernetes-validate",
}

SECRET_KEY_PATTERN = re.compile(r"(secret|password|passwd|token|credential|private|_key$|^key$|^url$)", re.I)
# Settings known to be secrets in the binary contract; `url` is a secret only under [database].
SECRET_SETTINGS = {("database", "url"), ("auth", "jwt_secret"), ("nir", "encryption_key"), ("nir", "retired_keys"), ("nir", "index_key"),
                   ("personal", "wrapping_key"), ("personal", "retired_wrapping_keys"),
                   ("nats", "password"), ("nats", "nkey_seed"),
                   # deliverables: the one-time codes' hashing key, the SMTP relay's password
                   ("code", "hashing_key"), ("mail", "smtp_password")}
# Settings of a secret section ([nir], [personal]) that are no secret: the journeys
# service's NIR policy (services/journeys/src/settings.rs), "requested" or "required".
NOT_SECRET_SETTINGS = {("nir", "policy")}
# Where the chart mounts the CA of the NATS server's certificate (settings.nats.tls.caSecret).
NATS_CA_PATH = "/etc/cep-nats-tls/ca.crt"


@dataclass
class Report:
    verbose: bool = False
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)

    def ok(self, what: str, always: bool = False) -> None:
        self.passed += 1
        if self.verbose or always:
            print(f"  PASS  {what}")

    def fail(self, what: str, why: str) -> None:
        self.failed += 1
        line = f"{what}: {why}"
        self.failures.append(line)
        print(f"  FAIL  {line}")

    def skip(self, what: str, why: str, quiet: bool = False) -> None:
        self.skipped += 1
        line = f"{what}: {why}"
        self.skips.append(line)
        if not quiet or self.verbose:
            print(f"  SKIP  {line}")

    def check(self, cond: bool, what: str, why: str, always: bool = False) -> bool:
        if cond:
            self.ok(what, always)
        else:
            self.fail(what, why)
        return bool(cond)


def group_of(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def name_of(doc: dict) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def load_docs(path: Path, report: Report) -> list[dict] | None:
    if not path.exists() or path.stat().st_size == 0:
        report.fail(f"render {path.name}", "missing or empty (its render step failed)")
        return None
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except yaml.YAMLError as e:
        report.fail(f"render {path.name}", f"not valid YAML: {e}")
        return None
    bad = [d for d in docs if not isinstance(d, dict) or "kind" not in d or "apiVersion" not in d]
    if not report.check(not bad, f"render {path.name}", "documents without kind/apiVersion"):
        return None
    return docs


# --------------------------------------------------------------------------- schema
def install_schema_cache() -> None:
    """kubernetes-validate reads the 1.3 MB definitions file for every document; cache it."""
    if kv_utils is None or getattr(kv_utils, "_cep_cached", False):
        return
    kv_utils.schema_contents = functools.lru_cache(maxsize=None)(kv_utils.schema_contents)
    kv_utils._cep_cached = True


def check_schema(file: str, docs: list[dict], versions: list[str], report: Report, crd_skips: dict) -> None:
    if kubernetes_validate is None:
        report.fail(f"schema {file}", "kubernetes_validate is not importable (run scripts/install-chart-tools.sh)")
        return
    install_schema_cache()
    valid = 0
    for doc in docs:
        group, kind = group_of(doc["apiVersion"]), doc["kind"]
        what = f"schema {file} {name_of(doc)}"
        if group not in CORE_GROUPS:
            reason = CRD_SKIP_REASONS.get((group, kind))
            if reason is None:
                report.fail(what, f"custom resource {doc['apiVersion']} {kind} is neither validated nor listed as a known CRD")
            else:
                report.skip(what, f"schema not validated ({reason})", quiet=True)
                crd_skips.setdefault((doc["apiVersion"], kind, reason), []).append(f"{file}:{doc['metadata']['name']}")
            continue
        for version in versions:
            try:
                kv_utils.validate(doc, version, strict=True)
            except kv_utils.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                report.fail(f"{what} (k8s {version})", f"{path}: {e.message}")
                continue
            except kv_utils.SchemaNotFoundError as e:
                report.fail(f"{what} (k8s {version})", e.message)
                continue
            except kv_utils.VersionNotSupportedError:
                report.fail(f"{what} (k8s {version})", f"kubernetes-validate does not know Kubernetes {version}")
                continue
            report.ok(f"{what} (k8s {version})")
            valid += 1
    print(f"  schema {file}: {valid} document/version pairs valid (strict, Kubernetes {', '.join(versions)})")


# --------------------------------------------------------------------------- helpers
def labels_match(selector: dict | None, labels: dict | None) -> bool:
    """Does a selector (a LabelSelector, or a Service's plain map) select these labels?
    matchLabels only, as we render them; an empty selector selects everything."""
    selector = selector or {}
    if "matchLabels" in selector or "matchExpressions" in selector:
        if selector.get("matchExpressions"):
            return False  # not used by our manifests: count as no match so that it gets noticed
        match = selector.get("matchLabels") or {}
    else:
        match = selector
    labels = labels or {}
    return all(labels.get(k) == v for k, v in match.items())


def pod_spec_of(doc: dict) -> tuple[dict, dict] | None:
    """(pod metadata, pod spec) of a workload."""
    kind = doc["kind"]
    spec = doc.get("spec", {})
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        tpl = spec.get("template", {})
    elif kind == "CronJob":
        tpl = spec.get("jobTemplate", {}).get("spec", {}).get("template", {})
    elif kind == "Pod":
        tpl = doc
    else:
        return None
    return tpl.get("metadata", {}), tpl.get("spec", {})


def network_policies_selecting(docs: list[dict], namespace_labels: dict) -> list[dict]:
    return [d for d in docs if d["kind"] == "NetworkPolicy" and labels_match(d["spec"].get("podSelector"), namespace_labels)]


def check_pod_security(what: str, pod: dict, container: dict, report: Report) -> None:
    psc = pod.get("securityContext", {}) or {}
    csc = container.get("securityContext", {}) or {}

    def eff(key):
        return csc[key] if key in csc else psc.get(key)

    caps = csc.get("capabilities", {}) or {}
    seccomp = (csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    problems = []
    if eff("runAsNonRoot") is not True:
        problems.append("runAsNonRoot is not true")
    if eff("runAsUser") == 0:
        problems.append("runAsUser is 0")
    if csc.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem is not true")
    if csc.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation is not false")
    if csc.get("privileged"):
        problems.append("privileged")
    if "ALL" not in (caps.get("drop") or []):
        problems.append("capabilities.drop lacks ALL")
    if caps.get("add"):
        problems.append(f"capabilities.add {caps['add']}")
    if seccomp != "RuntimeDefault":
        problems.append(f"seccompProfile is {seccomp!r}, not RuntimeDefault")
    report.check(not problems, f"{what} securityContext", "; ".join(problems))


def check_resources(what: str, container: dict, report: Report) -> None:
    res = container.get("resources", {}) or {}
    limits, requests = res.get("limits", {}) or {}, res.get("requests", {}) or {}
    missing = [f"limits.{k}" for k in ("cpu", "memory") if k not in limits]
    missing += [f"requests.{k}" for k in ("cpu", "memory") if k not in requests]
    report.check(not missing, f"{what} resources", f"missing {', '.join(missing)}")


def check_network_policy(what: str, docs: list[dict], pod_labels: dict, report: Report) -> list[dict]:
    nps = network_policies_selecting(docs, pod_labels)
    full = [n for n in nps if {"Ingress", "Egress"} <= set(n["spec"].get("policyTypes", []))]
    report.check(bool(full), f"{what} network policy",
                 "no NetworkPolicy with policyTypes [Ingress, Egress] selects its pods"
                 + (f" (only {[name_of(n) for n in nps]})" if nps else ""))
    return full


# --------------------------------------------------------------------------- chart
def grpc_port_of(container: dict) -> int | None:
    for p in container.get("ports", []) or []:
        if p.get("name") == "grpc":
            return p.get("containerPort")
    return None


def check_chart(file: str, docs: list[dict], report: Report, expect_hpa: bool) -> dict:
    """Assertions on one chart render. Returns {service: info} for the later checks."""
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}

    report.check("Secret" not in by_kind, f"{file} no Secret", "the chart renders a Secret: secrets are references only")

    services: dict[str, dict] = {}
    deployments = by_kind.get("Deployment", [])
    report.check(bool(deployments), f"{file} deployments", "no Deployment rendered")
    for dep in deployments:
        name = dep["metadata"]["name"]
        meta, pod = pod_spec_of(dep)
        labels = meta.get("labels", {})
        svc_name = labels.get("app.kubernetes.io/component", "?")
        what = f"{file} Deployment/{name}"
        containers = pod.get("containers", [])
        main = next((c for c in containers if c.get("name") == svc_name), containers[0] if containers else {})
        port = grpc_port_of(main)
        report.check(port is not None, f"{what} grpc port", "container has no port named grpc")

        probe_problems = []
        for probe, want_service in (("startupProbe", None), ("livenessProbe", ""), ("readinessProbe", None)):
            p = main.get(probe)
            if not p or "grpc" not in p:
                probe_problems.append(f"{probe} is not a grpc probe")
                continue
            if p["grpc"].get("port") != port:
                probe_problems.append(f"{probe} checks port {p['grpc'].get('port')}, not the grpc port {port}")
            if want_service is not None and p["grpc"].get("service", "") != want_service:
                probe_problems.append(f"{probe} checks service {p['grpc'].get('service')!r}")
        report.check(not probe_problems, f"{what} probes", "; ".join(probe_problems))
        check_resources(what, main, report)
        check_pod_security(what, pod, main, report)
        report.check(pod.get("automountServiceAccountToken") is False, f"{what} no API token",
                     "automountServiceAccountToken is not false")
        sa = pod.get("serviceAccountName")
        report.check(("ServiceAccount", sa) in names, f"{what} service account", f"ServiceAccount {sa!r} not rendered")
        cm_names = [v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v]
        report.check(bool(cm_names) and all(("ConfigMap", n) in names for n in cm_names), f"{what} config map",
                     f"ConfigMap volume(s) {cm_names} not rendered")
        env = {e["name"]: e for e in main.get("env", [])}
        mounts = {m["mountPath"]: m for m in main.get("volumeMounts", [])}
        report.check(env.get("CEP_CONFIG_DIR", {}).get("value") == "/etc/cep" and "/etc/cep" in mounts,
                     f"{what} settings mount", "CEP_CONFIG_DIR=/etc/cep with the ConfigMap mounted there is expected")

        nps = check_network_policy(what, docs, labels, report)
        egress_ports = {p.get("port") for n in nps for r in n["spec"].get("egress", []) or [] for p in r.get("ports", []) or []}
        missing = [str(p) for p in (53, 4222, 5432) if p not in egress_ports]
        report.check(not missing, f"{what} egress", f"no egress to port(s) {', '.join(missing)} (DNS, NATS, PostgreSQL)")
        ingress_ports = {p.get("port") for n in nps for r in n["spec"].get("ingress", []) or [] for p in r.get("ports", []) or []}
        report.check("grpc" in ingress_ports or port in ingress_ports, f"{what} ingress",
                     "no ingress rule to the gRPC port")

        svcs = [s for s in by_kind.get("Service", []) if s["spec"].get("selector") and labels_match(s["spec"]["selector"], labels)]
        report.check(any(any(p.get("port") == port for p in s["spec"].get("ports", [])) for s in svcs),
                     f"{what} service", "no Service selects its pods on the gRPC port")
        pdbs = [p for p in by_kind.get("PodDisruptionBudget", []) if labels_match(p["spec"].get("selector"), labels)]
        report.check(bool(pdbs), f"{what} pdb", "no PodDisruptionBudget selects its pods")
        hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", [])
                if h["spec"]["scaleTargetRef"].get("kind") == "Deployment" and h["spec"]["scaleTargetRef"].get("name") == name]
        if expect_hpa:
            report.check(bool(hpas), f"{what} hpa", "no HorizontalPodAutoscaler targets it")
        if hpas:
            report.check("replicas" not in dep["spec"], f"{what} replicas", "replicas is set although an HPA scales it")
        max_replicas = max([h["spec"].get("maxReplicas", 1) for h in hpas] + [dep["spec"].get("replicas", 1)])

        secret_env = {k: v["valueFrom"]["secretKeyRef"] for k, v in env.items() if "valueFrom" in v and "secretKeyRef" in v["valueFrom"]}
        plain_env = {k: v.get("value", "") for k, v in env.items() if "value" in v}
        services[svc_name] = {
            "deployment": name, "labels": labels, "grpc_port": port,
            "metrics_port": next((p["containerPort"] for p in main.get("ports", []) if p.get("name") == "metrics"), None),
            "binary": Path((main.get("command") or [svc_name])[0]).name,
            "config_maps": cm_names, "secret_env": secret_env, "plain_env": plain_env,
            "network_policies": nps, "mounts": mounts, "volumes": pod.get("volumes", []),
            "max_replicas": max_replicas,
        }

    # Jobs and CronJobs (migrations, scheduled jobs)
    for doc in by_kind.get("Job", []) + by_kind.get("CronJob", []):
        meta, pod = pod_spec_of(doc)
        what = f"{file} {name_of(doc)}"
        for c in pod.get("containers", []):
            check_resources(f"{what} {c['name']}", c, report)
            check_pod_security(f"{what} {c['name']}", pod, c, report)
        check_network_policy(what, docs, meta.get("labels", {}), report)
        if doc["kind"] == "Job":
            ann = doc["metadata"].get("annotations", {})
            hooks = set(ann.get("helm.sh/hook", "").split(","))
            report.check({"pre-install", "pre-upgrade"} <= hooks, f"{what} hook",
                         "a migration Job must be a pre-install,pre-upgrade hook")
            vols = [v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v]
            hook_cms = {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"
                        and "pre-install" in d["metadata"].get("annotations", {}).get("helm.sh/hook", "")}
            report.check(all(v in hook_cms for v in vols), f"{what} hook config",
                         f"its ConfigMap(s) {vols} are not hooks themselves, so they would not exist at pre-install")

    # Settings (TOML) of each service
    cms = {d["metadata"]["name"]: d for d in by_kind.get("ConfigMap", [])}
    for svc_name, info in services.items():
        for cm_name in info["config_maps"]:
            cm = cms.get(cm_name)
            what = f"{file} ConfigMap/{cm_name}"
            if cm is None:
                continue
            key = f"{svc_name}.toml"
            text = (cm.get("data") or {}).get(key)
            if not report.check(text is not None, f"{what} {key}", f"no key {key}"):
                continue
            try:
                settings = tomllib.loads(text)
            except tomllib.TOMLDecodeError as e:
                report.fail(f"{what} toml", f"not valid TOML: {e}")
                continue
            report.ok(f"{what} toml")
            info["settings"] = settings
            info["toml"] = text
            jwks = (cm.get("data") or {}).get("jwks.json")
            jwks_path = settings.get("auth", {}).get("jwks_path")
            if jwks is None:
                report.check(jwks_path is None, f"{what} jwks", f"auth.jwks_path {jwks_path!r} but no jwks.json rendered")
            else:
                info["jwks"] = jwks
                try:
                    keys = json.loads(jwks).get("keys", [])
                except (json.JSONDecodeError, AttributeError) as e:
                    keys = None
                    report.fail(f"{what} jwks", f"jwks.json is not a JWKS: {e}")
                if keys is not None:
                    signing = [k for k in keys if k.get("kid") and k.get("use") != "enc"]
                    report.check(jwks_path == "/etc/cep/jwks.json" and bool(signing)
                                 and bool(settings.get("auth", {}).get("jwks_audience")),
                                 f"{what} jwks", f"auth.jwks_path {jwks_path!r} (want /etc/cep/jwks.json), an "
                                 f"auth.jwks_audience, and a signing key with a kid among {keys}")
                    report.check(all(k.get("kty") != "oct" for k in keys), f"{what} jwks public",
                                 "a symmetric (oct) key in the JWKS ConfigMap")
            leaked = []
            for section, table in settings.items():
                if not isinstance(table, dict):
                    if SECRET_KEY_PATTERN.search(section):
                        leaked.append(section)
                    continue
                for k in table:
                    if (section, k) in SECRET_SETTINGS or (k != "url" and SECRET_KEY_PATTERN.search(k)) \
                            or (section in ("nir", "personal") and (section, k) not in NOT_SECRET_SETTINGS):
                        leaked.append(f"{section}.{k}")
            report.check(not leaked, f"{what} no secret", f"secret-looking settings in a ConfigMap: {leaked}")
            srv = settings.get("server", {})
            grpc_listen, metrics_listen = srv.get("grpc_listen", ""), srv.get("metrics_listen", "")
            report.check(grpc_listen.endswith(f":{info['grpc_port']}") and metrics_listen.endswith(f":{info['metrics_port']}"),
                         f"{what} ports", f"listens on {grpc_listen}/{metrics_listen}, the pod declares "
                         f"{info['grpc_port']}/{info['metrics_port']}")
            report.check(settings.get("database", {}).get("migrate_on_start") is False, f"{what} migrations",
                         "database.migrate_on_start must be false (the hook Job migrates)")
            nats_settings = settings.get("nats", {})
            password_env = f"CEP_{svc_name.upper()}__NATS__PASSWORD"
            report.check(nats_settings.get("user") == svc_name and password_env in info["secret_env"],
                         f"{what} nats user", f"nats.user {nats_settings.get('user')!r} (want {svc_name!r}) and "
                         f"{password_env} from a Secret are expected: each service is its own NATS user")
            ca_path = nats_settings.get("tls_ca_path")
            if ca_path is not None:
                ca_mount = next((m for m in info["mounts"].values() if ca_path.startswith(m["mountPath"].rstrip("/") + "/")), None)
                ca_volume = next((v for v in info["volumes"] if ca_mount and v.get("name") == ca_mount.get("name")), {})
                report.check(str(nats_settings.get("url", "")).startswith("tls://") and ca_path == NATS_CA_PATH
                             and "secret" in ca_volume, f"{what} nats tls",
                             f"nats.tls_ca_path {ca_path!r} needs a tls:// url and the CA Secret mounted at {NATS_CA_PATH}")
            op = settings.get("operator", {})
            report.check(bool(re.fullmatch(r"[A-Za-z0-9]{2}", str(op.get("id", "")))) and op.get("lots")
                         and all(isinstance(l, int) and 1 <= l <= 19 for l in op.get("lots", [])),
                         f"{what} operator", f"operator id/lots invalid: {op}")
            check_file_settings(what, info, report)
    for svc_name, info in services.items():
        if "settings" in info:
            check_endpoints(f"{file} {svc_name}", info, services, by_kind.get("Service", []), report)
    return services


def file_settings(settings: dict) -> list[tuple[str, str, str]]:
    """(section, key, value) of the settings that name a file or folder of the pod:
    keys ending in _path, and `root` (a folder the service writes), when set."""
    out = []
    for section, table in settings.items():
        if not isinstance(table, dict):
            continue
        for k, v in table.items():
            if (k.endswith("_path") or k == "root") and isinstance(v, str) and v:
                out.append((section, k, v))
    return out


def mount_of(info: dict, path: str) -> tuple[dict, dict, str] | None:
    """(volumeMount, volume, path relative to the mount) of the deepest mount holding path."""
    best = None
    for mount_path, m in info["mounts"].items():
        base = mount_path.rstrip("/")
        if path == base or path.startswith(base + "/"):
            if best is None or len(base) > len(best[0]["mountPath"].rstrip("/")):
                volume = next((v for v in info["volumes"] if v.get("name") == m.get("name")), {})
                best = (m, volume, path[len(base):].lstrip("/"))
    return best


def check_file_settings(what: str, info: dict, report: Report) -> None:
    """Each file setting points into a volume of the pod: a Secret's file it projects
    (read-only), a writable PersistentVolumeClaim for a `root` folder."""
    for section, key, value in file_settings(info.get("settings", {})):
        name = f"{what} {section}.{key}"
        if not report.check(value.startswith("/"), f"{name} path", f"{value!r} is not an absolute path"):
            continue
        found = mount_of(info, value)
        if not report.check(found is not None, f"{name} mounted",
                            f"{value} is in no volume of the pod (the root filesystem is the image's, read-only)"):
            continue
        mount, volume, rel = found
        if key == "root":
            report.check("persistentVolumeClaim" in volume and not mount.get("readOnly") and rel == "",
                         f"{name} persistent", f"{value} must be the mount path of a writable PersistentVolumeClaim "
                         f"(it is {rel or '.'} in volume {volume.get('name')!r}: {sorted(k for k in volume if k != 'name')})")
        elif "secret" in volume:
            items = volume["secret"].get("items")
            report.check(mount.get("readOnly") is True and (items is None or any(i.get("path") == rel for i in items)),
                         f"{name} secret file", f"{value}: the Secret volume {volume.get('name')!r} must be mounted "
                         f"read-only and project {rel!r} (its items: {[i.get('path') for i in items or []]})")
        elif "configMap" in volume:
            report.ok(f"{name} config file")  # the chart's own files (jwks.json): checked with the ConfigMap
        else:
            report.fail(f"{name} mounted", f"{value} is in volume {volume.get('name')!r}, neither a Secret, "
                                           f"a ConfigMap nor a PersistentVolumeClaim")


def check_endpoints(what: str, info: dict, services: dict, service_docs: list[dict], report: Report) -> None:
    """`[<section>] endpoint` settings naming a Service of the render: that Service selects a
    rendered service's pods on that port, and the NetworkPolicies open the way (the caller's
    egress to those pods, the callee's ingress from the caller's pods)."""
    for section, table in sorted(info.get("settings", {}).items()):
        if not isinstance(table, dict) or not isinstance(table.get("endpoint"), str):
            continue
        name = f"{what} {section}.endpoint"
        url = table["endpoint"]
        m = re.fullmatch(r"https?://([a-z0-9.-]+):(\d+)/?", url)
        if not report.check(m is not None, f"{name} address", f"{url!r} is not http(s)://HOST:PORT"):
            continue
        host, port = m.group(1), int(m.group(2))
        labels = host.split(".")
        svc_doc = next((d for d in service_docs if d["metadata"]["name"] == labels[0]), None)
        if not report.check(svc_doc is not None and (len(labels) == 1 or labels[2:] in ([], ["svc"], ["svc", "cluster", "local"])),
                            f"{name} service", f"{host} is not a Service of the render"):
            continue
        svc_port = next((p for p in svc_doc["spec"].get("ports", []) if p.get("port") == port), None)
        callee = next((n for n, i in services.items() if labels_match(svc_doc["spec"].get("selector"), i["labels"])), None)
        if not report.check(svc_port is not None and callee is not None and port == services[callee]["grpc_port"],
                            f"{name} service", f"Service {labels[0]} does not select a rendered service's pods on its gRPC port {port}"):
            continue
        target = services[callee]
        egress = any(p.get("port") == port and (p.get("protocol") or "TCP") == "TCP"
                     and any("namespaceSelector" not in peer and "ipBlock" not in peer
                             and labels_match(peer.get("podSelector"), target["labels"]) for peer in rule.get("to", []) or [])
                     for n in info["network_policies"] for rule in n["spec"].get("egress", []) or []
                     for p in rule.get("ports", []) or [])
        report.check(egress, f"{name} egress", f"no egress rule of its NetworkPolicy reaches the {callee} pods on {port}")
        ingress = any(p.get("port") in (port, "grpc")
                      and any("namespaceSelector" not in peer and "ipBlock" not in peer
                              and labels_match(peer.get("podSelector"), info["labels"]) for peer in rule.get("from", []) or [])
                      for n in target["network_policies"] for rule in n["spec"].get("ingress", []) or []
                      for p in rule.get("ports", []) or [])
        report.check(ingress, f"{name} ingress", f"the NetworkPolicy of {callee} does not let these pods in on its gRPC port")


# --------------------------------------------------------------------------- platform
def check_cnpg_structure(file: str, docs: list[dict], report: Report) -> None:
    """Structural checks of the custom resources whose schema we cannot validate."""
    clusters = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Cluster"}
    stores = {d["metadata"]["name"] for d in docs if d["kind"] == "ObjectStore"}
    cluster_keys = {"description", "instances", "imageName", "primaryUpdateStrategy", "enableSuperuserAccess", "bootstrap",
                    "postgresql", "storage", "walStorage", "resources", "affinity", "plugins", "monitoring",
                    "inheritedMetadata", "backup", "managed", "topologySpreadConstraints", "priorityClassName"}
    for name, c in clusters.items():
        what = f"{file} Cluster/{name}"
        spec = c.get("spec", {})
        unknown = set(spec) - cluster_keys
        report.check(not unknown, f"{what} fields", f"fields not expected in a CloudNativePG Cluster spec: {sorted(unknown)}")
        report.check(isinstance(spec.get("instances"), int) and spec["instances"] >= 1 and spec.get("storage", {}).get("size"),
                     f"{what} size", "instances and storage.size are required")
        initdb = spec.get("bootstrap", {}).get("initdb", {})
        report.check(bool(initdb.get("database") and initdb.get("owner")), f"{what} bootstrap",
                     "bootstrap.initdb.database and owner are required (they name the <cluster>-app secret's user)")
        for p in spec.get("plugins", []) or []:
            if p.get("isWALArchiver"):
                obj = p.get("parameters", {}).get("barmanObjectName")
                report.check(obj in stores, f"{what} WAL archive", f"barmanObjectName {obj!r} is not an ObjectStore of the render")
    for d in docs:
        if d["kind"] == "ScheduledBackup":
            what = f"{file} ScheduledBackup/{d['metadata']['name']}"
            spec = d.get("spec", {})
            report.check(len(str(spec.get("schedule", "")).split()) == 6, f"{what} schedule",
                         "CloudNativePG schedules have six fields (seconds first)")
            report.check(spec.get("cluster", {}).get("name") in clusters, f"{what} cluster",
                         f"cluster {spec.get('cluster')} is not in the render")
            report.check(spec.get("method") != "plugin" or spec.get("pluginConfiguration", {}).get("name") == "barman-cloud.cloudnative-pg.io",
                         f"{what} method", "method plugin needs pluginConfiguration.name barman-cloud.cloudnative-pg.io")
        if d["kind"] == "ObjectStore":
            what = f"{file} ObjectStore/{d['metadata']['name']}"
            conf = d.get("spec", {}).get("configuration", {})
            report.check(str(conf.get("destinationPath", "")).startswith(("s3://", "gs://", "https://")), f"{what} destination",
                         "configuration.destinationPath is required")
            report.check(re.fullmatch(r"[1-9][0-9]*[dwm]", str(d.get("spec", {}).get("retentionPolicy", "30d"))) is not None,
                         f"{what} retention", "retentionPolicy must look like 30d")


# Where the services' metrics are registered (names without the `cep_` namespace).
METRICS_SOURCE = Path(__file__).resolve().parents[2] / "crates" / "kit" / "src" / "metrics.rs"


def exposed_metrics() -> set[str]:
    """The metric names every service exposes, read from the registry's source."""
    source = METRICS_SOURCE.read_text()
    names = set(re.findall(r'(?:Opts|HistogramOpts|IntGauge|Gauge)::new\(\s*"([a-z_]+)"', source))
    return {f"cep_{n}" for n in names}


def check_alerts(file: str, docs: list[dict], report: Report, expect: bool) -> None:
    """The PrometheusRule: present only when alerts are enabled; each rule complete,
    and every cep_* metric it queries exposed by the services."""
    rules_docs = [d for d in docs if d["kind"] == "PrometheusRule"]
    if not report.check(len(rules_docs) == (1 if expect else 0), f"{file} alerts",
                        f"expected {1 if expect else 0} PrometheusRule, got {len(rules_docs)}"):
        return
    exposed = exposed_metrics()
    report.check({"cep_nats_connected", "cep_outbox_unsent", "cep_grpc_requests_total"} <= exposed,
                 "metrics source", f"cannot read the metric names of {METRICS_SOURCE}: {sorted(exposed)}")
    for doc in rules_docs:
        for group in doc["spec"]["groups"]:
            for rule in group["rules"]:
                what = f"{file} PrometheusRule alert {rule.get('alert')}"
                missing = [k for k in ("alert", "expr", "for") if not rule.get(k)]
                report.check(not missing, f"{what} fields", f"missing {missing}")
                report.check(rule.get("labels", {}).get("severity") in ("warning", "critical"), f"{what} severity",
                             f"severity must be warning or critical, got {rule.get('labels', {}).get('severity')!r}")
                report.check(bool(rule.get("annotations", {}).get("summary")), f"{what} summary", "no summary annotation")
                used = set(re.findall(r"\bcep_[a-z_]+", str(rule.get("expr", ""))))
                report.check(bool(used) and used <= exposed, f"{what} metrics",
                             f"queries {sorted(used - exposed) or 'no cep_* metric'}, not exposed by the services")


def check_platform(file: str, docs: list[dict], report: Report, overlay: str) -> dict:
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    ns = by_kind.get("Namespace", [])
    report.check(len(ns) == 1 and ns[0]["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") == "restricted",
                 f"{file} namespace", "one Namespace with pod-security.kubernetes.io/enforce=restricted is expected")
    deny = [n for n in by_kind.get("NetworkPolicy", []) if n["spec"].get("podSelector") in ({}, None)
            and {"Ingress", "Egress"} <= set(n["spec"].get("policyTypes", []))
            and not n["spec"].get("ingress") and not n["spec"].get("egress")]
    report.check(bool(deny), f"{file} default deny", "no default-deny NetworkPolicy (podSelector {}, Ingress+Egress, no rules)")

    for doc in by_kind.get("StatefulSet", []) + by_kind.get("Deployment", []):
        meta, pod = pod_spec_of(doc)
        what = f"{file} {name_of(doc)}"
        for c in pod.get("containers", []):
            check_resources(f"{what} {c['name']}", c, report)
            check_pod_security(f"{what} {c['name']}", pod, c, report)
            report.check(bool(c.get("readinessProbe")) and bool(c.get("livenessProbe")), f"{what} {c['name']} probes",
                         "readiness and liveness probes are required")
        check_network_policy(what, docs, meta.get("labels", {}), report)

    want = {"dev": 1, "production": 3}[overlay]
    nats = [s for s in by_kind.get("StatefulSet", []) if s["metadata"]["name"] == "nats"]
    nats_info: dict = {}
    if report.check(len(nats) == 1, f"{file} nats", "no StatefulSet nats"):
        st = nats[0]
        report.check(st["spec"].get("replicas") == want, f"{file} nats replicas",
                     f"{st['spec'].get('replicas')} replicas, {want} expected for {overlay}")
        report.check(bool(st["spec"].get("volumeClaimTemplates")), f"{file} nats volumes",
                     "JetStream needs persistent volumes (volumeClaimTemplates)")
        cm_name = next((v["configMap"]["name"] for v in st["spec"]["template"]["spec"].get("volumes", []) if "configMap" in v), None)
        conf = next((d.get("data", {}).get("nats.conf", "") for d in by_kind.get("ConfigMap", []) if d["metadata"]["name"] == cm_name), "")
        report.check("jetstream" in conf, f"{file} nats jetstream", f"ConfigMap {cm_name} does not enable JetStream")
        clustered = re.search(r"^\s*cluster\s*\{", conf, re.M) is not None
        report.check(clustered == (want > 1), f"{file} nats cluster block",
                     "a cluster block is needed with several servers and must be absent with one")
        routes = re.findall(r"nats-(\d+)\.nats-headless", conf)
        report.check(not clustered or sorted(set(int(r) for r in routes)) == list(range(want)), f"{file} nats routes",
                     f"routes to servers {routes}, {want} servers run")
        # the services' users (generated from deploy/nats/permissions.toml) and their passwords
        accounts = next((d.get("data", {}).get("accounts.conf", "") for d in by_kind.get("ConfigMap", [])
                         if d["metadata"]["name"] == cm_name), "")
        users = re.findall(r'^\s*user: "([a-z0-9]+)"$', accounts, re.M)
        report.check(re.search(r'^include "accounts\.conf"$', conf, re.M) is not None and "authorization" in accounts
                     and bool(users), f"{file} nats accounts",
                     f"ConfigMap {cm_name} must hold accounts.conf (the services' users) and nats.conf include it")
        nats_env = {e["name"]: e for c in st["spec"]["template"]["spec"].get("containers", []) for e in c.get("env", [])}
        wanted = set(re.findall(r"\$(CEP_NATS_[A-Z0-9_]+_PASSWORD)\b", accounts))
        report.check(bool(wanted) and wanted <= set(nats_env), f"{file} nats passwords",
                     f"the NATS servers lack the variables {sorted(wanted - set(nats_env))} accounts.conf reads")
        password_refs = {(ref["name"], ref["key"]) for e in nats_env.values()
                         if (ref := e.get("valueFrom", {}).get("secretKeyRef"))}
        nats_info = {"replicas": st["spec"].get("replicas"), "users": users, "password_refs": password_refs,
                     "pod_labels": st["spec"]["template"]["metadata"].get("labels", {}),
                     "services": {s["metadata"]["name"]: s for s in by_kind.get("Service", [])
                                  if labels_match(s["spec"].get("selector"), st["spec"]["template"]["metadata"].get("labels", {}))}}

    clusters = by_kind.get("Cluster", [])
    report.check(bool(clusters), f"{file} databases", "no CloudNativePG Cluster")
    for c in clusters:
        what = f"{file} Cluster/{c['metadata']['name']}"
        report.check(c["spec"].get("instances") == want, f"{what} instances",
                     f"{c['spec'].get('instances')} instances, {want} expected for {overlay}")
        nps = [n for n in by_kind.get("NetworkPolicy", [])
               if labels_match(n["spec"].get("podSelector"), {"cnpg.io/cluster": c["metadata"]["name"]})
               and n["spec"].get("podSelector", {}).get("matchLabels")]
        report.check(bool(nps), f"{what} network policy", "no NetworkPolicy selects cnpg.io/cluster=<name>")
        if overlay == "production":
            report.check(any(p.get("isWALArchiver") for p in c["spec"].get("plugins", [])), f"{what} WAL archive",
                         "no WAL archiver plugin")
            report.check(any(b["spec"]["cluster"]["name"] == c["metadata"]["name"] for b in by_kind.get("ScheduledBackup", [])),
                         f"{what} backup", "no ScheduledBackup")
    check_cnpg_structure(file, docs, report)
    pvcs = {p["metadata"]["name"]: p for p in by_kind.get("PersistentVolumeClaim", [])}
    for name, pvc in pvcs.items():
        spec = pvc.get("spec", {})
        report.check(bool(spec.get("accessModes")) and bool(spec.get("resources", {}).get("requests", {}).get("storage")),
                     f"{file} PersistentVolumeClaim/{name} size", "accessModes and resources.requests.storage are required")
    return {"nats": nats_info, "clusters": {c["metadata"]["name"]: c for c in clusters}, "pvcs": pvcs,
            "network_policies": by_kind.get("NetworkPolicy", []),
            "app_secret_names": {f"{c['metadata']['name']}-app" for c in clusters}}


def check_pairing(chart_file: str, services: dict, platform: dict, report: Report, all_databases: set[str]) -> None:
    """The chart's references must meet what the paired overlay creates."""
    nats = platform.get("nats") or {}
    for svc, info in services.items():
        what = f"{chart_file} {svc} vs overlay"
        settings = info.get("settings", {})
        url = settings.get("nats", {}).get("url", "")
        m = re.match(r"^(?:nats|tls)://([^:/]+)(?::(\d+))?", url)
        host, port = (m.group(1), int(m.group(2) or 4222)) if m else ("", 0)
        svc_obj = (nats.get("services") or {}).get(host.split(".")[0])
        report.check(svc_obj is not None and any(p.get("port") == port for p in svc_obj["spec"]["ports"]),
                     f"{what} nats url", f"{url} is not a Service of the overlay's NATS pods")
        replicas = settings.get("nats", {}).get("stream_replicas")
        report.check(isinstance(replicas, int) and 1 <= replicas <= (nats.get("replicas") or 0), f"{what} stream replicas",
                     f"stream_replicas {replicas} but the overlay runs {nats.get('replicas')} NATS server(s)")
        nats_peers_ok = any(
            labels_match(peer.get("podSelector"), nats.get("pod_labels")) and "namespaceSelector" not in peer
            for np in info["network_policies"] for rule in np["spec"].get("egress", []) or []
            if any(p.get("port") == 4222 for p in rule.get("ports", []) or [])
            for peer in rule.get("to", []) or [])
        report.check(nats_peers_ok, f"{what} nats egress", "the egress rule to 4222 does not select the overlay's NATS pods")
        user = settings.get("nats", {}).get("user")
        ref = info["secret_env"].get(f"CEP_{svc.upper()}__NATS__PASSWORD", {})
        report.check(user in (nats.get("users") or []) and (ref.get("name"), ref.get("key")) in (nats.get("password_refs") or set()),
                     f"{what} nats credentials",
                     f"NATS user {user!r} with password {ref.get('name')}/{ref.get('key')}: the overlay's NATS servers have "
                     f"users {nats.get('users')} and read passwords {sorted(nats.get('password_refs') or [])}")
        db_secret = next((ref["name"] for env, ref in info["secret_env"].items() if env.endswith("__DATABASE__URL")), None)
        cluster = db_secret[:-len("-app")] if db_secret and db_secret.endswith("-app") else None
        if cluster in platform["clusters"]:
            report.ok(f"{what} database")
            db_nps = [n for n in platform["network_policies"]
                      if n["spec"].get("podSelector", {}).get("matchLabels", {}).get("cnpg.io/cluster") == cluster]
            admitted = any(labels_match(peer.get("podSelector"), info["labels"])
                           for n in db_nps for rule in n["spec"].get("ingress", []) or []
                           if any(p.get("port") == 5432 for p in rule.get("ports", []) or [])
                           for peer in rule.get("from", []) or [] if "namespaceSelector" not in peer)
            report.check(admitted, f"{what} database ingress",
                         f"the NetworkPolicy of {cluster} does not let the {svc} pods in on 5432")
        elif cluster in all_databases:
            report.fail(f"{what} database", f"{cluster} exists in k8s/base/databases but is not listed in k8s/base/kustomization.yaml")
        else:
            report.fail(f"{what} database", f"database URL secret {db_secret!r} is not the app secret of a Cluster of the overlay")
        for volume in info["volumes"]:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            pvc = (platform.get("pvcs") or {}).get(claim)
            if not report.check(pvc is not None, f"{what} claim {claim}",
                                f"the PersistentVolumeClaim {claim} is not in the overlay (k8s/base/volumes)"):
                continue
            modes = pvc["spec"].get("accessModes", [])
            report.check(info["max_replicas"] <= 1 or "ReadWriteMany" in modes, f"{what} claim {claim} access",
                         f"up to {info['max_replicas']} replicas mount it, spread over nodes, but it is {modes}: ReadWriteMany is needed")


# --------------------------------------------------------------------------- check-config
def dummy_secret(env_name: str) -> str:
    if env_name.endswith("__DATABASE__URL"):
        svc = env_name.split("__")[0].removeprefix("CEP_").lower()
        # The shape of CloudNativePG's <cluster>-app secret, key uri.
        return f"postgresql://{svc}:dummy-password@cep-{svc}-db-rw.cep:5432/{svc}"
    if env_name.endswith("JWT_SECRET"):
        return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(48))
    return base64.b64encode(secrets.token_bytes(32)).decode()


def stand_in_files(svc: str, info: dict, tmp: Path, bin_dir: Path, env: dict) -> None:
    """The files and folders the pod gets from its Secret and claim volumes (outside the
    chart's own: the ConfigMap, the NATS CA), as stand-ins under tmp, their settings
    pointed there: a folder for a claim; for a Secret's file, the test CA of `cepctl pki
    init` (its key for a *key_path setting, its certificate otherwise) when cepctl is in
    bin_dir, else a stand-in PEM."""
    pki = None
    for section, key, value in file_settings(info.get("settings", {})):
        found = mount_of(info, value)
        if found is None or (section, key) == ("nats", "tls_ca_path"):
            continue
        _, volume, rel = found
        target = tmp / "volumes" / volume.get("name", "volume") / rel
        if "persistentVolumeClaim" in volume:
            target.mkdir(parents=True, exist_ok=True)
        elif "secret" in volume:
            if pki is None:
                pki = tmp / "pki"
                cepctl = bin_dir / "cepctl"
                made = False
                if cepctl.is_file() and os.access(cepctl, os.X_OK):
                    made = subprocess.run([str(cepctl), "pki", "init", "--dir", str(pki)], env=env, cwd=tmp,
                                          capture_output=True, text=True, timeout=60).returncode == 0
                if not made:
                    pki.mkdir(parents=True, exist_ok=True)
                    (pki / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
                    (pki / "ca.key").write_text("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(pki / ("ca.key" if key.endswith("key_path") else "ca.pem"), target)
        else:
            continue
        env[f"CEP_{svc.upper()}__{section.upper()}__{key.upper()}"] = str(target)


def run_check_config(file: str, services: dict, bin_dir: Path, require_bin: bool, report: Report) -> None:
    for svc, info in sorted(services.items()):
        what = f"check-config {file} {svc}"
        binary = bin_dir / info["binary"]
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            msg = (f"needs the service binary {binary} (build it, e.g. `cargo build -p {svc}`, "
                   f"or point CEP_BIN_DIR at the folder holding it)")
            if require_bin:
                report.fail(what, msg + "; CEP_REQUIRE_BIN=1")
            else:
                report.skip(what, msg)
            continue
        if "toml" not in info:
            report.fail(what, "no rendered settings to check")
            continue
        with tempfile.TemporaryDirectory(prefix=f"cep-{svc}-config-") as tmp:
            env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
            env.update({k: v for k, v in info["plain_env"].items() if k != "CEP_CONFIG_DIR"})
            env.update({k: dummy_secret(k) for k in info["secret_env"]})
            env["CEP_CONFIG_DIR"] = tmp
            cfg = Path(tmp) / f"{svc}.toml"
            cfg.write_text(info["toml"])
            if "jwks" in info:
                # the pod reads /etc/cep/jwks.json; here the same file from the temp dir
                (Path(tmp) / "jwks.json").write_text(info["jwks"])
                env[f"CEP_{svc.upper()}__AUTH__JWKS_PATH"] = str(Path(tmp) / "jwks.json")
            if info.get("settings", {}).get("nats", {}).get("tls_ca_path"):
                # the pod reads the CA from its Secret; here a stand-in PEM file
                (Path(tmp) / "nats-ca.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
                env[f"CEP_{svc.upper()}__NATS__TLS_CA_PATH"] = str(Path(tmp) / "nats-ca.crt")
            stand_in_files(svc, info, Path(tmp), bin_dir, env)

            def run() -> subprocess.CompletedProcess:
                return subprocess.run([str(binary), "check-config"], env=env, cwd=tmp, capture_output=True,
                                      text=True, timeout=60)
            try:
                res = run()
            except (OSError, subprocess.TimeoutExpired) as e:
                report.fail(what, f"could not run {binary}: {e}")
                continue
            out = (res.stdout + res.stderr).strip()
            if not report.check(res.returncode == 0 and "configuration ok" in res.stdout + res.stderr, what,
                                f"exit {res.returncode}: {out[-1500:]}", always=True):
                continue
            # The same file with an unknown key must be refused: proves the file was read.
            cfg.write_text("chart_check_unknown_key = 1\n" + info["toml"])
            try:
                res = run()
            except (OSError, subprocess.TimeoutExpired) as e:
                report.fail(f"{what} (unknown key)", f"could not run {binary}: {e}")
                continue
            report.check(res.returncode != 0, f"{what} (unknown key refused)",
                         "check-config accepted an unknown key: is $CEP_CONFIG_DIR/<service>.toml read, and are unknown keys refused?",
                         always=True)


# --------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--renders", required=True, type=Path)
    ap.add_argument("--kube-versions", default="1.30.0")
    ap.add_argument("--bin-dir", required=True, type=Path)
    ap.add_argument("--require-bin", action="store_true")
    ap.add_argument("--databases", default="", help="space-separated names of k8s/base/databases/*")
    ap.add_argument("--counts", type=Path)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    report = Report(verbose=args.verbose)
    versions = args.kube_versions.split()
    all_databases = {f"cep-{d}-db" for d in args.databases.split()}
    r = args.renders

    section = [report.passed, report.failed]

    def section_done(name: str) -> None:
        print(f"  {name}: {report.passed - section[0]} passed, {report.failed - section[1]} failed")
        section[:] = [report.passed, report.failed]

    print("== schema validation")
    loaded: dict[str, list[dict] | None] = {}
    crd_skips: dict = {}
    files = ["chart-default.yaml", "chart-production.yaml", "chart-all-services.yaml", "chart-jwks.yaml",
             "chart-nats-tls.yaml", "k8s-dev.yaml", "k8s-production.yaml"]
    files += [f"k8s-db-{d}.yaml" for d in args.databases.split()]
    for f in files:
        loaded[f] = load_docs(r / f, report)
        if loaded[f] is not None:
            check_schema(f, loaded[f], versions, report, crd_skips)
    for (api, kind, reason), where in sorted(crd_skips.items()):
        print(f"  SKIP  schema of {len(where)} {api} {kind}: {reason}; structural checks instead")

    section_done("schema")
    print("== chart renders: workloads, settings, policies")
    chart_services = {}
    for f, hpa in (("chart-default.yaml", False), ("chart-production.yaml", True), ("chart-all-services.yaml", False),
                   ("chart-jwks.yaml", True), ("chart-nats-tls.yaml", True)):
        if loaded.get(f) is not None:
            chart_services[f] = check_chart(f, loaded[f], report, expect_hpa=hpa)
            print(f"  {f}: services {', '.join(sorted(chart_services[f])) or 'none'}")
            check_alerts(f, loaded[f], report, expect=(f == "chart-production.yaml"))

    section_done("chart checks")
    print("== platform renders (kustomize)")
    platforms = {}
    for f, overlay in (("k8s-dev.yaml", "dev"), ("k8s-production.yaml", "production")):
        if loaded.get(f) is not None:
            platforms[overlay] = check_platform(f, loaded[f], report, overlay)
    for d in args.databases.split():
        f = f"k8s-db-{d}.yaml"
        if loaded.get(f) is not None:
            kinds = sorted(x["kind"] for x in loaded[f])
            report.check(kinds == ["Cluster", "NetworkPolicy", "ScheduledBackup"], f"{f} contents",
                         f"expected a Cluster, its NetworkPolicy and its ScheduledBackup, got {kinds}")
            check_cnpg_structure(f, loaded[f] + [{"kind": "ObjectStore", "apiVersion": "barmancloud.cnpg.io/v1",
                                                  "metadata": {"name": "cep-pg-backups"}, "spec": {"configuration": {"destinationPath": "s3://x/"}}}],
                                 report)

    section_done("platform checks")
    print("== chart values vs overlay")
    for chart_file, overlay in (("chart-default.yaml", "dev"), ("chart-production.yaml", "production")):
        if chart_file in chart_services and overlay in platforms:
            check_pairing(chart_file, chart_services[chart_file], platforms[overlay], report, all_databases)

    section_done("chart-vs-overlay checks")
    print("== check-config (the services' own settings loader)")
    for f in ("chart-default.yaml", "chart-production.yaml", "chart-jwks.yaml", "chart-nats-tls.yaml"):
        if f in chart_services:
            run_check_config(f, chart_services[f], args.bin_dir, args.require_bin, report)

    if args.counts:
        args.counts.write_text(json.dumps({"passed": report.passed, "failed": report.failed, "skipped": report.skipped,
                                           "failures": report.failures, "skips": report.skips}))
    print(f"  checks of the renders: {report.passed} passed, {report.failed} failed, {report.skipped} skipped")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
