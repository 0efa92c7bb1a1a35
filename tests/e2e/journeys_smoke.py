"""Drives the running journeys service as any gRPC client would, through server
reflection only: it advertises its two services, is SERVING, lets a manager create a
purchase order of several lines (a counsellor may not) and lists it, and its fact
lands on JetStream stream JOURNEYS.

Environment (from .local/stack.env): CEP_JOURNEYS_ADDR, CEP_BENEFICIARIES_ADDR, CEP_TOKEN (a counsellor of
lot 8), CEP_MANAGER_TOKEN (a manager of lot 8), CEP_NATS_MONITOR.
"""

import json
import os
import random
import datetime
import re
import sys
import time
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from reflection_client import Reflected, complete_profile

JOURNEYS = "cep.journeys.v1.JourneyService"
ORDERS = "cep.journeys.v1.PurchaseOrderService"
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"journeys smoke test failed: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1


def stream_messages(monitor, name):
    with urllib.request.urlopen(f"{monitor}/jsz?streams=true", timeout=5) as r:
        jsz = json.load(r)
    for account in jsz.get("account_details", []):
        for stream in account.get("stream_detail", []):
            if stream["name"] == name:
                return stream["state"]["messages"]
    return None


def main():
    client = Reflected(os.environ["CEP_JOURNEYS_ADDR"], os.environ["CEP_TOKEN"])
    manager = os.environ["CEP_MANAGER_TOKEN"]
    monitor = os.environ["CEP_NATS_MONITOR"]

    health = health_pb2_grpc.HealthStub(client.channel)
    for name in ("", JOURNEYS, ORDERS):
        status = health.Check(health_pb2.HealthCheckRequest(service=name)).status
        check(status == health_pb2.HealthCheckResponse.SERVING, f"health of {name!r} is SERVING")

    services = client.services()
    own = sorted(s for s in services if s.startswith("cep."))
    check(own == sorted([JOURNEYS, ORDERS]), f"reflection lists its two services, and only them (got {own})")

    before = stream_messages(monitor, "JOURNEYS")
    check(before is not None, "stream JOURNEYS exists")
    # A year no demo uses, so that the ranks (at most 99 lines of a UO per lot and
    # year) of repeated runs on the same stack are spread.
    year = random.randint(2050, 2100)
    lines = [{"uo": "UO1", "quantity": 20}, {"uo": "UO2.1", "quantity": 8}, {"uo": "UO3", "quantity": 1}]
    code, details = client.code_of(ORDERS, "CreatePurchaseOrder", lot=8, year=year, lines=lines)
    check(code == grpc.StatusCode.PERMISSION_DENIED, f"a counsellor may not order ({code} {details})")

    order = client.call(ORDERS, "CreatePurchaseOrder", token=manager, lot=8, year=year,
                        reference="SMOKE", lines=lines)
    check(len(order.purchase_order_id) == 36, "CreatePurchaseOrder returns the order's id")
    check(sorted(l.uo for l in order.lines) == ["UO1", "UO2.1", "UO3"], "the order has its three lines")
    check(all(1 <= l.rank <= 99 and l.remaining == l.quantity for l in order.lines),
          "each line is ranked and wholly remaining")

    listed = client.call(ORDERS, "ListPurchaseOrders", lot=8, year=year)
    ids = [o.purchase_order_id for o in listed.purchase_orders]
    check(ids and ids[0] == order.purchase_order_id, "ListPurchaseOrders lists it first (newest first)")
    got = client.call(ORDERS, "GetConsumption", purchase_order_id=order.purchase_order_id)
    check(len(got.lines) == 3 and got.year == year, "GetConsumption returns its lines")

    code, _ = client.code_of(ORDERS, "ListPurchaseOrders", auth=False, lot=8)
    check(code == grpc.StatusCode.UNAUTHENTICATED, "a call without token is UNAUTHENTICATED")

    deadline = time.time() + 15
    while stream_messages(monitor, "JOURNEYS") < before + 1 and time.time() < deadline:
        time.sleep(0.2)
    check(stream_messages(monitor, "JOURNEYS") == before + 1,
          f"stream JOURNEYS got the order's fact once (had {before})")
    journey_rules(client, manager, os.environ["CEP_BENEFICIARIES_ADDR"], os.environ["CEP_TOKEN"])
    print(f"journeys smoke test ok: {checks} checks")


DOSSIER = re.compile(r"^[A-Z0-9]{2}\d{2}(0[1-9]|1[0-2])(00|01|21|22)\d{6}$")
REFERENCE = re.compile(r"^\d{4}-Lot(0[1-9]|1[0-8])-UO(00|01|2\.1|2\.2)-\d{2}-\d{5}$")


