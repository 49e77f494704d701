//! A peer that answers raw bytes over TCP: the hostile or broken server that the reference
//! server will never be (endless bodies, redirects, truncated answers, stale answers).
//!
//! Each connection runs a script on a thread of its own. The script reads requests with
//! [`Exchange::read_request`] and writes whatever bytes it likes; every connection and
//! request is logged for the test to inspect.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a script waits for a request before giving up on the connection.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What a [`RawServer`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log {
    /// Connections accepted.
    pub connections: usize,
    /// Every request read, head and body, in arrival order.
    pub requests: Vec<Vec<u8>>,
}

/// A listener on `127.0.0.1:0` whose connections each run a script. Dropping it stops
/// accepting; scripts still running end when their peer goes away.
#[derive(Debug)]
pub struct RawServer {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// One connection, as its script sees it.
#[derive(Debug)]
pub struct Exchange {
    stream: TcpStream,
    /// The connection's number, from 0, in accept order.
    index: usize,
    /// Bytes read past the last request.
    pending: Vec<u8>,
    log: Arc<Mutex<Log>>,
}

impl RawServer {
    /// Starts serving; `script` runs once per connection.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound: no test can go on without one.
    pub fn start(script: impl Fn(&mut Exchange) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let log = Arc::new(Mutex::new(Log::default()));
        let stopping = Arc::new(AtomicBool::new(false));
        let script = Arc::new(script);
        let thread = {
            let (log, stopping) = (Arc::clone(&log), Arc::clone(&stopping));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let index = {
                        let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                        log.connections += 1;
                        log.connections - 1
                    };
                    let (script, log) = (Arc::clone(&script), Arc::clone(&log));
                    std::thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
                        script(&mut Exchange {
                            stream,
                            index,
                            pending: Vec::new(),
                            log,
                        });
                    });
                }
            })
        };
        Self {
            addr,
            log,
            stopping,
            thread: Some(thread),
        }
    }

    /// A server that answers every request with `answer`, then closes the connection.
    pub fn answering(answer: impl Into<Vec<u8>>) -> Self {
        let answer = answer.into();
        Self::start(move |exchange| {
            if exchange.read_request().is_some() {
                let _ = exchange.write(&answer);
            }
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// What it saw so far.
    pub fn log(&self) -> Log {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Exchange {
    /// The connection's number, from 0, in accept order.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Reads one request, head and `Content-Length` body, and logs it; `None` when the peer
    /// closed or sent nothing in time.
    pub fn read_request(&mut self) -> Option<Vec<u8>> {
        let head_end = loop {
            if let Some(at) = find(&self.pending, b"\r\n\r\n") {
                break at + 4;
            }
            self.fill()?;
        };
        let length = content_length(&self.pending[..head_end]);
        while self.pending.len() < head_end + length {
            self.fill()?;
        }
        let request: Vec<u8> = self.pending.drain(..head_end + length).collect();
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .requests
            .push(request.clone());
        Some(request)
    }

    /// The next bytes the peer sends, whatever they are (a TLS handshake, garbage); `None`
    /// when it closed or sent nothing in time.
    pub fn read_bytes(&mut self) -> Option<Vec<u8>> {
        if self.pending.is_empty() {
            self.fill()?;
        }
        Some(std::mem::take(&mut self.pending))
    }

    /// Writes `bytes` whole.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    fn fill(&mut self) -> Option<()> {
        let mut buffer = [0; 16 * 1024];
        match self.stream.read(&mut buffer) {
            Ok(0) | Err(_) => None,
            Ok(read) => {
                self.pending.extend_from_slice(&buffer[..read]);
                Some(())
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `Content-Length` of a request head; 0 when absent or unreadable.
fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}
