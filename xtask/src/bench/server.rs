//! `mixpanel-alias serve` as a child process, and its inspection API.
//!
//! A process of its own rather than the in-process `alias_server::Server`, so that the
//! clients measured here and the server do not share an allocator or a runtime, as they
//! would not in production.

use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;

use alias_core::http::{Method, Request};
use alias_server::Stats;

use super::wire::Connection;

/// The running server; killed when dropped.
#[derive(Debug)]
pub(super) struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    /// Starts `cli serve` on a free loopback port and waits for its address.
    pub(super) fn start(cli: &Path) -> Result<Self, String> {
        Self::start_with(cli, &[])
    }

    /// [`ServerProcess::start`], with more options of `serve`.
    pub(super) fn start_with(cli: &Path, options: &[&str]) -> Result<Self, String> {
        let child = Command::new(cli)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(options)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", cli.display()))?;
        // Owned by the guard from here on, so that every early return kills it.
        let mut server = Self {
            child,
            url: String::new(),
        };
        let stdout = server.child.stdout.take().ok_or("no stdout pipe")?;
        let mut stdout = BufReader::new(stdout);
        let mut first = String::new();
        let read = stdout.read_line(&mut first);
        // Whatever else it prints must not fill the pipe and stall it.
        thread::spawn(move || io::copy(&mut stdout, &mut io::sink()));
        server.url = read
            .ok()
            .and_then(|_| first.trim().strip_prefix("listening on "))
            .ok_or_else(|| format!("the server did not say where it listens: {first:?}"))?
            .to_owned();
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`.
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// `127.0.0.1:PORT`.
    pub(super) fn authority(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Forgets every event, identity and counter.
    pub(super) fn reset(&self) -> Result<(), String> {
        self.inspect(Method::POST, "reset").map(drop)
    }

    /// The counters since the last reset.
    pub(super) fn stats(&self) -> Result<Stats, String> {
        let body = self.inspect(Method::GET, "stats")?;
        serde_json::from_slice(&body).map_err(|e| format!("unreadable stats: {e}"))
    }

    /// Fails unless exactly `expected` events were stored since the last reset: a run
    /// counts only if every alias arrived, once.
    pub(super) fn expect_stored(&self, expected: usize) -> Result<(), String> {
        let stats = self.stats()?;
        if stats.events_stored != expected as u64 || stats.events_received != expected as u64 {
            return Err(format!(
                "the server stored {} of {} events received; {expected} were sent",
                stats.events_stored, stats.events_received
            ));
        }
        Ok(())
    }

    fn inspect(&self, method: Method, what: &str) -> Result<Vec<u8>, String> {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}/_inspect/{what}", self.url))
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        let answer = Connection::open(self.authority())
            .and_then(|mut connection| connection.send(&request))
            .map_err(|e| format!("/_inspect/{what}: {e}"))?;
        if !answer.status().is_success() {
            return Err(format!("/_inspect/{what} answered {}", answer.status()));
        }
        Ok(answer.into_body())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // It may have died already; there is nothing else to do about it here.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
