#!/usr/bin/env python3
"""Generates the NATS users of the CEP services from deploy/nats/permissions.toml.

    python3 deploy/nats/generate.py           writes the generated files
    python3 deploy/nats/generate.py --check   fails when one of them is out of date

Standard library only (Python >= 3.11). It writes:
  k8s/base/nats/accounts.conf   the `authorization` block every nats-server of the
                                system includes (Kubernetes, local stack, tests); each
                                password is the server's environment variable
                                CEP_NATS_<SERVICE>_PASSWORD;
  k8s/base/nats/passwords.yaml  the kustomize patch giving the NATS StatefulSet those
                                variables from the Secret (`secret`, key: the service).
nats-server parses a variable's value as configuration text, so the variable holds
the password in double quotes (e.g. CEP_NATS_JOURNEYS_PASSWORD='"s3cret"'): any
base64 or hex password then reads as a string.
"""

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "deploy/nats/permissions.toml"
ACCOUNTS = ROOT / "k8s/base/nats/accounts.conf"
PASSWORDS = ROOT / "k8s/base/nats/passwords.yaml"

SERVICE = re.compile(r"^[a-z][a-z0-9]*$")
STREAM = re.compile(r"^[A-Z][A-Z0-9_]*$")
SUBJECT = re.compile(r"^[A-Za-z0-9_$-]+(\.([A-Za-z0-9_$-]+|\*))*(\.>)?$")


def password_variable(service: str) -> str:
    return f"CEP_NATS_{service.upper()}_PASSWORD"


def inbox_prefix(service: str) -> str:
    # The same as cep_bus::connection::inbox_prefix.
    return f"_INBOX_{service}"


def fail(message: str) -> "None":
    sys.exit(f"{SOURCE.relative_to(ROOT)}: {message}")


def load(path: Path) -> dict:
    with path.open("rb") as f:
        spec = tomllib.load(f)
    known = {"deadletter_stream", "deadletter_subject_prefix", "secret", "services"}
    if unknown := set(spec) - known:
        fail(f"unknown keys {sorted(unknown)}")
    services = spec.get("services") or {}
    if not services:
        fail("no [services.<name>] block")
    streams = {}
    for name, svc in services.items():
        if not SERVICE.match(name):
            fail(f"services.{name}: a service name is lowercase letters and digits")
        allowed = {"stream", "subjects", "reads", "extra_publish", "durables"}
        if unknown := set(svc) - allowed:
            fail(f"services.{name}: unknown keys {sorted(unknown)}")
        stream = svc.get("stream", "")
        if not STREAM.match(stream):
            fail(f"services.{name}.stream: {stream!r} is not an upper-case stream name")
        if stream in streams:
            fail(f"services.{name}.stream: {stream} is already the stream of {streams[stream]}")
        streams[stream] = name
        subjects = svc.get("subjects") or []
        if not subjects:
            fail(f"services.{name}.subjects: at least one subject")
        for subject in subjects:
            # a service's facts are cep.<service>.*: no service publishes another's
            if not (SUBJECT.match(subject) and subject.startswith(f"cep.{name}.")):
                fail(f"services.{name}.subjects: {subject!r} is not a subject under cep.{name}.")
        for subject in svc.get("extra_publish", []):
            if not SUBJECT.match(subject):
                fail(f"services.{name}.extra_publish: {subject!r} is not a subject")
    deadletter = spec.get("deadletter_stream", "")
    if not STREAM.match(deadletter) or deadletter in streams:
        fail(f"deadletter_stream: {deadletter!r} must be a stream name of no service")
    if not SUBJECT.match(spec.get("deadletter_subject_prefix", "")):
        fail("deadletter_subject_prefix: not a subject")
    if not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", spec.get("secret", "")):
        fail("secret: the name of the Kubernetes Secret of the passwords")
    for name, svc in services.items():
        for read in svc.get("reads", []):
            if read not in streams:
                fail(f"services.{name}.reads: {read} is the stream of no service")
            if streams[read] == name:
                fail(f"services.{name}.reads: {read} is its own stream")
        for read, suffixes in svc.get("durables", {}).items():
            if read not in svc.get("reads", []):
                fail(f"services.{name}.durables: {read} is not a stream it reads")
            for suffix in suffixes:
                if not SERVICE.match(suffix):
                    fail(f"services.{name}.durables.{read}: {suffix!r} is not lowercase letters and digits")
    return spec


