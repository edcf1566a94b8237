//! A `p4clone soft` child process for the end-to-end tests: its stderr lines are
//! collected as they come, it is waited for with a deadline, and killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::root;

/// A `p4clone soft` child process whose stderr lines are collected; killed on
/// drop if still running (a failed test leaves no process behind).
pub struct Soft {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Soft {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Soft {
    pub fn spawn(args: &[&str]) -> Soft {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_p4clone"));
        cmd.arg("soft").args(args);
        Soft::spawn_cmd(cmd)
    }

    pub fn spawn_cmd(mut cmd: Command) -> Soft {
        let mut child =
            cmd.current_dir(root()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn p4clone soft");
        let err = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Soft { child: Some(child), lines, seen: Vec::new() }
    }

    pub fn kill(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for a stderr line containing `want`; returns it.
    pub fn wait_line(&mut self, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(want) {
                        return l;
                    }
                }
                Err(_) => break,
            }
        }
        self.kill();
        panic!("no stderr line with {want:?}; got:\n{}", self.seen.join("\n"));
    }

    /// The P4Runtime address from the start-up line.
    pub fn address(&mut self) -> String {
        let l = self.wait_line("P4Runtime on ");
        let rest = l.split("P4Runtime on ").nth(1).unwrap();
        rest.split(';').next().unwrap().trim().to_string()
    }

    /// The process id (with `ip netns exec`, which execs in place, p4clone's own).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn signal(&self, sig: i32) {
        let pid = self.child.as_ref().expect("running").id() as i32;
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
    }

    /// Waits (at most 20 s) for the process to exit; returns its output.
    pub fn finish(mut self) -> (Output, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.child.as_mut().expect("running").try_wait().unwrap().is_some() {
                break;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("p4clone soft did not exit; stderr so far:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = self.child.take().expect("running").wait_with_output().unwrap();
        let mut seen = std::mem::take(&mut self.seen);
        seen.extend(self.lines.try_iter());
        (out, seen)
    }
}
