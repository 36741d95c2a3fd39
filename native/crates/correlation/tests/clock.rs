//! Event time as the Python engine computes it: `tests/data/clock.jsonl` holds CPython 3.11's
//! answers (`Clock.seconds`, `iso`, float `//`) for valid timestamps and mutations of them,
//! written by `native/tools/correlation_clock.py`.

use icssa_correlation::clock::{floordiv, iso, Clock};
use icssa_correlation::value::Val;
use serde_json::Value as J;

#[test]
fn time_as_python_reads_and_writes_it() {
    let mut clock = Clock::default();
    let (mut n, mut bad) = (0, Vec::new());
    for line in include_str!("data/clock.jsonl").lines() {
        let case: J = serde_json::from_str(line).expect("a case");
        n += 1;
        match case[0].as_str() {
            Some("seconds") => {
                let ts = case[1].as_str().expect("text");
                let got = clock.seconds(&Val::Str(ts));
                let want = case[2].as_f64();
                if got.map(f64::to_bits) != want.map(f64::to_bits) {
                    bad.push(format!("seconds({ts:?}): native {got:?}, python {want:?}"));
                }
            }
            Some("iso") => {
                let t = case[1].as_f64().expect("seconds");
                let got = iso(t);
                if got != case[2].as_str().expect("text") {
                    bad.push(format!("iso({t}): native {got}, python {}", case[2]));
                }
            }
            Some("floordiv") => {
                let (x, w) = (case[1].as_f64().expect("x"), case[2].as_f64().expect("w"));
                let got = floordiv(x, w);
                if got.to_bits() != case[3].as_f64().expect("quotient").to_bits() {
                    bad.push(format!("{x} // {w}: native {got}, python {}", case[3]));
                }
            }
            other => panic!("unknown case {other:?}"),
        }
    }
    assert!(n > 1000, "the fixture holds its cases");
    assert!(
        bad.is_empty(),
        "{} of {n} differ:\n{}",
        bad.len(),
        bad[..bad.len().min(20)].join("\n")
    );
}
