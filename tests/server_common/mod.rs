//! Helpers for the tests that run real servers on 127.0.0.1.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh directory under the system temp dir, unique per test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oscar-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Helsinki example with another id.
pub fn example(id: &str) -> Value {
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string("examples/helsinki-example.json").unwrap()).unwrap();
    v["application_id"] = json!(id);
    v
}

/// A new ledger at `path` (`oscar ledger init`): `serve` makes none.
pub fn init_ledger(path: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_oscar"))
        .args(["ledger", "init", "--ledger", path.to_str().unwrap()])
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "ledger init failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs `oscar ARGS`, which must stop by itself within 20 s; its exit code, stdout and stderr.
pub fn run_to_exit(args: &[&str]) -> (i32, String, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_oscar"))
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = output_within(child, Duration::from_secs(20), || false)
        .unwrap_or_else(|| panic!("`oscar {}` kept running", args.join(" ")));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// A small record with this id.
pub fn record(id: &str, body: &str) -> oscar::ledger::NewRecord {
    let application = oscar::ledger::canonical_json(&serde_json::json!({ "application_id": id, "body": body }));
    oscar::ledger::NewRecord {
        application_id: id.into(),
        content_hash: oscar::ledger::content_hash(&application),
        application,
        review: "{}".into(),
        verdict: oscar::review::Verdict::Approve,
        caller: "test".into(),
        recorded_at: "2026-11-20T00:00:00.000000Z".into(),
    }
}

/// A child `oscar` process, killed (SIGKILL) when dropped.
pub struct Oscar {
    pub child: Child,
    pub port: u16,
}

/// `cmd --addr 127.0.0.1:PORT` with `env` set, and no authentication setting inherited
/// from the environment the tests run in.
fn configure<'c>(cmd: &'c mut Command, port: u16, env: &[(&str, &str)]) -> &'c mut Command {
    cmd.args(["--addr", &format!("127.0.0.1:{port}")])
        .env_remove("OSCAR_API_KEYS")
        .env_remove("OSCAR_API_KEYS_FILE")
        .env_remove("OSCAR_NO_AUTH")
        .env("RUST_LOG", "warn")
        // Keeps `serve` from re-running itself single-threaded (then the kill would
        // reach only the wrapper process).
        .env("RAYON_NUM_THREADS", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
}

/// Runs `oscar ARGS` (with `--addr 127.0.0.1:PORT` appended), which must stop with an
/// error within 20 s without serving; returns its exit code and standard error.
pub fn refused(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oscar"));
    cmd.args(args);
    let child = configure(&mut cmd, port, env).stderr(Stdio::piped()).spawn().unwrap();
    // Serving: the port answers and the child has not exited 2 s later (another test's
    // server may have been given the same free port meanwhile; a refusing oscar exits).
    let answered: std::cell::Cell<Option<Instant>> = std::cell::Cell::new(None);
    let serving = || match answered.get() {
        Some(at) => at.elapsed() > Duration::from_secs(2),
        None => {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                answered.set(Some(Instant::now()));
            }
            false
        }
    };
    let out = output_within(child, Duration::from_secs(20), serving)
        .unwrap_or_else(|| panic!("`oscar {}` started instead of refusing", args.join(" ")));
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The output of `child` once it exits within `limit`; `None` (the child killed) if it
/// does not, or as soon as `give_up` says so.
pub fn output_within(mut child: Child, limit: Duration, give_up: impl Fn() -> bool) -> Option<std::process::Output> {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline || give_up() {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child.wait_with_output().unwrap())
}

impl Oscar {
    /// Starts `oscar ARGS` (with `--addr 127.0.0.1:PORT` appended) and waits until `/healthz`
    /// (or, for a registry, `/v1/version`) answers, for at most 20 s.
    pub fn start(args: &[&str], probe: &str) -> Oscar {
        Oscar::start_with(args, probe, &[], Stdio::null())
    }

    /// Like [`Oscar::start`], with `env` set and the log (standard output) sent to `log`.
    pub fn start_with(args: &[&str], probe: &str, env: &[(&str, &str)], log: impl Into<Stdio>) -> Oscar {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oscar"));
        cmd.args(args);
        Oscar::launch(cmd, probe, env, log.into())
    }

    /// Like [`Oscar::start`] with a command of the caller's (a wrapper that ends in `exec
    /// oscar ...`: the arguments are appended to it).
    pub fn spawn(command: Command, probe: &str) -> Oscar {
        Oscar::launch(command, probe, &[], Stdio::null())
    }

    /// Like [`Oscar::start`] on a given port (to start a process again where its clients
    /// expect it).
    pub fn start_at(port: u16, args: &[&str], probe: &str) -> Oscar {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oscar"));
        cmd.args(args);
        Oscar::launch_at(port, cmd, probe, &[], Stdio::null())
    }

    fn launch(command: Command, probe: &str, env: &[(&str, &str)], log: Stdio) -> Oscar {
        Oscar::launch_at(free_port(), command, probe, env, log)
    }

    fn launch_at(port: u16, mut command: Command, probe: &str, env: &[(&str, &str)], log: Stdio) -> Oscar {
        let child = configure(&mut command, port, env).stdout(log).spawn().unwrap();
        let mut me = Oscar { child, port };
        me.wait_for(probe);
        me
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_for(&mut self, probe: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = format!("{}{probe}", self.url());
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("oscar exited early: {status}");
            }
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let path = url.split_once(&format!("{}", self.port)).map(|x| x.1).unwrap_or("/");
                let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                if buf.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("oscar did not become healthy at {url}");
    }

    /// SIGTERM (a graceful stop), and the process gone within 20 s.
    pub fn terminate(&mut self) {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "oscar did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Oscar {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The service's limits for the recorded examples: judged by their `submitted_at` (a live
/// service refuses one far from its clock; `receipt_refuses_a_backdated_submission` tests that).
pub fn recorded_applications() -> oscar::server::Limits {
    oscar::server::Limits { max_clock_skew: None, ..oscar::server::Limits::default() }
}

/// A service running in this process; `stop` starts its graceful shutdown.
pub struct Served {
    pub url: String,
    pub ledger: std::sync::Arc<dyn oscar::ledger::Ledger>,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Serves `config` in this process on an ephemeral port, with `auth` and `limits`.
pub async fn serve_in_process(
    config: oscar::setup::ReviewerConfig,
    auth: oscar::server::auth::Auth,
    limits: oscar::server::Limits,
) -> Served {
    let ledger: std::sync::Arc<dyn oscar::ledger::Ledger> =
        std::sync::Arc::new(oscar::ledger::SqliteLedger::temporary().unwrap());
    let handle = tokio::runtime::Handle::current();
    let l2 = std::sync::Arc::clone(&ledger);
    let state = tokio::task::spawn_blocking(move || {
        oscar::server::AppState::from_config(config, l2, auth, limits, Some(&handle), None).unwrap()
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        oscar::server::serve_on(listener, std::sync::Arc::new(state), async move {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Served { url, ledger, stop: Some(tx), task }
}
