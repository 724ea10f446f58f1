//! What a hostile or careless client can do to a real server on 127.0.0.1, and the limit
//! that stops it: stalled headers, an announced body far over the limit, a body not
//! declared as JSON, a route far longer than any permit's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use oscar::server::Limits;
use oscar::server::auth::Auth;
use oscar::setup::ReviewerConfig;
use serde_json::Value;
use server_common::{example, recorded_applications, serve_in_process};

fn host_port(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// Writes `request` on a fresh connection and returns what the server answered until it
/// closed the connection or `wait` passed.
fn raw(url: &str, request: &[u8], wait: Duration) -> String {
    let mut s = TcpStream::connect(host_port(url)).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(request).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_headers_are_cut_off_and_others_are_still_served() {
    let limits = Limits { header_timeout: Duration::from_millis(300), ..recorded_applications() };
    let s = serve_in_process(ReviewerConfig::default(), Auth::Disabled, limits).await;
    let url = s.url.clone();
    tokio::task::spawn_blocking(move || {
        // Many clients that send half a header and stall.
        let stalled: Vec<TcpStream> = (0..64)
            .map(|_| {
                let mut c = TcpStream::connect(host_port(&url)).unwrap();
                c.write_all(b"POST /v1/reviews HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty").unwrap();
                c
            })
            .collect();
        // Someone else is served meanwhile.
        let ok =
            raw(&url, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", Duration::from_secs(5));
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        // Every stalled connection is closed by the server once the header timeout passes.
        let start = Instant::now();
        for mut c in stalled {
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = Vec::new();
            let closed = c.read_to_end(&mut buf).is_ok();
            assert!(closed, "a stalled connection was still open after {:?}", start.elapsed());
        }
        assert!(start.elapsed() < Duration::from_secs(4), "took {:?}", start.elapsed());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_announced_over_the_limit_is_refused_before_it_is_sent() {
    let s = serve_in_process(ReviewerConfig::default(), Auth::Disabled, recorded_applications()).await;
    let url = s.url.clone();
    let answer = tokio::task::spawn_blocking(move || {
        raw(
            &url,
            b"POST /v1/reviews HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Content-Length: 10000000000\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        )
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "the client was told to send 10 GB: {answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert_eq!(s.ledger.verify().unwrap().records, 0);
}

#[tokio::test]
async fn a_body_not_declared_as_json_is_415() {
    let s = serve_in_process(ReviewerConfig::default(), Auth::Disabled, recorded_applications()).await;
    let body = example("T-media").to_string();
    let client = reqwest::Client::new();
    for media in
        [None, Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("application/json; charset=latin1")]
    {
        let mut req = client.post(format!("{}/v1/reviews", s.url)).body(body.clone());
        if let Some(m) = media {
            req = req.header("content-type", m);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 415, "{media:?}");
        let problem: Value = resp.json().await.unwrap();
        assert_eq!(problem["type"], "/problems/unsupported-media-type", "{media:?}");
    }
    assert_eq!(s.ledger.verify().unwrap().records, 0);
    for (i, media) in
        ["application/json", "Application/JSON; charset=UTF-8", "application/merge-patch+json"].iter().enumerate()
    {
        let resp = client
            .post(format!("{}/v1/reviews", s.url))
            .header("content-type", *media)
            .body(example(&format!("T-media-{i}")).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201, "{media}");
    }
}

/// A route drawn to zigzag 80 m across the streets of central Helsinki: every other vertex
/// off the road, and thousands of restrictions met on the way.
fn zigzag(vertices: usize) -> Vec<[f64; 2]> {
    (0..vertices)
        .map(|i| {
            let along = (i as f64 * 0.00002) % 0.05;
            let row = ((i as f64 * 0.00002) / 0.05).floor() * 0.002;
            [24.93 + along, 60.16 + row + if i % 2 == 1 { 0.0007 } else { 0.0 }]
        })
        .collect()
}

#[tokio::test]
async fn a_route_larger_than_the_rulebook_allows_is_refused_and_one_within_gets_a_bounded_answer() {
    let s = serve_in_process(ReviewerConfig::default(), Auth::Disabled, recorded_applications()).await;
    let client = reqwest::Client::new();
    let mut huge = example("T-huge");
    huge["route"]["geometry"]["coordinates"] = serde_json::to_value(zigzag(30_000)).unwrap();
    let resp = client.post(format!("{}/v1/reviews", s.url)).json(&huge).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let problem: Value = resp.json().await.unwrap();
    let errors = problem["errors"].as_array().unwrap();
    assert!(errors.iter().all(|e| e["pointer"] == "/route/geometry/coordinates"), "{problem}");
    assert!(errors.iter().any(|e| e["message"].as_str().unwrap().contains("at most `25000`")), "{problem}");

    // Within the limits: 20,000 vertices, ~1,600 km of zigzag. Reviewed (escalated), and the
    // answer stays small however many restrictions and gaps the route met.
    let mut large = example("T-large");
    large["route"]["geometry"]["coordinates"] = serde_json::to_value(zigzag(20_000)).unwrap();
    let resp = client.post(format!("{}/v1/reviews", s.url)).json(&large).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let text = resp.text().await.unwrap();
    assert!(text.len() < 100_000, "a {} byte answer", text.len());
    let review: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(review["verdict"], "escalate");
    let r1 = review["items"].as_array().unwrap().iter().find(|i| i["id"] == "R1").unwrap();
    assert!(r1["evidence"]["omitted_checks"].as_u64().unwrap() > 100, "{r1}");
    assert!(r1["message"].as_str().unwrap().contains("more like these"), "{r1}");
}
