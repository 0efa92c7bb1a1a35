"""The journeys part of `make demo` (scripts/demo.sh), through server reflection alone
(tests/e2e/reflection_client.py; cepctl has no journeys commands yet): a purchase
order of several lines per lot, then the demo people at several stages — aiguillages
(UO0), UO1s open with an exchange, UO2.1s with their referent and an exchange.

Usage: demo_journeys.py anne=ID paul=ID claire=ID lucas=ID sofia=ID hugo=ID maeva=ID petru=ID
(the ids scripts/demo.sh registered). Environment: CEP_JOURNEYS_ADDR and cepctl on
PATH (from .local/stack.env). Safe to run twice: an order of the same reference and a
person who already has units are left as they are.
"""

import datetime
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))

import grpc  # noqa: E402

from reflection_client import Reflected  # noqa: E402

JOURNEYS = "cep.journeys.v1.JourneyService"
ORDERS = "cep.journeys.v1.PurchaseOrderService"

# Lines of each lot's purchase order: UO0 (aiguillage), UO1, UO2.1, UO2.2 and the
# operator-level UO3 of lot 8.
ORDERS_BY_LOT = {
    8: [("UO0", 400), ("UO1", 120), ("UO2.1", 60), ("UO2.2", 40), ("UO3", 1)],
    1: [("UO0", 600), ("UO1", 200), ("UO2.1", 90), ("UO2.2", 60)],
    13: [("UO0", 150), ("UO1", 40), ("UO2.1", 20), ("UO2.2", 10)],
    16: [("UO0", 80), ("UO1", 25), ("UO2.1", 10), ("UO2.2", 5)],
}

# Who is at which stage: (name, lot, steps).
PLAN = [
    ("Lucas Moreau", "lucas", 8, ["aiguillage:AUTRES_SERVICES"]),
    ("Claire Dubois", "claire", 8, ["aiguillage:AUTRE_OPERATEUR_CEP"]),
    ("Anne Lefèvre", "anne", 8, ["aiguillage:RDV_CEP_INTERNE", "uo1", "interaction"]),
    ("Paul Martin", "paul", 8, ["uo1"]),
    ("Sofia Bernard", "sofia", 1, ["uo2.1:Mme Garnier", "interaction"]),
    ("Hugo Petit", "hugo", 1, ["aiguillage:INFORMATION_DELIVREE"]),
    ("Maëva Payet", "maeva", 13, ["uo1", "interaction"]),
    ("Petru Santoni", "petru", 16, ["aiguillage:RDV_CEP_INTERNE", "uo2.1:M. Albertini", "interaction"]),
    # dated in the past (@-days): a UO1 due within a week, one abandoned by the sweep,
    # one past its deadline still active, a first appointment late
    ("Camille Roux", "camille", 8, ["uo1@-55"]),
    ("Théo Girard", "theo", 8, ["uo1@-130"]),
    ("Inès Faure", "ines", 8, ["uo1@-90", "interaction@-7"]),
    ("Jules Blanc", "jules", 8, ["appointment@-50"]),
]


