//! The harness itself: moto answers while held and is gone once dropped.

use testkit::Moto;

fn answers(endpoint: &str) -> bool {
    ureq::get(&format!("{endpoint}/moto-api/data.json"))
        .call()
        .is_ok()
}

#[test]
fn moto_runs_while_held_and_stops_when_dropped() {
    let moto = Moto::start();
    let endpoint = moto.endpoint.clone();
    assert!(answers(&endpoint));
    drop(moto);
    assert!(!answers(&endpoint), "moto still answers on {endpoint}");
}

#[test]
fn names_are_unique() {
    assert_ne!(testkit::unique("t"), testkit::unique("t"));
}
