"""Drives the running local stack as any gRPC client would: no .proto file, only
server reflection. Registers, reads, searches, records a NIR and checks eligibility,
checks the status codes of the contract, health, and that each registration lands
exactly once on JetStream stream BENEFICIARIES.

Environment: CEP_BENEFICIARIES_ADDR, CEP_JOURNEYS_ADDR, CEP_TOKEN, CEP_MANAGER_TOKEN,
CEP_NATS_MONITOR (from .local/stack.env).
"""

import json
import os
import sys
import time
import urllib.request
import uuid

import grpc
from reflection_client import Reflected, complete_profile
from google.protobuf import message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

SERVICE = "cep.beneficiaries.v1.BeneficiaryService"
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"smoke test failed: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1


def stream_messages(monitor):
    with urllib.request.urlopen(f"{monitor}/jsz?streams=true", timeout=5) as r:
        jsz = json.load(r)
    for account in jsz.get("account_details", []):
        for stream in account.get("stream_detail", []):
            if stream["name"] == "BENEFICIARIES":
                return stream["state"]["messages"]
    return 0


def main():
    addr = os.environ["CEP_BENEFICIARIES_ADDR"]
    token = os.environ["CEP_TOKEN"]
    monitor = os.environ["CEP_NATS_MONITOR"]
    channel = grpc.insecure_channel(addr)
    grpc.channel_ready_future(channel).result(timeout=10)

    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE):
        status = health.Check(health_pb2.HealthCheckRequest(service=name)).status
        check(status == health_pb2.HealthCheckResponse.SERVING, f"health of {name!r} is SERVING")

    reflection = ProtoReflectionDescriptorDatabase(channel)
    check(SERVICE in reflection.get_services(), "reflection lists the service")
    pool = DescriptorPool(reflection)
    service = pool.FindServiceByName(SERVICE)

    def call(method, auth=True, **fields):
        m = service.FindMethodByName(method)
        request = message_factory.GetMessageClass(m.input_type)
        response = message_factory.GetMessageClass(m.output_type)
        stub = channel.unary_unary(
            f"/{SERVICE}/{method}",
            request_serializer=request.SerializeToString,
            response_deserializer=response.FromString,
        )
        metadata = [("authorization", f"Bearer {token}")] if auth else []
        return stub(request(**fields), metadata=metadata, timeout=10)

    def code_of(method, **fields):
        try:
            call(method, **fields)
        except grpc.RpcError as e:
            return e.code(), e.details()
        return grpc.StatusCode.OK, ""

    before = stream_messages(monitor)
    last = "Smoke" + uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))
    person = dict(
        lot=8,
        structure_id="nantes-centre",
        last_name=last,
        first_name="Reflection",
        birth_date="1984-12-03",
        employment_status="SALARIE_PRIVE",
        home_postal_code="44000",
    )
    registered = call("Register", **person)
    bid = registered.beneficiary_id
    check(len(bid) == 36, "Register returns a UUID")

    got = call("Get", beneficiary_id=bid)
    check(got.last_name == last and got.lot == 8, "Get returns the person")

    code, details = code_of("Register", **person)
    check(code == grpc.StatusCode.ALREADY_EXISTS and bid in details, "a duplicate is ALREADY_EXISTS naming the id")

    code, _ = code_of("Register", **{**person, "birth_date": "1984-02-30"})
    check(code == grpc.StatusCode.INVALID_ARGUMENT, "a bad birth date is INVALID_ARGUMENT")

    found = call("Search", name_prefix=last.lower(), birth_date="1984-12-03")
    check([r.beneficiary_id for r in found.results] == [bid], "Search finds the person")

    body = "1841244" + "%06d" % (int(uuid.uuid4().int % 999999) + 1)
    nir = body + "%02d" % (97 - int(body) % 97)
    wrong = nir[:-2] + "%02d" % ((int(nir[-2:]) % 97) + 1)
    code, details = code_of("SetNir", beneficiary_id=bid, nir=wrong)
    check(code == grpc.StatusCode.INVALID_ARGUMENT and "nir_key" in details, "a bad NIR key is INVALID_ARGUMENT naming the rule")
    code, details = code_of("SetNir", beneficiary_id=bid, nir=nir)
    check(code == grpc.StatusCode.FAILED_PRECONDITION and "NIR_BEFORE_ENGAGEMENT" in details,
          "the NIR is refused before any UO1 or UO2.1 engagement")
    # engage a UO1 in journeys (the record completed with what annex 2 makes mandatory
    # from UO1 on, which journeys asks for): the fact reaches beneficiaries, the NIR is
    # accepted
    complete_profile(Reflected(os.environ["CEP_BENEFICIARIES_ADDR"], token), bid)
    journeys = Reflected(os.environ["CEP_JOURNEYS_ADDR"], token)
    engage = dict(beneficiary_id=bid, uo="UO1", engagement_date=time.strftime("%Y-%m-%d"),
                  origin="ENTREPRISE", request_reason="FAIRE_LE_POINT")
    try:
        journeys.call_when_known("cep.journeys.v1.JourneyService", "Engage", **engage)
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
            raise
        # no UO1 capacity left on this stack: a manager orders some
        journeys.call("cep.journeys.v1.PurchaseOrderService", "CreatePurchaseOrder",
                      token=os.environ["CEP_MANAGER_TOKEN"], lot=8, year=int(time.strftime("%Y")),
                      reference="SMOKE-NIR", lines=[{"uo": "UO1", "quantity": 50}])
        journeys.call("cep.journeys.v1.JourneyService", "Engage", **engage)
    deadline = time.time() + 15
    while True:
        code, details = code_of("SetNir", beneficiary_id=bid, nir=nir)
        if code != grpc.StatusCode.FAILED_PRECONDITION or time.time() > deadline:
            break
        time.sleep(0.2)
    check(code == grpc.StatusCode.OK, f"SetNir is accepted once the UO1 is engaged ({code} {details})")
    masked = call("Get", beneficiary_id=bid).nir_masked
    check(masked.startswith("1 84 12") and "*" in masked, "the NIR is shown masked")

    eligibility = call("CheckEligibility", beneficiary_id=bid, uo="UO1")
    check(eligibility.eligible, "an employee living in lot 8 is eligible to UO1")

    try:
        call("Get", auth=False, beneficiary_id=bid)
        check(False, "a call without token is refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.UNAUTHENTICATED, "a call without token is UNAUTHENTICATED")

    # registered + updated (the profile) + nir_set: three facts, each exactly once on
    # the stream.
    deadline = time.time() + 15
    while stream_messages(monitor) < before + 3 and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    check(stream_messages(monitor) == before + 3, f"stream BENEFICIARIES got exactly 3 new messages (had {before})")
    metrics_url = os.environ.get("CEP_BENEFICIARIES_METRICS")
    if metrics_url:
        with urllib.request.urlopen(metrics_url, timeout=5) as r:
            metrics = r.read().decode()
        check(
            'cep_grpc_requests_total{code="6",method="/cep.beneficiaries.v1.BeneficiaryService/Register"' in metrics,
            "metrics count the Register calls refused as duplicates",
        )
    print(f"reflection smoke test ok: {checks} checks")


if __name__ == "__main__":
    main()
