"""A gRPC client of any service of the stack through server reflection alone: no
.proto file, the request and reply types are read from the running server. Used by
tests/e2e/journeys_smoke.py and scripts/demo_journeys.py.

    client = Reflected(os.environ["CEP_JOURNEYS_ADDR"], token)
    client.services()                       # what reflection advertises
    order = client.call("cep.journeys.v1.PurchaseOrderService", "CreatePurchaseOrder",
                        lot=8, year=2026, lines=[{"uo": "UO1", "quantity": 20}])
"""

import time

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def target(addr):
    """A gRPC target from an address of .local/stack.env (`HOST:PORT` or `http://HOST:PORT`)."""
    for scheme in ("http://", "https://"):
        if addr.startswith(scheme):
            addr = addr[len(scheme):]
    return addr.rstrip("/")


class Reflected:
    def __init__(self, addr, token=None, timeout=10):
        self.addr = target(addr)
        self.token = token
        self.channel = grpc.insecure_channel(self.addr)
        grpc.channel_ready_future(self.channel).result(timeout=timeout)
        self.reflection = ProtoReflectionDescriptorDatabase(self.channel)
        self.pool = DescriptorPool(self.reflection)

    def services(self):
        """The services the server advertises (its own, health and reflection)."""
        return list(self.reflection.get_services())

    def call(self, service, method, token=None, auth=True, timeout=10, **fields):
        """Calls `service`/`method` with a request built from `fields` (nested messages
        as dicts, enums by name); the reply is a message. `token` overrides the
        client's; `auth=False` sends none."""
        m = self.pool.FindServiceByName(service).FindMethodByName(method)
        request = message_factory.GetMessageClass(m.input_type)
        response = message_factory.GetMessageClass(m.output_type)
        stub = self.channel.unary_unary(
            f"/{service}/{method}",
            request_serializer=request.SerializeToString,
            response_deserializer=response.FromString,
        )
        bearer = token or self.token
        metadata = [("authorization", f"Bearer {bearer}")] if auth and bearer else []
        return stub(request(**fields), metadata=metadata, timeout=timeout)

    def code_of(self, service, method, **fields):
        """The status code and message of a call (OK and "" when it succeeds)."""
        try:
            self.call(service, method, **fields)
        except grpc.RpcError as e:
            return e.code(), e.details()
        return grpc.StatusCode.OK, ""

    def call_when_known(self, service, method, wait_seconds=15, **fields):
        """As `call`, retrying NOT_FOUND for a while: a person registered with the
        beneficiaries service reaches journeys through NATS within a second or two."""
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                return self.call(service, method, **fields)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _stub(self, service, method, kind):
        m = self.pool.FindServiceByName(service).FindMethodByName(method)
        request = message_factory.GetMessageClass(m.input_type)
        response = message_factory.GetMessageClass(m.output_type)
        make = getattr(self.channel, kind)
        stub = make(f"/{service}/{method}", request_serializer=request.SerializeToString,
                    response_deserializer=response.FromString)
        return stub, request

    def _metadata(self, token):
        bearer = token or self.token
        return [("authorization", f"Bearer {bearer}")] if bearer else []

    def stream(self, service, method, token=None, timeout=60, **fields):
        """A server-streaming call: the replies, in order."""
        stub, request = self._stub(service, method, "unary_stream")
        return list(stub(request(**fields), metadata=self._metadata(token), timeout=timeout))

    def upload(self, service, method, messages, token=None, timeout=60):
        """A client-streaming call: `messages` (dicts) sent in order, one reply."""
        stub, request = self._stub(service, method, "stream_unary")
        return stub(iter([request(**m) for m in messages]), metadata=self._metadata(token), timeout=timeout)


# The fields annex 2 makes mandatory from UO1 on, which journeys asks beneficiaries for
# before it engages a UO1 or a UO2.
FULL_PROFILE = {
    "sex": "F", "address_street_number": "12", "address_street_type": "rue",
    "address_street_name": "de la Gare", "address_postal_code": "44000", "address_city": "Nantes",
    "education_level": "NIVEAU_5", "naf_section": "C", "company_size": "TAILLE_10_49",
    "social_category": "PCS_4", "sector_label": "Industrie", "job_label": "Technicienne méthodes",
    "company_entry_month": "2015-09",
}


def complete_profile(beneficiaries, beneficiary_id):
    """Completes a person's record with what annex 2 makes mandatory from UO1 on (an
    email too when it has none), through BeneficiaryService.Update."""
    service = "cep.beneficiaries.v1.BeneficiaryService"
    person = beneficiaries.call(service, "Get", beneficiary_id=beneficiary_id)
    extra = {} if person.email else {"email": f"contact.{beneficiary_id[:8]}@example.fr"}
    beneficiaries.call(service, "Update", beneficiary_id=beneficiary_id, version=person.version,
                       profile=FULL_PROFILE, **extra)
