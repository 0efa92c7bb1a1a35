"""Drives the running exchange service as any gRPC client would, through server
reflection only: claims received through the claims service reach the exchange's
read model (ListChangesSince), indicator 8.7 of their half-year moves by exactly what
they add, and a day's files are built with a manifest whose sizes and SHA-256 match
the files written.

Environment (from .local/stack.env): CEP_EXCHANGE_ADDR, CEP_CLAIMS_ADDR, CEP_LOCAL,
CEP_SI_TOKEN and CEP_MEDIATION_TOKEN (lot 8).
"""

import datetime
import hashlib
import os
import random
import sys
import time

from reflection_client import Reflected

EXCHANGE = "cep.exchange.v1.ExchangeService"
CLAIMS = "cep.claims.v1.ClaimService"
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"exchange smoke test failed: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1


def indicator(x, month, code):
    found = [i for i in x.call(EXCHANGE, "ComputeIndicators", lot=8, month=month).indicators if i.code == code]
    check(len(found) == 1, f"indicator {code} computed")
    return found[0]


def main():
    x = Reflected(os.environ["CEP_EXCHANGE_ADDR"], os.environ["CEP_SI_TOKEN"])
    c = Reflected(os.environ["CEP_CLAIMS_ADDR"], os.environ["CEP_MEDIATION_TOKEN"])
    own = sorted(s for s in x.services() if s.startswith("cep."))
    check(own == [EXCHANGE], f"reflection lists ExchangeService, and only it (got {own})")

    # a month of the past: its half-year's 8.7 before and after this run's claims
    year, month = random.randint(1950, 1999), random.randint(1, 12)
    yyyymm = f"{year:04d}-{month:02d}"
    before = indicator(x, yyyymm, "8.7")
    day = datetime.date(year, month, 1).isoformat()
    ids = []
    for _ in range(3):
        ids.append(c.call(CLAIMS, "ReceiveClaim", lot=8, structure_id="nantes-centre", received_date=day,
                          channel="COURRIER", reason="ACCUEIL", text="Personne ne répond.", reply_by="POST").claim_id)
    c.call(CLAIMS, "Acknowledge", claim_id=ids[0], date=day)
    c.call(CLAIMS, "RecordMediatorReferral", claim_id=ids[0], date=day, mediator_reference="MED-SMOKE-X")

    # the facts reach the read model
    deadline = time.time() + 20
    while True:
        after = indicator(x, yyyymm, "8.7")
        if after.denominator == before.denominator + 3 and after.numerator == before.numerator + 1:
            break
        check(time.time() < deadline, f"the claims reach the read model (8.7 {before} -> {after})")
        time.sleep(0.3)
    check(after.value == after.numerator / after.denominator, "8.7 is the share of claims referred")
    seen, cursor = set(), ""
    while True:
        page = x.call(EXCHANGE, "ListChangesSince", lot=8, cursor=cursor, page_size=1000)
        seen |= {r.record_id for r in page.records if r.family == "RECLAMATIONS"}
        if not page.records:
            break
        cursor = page.next_cursor
    check(set(ids) <= seen, "ListChangesSince gives the claims' records")

    # yesterday's files, with a manifest matching what was written
    yesterday = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    export = x.call(EXCHANGE, "BuildDailyExport", lot=8, day=yesterday)
    kinds = [f.kind for f in export.files]
    check(kinds.count("DATA") == 5 and kinds[-1] == "MANIFEST", f"five data files and the manifest ({kinds})")
    for f in export.files:
        path = os.path.join(export.directory, f.name)
        data = open(path, "rb").read()
        check(len(data) == f.size and hashlib.sha256(data).hexdigest() == f.sha256, f"{f.name} as announced")
    again = x.call(EXCHANGE, "BuildDailyExport", lot=8, day=yesterday)
    check([f.sha256 for f in again.files] == [f.sha256 for f in export.files], "built again: the same bytes")
    code, details = x.code_of(EXCHANGE, "BuildDailyExport", lot=8, day=datetime.date.today().isoformat())
    check("DAY_NOT_OVER" in details or code.name == "FAILED_PRECONDITION", f"today is not over ({details})")

    # delivered to the local FTPS server standing in for France compétences
    local = os.environ["CEP_LOCAL"]
    if os.path.exists(os.path.join(local, "ftps", "ready")):
        delivered = x.call(EXCHANGE, "DeliverDaily", lot=8, day=yesterday, timeout=60)
        check([d.day for d in delivered.days] == [yesterday], f"yesterday delivered ({delivered.days})")
        remote = os.path.join(local, "ftps", "root", delivered.days[0].remote_directory)
        for f in delivered.days[0].files:
            data = open(os.path.join(remote, f.name), "rb").read()
            check(hashlib.sha256(data).hexdigest() == f.sha256, f"{f.name} arrived whole on the FTPS server")
        check(not [n for n in os.listdir(remote) if n.endswith(".part")], "no partial file left on the server")
        journal = x.call(EXCHANGE, "ListTransfers", lot=8, day=yesterday).transfers
        names = {t.file for t in journal if t.outcome == "DELIVERED"}
        check({f.name for f in delivered.days[0].files} <= names, "every upload in the transfer journal")
    else:
        code, details = x.code_of(EXCHANGE, "DeliverDaily", lot=8, day=yesterday)
        check("DELIVERY_NOT_CONFIGURED" in details, f"no FTPS server, no delivery ({details})")
    print(f"exchange smoke test: {checks} checks passed")


if __name__ == "__main__":
    main()
