"""Drives the running journeys service as any gRPC client would, through server
reflection only: it advertises its two services, is SERVING, lets a manager create a
purchase order of several lines (a counsellor may not) and lists it, and its fact
lands on JetStream stream JOURNEYS.

Environment (from .local/stack.env): CEP_JOURNEYS_ADDR, CEP_TOKEN (a counsellor of
lot 8), CEP_MANAGER_TOKEN (a manager of lot 8), CEP_NATS_MONITOR.
"""

import json
import os
import random
import sys
import time
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from reflection_client import Reflected

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
    print(f"journeys smoke test ok: {checks} checks")


if __name__ == "__main__":
    main()