def journey_rules(client, manager, beneficiaries_addr, counsellor):
    """The journey's rules through reflection alone: an aiguillage, a UO1, a UO2.1
    refused without its referent then engaged, a UO2.2 refused before the UO2.1 is
    signed, and the sweep closing an expired, inactive UO1 exactly once."""
    people = Reflected(beneficiaries_addr, counsellor)
    today = datetime.date.today()
    long_ago = today - datetime.timedelta(days=130)

    def register(first):
        who = people.call("cep.beneficiaries.v1.BeneficiaryService", "Register", lot=8,
                          structure_id="nantes-centre", last_name="Smoke", first_name=first,
                          birth_date="1984-12-03", employment_status="SALARIE_PRIVE",
                          home_postal_code="44000", allow_duplicate=True,
                          duplicate_reason="smoke test person").beneficiary_id
        complete_profile(people, who)
        return who

    for year in sorted({today.year, long_ago.year}):
        client.call(ORDERS, "CreatePurchaseOrder", token=manager, lot=8, year=year, reference="SMOKE-RULES",
                    lines=[{"uo": "UO0", "quantity": 5}, {"uo": "UO1", "quantity": 5},
                           {"uo": "UO2.1", "quantity": 5}, {"uo": "UO2.2", "quantity": 5}])
    request = {"origin": "ENTREPRISE", "request_reason": "FAIRE_LE_POINT"}
    who = register("Ada")
    u0 = client.call_when_known(JOURNEYS, "RecordAiguillage", beneficiary_id=who, contact_mode="PRESENTIEL",
                                interaction_date=today.isoformat(), outcome="RDV_CEP_INTERNE", **request)
    check(DOSSIER.match(u0.dossier_number) and u0.dossier_number[6:8] == "00", f"a UO0 dossier number {u0.dossier_number}")
    check(REFERENCE.match(u0.purchase_order_reference), f"a UO0 reference {u0.purchase_order_reference}")
    u1 = client.call(JOURNEYS, "Engage", beneficiary_id=who, uo="UO1", engagement_date=today.isoformat(), **request)
    check(DOSSIER.match(u1.dossier_number) and u1.deadline, f"a UO1 numbered {u1.dossier_number} with its deadline")
    client.call(JOURNEYS, "CloseVoluntarily", uo_id=u1.uo_id, reason="VOLONTAIRE_AUTRE",
                closure_date=today.isoformat(), version=u1.version)

    def refused(uo, referent=""):
        try:
            client.call(JOURNEYS, "Engage", beneficiary_id=who, uo=uo, engagement_date=today.isoformat(),
                        referent=referent, **request)
        except grpc.RpcError as e:
            return e.code(), e.details()
        return grpc.StatusCode.OK, ""

    code, details = refused("UO2_1")
    check(code == grpc.StatusCode.FAILED_PRECONDITION and "REFERENT_REQUIRED" in details,
          f"a UO2.1 without referent is refused ({code} {details})")
    u21 = client.call(JOURNEYS, "Engage", beneficiary_id=who, uo="UO2_1", engagement_date=today.isoformat(),
                      referent="Mme Roux", **request)
    check(REFERENCE.match(u21.purchase_order_reference) and "-UO2.1-" in u21.purchase_order_reference,
          f"a UO2.1 reference {u21.purchase_order_reference}")
    client.call(JOURNEYS, "CloseVoluntarily", uo_id=u21.uo_id, reason="VOLONTAIRE_AUTRE",
                closure_date=today.isoformat(), version=u21.version)
    code, details = refused("UO2_2")
    check(code == grpc.StatusCode.FAILED_PRECONDITION and "UO2_1_NOT_SIGNED" in details,
          f"a UO2.2 before a signed UO2.1 is refused ({code} {details})")

    # a UO1 engaged 130 days ago, never asked for since: past its deadline, inactive
    quiet = register("Bea")
    expired = client.call_when_known(JOURNEYS, "Engage", beneficiary_id=quiet, uo="UO1",
                                     engagement_date=long_ago.isoformat(), **request)
    deadline = time.time() + 30
    while time.time() < deadline:
        unit = client.call(JOURNEYS, "GetJourney", beneficiary_id=quiet).units[0]
        if unit.closure_reason:
            break
        time.sleep(0.5)
    check(unit.closure_reason == "ABANDON" and not unit.billable, f"the sweep abandons the expired UO1 ({unit.closure_reason!r})")
    check(unit.uo_id == expired.uo_id and unit.closure_date == expired.deadline,
          "dated at its deadline")
    time.sleep(6)
    again = client.call(JOURNEYS, "GetJourney", beneficiary_id=quiet).units[0]
    check(again.version == unit.version, "closed once: the next sweeps leave it")


if __name__ == "__main__":
    main()
