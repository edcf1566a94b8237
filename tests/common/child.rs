//! Child processes of the end-to-end tests that run for a while (`p4clone soft`,
//! `p4clone controller`): a free port, bounded polling, and stderr lines collected
//! by a thread so a test can wait for one.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use super::root;

/// A loopback port nobody listens on (yet).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Polls `f` every 100 ms until it is true; panics naming `what` after `wait`.
pub fn wait_for(what: &str, wait: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {wait:?} waiting for {what}");
}

/// The stderr lines of `child`, collected by a thread (all of them, and each sent
/// to the receiver as it comes).
pub fn collect_stderr(child: &mut Child) -> (Arc<Mutex<Vec<String>>>, mpsc::Receiver<String>) {
    let err = child.stderr.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(l.clone());
            let _ = tx.send(l);
        }
    });
    (lines, rx)
}

/// Waits up to `wait` for the stderr line containing `marker` and returns it;
/// panics with every line `seen` so far.
pub fn line_with(rx: &mpsc::Receiver<String>, marker: &str, seen: &Arc<Mutex<Vec<String>>>, wait: Duration) -> String {
    let deadline = Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(marker) => return l,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("no line with {marker:?}:\n{}", seen.lock().unwrap().join("\n"));
}

/// `p4clone soft --p4rt ADDR` (plus `extra` arguments), started and serving;
/// killed on drop.
pub struct SoftAt {
    child: Child,
    /// The address it serves P4Runtime on (the bound port when ADDR's is 0).
    pub address: String,
}

impl SoftAt {
    /// Starts it and waits (up to `wait`) for its "P4Runtime on" line.
    pub fn start(addr: &str, extra: &[&str], wait: Duration) -> SoftAt {
        let mut child = Command::new(env!("CARGO_BIN_EXE_p4clone"))
            .current_dir(root())
            .args(["soft", "--p4rt", addr])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn p4clone soft");
        let (seen, rx) = collect_stderr(&mut child);
        let line = line_with(&rx, "P4Runtime on ", &seen, wait);
        let rest = line.split("P4Runtime on ").nth(1).unwrap_or_default();
        let address = rest.split_whitespace().next().unwrap_or_default().trim_end_matches([',', ';', ')']).to_string();
        // Keep draining stderr so the child never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        SoftAt { child, address }
    }
}

impl Drop for SoftAt {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