def durables(svc: dict, name: str, stream: str) -> list[str]:
    """The durable consumers a service may open on `stream`: its own name, and
    `<name>-<suffix>` for each suffix of `durables.<stream>` (a consumer's filter is
    never changed in place: nats-server 2.9 stops delivering to a durable whose
    filter was updated, so another filter is another durable)."""
    return [name] + [f"{name}-{s}" for s in svc.get("durables", {}).get(stream, [])]


def publish_allow(spec: dict, name: str) -> list[str]:
    svc = spec["services"][name]
    deadletter = spec["deadletter_stream"]
    allow = list(svc["subjects"])
    allow.append(f"{spec['deadletter_subject_prefix']}.{name}.>")
    allow.append("$JS.API.INFO")
    for stream in (svc["stream"], deadletter):
        allow += [f"$JS.API.STREAM.{op}.{stream}" for op in ("INFO", "CREATE", "UPDATE")]
    for stream in svc.get("reads", []):
        allow.append(f"$JS.API.STREAM.INFO.{stream}")
        for durable in durables(svc, name, stream):
            # CONSUMER.CREATE carries the filter subject after the name (server >= 2.9)
            allow.append(f"$JS.API.CONSUMER.CREATE.{stream}.{durable}")
            allow.append(f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>")
            allow.append(f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}")
            allow.append(f"$JS.API.CONSUMER.INFO.{stream}.{durable}")
            allow.append(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}")
            # ack, nak, in-progress and term of its messages: $JS.ACK.<stream>.<consumer>.…,
            # and the form with domain and account hash in front of the stream
            allow.append(f"$JS.ACK.{stream}.{durable}.>")
            allow.append(f"$JS.ACK.*.*.{stream}.{durable}.>")
    allow += svc.get("extra_publish", [])
    return allow


def render_accounts(spec: dict) -> str:
    out = [
        "# Generated by deploy/nats/generate.py from deploy/nats/permissions.toml: do not edit.",
        "#",
        "# The NATS users of the CEP services, one per service: what each may publish and",
        "# subscribe to. Each password is the server's environment variable",
        "# CEP_NATS_<SERVICE>_PASSWORD, holding the password in double quotes (nats-server",
        "# parses the value as configuration text). No user, no connection: an anonymous",
        "# client is refused.",
        "authorization {",
        "  users: [",
    ]
    for name in spec["services"]:
        out += [
            "    {",
            f'      user: "{name}"',
            f"      password: ${password_variable(name)}",
            "      permissions: {",
            "        publish: {",
            "          allow: [",
        ]
        out += [f'            "{subject}"' for subject in publish_allow(spec, name)]
        out += [
            "          ]",
            "        }",
            "        subscribe: {",
            f'          allow: ["{inbox_prefix(name)}.>"]',
            "        }",
            "      }",
            "    }",
        ]
    out += ["  ]", "}", ""]
    return "\n".join(out)


def render_passwords(spec: dict) -> str:
    out = [
        "# Generated by deploy/nats/generate.py from deploy/nats/permissions.toml: do not edit.",
        "#",
        f"# The password of each service's NATS user, from the Secret {spec['secret']} (key: the",
        "# service's name), as accounts.conf reads it: CEP_NATS_<SERVICE>_PASSWORD, the",
        "# password in double quotes (nats-server parses the value as configuration text).",
        "# Every key must exist, enabled service or not: the server refuses to start otherwise.",
        "# A JSON patch of the StatefulSet nats appending to its env (the overlays patch the",
        "# entries before these by index).",
    ]
    for name in spec["services"]:
        variable = password_variable(name)
        out += [
            "- op: add",
            "  path: /spec/template/spec/containers/0/env/-",
            "  value:",
            f"    name: {variable}_PLAIN",
            "    valueFrom:",
            "      secretKeyRef:",
            f"        name: {spec['secret']}",
            f"        key: {name}",
            "- op: add",
            "  path: /spec/template/spec/containers/0/env/-",
            "  value:",
            f"    name: {variable}",
            f"    value: '\"$({variable}_PLAIN)\"'",
        ]
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a generated file is out of date")
    args = parser.parse_args()
    spec = load(SOURCE)
    stale = 0
    for target, text in ((ACCOUNTS, render_accounts(spec)), (PASSWORDS, render_passwords(spec))):
        name = target.relative_to(ROOT)
        if args.check:
            current = target.read_text() if target.exists() else ""
            if current != text:
                stale += 1
                print(f"{name} is not what deploy/nats/generate.py makes of deploy/nats/permissions.toml: "
                      "run python3 deploy/nats/generate.py", file=sys.stderr)
            else:
                print(f"{name} is up to date")
        else:
            target.write_text(text)
            print(f"wrote {name}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
