//! The workbench in a real browser: headless Chromium driven through chromedriver's
//! WebDriver protocol (a small client over reqwest), against `oscar serve` on 127.0.0.1.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Where they are
//! missing the test says so loudly and passes, except under `CI=true`, where it fails.
//! Screenshots of the queue, the case page and the indicators page are left in
//! `target/screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod server_common;
mod workbench_common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use server_common::{Oscar, free_port, init_ledger, temp_dir};
use workbench_common::{BY_DUE, submit_all};

/// A reviewer's key (reads and decides) and the platform's (submits).
const REVIEWER: &str = "ana-key-0123456789abcdef";
const PLATFORM: &str = "platform-key-0123456789ab";

/// The WebDriver name of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A program on the `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()))
}

/// chromedriver as a child process, killed when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One WebDriver session.
struct Browser {
    http: reqwest::Client,
    session: String,
}

impl Browser {
    async fn start(driver_url: &str, chromium: &std::path::Path, profile: &std::path::Path) -> Browser {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{driver_url}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1000",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args}}}});
        let resp: Value =
            http.post(format!("{driver_url}/session")).json(&caps).send().await.unwrap().json().await.unwrap();
        let session = resp["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {resp}"));
        Browser { http, session: format!("{driver_url}/session/{session}") }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let answer: Value = req.send().await.unwrap().json().await.unwrap();
        if answer["value"].get("error").is_some() {
            panic!("WebDriver {path}: {answer}");
        }
        answer["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    /// Runs `script` in the page (its `arguments`: `args`) and returns its value.
    async fn run(&self, script: &str, args: Value) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    async fn find(&self, css: &str) -> String {
        let found =
            self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element `{css}`: {found}")).to_string()
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{e}/click"), Some(json!({}))).await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{e}/clear"), Some(json!({}))).await;
        self.call(reqwest::Method::POST, &format!("/element/{e}/value"), Some(json!({"text": text}))).await;
    }

    /// `[attribute, attribute, ...]` of every element matching `css`, in page order.
    async fn attrs(&self, css: &str, names: &[&str]) -> Vec<Vec<String>> {
        let script = "return [...document.querySelectorAll(arguments[0])].map(e => arguments[1].map(n => e.getAttribute(n) || ''));";
        serde_json::from_value(self.run(script, json!([css, names])).await).unwrap()
    }

    async fn text(&self, css: &str) -> String {
        let script = "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';";
        self.run(script, json!([css])).await.as_str().unwrap_or_default().to_string()
    }

    /// Waits (10 s at most) until the text of `css` contains `needle`.
    async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.text(css).await;
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "`{needle}` never appeared in `{css}`: {text}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot of the page at `width` x `height` as `target/screenshots/NAME.png`.
    async fn screenshot(&self, name: &str, width: u32, height: u32) {
        self.call(reqwest::Method::POST, "/window/rect", Some(json!({"width": width, "height": height}))).await;
        self.run("window.scrollTo(0, 0);", json!([])).await;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), base64(png.as_str().unwrap())).unwrap();
    }
}

impl Drop for Browser {
    /// Ends the session, which closes Chromium, also when the test fails midway: chromedriver,
    /// killed after it, would leave Chromium running.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let Some((host, path)) = self.session.strip_prefix("http://").and_then(|rest| rest.split_once('/')) else {
            return;
        };
        if let Ok(mut s) = std::net::TcpStream::connect(host) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(s, "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            // chromedriver answers once Chromium is closed; the answer's first bytes will do.
            let _ = s.read(&mut [0; 512]);
        }
    }
}

/// Standard base64 (the screenshot's encoding), decoded.
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|c| !b"=\r\n".contains(c)).map(value).collect();
    digits
        .chunks(4)
        .flat_map(|q| {
            let n = q.iter().enumerate().fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
            n.to_be_bytes().into_iter().skip(1).take(q.len() - 1)
        })
        .collect()
}