def token(role, lot):
    return subprocess.run(
        ["cepctl", "dev-token", "--role", role, "--lot", str(lot), "--subject", f"demo-{role}-lot{lot}"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def say(line):
    print(f"  {line}", flush=True)


def orders(client, year):
    for lot, lines in ORDERS_BY_LOT.items():
        manager = token("manager", lot)
        reference = f"DEMO-{year}-LOT{lot:02d}"
        listed = client.call(ORDERS, "ListPurchaseOrders", token=manager, lot=lot, year=year, page_size=100)
        existing = [o for o in listed.purchase_orders if o.reference == reference]
        if existing:
            say(f"lot {lot}: purchase order {reference} is already there")
            continue
        order = client.call(ORDERS, "CreatePurchaseOrder", token=manager, lot=lot, year=year, reference=reference,
                            lines=[{"uo": uo, "quantity": q} for uo, q in lines])
        shown = ", ".join(f"{l.uo} x{l.quantity} (rank {l.rank})" for l in order.lines)
        say(f"lot {lot}: purchase order {reference}: {shown}")


def journey(client, name, who, lot, steps, on):
    counsellor = token("counsellor", lot)
    # the person reaches journeys through NATS a moment after their registration
    known = client.call_when_known(JOURNEYS, "GetJourney", token=counsellor, beneficiary_id=who)
    if known.units:
        say(f"{name} (lot {lot}): already {len(known.units)} unit(s), left as they are")
        return
    request = {"origin": "ENTREPRISE", "request_reason": "FAIRE_LE_POINT"}
    last = None
    today = on
    for step in steps:
        step, _, offset = step.partition("@")
        on = (datetime.date.fromisoformat(today) + datetime.timedelta(days=int(offset or 0))).isoformat()
        kind, _, arg = step.partition(":")
        if kind == "aiguillage":
            u = client.call(JOURNEYS, "RecordAiguillage", token=counsellor, beneficiary_id=who,
                            contact_mode="TELEPHONE", interaction_date=on, outcome=arg, **request)
            say(f"{name} (lot {lot}): aiguillage {u.dossier_number} ({arg}), {u.purchase_order_reference}")
        elif kind in ("uo1", "uo2.1"):
            uo = "UO1" if kind == "uo1" else "UO2_1"
            last = client.call(JOURNEYS, "Engage", token=counsellor, beneficiary_id=who, uo=uo,
                               engagement_date=on, referent=arg,
                               **{**request, "request_reason": "TRAVAILLER_PROJET" if arg else "FAIRE_LE_POINT"})
            referent = f", referent {last.referent}" if last.referent else ""
            say(f"{name} (lot {lot}): {uo.replace('_', '.')} {last.dossier_number} open until "
                f"{last.deadline}{referent}, {last.purchase_order_reference}")
        elif kind == "appointment":
            a = client.call(JOURNEYS, "RecordAppointmentRequest", token=counsellor, beneficiary_id=who,
                            requested_on=on, channel="ONLINE")
            late = " (late)" if a.late else ""
            say(f"{name} (lot {lot}): appointment asked on {a.requested_on}, first exchange due "
                f"{a.first_exchange_due}{late}")
        elif kind == "interaction":
            try:
                i = client.call(JOURNEYS, "RecordInteraction", token=counsellor, uo_id=last.uo_id, date=on,
                                contact_mode="PRESENTIEL", duration_minutes=60,
                                counsellor=last.referent or "Mme Roux",
                                service_types=["IDENTIFICATION_COMPETENCES", "INVESTIGATION_METIERS"],
                                requested_by_beneficiary=True)
            except grpc.RpcError as e:
                # a unit dated back past its deadline may be swept between two steps
                if e.code() != grpc.StatusCode.FAILED_PRECONDITION:
                    raise
                say(f"{name} (lot {lot}): the sweep closed the unit first ({e.details()})")
                continue
            say(f"{name} (lot {lot}): exchange of {i.duration_minutes} min on {i.date} with {i.counsellor}")


def main():
    people = dict(arg.split("=", 1) for arg in sys.argv[1:])
    client = Reflected(os.environ["CEP_JOURNEYS_ADDR"])
    # yesterday in UTC: never in the future in any lot's time zone
    on = datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=1)
    # the orders of this year, and of the last one for the units dated back
    for year in sorted({on.year, (on - datetime.timedelta(days=130)).year}):
        orders(client, year)
    for name, key, lot, steps in PLAN:
        who = people.get(key)
        if not who:
            say(f"{name}: no id given, skipped")
            continue
        try:
            journey(client, name, who, lot, steps, on.isoformat())
        except grpc.RpcError as e:
            sys.exit(f"demo: journeys refused a step of {name}: {e.code().name}: {e.details()}")


if __name__ == "__main__":
    main()
