"""The signing ceremony of a deliverable through server reflection alone, for the
smoke test (tests/e2e/deliverables_smoke.py) and the demo (scripts/demo_deliverables.py):
draft, freeze, the counsellor's signature, the one-time code read from the local mail
sink (.local/mail/*.eml), the beneficiary's signature, the download, the paper path."""

import quopri
import re
import time
from pathlib import Path

import grpc

DELIVERABLES = "cep.deliverables.v1.DeliverableService"


def draft(client, uo_id, kind, sections, wait_seconds=15, **fields):
    """A new draft of `kind` for `uo_id` with `sections` ({key: text}), once the
    deliverables service has heard of the unit; the unit's deliverable as it stands when
    it already has one."""
    try:
        d = client.call_when_known(DELIVERABLES, "CreateDraft", wait_seconds=wait_seconds, uo_id=uo_id, kind=kind)
    except grpc.RpcError as e:
        existing = re.search(r"deliverable ([0-9a-f-]{36})", e.details() or "")
        if e.code() == grpc.StatusCode.ALREADY_EXISTS and existing:
            d = client.call(DELIVERABLES, "GetDeliverable", deliverable_id=existing.group(1))
            if d.state != "DRAFT":
                return d
        else:
            raise
    return client.call(DELIVERABLES, "UpdateDraft", deliverable_id=d.deliverable_id,
                       sections=[{"key": k, "text": t} for k, t in sections.items()], **fields)


def newest_code(mail_dir, after):
    """The code of the newest .eml written after `after` (a time.time())."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        mails = [p for p in Path(mail_dir).glob("*.eml") if p.stat().st_mtime >= after]
        if mails:
            newest = max(mails, key=lambda p: p.stat().st_mtime)
            text = quopri.decodestring(newest.read_bytes()).decode("utf-8", "replace")
            m = re.search(r"\) : (\d{6})", text)
            if m:
                return m.group(1)
        time.sleep(0.1)
    raise RuntimeError(f"no code mail in {mail_dir}")


def sign_electronically(client, deliverable_id, mail_dir):
    """Freezes, signs as the counsellor, sends the code and signs as the beneficiary."""
    client.call(DELIVERABLES, "StartSigning", deliverable_id=deliverable_id)
    client.call(DELIVERABLES, "SignAsCounsellor", deliverable_id=deliverable_id)
    sent_at = time.time() - 1
    client.call(DELIVERABLES, "SendBeneficiaryCode", deliverable_id=deliverable_id, channel="EMAIL")
    code = newest_code(mail_dir, sent_at)
    return client.call(DELIVERABLES, "SignAsBeneficiary", deliverable_id=deliverable_id, code=code,
                       mention="lu et approuvé")


def sign_on_paper(client, deliverable_id, scan, attestation, signed_on, freeze=True):
    """Freezes (unless done), then records the scanned signed paper copy in chunks."""
    if freeze:
        client.call(DELIVERABLES, "StartSigning", deliverable_id=deliverable_id)
    header = {"header": {"deliverable_id": deliverable_id, "attestation": attestation, "signed_on": signed_on}}
    chunks = [{"chunk": scan[i:i + 65536]} for i in range(0, len(scan), 65536)]
    return client.upload(DELIVERABLES, "UploadPaperSigned", [header] + chunks)


def download(client, deliverable_id):
    """The document's bytes and the sha256 the first chunk announced."""
    chunks = client.stream(DELIVERABLES, "Download", deliverable_id=deliverable_id)
    return b"".join(c.data for c in chunks), chunks[0].sha256, chunks[0].total_size
