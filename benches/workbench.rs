//! The case page of the reviewer's workbench, served through the router as `oscar serve`
//! serves it: a review read from the ledger, the route re-matched and drawn as SVG with its
//! surrounding roads and markers, the items, the timeline and the form.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/routes_common/mod.rs"]
mod routes_common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use oscar::ledger::{Ledger, SqliteLedger};
use oscar::routes::RouteNetwork;
use oscar::server::auth::Auth;
use oscar::server::{AppState, Limits, app};
use oscar::setup::ReviewerConfig;
use routes_common::{Graph, Rng, helsinki_dir, perturb};
use tower::ServiceExt;

/// A route of about `n` vertices along a seeded random walk through central Helsinki.
fn route(n: usize) -> Vec<[f64; 2]> {
    let net = RouteNetwork::load(&helsinki_dir()).expect("shipped network");
    let graph = Graph::new(&net);
    let mut rng = Rng::new(7);
    let walk = loop {
        if let Some(w) = graph.walk(&mut rng, 3000.0, &|w| !w.tunnel && w.highway != "service")
            && w.ways.iter().map(|x| x.1).sum::<f64>() > 2000.0
        {
            break w;
        }
    };
    let len: f64 = walk.ways.iter().map(|x| x.1).sum();
    perturb(&walk.line, &mut Rng::new(n as u64), 5.0, 3.0, len / n as f64)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::temporary().unwrap());
    let limits = Limits { max_clock_skew: None, ..Limits::default() };
    let state = rt.block_on(async {
        AppState::from_config(ReviewerConfig::default(), Arc::clone(&ledger), Auth::Disabled, limits, None, None)
    });
    let router = app(Arc::new(state.unwrap()));
    let coords = route(1_000);
    let mut application: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("examples/helsinki-example.json").unwrap()).unwrap();
    application["application_id"] = "BENCH-1000".into();
    application["route"]["geometry"]["coordinates"] = serde_json::json!(coords);
    let submit = Request::post("/v1/reviews")
        .header("content-type", "application/json")
        .body(Body::from(application.to_string()))
        .unwrap();
    let created = rt.block_on(router.clone().oneshot(submit)).unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let mut group = c.benchmark_group("workbench");
    group.sample_size(20);
    group.bench_function(format!("case page, {}-vertex route through central Helsinki", coords.len()), |b| {
        b.iter(|| {
            let page = rt.block_on(async {
                let resp = router
                    .clone()
                    .oneshot(Request::get("/reviews/BENCH-1000").body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 200);
                axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap()
            });
            let map = b"<svg id=\"map\"".as_slice();
            assert!(page.windows(map.len()).any(|w| w == map));
            page
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
