"""Drives the running claims service as any gRPC client would, through server
reflection only (issue "done means"): claims received in a month of the past (one
no other run uses), one acknowledged late, one answered, one escalated to the
mediator, the overdue list, and the month's figures whose indicator 8.7 matches the
fixture computed here by hand.

Environment (from .local/stack.env): CEP_CLAIMS_ADDR and CEP_MEDIATION_TOKEN (the
mediation correspondent of lot 8).
"""

import datetime
import os
import random
import sys

import grpc

from reflection_client import Reflected

CLAIMS = "cep.claims.v1.ClaimService"
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"claims smoke test failed: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1


def main():
    c = Reflected(os.environ["CEP_CLAIMS_ADDR"], os.environ["CEP_MEDIATION_TOKEN"])
    own = sorted(s for s in c.services() if s.startswith("cep."))
    check(own == [CLAIMS], f"reflection lists ClaimService, and only it (got {own})")

    # a month of the past no other run used (the local stack keeps its data from run
    # to run): the figures are this run's alone
    for _ in range(100):
        year, month = random.randint(2001, 2020), random.randint(1, 12)
        first, last = datetime.date(year, month, 1), datetime.date(year, month, 28)
        used = c.call(CLAIMS, "ClaimStats", lot=8, **{"from": first.isoformat(), "to": last.isoformat()})
        if used.received == 0:
            break
    day = lambda d: datetime.date(year, month, d).isoformat()  # noqa: E731
    plus = lambda d, n: (datetime.date(year, month, d) + datetime.timedelta(days=n)).isoformat()  # noqa: E731

    def receive(d):
        return c.call(CLAIMS, "ReceiveClaim", lot=8, structure_id="nantes-centre", received_date=day(d),
                      channel="COURRIER", reason="ACCUEIL", text="Personne ne répond au téléphone.",
                      reply_by="POST")

    a, b, late, untouched = receive(1), receive(2), receive(3), receive(4)
    check(a.acknowledgement_due == plus(1, 7) and a.answer_due == plus(1, 45), "due dates: receipt + 7 and + 45 days")
    code, details = c.code_of(CLAIMS, "Acknowledge", claim_id=a.claim_id, date=plus(1, -1))
    check(code == grpc.StatusCode.INVALID_ARGUMENT and "date" in details, f"a date before receipt is refused ({details})")

    acked = c.call(CLAIMS, "Acknowledge", claim_id=late.claim_id, date=plus(3, 12))
    check(acked.acknowledged_late, "an acknowledgement after 7 days is recorded late")
    c.call(CLAIMS, "Acknowledge", claim_id=a.claim_id, date=plus(1, 2))
    answered = c.call(CLAIMS, "Answer", claim_id=a.claim_id, date=plus(1, 20), summary="Un rappel vous est proposé.")
    check(answered.answered_on == plus(1, 20) and not answered.answered_late, "the answer in time")
    escalated = c.call(CLAIMS, "RecordMediatorReferral", claim_id=b.claim_id, date=plus(2, 30),
                       mediator_reference="MED-SMOKE")
    check(escalated.referral_date == plus(2, 30), "the mediator's referral recorded")

    overdue = {x.claim_id for x in c.call(CLAIMS, "ListOverdue", lot=8).claims}
    check({b.claim_id, untouched.claim_id, late.claim_id} <= overdue and a.claim_id not in overdue,
          "the overdue list holds the claims with a step past due, not the answered one")

    stats = c.call(CLAIMS, "ClaimStats", lot=8, **{"from": day(1), "to": plus(1, 27)})
    # the fixture by hand: 4 received, 2 acknowledged (1 in time), 1 answered in time,
    # acknowledgements after 2 and 12 days -> median 7; the answer after 20 days;
    # 1 escalated of 4 -> 8.7 = 0.25
    check((stats.received, stats.acknowledged, stats.acknowledged_in_time) == (4, 2, 1),
          f"received and acknowledged ({stats})")
    check((stats.answered, stats.answered_in_time) == (1, 1), f"answered ({stats})")
    check(stats.median_acknowledgement_days == 7.0 and stats.median_answer_days == 20.0, f"medians ({stats})")
    check(stats.escalated == 1 and abs(stats.escalation_rate - 0.25) < 1e-9, f"indicator 8.7 = 1/4 ({stats})")
    print(f"claims smoke test: {checks} checks passed")


if __name__ == "__main__":
    main()
