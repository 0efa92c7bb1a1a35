//! A NIR never leaves a contract message through `Debug` or `serde`.

use cep_proto::beneficiaries::{
    Beneficiary, Profile, SearchRequest, SearchResponse, SetNirRequest,
};

/// A valid-looking NIR; none of its digit runs may appear in a rendering.
const NIR: &str = "2850578006084";

fn assert_redacted(rendered: &str) {
    assert!(!rendered.contains(NIR), "the nir leaked: {rendered}");
    assert!(
        !rendered.contains("285057"),
        "part of the nir leaked: {rendered}"
    );
    assert!(
        rendered.contains("<redacted>"),
        "a set nir is shown as redacted: {rendered}"
    );
}

#[test]
fn a_set_nir_request_prints_every_field_but_the_nir() {
    let request = SetNirRequest {
        beneficiary_id: "0190b7a8-0000-7000-8000-000000000001".to_owned(),
        nir: NIR.to_owned(),
        allow_duplicate: true,
        duplicate_reason: "checked with the person".to_owned(),
    };
    for rendered in [format!("{request:?}"), format!("{request:#?}")] {
        assert_redacted(&rendered);
        assert!(rendered.contains("0190b7a8-0000-7000-8000-000000000001"));
        assert!(rendered.contains("checked with the person"));
        assert!(rendered.contains("allow_duplicate: true"));
    }
}

#[test]
fn a_search_by_nir_prints_its_other_criteria_but_not_the_nir() {
    let request = SearchRequest {
        name_prefix: "dup".to_owned(),
        nir: NIR.to_owned(),
        page_size: 20,
        ..SearchRequest::default()
    };
    let rendered = format!("{request:?}");
    assert_redacted(&rendered);
    assert!(rendered.contains("name_prefix: \"dup\""));
    assert!(rendered.contains("page_size: 20"));
}

#[test]
fn a_beneficiary_shown_to_the_si_prints_its_masked_nir_but_not_the_nir() {
    let beneficiary = Beneficiary {
        last_name: "DUPONT".to_owned(),
        nir: NIR.to_owned(),
        nir_masked: "2 85 05 ** *** *** **".to_owned(),
        has_nir: true,
        profile: Some(Profile {
            sex: "F".to_owned(),
            ..Profile::default()
        }),
        ..Beneficiary::default()
    };
    let rendered = format!("{beneficiary:?}");
    assert_redacted(&rendered);
    assert!(rendered.contains("2 85 05 ** *** *** **"));
    assert!(
        rendered.contains("sex: \"F\""),
        "nested messages are printed"
    );
}

#[test]
fn an_absent_nir_is_shown_empty_rather_than_redacted() {
    let rendered = format!("{:?}", SetNirRequest::default());
    assert!(rendered.contains("nir: \"\""), "{rendered}");
    assert!(!rendered.contains("<redacted>"));
}

/// Compiles only when `T` does not implement `serde::Serialize`: with an impl, both
/// blanket impls apply and `check` is ambiguous (the `static_assertions` technique).
trait NotSerialize<Marker> {
    fn check() {}
}
impl<T: ?Sized> NotSerialize<()> for T {}
#[allow(dead_code, reason = "only names the second impl")]
struct IsSerialize;
impl<T: ?Sized + serde::Serialize> NotSerialize<IsSerialize> for T {}

fn serializes<T: serde::Serialize>() {}

#[test]
fn messages_with_a_nir_cannot_be_serialized_and_the_others_can() {
    <SetNirRequest as NotSerialize<_>>::check();
    <SearchRequest as NotSerialize<_>>::check();
    <Beneficiary as NotSerialize<_>>::check();
    serializes::<SearchResponse>();
    serializes::<Profile>();
}

#[test]
fn every_message_knows_its_protobuf_full_name() {
    use prost::Name;
    assert_eq!(
        cep_proto::events::BeneficiaryRegistered::full_name(),
        "cep.events.v1.BeneficiaryRegistered"
    );
    assert_eq!(
        SetNirRequest::full_name(),
        "cep.beneficiaries.v1.SetNirRequest"
    );
}
