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

/// A child `oscar` process, killed (SIGKILL) when dropped.
pub struct Oscar {
    pub child: Child,
    pub port: u16,
}

impl Oscar {
    /// Starts `oscar ARGS` (with `--addr 127.0.0.1:PORT` appended) and waits until `/healthz`
    /// (or, for a registry, `/v1/version`) answers, for at most 20 s.
    pub fn start(args: &[&str], probe: &str) -> Oscar {
        let mut oscar = Command::new(env!("CARGO_BIN_EXE_oscar"));
        oscar.args(args);
        Oscar::spawn(oscar, probe)
    }

    /// Like [`Oscar::start`] with a command of the caller's (a wrapper that ends in `exec
    /// oscar ...`: the arguments are appended to it).
    pub fn spawn(mut command: Command, probe: &str) -> Oscar {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let child = command
            .args(["--addr", &addr])
            .env("RUST_LOG", "warn")
            // Keeps `serve` from re-running itself single-threaded (then the kill would
            // reach only the wrapper process).
            .env("RAYON_NUM_THREADS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
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