#[test]
fn base64_decodes() {
    assert_eq!(base64("aGVsbG8gd29ybGQ="), b"hello world");
    assert_eq!(base64("iVBORw0KGgo="), [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n']);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_works_through_the_queue_in_chromium() {
    let (Some(chromium), Some(chromedriver)) = (on_path("chromium"), on_path("chromedriver")) else {
        let why = "BROWSER TEST NOT RUN: `chromium` and `chromedriver` are needed on the PATH \
                   (Debian: apt-get install chromium chromium-driver; `.ci/run` installs them)";
        eprintln!("\n*** {why} ***\n");
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{why}");
        return;
    };
    let dir = temp_dir("workbench-browser");
    let ledger = dir.join("ledger.sqlite");
    init_ledger(&ledger);
    let keys = format!("ana {REVIEWER} read,decide;platform {PLATFORM} submit");
    let server = Oscar::start_with(
        &["serve", "--trust-submitted-at", "--ledger", ledger.to_str().unwrap()],
        "/readyz",
        &[("OSCAR_API_KEYS", &keys)],
        Stdio::null(),
    );
    let url = server.url();
    let http = reqwest::Client::new();
    submit_all(&http, &url, Some(PLATFORM)).await;
    let port = free_port();
    let _driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let b = Browser::start(&format!("http://127.0.0.1:{port}"), &chromium, &dir.join("profile")).await;

    // Signed out, the workbench asks for a key; signed in, the queue comes, most urgent first
    // by statutory due date.
    b.go(&format!("{url}/")).await;
    b.type_into("#sign-in-key", REVIEWER).await;
    b.click("#sign-in-button").await;
    b.wait_text("#count", "3 case(s)").await;
    let rows = b.attrs("#queue tbody tr", &["data-id", "data-due"]).await;
    assert_eq!(rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), BY_DUE);
    assert!(rows.windows(2).all(|w| w[0][1] <= w[1][1]), "{rows:?}");
    b.screenshot("queue", 1280, 600).await;

    // The tunnel case: the failing items and the map's markers are the review's.
    b.click("a[href=\"/reviews/WB-TUNNEL\"]").await;
    b.wait_text("#case-status", "open").await;
    let review: Value = http
        .get(format!("{url}/v1/reviews/WB-TUNNEL"))
        .bearer_auth(REVIEWER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = review["items"].as_array().unwrap();
    let failing: Vec<&str> =
        items.iter().filter(|i| i["status"] == "fail").map(|i| i["id"].as_str().unwrap()).collect();
    let shown = b.attrs("tr.item[data-status=\"fail\"]", &["data-item"]).await;
    assert_eq!(shown.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), failing);
    let mut judged: Vec<Vec<String>> = items
        .iter()
        .flat_map(|i| {
            let id = i["id"].as_str().unwrap();
            i["evidence"]["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["what"].as_str().unwrap().contains(" on osm:"))
                .map(move |c| vec![id.to_string(), c["status"].as_str().unwrap().to_string()])
        })
        .collect();
    let mut markers = b.attrs("#map g.marker", &["data-item", "data-status"]).await;
    judged.sort();
    markers.sort();
    assert!(!markers.is_empty());
    assert_eq!(markers, judged);
    // The map zooms (its viewBox narrows) and resets.
    let width = "return document.getElementById('map').viewBox.baseVal.width;";
    let full = b.run(width, json!([])).await.as_f64().unwrap();
    b.click("[data-zoom=\"in\"]").await;
    assert!(b.run(width, json!([])).await.as_f64().unwrap() < full * 0.9);
    b.click("[data-zoom=\"reset\"]").await;
    assert_eq!(b.run(width, json!([])).await.as_f64().unwrap(), full);
    // Pointing at an entry of the list highlights its marker.
    let entry = b.find("#met a").await;
    let pointer = json!({"type": "pointerMove", "duration": 0, "origin": {ELEMENT: entry}, "x": 0, "y": 0});
    let actions = json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [pointer]}]});
    b.call(reqwest::Method::POST, "/actions", Some(actions)).await;
    let lit = b.run("const a = document.querySelector('#met a'); return document.getElementById(a.dataset.marker).classList.contains('hl');", json!([])).await;
    assert_eq!(lit, json!(true));

    // A refusal without findings is refused, pointing at them; with them it is recorded.
    b.click("#kind-refuse").await;
    b.type_into("#reasons-text", "The load is higher than the tunnel on the route.").await;
    b.click("#record").await;
    b.wait_text("#decision-errors", "/findings").await;
    assert_eq!(b.text("#case-status").await, "open");
    b.type_into("textarea[name=\"fact\"]", "The load is 4.3 m high; the tunnel is signed 3.8 m.").await;
    b.type_into("textarea[name=\"evidence\"]", "R2\nosm:way/317360906").await;
    b.click("#record").await;
    b.wait_text("#case-status", "decided").await;
    let refused = b.wait_text("#timeline li[data-kind=\"refuse\"]", "refused").await;
    assert!(refused.contains("by ana") && refused.contains("osm:way/317360906"), "{refused}");
    b.screenshot("case", 1280, 1100).await;
    // Printed (A4), the page keeps the case and drops the header bar and the map's buttons.
    let print = json!({"cmd": "Emulation.setEmulatedMedia", "params": {"media": "print"}});
    b.call(reqwest::Method::POST, "/goog/cdp/execute", Some(print)).await;
    let hidden = "return ['header.bar', '.map-tools'].map(s => getComputedStyle(document.querySelector(s)).display);";
    assert_eq!(b.run(hidden, json!([])).await, json!(["none", "none"]));
    assert_ne!(
        b.run("return getComputedStyle(document.querySelector('#map')).display;", json!([])).await,
        json!("none")
    );
    let pdf = b.call(reqwest::Method::POST, "/print", Some(json!({"page": {"width": 21.0, "height": 29.7}}))).await;
    let pdf = base64(pdf.as_str().unwrap());
    assert!(pdf.starts_with(b"%PDF"));
    std::fs::write(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/case.pdf"), pdf).unwrap();
    b.call(
        reqwest::Method::POST,
        "/goog/cdp/execute",
        Some(json!({"cmd": "Emulation.setEmulatedMedia", "params": {"media": ""}})),
    )
    .await;

    // An approval with a standard condition, its value changed, on another case.
    b.go(&format!("{url}/reviews/WB-EARLY")).await;
    b.click("#kind-approve_with_conditions").await;
    b.click("#condition-escort").await;
    b.type_into("input[data-condition=\"escort\"][data-value=\"vehicles\"]", "2").await;
    b.type_into("#free-condition", "Carry the permit in the cab.").await;
    b.click("#record").await;
    b.wait_text("#case-status", "decided").await;
    let approved = b.wait_text("#timeline li[data-kind=\"approve_with_conditions\"]", "approved with conditions").await;
    assert!(
        approved.contains("Travel with 2 escort vehicle(s)") && approved.contains("Carry the permit"),
        "{approved}"
    );
    let kinds = b.attrs("#timeline > ol > li", &["data-kind"]).await;
    assert_eq!(kinds.concat(), ["submitted", "reviewed", "approve_with_conditions"]);

    // Both decided cases stay findable in the queue.
    b.go(&format!("{url}/?status=decided")).await;
    let decided = b.attrs("#queue tbody tr", &["data-id"]).await;
    assert_eq!(decided.concat(), ["WB-EARLY", "WB-TUNNEL"]);

    // The indicators page, from the queue's link: its charts draw the endpoint's figures.
    b.click("#indicators-link").await;
    b.wait_text("#received", "application(s) received").await;
    let figures: Value =
        http.get(format!("{url}/v1/indicators")).bearer_auth(REVIEWER).send().await.unwrap().json().await.unwrap();
    let per_day: Vec<(String, u64)> = b
        .attrs("#chart-per-day rect.bar", &["data-day", "data-count"])
        .await
        .into_iter()
        .map(|d| (d[0].clone(), d[1].parse().unwrap()))
        .filter(|(_, n)| *n > 0)
        .collect();
    let by_day = figures["applications_by_day"].as_object().unwrap();
    assert_eq!(per_day, by_day.iter().map(|(d, n)| (d.clone(), n.as_u64().unwrap())).collect::<Vec<_>>());
    let reasons = b.attrs("#chart-reasons rect.bar", &["data-item", "data-count"]).await;
    let expected: Vec<Vec<String>> = figures["escalation_reasons"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(item, n)| vec![item.clone(), n.to_string()])
        .collect();
    assert!(!reasons.is_empty());
    assert_eq!(reasons, expected);
    let classes = b.attrs("#chart-reviewers g.class", &["data-class", "data-deadline", "data-decided"]).await;
    let expected: Vec<Vec<String>> = figures["reviewer_decision_time"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let word = |v: &Value| if v.is_null() { String::new() } else { v.to_string() };
            let class = if c["permit_class"].is_null() { "none".to_string() } else { c["permit_class"].to_string() };
            vec![class, word(&c["deadline_working_days"]), c["decided"].to_string()]
        })
        .collect();
    assert_eq!(classes, expected);
    // Two cases were decided above, so the reviewer chart has bars, and every chart is laid out.
    assert_eq!(b.attrs("#chart-reviewers rect.median", &["data-days"]).await.len(), 1, "{figures}");
    let sizes = "return ['chart-per-day', 'chart-shares', 'chart-machine', 'chart-reviewers', 'chart-reasons']\
                 .map(id => document.getElementById(id).getBoundingClientRect().width);";
    let widths: Vec<f64> = serde_json::from_value(b.run(sizes, json!([])).await).unwrap();
    assert!(widths.iter().all(|w| *w > 300.0), "{widths:?}");
    b.screenshot("indicators", 1280, 1650).await;
    // A date that is none: the page says so next to the form.
    b.type_into("#from", "30/11/2026").await;
    b.click("#show").await;
    b.wait_text("#window-error", "`from` must be an RFC 3339 date-time or a YYYY-MM-DD date, found `30/11/2026`").await;
    drop(b);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
