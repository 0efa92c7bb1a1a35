//! The indicators of a fixture population, against figures computed by hand.

use cep_proto::events;
use cep_testkit::TestDatabase;
use chrono::{NaiveDate, TimeZone, Utc};
use exchange::facts::{Fact, apply};
use exchange::indicators::compute;
use prost::{Message, Name};
use uuid::Uuid;

struct Fixture {
    db: TestDatabase,
}

fn noon(day: &str) -> chrono::DateTime<Utc> {
    let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    Utc.from_utc_datetime(&d.and_hms_opt(12, 0, 0).unwrap())
}

impl Fixture {
    async fn new() -> Self {
        let db = TestDatabase::create().await;
        db.migrate(&cep_runtime::migrator(&exchange::MIGRATOR))
            .await;
        Self { db }
    }

    async fn fact<E: Message + Name>(&self, e: &E, day: &str) {
        let payload = e.encode_to_vec();
        let ce_type = E::full_name();
        let mut tx = self.db.pool.begin().await.unwrap();
        apply(
            &mut tx,
            &Fact {
                ce_type: &ce_type,
                at: noon(day),
                payload: &payload,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{ce_type} applied: {e:?}"));
        tx.commit().await.unwrap();
    }

    async fn order(&self, year: i32, lines: &[(&str, i64)]) {
        self.fact(
            &events::PurchaseOrderCreated {
                purchase_order_id: Uuid::now_v7().to_string(),
                lot: 8,
                year,
                reference: format!("{year}-Lot08"),
                lines: lines
                    .iter()
                    .map(|(uo, q)| events::PurchaseOrderLineCreated {
                        line_id: Uuid::now_v7().to_string(),
                        uo: (*uo).into(),
                        quantity: *q,
                        // each UO has its own ranks: the first line of each is 1
                        rank: 1,
                    })
                    .collect(),
            },
            &format!("{year}-01-02"),
        )
        .await;
    }

    /// A unit of `person` engaged on `engaged` (status at engagement `status`),
    /// closed on `closed` with `reason` (billable unless ABANDON).
    async fn unit(
        &self,
        person: Uuid,
        uo: &str,
        status: &str,
        engaged: &str,
        closed: Option<(&str, &str)>,
    ) -> Uuid {
        let id = Uuid::now_v7();
        let uo_id = id.to_string();
        self.fact(
            &events::UoEngaged {
                uo_id: uo_id.clone(),
                beneficiary_id: person.to_string(),
                uo: uo.into(),
                lot: 8,
                structure_id: "nantes-centre".into(),
                dossier_number: format!("AB{}", &uo_id[..13]),
                engagement_date: engaged.into(),
                employment_status_at_engagement: status.into(),
                version: 1,
                ..Default::default()
            },
            engaged,
        )
        .await;
        if let Some((day, reason)) = closed {
            self.fact(
                &events::UoClosed {
                    uo_id,
                    beneficiary_id: person.to_string(),
                    uo: uo.into(),
                    lot: 8,
                    closure_date: day.into(),
                    closure_reason: reason.into(),
                    billable: reason != "ABANDON",
                    version: 2,
                    ..Default::default()
                },
                day,
            )
            .await;
        }
        id
    }

    async fn interaction(&self, unit: Uuid, day: &str, types: &[&str]) {
        self.interaction_of(Uuid::now_v7(), unit, day, types).await;
    }

    async fn interaction_of(&self, person: Uuid, unit: Uuid, day: &str, types: &[&str]) {
        self.fact(
            &events::InteractionRecorded {
                interaction_id: Uuid::now_v7().to_string(),
                uo_id: unit.to_string(),
                beneficiary_id: person.to_string(),
                lot: 8,
                date: day.into(),
                contact_mode: "PRESENTIEL".into(),
                duration_minutes: 45,
                service_types: types.iter().map(|t| (*t).to_owned()).collect(),
                requested_by_beneficiary: true,
            },
            day,
        )
        .await;
    }

    async fn complementary(&self, unit: Uuid, day: &str, auto: bool) {
        self.fact(
            &events::ComplementaryServiceRecorded {
                complementary_service_id: Uuid::now_v7().to_string(),
                uo_id: unit.to_string(),
                beneficiary_id: Uuid::now_v7().to_string(),
                lot: 8,
                kind: "FORMATION".into(),
                auto_prescription: auto,
                funding: String::new(),
                recorded_on: day.into(),
            },
            day,
        )
        .await;
    }

    async fn appointment(&self, person: Uuid, day: &str) {
        self.fact(
            &events::AppointmentRequested {
                appointment_id: Uuid::now_v7().to_string(),
                beneficiary_id: person.to_string(),
                lot: 8,
                requested_on: day.into(),
                channel: "ONLINE".into(),
            },
            day,
        )
        .await;
    }

    async fn claim(&self, received: &str, referred: Option<&str>) {
        let claim_id = Uuid::now_v7().to_string();
        self.fact(
            &events::ClaimReceived {
                claim_id: claim_id.clone(),
                lot: 8,
                structure_id: "nantes-centre".into(),
                received_date: received.into(),
                channel: "COURRIER".into(),
                reason: "DELAI_RENDEZ_VOUS".into(),
                // as the claims service computes them (cep_domain::claim)
                acknowledgement_due: {
                    let d = NaiveDate::parse_from_str(received, "%Y-%m-%d").unwrap();
                    cep_domain::claim::acknowledgement_due(d).to_string()
                },
                answer_due: {
                    let d = NaiveDate::parse_from_str(received, "%Y-%m-%d").unwrap();
                    cep_domain::claim::answer_due(d).to_string()
                },
                version: 1,
                ..Default::default()
            },
            received,
        )
        .await;
        if let Some(day) = referred {
            self.fact(
                &events::ClaimEscalated {
                    claim_id,
                    lot: 8,
                    referral_date: day.into(),
                    version: 2,
                    ..Default::default()
                },
                day,
            )
            .await;
        }
    }
}

#[tokio::test]
async fn the_indicators_of_a_month_match_the_hand_computed_fixture() {
    let f = Fixture::new().await;
    f.order(
        2026,
        &[("UO0", 20), ("UO1", 10), ("UO2.1", 4), ("UO2.2", 2)],
    )
    .await;
    f.order(2025, &[("UO1", 5)]).await;
    let p = || Uuid::now_v7();
    // UO0: three in November (one actif occupé, one job seeker, one without a job),
    // one in October
    for status in ["SALARIE_PRIVE", "DEMANDEUR_EMPLOI", "SANS_EMPLOI"] {
        f.unit(
            p(),
            "UO0",
            status,
            "2026-11-04",
            Some(("2026-11-04", "AIGUILLAGE")),
        )
        .await;
    }
    f.unit(
        p(),
        "UO0",
        "SALARIE_PRIVE",
        "2026-10-04",
        Some(("2026-10-04", "AIGUILLAGE")),
    )
    .await;
    // UO1: A signed after 18 days, B abandoned, C open; D engaged a year before,
    // signed in January
    f.unit(
        p(),
        "UO1",
        "SALARIE_PRIVE",
        "2026-11-02",
        Some(("2026-11-20", "SIGNATURE")),
    )
    .await;
    f.unit(
        p(),
        "UO1",
        "SALARIE_PRIVE",
        "2026-11-03",
        Some(("2026-11-25", "ABANDON")),
    )
    .await;
    f.unit(p(), "UO1", "SALARIE_PRIVE", "2026-11-05", None)
        .await;
    f.unit(
        p(),
        "UO1",
        "SALARIE_PRIVE",
        "2025-11-10",
        Some(("2026-01-15", "SIGNATURE")),
    )
    .await;
    // UO2.1: E engaged in November; F and G signed in August, F back in September
    let unit_e = f
        .unit(p(), "UO2.1", "SALARIE_PRIVE", "2026-11-06", None)
        .await;
    f.interaction(unit_e, "2026-11-10", &["BILAN", "INFORMATION"])
        .await;
    f.interaction(unit_e, "2026-11-17", &["BILAN"]).await;
    let person_f = p();
    f.unit(
        person_f,
        "UO2.1",
        "SALARIE_PRIVE",
        "2026-03-02",
        Some(("2026-08-10", "SIGNATURE")),
    )
    .await;
    f.unit(person_f, "UO2.2", "SALARIE_PRIVE", "2026-09-01", None)
        .await;
    // H signed in November after 192 days, with a training the operator delivers; E
    // took up one from another organisation
    let unit_h = f
        .unit(
            p(),
            "UO2.1",
            "SALARIE_PRIVE",
            "2026-05-04",
            Some(("2026-11-12", "SIGNATURE")),
        )
        .await;
    f.complementary(unit_h, "2026-11-05", true).await;
    // first appointments: R asked on the 3rd and was first seen on the 13th (a
    // contact on the 1st came before the request); S still waits; T asked in October
    let (r, s, t) = (p(), p(), p());
    f.appointment(r, "2026-11-03").await;
    f.interaction_of(r, p(), "2026-11-01", &[]).await;
    f.interaction_of(r, p(), "2026-11-13", &[]).await;
    f.interaction_of(r, p(), "2026-11-20", &[]).await;
    f.appointment(s, "2026-11-25").await;
    f.appointment(t, "2026-10-20").await;
    f.interaction_of(t, p(), "2026-10-22", &[]).await;
    f.complementary(unit_e, "2026-11-20", false).await;
    f.unit(
        p(),
        "UO2.1",
        "SALARIE_PRIVE",
        "2026-03-03",
        Some(("2026-08-20", "SIGNATURE")),
    )
    .await;
    // claims of the half-year July–December: three, one referred; one in June, referred
    f.claim("2026-09-01", Some("2026-10-30")).await;
    f.claim("2026-11-05", None).await;
    f.claim("2026-12-01", None).await;
    f.claim("2026-06-30", Some("2026-07-02")).await;
    let lot = cep_domain::Lot::new(8).unwrap();
    exchange::store::put_population(&f.db.pool, lot, 2026, 1000, 500)
        .await
        .unwrap();
    // two FTE on UO1 in the second half of 2026; the survey of November
    exchange::store::put_means(&f.db.pool, lot, 2026, 2, &[("UO1".into(), 2.0)])
        .await
        .unwrap();
    let survey = exchange::imports::parse(
        exchange::imports::Kind::Survey,
        "month;respondents;satisfied\n2026-11;50;40\n",
    )
    .unwrap();
    exchange::store::put_imported(&f.db.pool, lot, "8.1", &survey, noon("2026-12-01"))
        .await
        .unwrap();

    let tables = cep_domain::ReferenceTables::builtin();
    let month = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let values = compute(&f.db.pool, &tables, lot, month).await.unwrap();
    let got = |code: &str| {
        let v = values
            .iter()
            .find(|v| v.definition.code == code)
            .unwrap_or_else(|| panic!("{code} computed"));
        (v.numerator.unwrap(), v.denominator.unwrap(), v.value)
    };
    let expected: [(&str, f64, f64, Option<f64>); 24] = [
        ("1.1", 1.0, 20.0, Some(0.05)),
        ("1.2", 3.0, 10.0, Some(0.3)),
        ("1.3", 1.0, 4.0, Some(0.25)),
        ("1.4", 0.0, 2.0, Some(0.0)),
        ("2.1", 2.0, 1000.0, Some(0.002)),
        ("2.2", 4.0, 500.0, Some(0.008)),
        ("3", 3.0, 1.0, Some(3.0)),
        ("4.1", 4.0, 20.0, Some(0.2)),
        ("4.2", 2.0, 10.0, Some(0.2)),
        ("4.3", 3.0, 4.0, Some(0.75)),
        ("4.4", 0.0, 2.0, Some(0.0)),
        ("5.1", 4.0, 20.0, Some(0.2)),
        ("5.2", 2.0, 15.0, Some(2.0 / 15.0)),
        ("6.2", 18.0, 1.0, Some(18.0)),
        ("6.3", 192.0, 1.0, Some(192.0)),
        ("6.5", 1.0, 2.0, Some(0.5)),
        ("6.6", 0.0, 1.0, Some(0.0)),
        ("6.1", 1.0, 1.0, Some(1.0)),
        ("8.4", 10.0, 1.0, Some(10.0)),
        ("8.6", 1.0, 2.0, Some(0.5)),
        ("6.8", 1.0, 2.0, Some(0.5)),
        ("8.7", 1.0, 3.0, Some(1.0 / 3.0)),
        ("5.3", 3.0, 4.0, Some(0.75)),
        ("5.4", 0.0, 2.0, Some(0.0)),
    ];
    for (code, n, d, v) in expected {
        let (gn, gd, gv) = got(code);
        assert_eq!((gn, gd), (n, d), "indicator {code}");
        match (gv, v) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-12, "indicator {code}: {a} != {b}"),
            (a, b) => assert_eq!(a, b, "indicator {code}"),
        }
    }
    // per category: who engaged in November (statuses at engagement; the categories of
    // persons the read model does not know), and the service types of the UO2s
    let by = |code: &str, dimension: &str| {
        let v = values
            .iter()
            .find(|v| v.definition.code == code && v.dimension == dimension)
            .unwrap_or_else(|| panic!("{code} for {dimension} in {values:?}"));
        (v.numerator.unwrap(), v.denominator.unwrap())
    };
    assert_eq!(by("2.4", "SALARIE_PRIVE"), (4.0, 4.0));
    assert_eq!(by("2.3", "NON_RENSEIGNE"), (4.0, 4.0));
    assert_eq!(by("8.2", "BILAN"), (2.0, 2.0));
    assert_eq!(by("8.2", "INFORMATION"), (1.0, 2.0));
    // half-yearly per FTE: one billable UO1 closed from July to November, two FTE
    let (n, d, v) = got("7.2");
    assert_eq!((n, d, v), (1.0, 2.0, Some(0.5)));
    let no_means = values.iter().find(|v| v.definition.code == "7.1").unwrap();
    assert!(
        no_means.value.is_none() && no_means.note.contains("SetMeans"),
        "{no_means:?}"
    );
    assert_eq!(got("8.1"), (40.0, 50.0, Some(0.8)));
    let not_imported = values.iter().find(|v| v.definition.code == "8.3").unwrap();
    assert!(
        not_imported.value.is_none() && not_imported.note.contains("ImportMysteryShopperResults")
    );

