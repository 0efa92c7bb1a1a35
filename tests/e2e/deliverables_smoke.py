"""Drives the running deliverables service as any gRPC client would, through server
reflection only (issue "done means"): a person registered, a UO1 engaged, a draft
refused until complete, the whole ceremony (the code read from the local mail sink),
the UO1 closed once by its signature, and the downloaded PDF's two signatures judged
VALID by pyHanko against the stack's CA; one changed byte makes Verify refuse it.

Environment (from .local/stack.env): CEP_DELIVERABLES_ADDR, CEP_JOURNEYS_ADDR,
CEP_BENEFICIARIES_ADDR, CEP_TOKEN (counsellor of lot 8), CEP_MANAGER_TOKEN, and
CEP_LOCAL (the stack's state folder); pyhanko on PATH.
"""

import datetime
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

from ceremony import DELIVERABLES, download, draft, sign_electronically
from reflection_client import Reflected, complete_profile

JOURNEYS = "cep.journeys.v1.JourneyService"
ORDERS = "cep.journeys.v1.PurchaseOrderService"
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"deliverables smoke test failed: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1


def main():
    local = Path(os.environ["CEP_LOCAL"])
    token, manager = os.environ["CEP_TOKEN"], os.environ["CEP_MANAGER_TOKEN"]
    d = Reflected(os.environ["CEP_DELIVERABLES_ADDR"], token)
    j = Reflected(os.environ["CEP_JOURNEYS_ADDR"], token)
    b = Reflected(os.environ["CEP_BENEFICIARIES_ADDR"], token)
    own = sorted(s for s in d.services() if s.startswith("cep."))
    check(own == [DELIVERABLES], f"reflection lists DeliverableService, and only it (got {own})")

    today = datetime.date.today().isoformat()
    j.call(ORDERS, "CreatePurchaseOrder", token=manager, lot=8, year=datetime.date.today().year,
           reference=f"SMOKE-DELIV-{random.randint(0, 10**9)}", lines=[{"uo": "UO1", "quantity": 5}])
    # a fresh name each run: the same names and birth date would be a probable duplicate
    first = "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10)).capitalize()
    person = b.call("cep.beneficiaries.v1.BeneficiaryService", "Register", lot=8, structure_id="nantes-centre",
                    last_name="Essai", first_name=first, birth_date="1985-05-05",
                    employment_status="SALARIE_PRIVE", home_postal_code="44000",
                    email="essai.signature@example.org").beneficiary_id
    complete_profile(b, person)
    unit = j.call_when_known(JOURNEYS, "Engage", beneficiary_id=person, uo="UO1", engagement_date=today,
                             origin="ENTREPRISE", request_reason="FAIRE_LE_POINT")

    partial = draft(d, unit.uo_id, "ETAT_DES_LIEUX_PARTAGE", {"situation": "Analyse partagée."})
    check(partial is not None and partial.state == "DRAFT", "a draft is created for the engaged UO1")
    v = d.call(DELIVERABLES, "Validate", deliverable_id=partial.deliverable_id)
    check(not v.complete and len(v.missing) == 3, f"Validate lists the three sections missing ({v.missing})")
    code, details = d.code_of(DELIVERABLES, "StartSigning", deliverable_id=partial.deliverable_id)
    check(code == grpc.StatusCode.FAILED_PRECONDITION and "DELIVERABLE_INCOMPLETE" in details,
          f"an incomplete draft is not frozen ({code} {details})")
    d.call(DELIVERABLES, "UpdateDraft", deliverable_id=partial.deliverable_id, sections=[
        {"key": "information", "text": "Informations sur les métiers et les formations."},
        {"key": "decision", "text": "La personne poursuit."},
        {"key": "next_steps", "text": "Rendez-vous dans un mois pour un accompagnement personnalisé."}])

    signed = sign_electronically(d, partial.deliverable_id, local / "mail")
    check(signed.state == "SIGNED" and signed.mode == "ELECTRONIC" and len(signed.signatures) == 2,
          f"both signatures recorded ({signed.state} {signed.mode})")

    deadline = time.monotonic() + 15
    closed = None
    while time.monotonic() < deadline and closed is None:
        units = j.call(JOURNEYS, "GetJourney", beneficiary_id=person).units
        closed = next((u for u in units if u.uo_id == unit.uo_id and u.closure_reason), None)
        time.sleep(0.2)
    check(closed is not None and closed.closure_reason == "LIVRABLE_SIGNE" and closed.billable,
          "journeys closed the UO1 by its signed deliverable")

    pdf, sha256, size = download(d, partial.deliverable_id)
    check(len(pdf) == size and sha256 == signed.signed_sha256, "the download is the signed document")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "signed.pdf"
        path.write_bytes(pdf)
        out = subprocess.run(["pyhanko", "sign", "validate", "--pretty-print", "--no-revocation-check",
                              "--trust", str(local / "pki" / "ca.pem"), "--trust-replace", str(path)],
                             capture_output=True, text=True)
        report = out.stdout + out.stderr
        check(out.returncode == 0 and report.count("The signature is judged VALID") == 2,
              f"pyHanko judges both signatures VALID:\n{report}")
    verified = d.call(DELIVERABLES, "Verify", deliverable_id=partial.deliverable_id)
    check(verified.valid and len(verified.signatures) == 2, "Verify by id: both valid")
    tampered = bytearray(pdf)
    tampered[len(pdf) // 3] ^= 1
    code, _ = d.code_of(DELIVERABLES, "Verify", pdf=bytes(tampered))
    if code == grpc.StatusCode.OK:
        check(not d.call(DELIVERABLES, "Verify", pdf=bytes(tampered)).valid, "a changed byte is not valid")
    else:
        check(code == grpc.StatusCode.INVALID_ARGUMENT, "a changed byte is refused")
    print(f"deliverables smoke test: {checks} checks passed")


if __name__ == "__main__":
    main()
