//! Properties: the engine never panics on any input; more mass or height never turns an
//! escalation into an approval nor lowers the class; item order does not change results.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::sync::OnceLock;

use oscar::Reviewer;
use oscar::application::Application;
use oscar::review::Verdict;
use proptest::prelude::*;
use serde_json::{Value, json};

fn reviewer() -> &'static Reviewer {
    static R: OnceLock<Reviewer> = OnceLock::new();
    R.get_or_init(|| Reviewer::with_defaults().unwrap())
}

fn example(name: &str) -> Value {
    let path = format!("{}/examples/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON Pointer to a leaf or container in a document.
fn paths(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| paths(c, format!("{at}/{k}"), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| paths(c, format!("{at}/{i}"), out)),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(20261120), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = reviewer().review_json(&text);
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let _ = reviewer().review_json(&v.to_string());
    }

    /// Replaces one field of a real application with arbitrary JSON: either clear errors
    /// or a review, never a panic.
    #[test]
    fn a_mutated_application_never_panics(pick in any::<prop::sample::Index>(), replacement in arb_json(), us in any::<bool>()) {
        let mut app = example(if us { "us-example" } else { "spec-example" });
        let mut all = Vec::new();
        paths(&app, String::new(), &mut all);
        let target = pick.get(&all[1..]).clone();
        if let Some(slot) = app.pointer_mut(&target) {
            *slot = replacement;
        }
        if let Err(errors) = reviewer().review_json(&app.to_string()) {
            prop_assert!(!errors.is_empty());
        }
    }

    #[test]
    fn more_mass_or_height_never_approves_what_escalated(extra_kg in 0.0f64..200_000.0, extra_m in 0.0f64..4.0, base in 0usize..3) {
        let names = ["helsinki-example", "us-example", "spec-example"];
        let app: Application = serde_json::from_value(example(names[base])).unwrap();
        let before = reviewer().review(&app).unwrap();
        let mut heavier = app.clone();
        heavier.loaded.gross_mass_kg += extra_kg;
        heavier.cargo.mass_kg += extra_kg;
        let n = heavier.vehicle.axles.len() as f64;
        heavier.vehicle.axles.iter_mut().for_each(|a| a.load_kg += extra_kg / n);
        heavier.loaded.height_m = (heavier.loaded.height_m + extra_m).min(12.0);
        let after = reviewer().review(&heavier).unwrap();
        if before.verdict == Verdict::Escalate {
            prop_assert_eq!(after.verdict, Verdict::Escalate);
        }
        prop_assert!(after.permit_class >= before.permit_class, "{:?} -> {:?}", before.permit_class, after.permit_class);
        prop_assert!(after.over_limit || !before.over_limit);
    }
}

#[test]
fn item_order_does_not_change_results() {
    use oscar::checks::{Context, ITEMS, run, run_all};
    let app: Application = serde_json::from_value(example("spec-example")).unwrap();
    let book = reviewer().rulebook("CN").unwrap();
    let registry = oscar::registry::JsonlRegistry::embedded_demo().unwrap();
    let refs = oscar::registry::fetch(&app, &registry);
    let det = oscar::determination::determine(&app, &book.rules);
    let route = oscar::routes::analyse_geometry(&app.route.geometry.coordinates, 5000.0);
    let ctx = Context { app: &app, refs: &refs, rules: &book.rules, det: &det, route: &route };
    let forward = run_all(&ctx);
    // A fixed set of permutations: reversed, and rotations by a few steps.
    let mut orders: Vec<Vec<usize>> = vec![(0..ITEMS.len()).rev().collect()];
    orders.extend([3, 7, 11, 17].map(|k| (0..ITEMS.len()).map(|i| (i + k) % ITEMS.len()).collect()));
    for order in orders {
        let mut shuffled: Vec<_> = order.iter().map(|&i| run(&ITEMS[i], &ctx)).collect();
        let envelope = &book.rules.envelope;
        let d1 = oscar::review::decide(&forward, &det, None, envelope);
        let d2 = oscar::review::decide(&shuffled, &det, None, envelope);
        assert_eq!(d1.verdict, d2.verdict);
        let (mut r1, mut r2) = (d1.reasons.clone(), d2.reasons.clone());
        r1.sort();
        r2.sort();
        assert_eq!(r1, r2);
        shuffled.sort_by_key(|r| ITEMS.iter().position(|d| d.id == r.id));
        assert_eq!(shuffled, forward);
    }
}