    let none = values.iter().find(|v| v.definition.code == "6.4").unwrap();
    assert!(!none.note.is_empty(), "an absent value says why");
}

#[tokio::test]
async fn a_quarters_figures_match_the_hand_computed_fixture() {
    let f = Fixture::new().await;
    f.order(2026, &[("UO1", 10), ("UO2.1", 4)]).await;
    let reference = |uo: &str, n: u32| format!("2026-Lot08-{uo}-01-{n:05}");
    // three UO1 of the line: one engaged in Q3 and signed in Q4, one engaged and
    // abandoned in Q4, one engaged in Q4 still open; a UO2.1 engaged in Q4
    for (uo, code, engaged, closed, n) in [
        (
            "UO1",
            "UO01",
            "2026-09-20",
            Some(("2026-10-05", "SIGNATURE")),
            1,
        ),
        (
            "UO1",
            "UO01",
            "2026-10-02",
            Some(("2026-12-01", "ABANDON")),
            2,
        ),
        ("UO1", "UO01", "2026-11-15", None, 3),
        ("UO2.1", "UO2.1", "2026-12-01", None, 1),
    ] {
        let id = Uuid::now_v7();
        f.fact(
            &events::UoEngaged {
                uo_id: id.to_string(),
                beneficiary_id: Uuid::now_v7().to_string(),
                uo: uo.into(),
                lot: 8,
                dossier_number: format!("AB26{n:011}"),
                purchase_order_reference: reference(code, n),
                engagement_date: engaged.into(),
                version: 1,
                ..Default::default()
            },
            engaged,
        )
        .await;
        if let Some((day, reason)) = closed {
            f.fact(
                &events::UoClosed {
                    uo_id: id.to_string(),
                    beneficiary_id: Uuid::now_v7().to_string(),
                    uo: uo.into(),
                    lot: 8,
                    closure_date: day.into(),
                    closure_reason: reason.into(),
                    billable: reason != "ABANDON",
                    version: 2,
                    ..Default::default()
                },
                day,
            )
            .await;
        }
    }
    // claims of Q4: two received, one acknowledged in time, one referred
    f.claim("2026-10-10", Some("2026-11-30")).await;
    f.claim("2026-12-20", None).await;
    let lot = cep_domain::Lot::new(8).unwrap();
    let (start, end) = exchange::quarterly::bounds(2026, 4).unwrap();
    let q = exchange::quarterly::compute(&f.db.pool, lot, start, end)
        .await
        .unwrap();
    let uo1 = q
        .lines
        .iter()
        .find(|l| l.uo == "UO1")
        .expect("the UO1 line");
    assert_eq!(
        (
            uo1.quantity,
            uo1.engaged,
            uo1.closed,
            uo1.billable,
            uo1.engaged_to_date,
            uo1.billable_to_date
        ),
        (10, 2, 2, 1, 3, 1)
    );
    let uo21 = q
        .lines
        .iter()
        .find(|l| l.uo == "UO2.1")
        .expect("the UO2.1 line");
    assert_eq!((uo21.engaged, uo21.engaged_to_date), (1, 1));
    assert_eq!(q.claims.received, 2);
    assert_eq!(q.claims.escalated, 1);
    // neither claim was acknowledged: the one of 10 October is past its 7 days
    assert_eq!(q.claims.acknowledged_in_time, 0);
    assert_eq!(q.claims.overdue_at_end, 2);
    assert_eq!((q.days_delivered, q.failed_attempts), (0, 0));
}
