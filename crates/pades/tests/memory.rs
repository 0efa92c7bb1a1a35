//! Signing a ~20 MB document must not copy it: `sign` borrows the original, hashes the
//! byte ranges in place and returns only the update. Alone in its test binary so that no
//! other test disturbs the process's peak RSS.

mod common;

use common::*;

fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

#[test]
fn signing_20_mb_grows_peak_rss_by_far_less_than_the_document() {
    let pki = test_pki();
    // 2240² RGBA noise pixels: ~15 MB of colour and ~5 MB of alpha, deflate cannot shrink them
    let original = krilla_pdf(Some(2240));
    let mb = original.len() as f64 / 1e6;
    assert!(original.len() > 19_000_000, "document of {mb:.1} MB");

    // reset the peak (VmHWM) to the current RSS
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    let before = status_kib("VmRSS:");
    let update = cep_pades::sign(
        &original,
        &pki.counsellor,
        &request("counsellor", "Éloïse Bérénger", 600.0),
    )
    .expect("sign");
    let peak = status_kib("VmHWM:");
    let growth_mb = peak.saturating_sub(before) as f64 / 1024.0;
    println!(
        "signed {mb:.1} MB: update {} bytes, peak RSS growth {growth_mb:.2} MiB",
        update.len()
    );
    assert!(update.len() < 64 * 1024, "the update alone is returned");
    assert!(
        growth_mb < 5.0,
        "peak RSS grew by {growth_mb:.2} MiB while signing {mb:.1} MB"
    );

    // the result is a valid signature (verify borrows the same way)
    let mut signed = original;
    signed.extend_from_slice(&update);
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    let before = status_kib("VmRSS:");
    let reports = cep_pades::verify(&signed, std::slice::from_ref(&pki.ca)).unwrap();
    let growth_mb = status_kib("VmHWM:").saturating_sub(before) as f64 / 1024.0;
    println!("verified: peak RSS growth {growth_mb:.2} MiB");
    assert!(reports.iter().all(|r| r.valid), "{reports:#?}");
    assert!(
        growth_mb < 5.0,
        "verify grew peak RSS by {growth_mb:.2} MiB"
    );
}
