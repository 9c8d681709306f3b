//! Member results as they travel between the page's workers (`MemberResult::to_bytes` /
//! `from_bytes`): every value comes back bit for bit, NaN and ±Inf included, and the combined
//! products made from travelled results are the same bytes as those made from the originals.
//! Real flight data (../shared/data/abdor-1093/f480m, ~450 flagged pixels per exposure, so its
//! residual images hold NaN) is the case that used to fail: JSON wrote NaN as `null`.

mod common;
use ami3::analyze::exposure::References;
use ami3::error::{Input, Kind};
use ami3::pipeline::{analyze_member, combine, Association, MemberResult, PipelineOptions};
use ami3::products::reffiles::{NrmReference, Throughput};
use common::{planner, read};
use std::path::PathBuf;
use std::sync::OnceLock;

fn abdor_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/abdor-1093/f480m")
}

/// The F480M association's member results (throughput from its folder, NRM from f480m-binary),
/// computed once for the tests of this file.
fn abdor_results() -> &'static (Association, Vec<MemberResult>) {
    static RESULTS: OnceLock<(Association, Vec<MemberResult>)> = OnceLock::new();
    RESULTS.get_or_init(analyze_abdor)
}

fn analyze_abdor() -> (Association, Vec<MemberResult>) {
    let d = abdor_dir();
    let asn = Association::from_json(
        &String::from_utf8(read(&d.join("asn.json"))).unwrap(),
        "asn.json",
    )
    .unwrap();
    let refs = References {
        throughput: Some(
            Throughput::from_bytes(
                &read(&d.join("throughput_f480m.fits")),
                "throughput_f480m.fits",
            )
            .unwrap(),
        ),
        nrm: Some(
            NrmReference::from_bytes(&read(&common::data_dir().join("nrm.fits")), "nrm.fits")
                .unwrap(),
        ),
    };
    let options = PipelineOptions::default();
    let results = asn
        .members
        .iter()
        .map(|m| {
            let bytes = read(&d.join(&m.expname));
            analyze_member(bytes, m, &asn, &refs, &options, planner(), &|_, _| {})
                .unwrap_or_else(|e| panic!("{e}"))
                .0
        })
        .collect();
    (asn, results)
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn real_member_results_with_nan_travel_bit_exact_and_combine_to_the_same_products() {
    let (asn, results) = abdor_results();
    let nan_pixels: usize = results
        .iter()
        .map(|r| r.lg.resid.iter().filter(|x| x.is_nan()).count())
        .sum();
    assert!(
        nan_pixels > 0,
        "the real data's residual images hold NaN at flagged pixels"
    );
    let travelled: Vec<MemberResult> = results
        .iter()
        .map(|r| MemberResult::from_bytes(&r.to_bytes(), "test").unwrap())
        .collect();
    for (a, b) in results.iter().zip(&travelled) {
        assert_eq!(bits(&a.lg.resid), bits(&b.lg.resid), "{}", a.member.expname);
        assert_eq!(bits(&a.lg.fit), bits(&b.lg.fit), "{}", a.member.expname);
        assert_eq!(a.to_bytes(), b.to_bytes(), "{}", a.member.expname);
    }
    let options = PipelineOptions::default();
    let direct = combine(asn, results, &options);
    let via_bytes = combine(asn, &travelled, &options);
    let names: Vec<&str> = via_bytes.products.iter().map(|p| p.name.as_str()).collect();
    assert!(
        names.iter().any(|n| n.ends_with("_aminorm-oi.fits")),
        "{names:?}"
    );
    assert_eq!(direct.products.len(), via_bytes.products.len());
    for (a, b) in direct.products.iter().zip(&via_bytes.products) {
        assert_eq!(a.name, b.name);
        assert!(a.bytes == b.bytes, "{} differs after travel", a.name);
    }
}

#[test]
fn nan_with_sign_and_payload_infinities_negative_zero_and_subnormals_keep_their_bits() {
    let (_, results) = abdor_results();
    let mut r = results[0].clone();
    let specials = [
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_dead_beef), // signalling NaN with a payload
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        f64::from_bits(1), // smallest subnormal
        f64::MAX,
    ];
    for (k, x) in specials.iter().enumerate() {
        r.lg.resid[k] = *x;
        r.lg.observables.closure_phase_rad[k] = *x;
    }
    r.meta.mjd_mean = f64::NEG_INFINITY;
    let back = MemberResult::from_bytes(&r.to_bytes(), "test").unwrap();
    assert_eq!(bits(&back.lg.resid[..8]), bits(&specials));
    assert_eq!(
        bits(&back.lg.observables.closure_phase_rad[..8]),
        bits(&specials)
    );
    assert_eq!(back.meta.mjd_mean, f64::NEG_INFINITY);
    assert_eq!(back.to_bytes(), r.to_bytes());
}

#[test]
fn damaged_member_result_bytes_are_an_error_naming_the_input() {
    let (_, results) = abdor_results();
    let bytes = results[0].to_bytes();
    for damaged in [&bytes[..bytes.len() / 2], &[][..], b"{\"member\": null}"] {
        let e = MemberResult::from_bytes(damaged, "member result 2").unwrap_err();
        assert_eq!(e.input, Input::Message("member result 2".into()));
        assert_eq!(e.kind, Kind::BadMessage);
        assert!(e.problem.contains("not a member result"), "{}", e.problem);
    }
}
