"""The deliverables part of `make demo` (scripts/demo.sh), through server reflection
alone: Anne's État des lieux partagé (UO1, lot 8) and Sofia's Projet professionnel
(UO2.1, lot 1, with a complementary service and the directory's whole list), both
signed electronically — the one-time codes go to the local mail sink .local/mail/ —
and Maëva's État des lieux partagé (UO1, lot 13) signed on paper. Signing closes each
UO in journeys.

Usage: demo_deliverables.py anne=ID sofia=ID maeva=ID. Environment: CEP_DELIVERABLES_ADDR,
CEP_JOURNEYS_ADDR and cepctl on PATH (from .local/stack.env). Safe to run twice: a unit
that already has its deliverable is left as it is.
"""

import datetime
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))

from ceremony import download, draft, sign_electronically, sign_on_paper  # noqa: E402
from reflection_client import Reflected  # noqa: E402

JOURNEYS = "cep.journeys.v1.JourneyService"
ROOT = Path(__file__).resolve().parent.parent

ETAT = {
    "situation": "Salariée depuis neuf ans comme technicienne méthodes, elle souhaite faire le point "
                 "sur ses compétences et ses perspectives.\n\nElle envisage une évolution vers la qualité.",
    "information": "Métiers de la qualité dans l'industrie, tensions du marché régional, dispositifs "
                   "de formation (CPF, Pro-A) et leur financement.",
    "decision": "Elle décide de poursuivre par un accompagnement personnalisé.",
    "next_steps": "Accompagnement personnalisé (UO2) avec le même opérateur : construire le projet, "
                  "mesurer les écarts de compétences, établir un plan d'action ; entretiens mensuels.",
}
PROJET = {
    "project": "Devenir responsable qualité dans une PME industrielle d'ici 18 mois.",
    "analysis": "Compétences acquises : méthodes, amélioration continue. Écarts : normes ISO 9001, "
                "management d'équipe.",
    "information": "Débouchés en Île-de-France, certifications inscrites au RNCP, financements CPF et "
                   "transitions professionnelles.",
    "action_plan": "Bilan de compétences, puis certification « Responsable qualité » en alternance ; "
                   "financement CPF complété par l'employeur.",
}


def token(role, lot):
    return subprocess.run(
        ["cepctl", "dev-token", "--role", role, "--lot", str(lot), "--subject", f"demo-{role}-lot{lot}"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def open_unit(journeys, person, uo, tok):
    units = journeys.call(JOURNEYS, "GetJourney", token=tok, beneficiary_id=person).units
    # the enum's number: UO1 = 2, UO2.1 = 3 (cep.common.v1.Uo)
    want = {"UO1": 2, "UO2.1": 3}[uo]
    return next((u for u in units if u.uo == want and not u.closure_reason), None)


def main():
    people = dict(arg.split("=", 1) for arg in sys.argv[1:])
    mail = ROOT / ".local" / "mail"
    journeys_addr, deliverables_addr = os.environ["CEP_JOURNEYS_ADDR"], os.environ["CEP_DELIVERABLES_ADDR"]
    plan = [
        ("anne", 8, "UO1", "ETAT_DES_LIEUX_PARTAGE", ETAT, {}, "electronic"),
        ("sofia", 1, "UO2.1", "PROJET_PROFESSIONNEL", PROJET,
         {"complementary_service": "BILAN_COMPETENCES", "wants_uo2_2": True}, "electronic"),
        ("maeva", 13, "UO1", "ETAT_DES_LIEUX_PARTAGE", ETAT, {}, "paper"),
    ]
    for name, lot, uo, kind, sections, extra, mode in plan:
        tok = token("counsellor", lot)
        journeys = Reflected(journeys_addr, tok)
        deliverables = Reflected(deliverables_addr, tok)
        unit = open_unit(journeys, people[name], uo, tok)
        if unit is None:
            print(f"  {name}: no open {uo} (already signed by an earlier run)", flush=True)
            continue
        d = draft(deliverables, unit.uo_id, kind, sections, **extra)
        if d.state == "SIGNED" or (mode == "electronic" and d.state != "DRAFT"):
            print(f"  {name}: {uo} {unit.dossier_number} already has its deliverable ({d.state})", flush=True)
            continue
        if mode == "electronic":
            done = sign_electronically(deliverables, d.deliverable_id, mail)
        else:
            if d.state == "DRAFT":
                deliverables.call("cep.deliverables.v1.DeliverableService", "StartSigning",
                                  deliverable_id=d.deliverable_id)
            frozen = download(deliverables, d.deliverable_id)[0]
            # the paper copy as scanned: here, the frozen document itself
            done = sign_on_paper(deliverables, d.deliverable_id, frozen,
                                 "La personne a signé l'exemplaire papier envoyé par la poste.",
                                 datetime.date.today().isoformat(), freeze=False)
        print(f"  {name}: {kind} of {uo} {unit.dossier_number} signed ({done.mode}), sha256 {done.signed_sha256[:12]}…",
              flush=True)


if __name__ == "__main__":
    main()
