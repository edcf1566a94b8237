//! Network namespaces with veth pairs, and raw AF_PACKET sockets inside them, for
//! the tests that run `p4clone soft` on live ports (`tests/soft.rs`, `tests/soak.rs`).
//!
//! Needs root (or CAP_NET_ADMIN, CAP_NET_RAW and CAP_SYS_ADMIN for `setns`) and
//! iproute2; [`Netns::create`] says which is missing, and the tests print one skip
//! line with that. The namespace is deleted on drop, so it goes away even when a
//! test panics (deleting it removes its veths).

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// A network namespace with veth pairs, deleted on drop.
pub struct Netns {
    /// Its name (`ip netns exec NAME ...`).
    pub name: String,
}

impl Netns {
    /// A new namespace `p4c-TAG-PID-N` with `lo` up, IPv6 off (no router
    /// solicitations, DAD or MLD on the test links) and the veth pairs `pairs`,
    /// every end up. `Err` says what is missing (privilege, iproute2).
    pub fn create(tag: &str, pairs: &[(&str, &str)]) -> Result<Netns, String> {
        match Command::new("ip").arg("-V").output() {
            Ok(o) if o.status.success() => {}
            _ => return Err("`ip` (iproute2) is not installed".into()),
        }
        // Unique per process and call: tests run in parallel.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("p4c-{tag}-{}-{n}", std::process::id());
        let o = Command::new("ip").args(["netns", "add", &name]).output().map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(format!(
                "cannot create a network namespace (needs root or CAP_NET_ADMIN): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        // Before the veths exist, so that they never get an IPv6 address; best effort.
        for k in ["all", "default"] {
            let _ = Command::new("ip")
                .args(["netns", "exec", &ns.name, "sysctl", "-qw", &format!("net.ipv6.conf.{k}.disable_ipv6=1")])
                .output();
        }
        for (a, b) in pairs {
            ns.ip(&["link", "add", a, "type", "veth", "peer", "name", b])
                .map_err(|e| format!("cannot create veth pair {a}/{b}: {e}"))?;
            for d in [a, b] {
                ns.ip(&["link", "set", "dev", d, "up"])?;
            }
        }
        Ok(ns)
    }

    /// `ip -n NAME args...`
    pub fn ip(&self, args: &[&str]) -> Result<(), String> {
        let o = Command::new("ip").arg("-n").arg(&self.name).args(args).output().map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!("ip -n {} {}: {}", self.name, args.join(" "), String::from_utf8_lossy(&o.stderr).trim()))
        }
    }

    /// Moves the calling thread (only it) into the namespace; threads and
    /// processes it starts afterwards are in it too.
    pub fn enter(&self) -> Result<(), String> {
        enter(&self.name)
    }

    /// Sends `frames` out of `iface` in the namespace (200 µs apart), from a
    /// thread that enters it.
    pub fn send(&self, iface: &str, frames: Vec<Vec<u8>>) -> Result<(), String> {
        let (ns, iface) = (self.name.clone(), iface.to_string());
        std::thread::spawn(move || -> Result<(), String> {
            enter(&ns)?;
            let s = RawSocket::open(&iface)?;
            for f in &frames {
                s.send(f)?;
                std::thread::sleep(Duration::from_micros(200));
            }
            Ok(())
        })
        .join()
        .map_err(|_| "sender thread panicked".to_string())?
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

/// Moves the calling thread into the namespace `name`.
pub fn enter(name: &str) -> Result<(), String> {
    let f = File::open(format!("/run/netns/{name}"))
        .or_else(|_| File::open(format!("/var/run/netns/{name}")))
        .map_err(|e| format!("cannot open the namespace {name}: {e}"))?;
    // SAFETY: a valid namespace descriptor; affects only the calling thread.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!("setns {name}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// A raw AF_PACKET socket bound to one interface of the calling thread's namespace
/// (all EtherTypes), closed on drop.
pub struct RawSocket {
    fd: OwnedFd,
    drops: u64,
}

const SOL_PACKET: libc::c_int = 263;
const PACKET_STATISTICS: libc::c_int = 6;

impl RawSocket {
    /// Opens and binds the socket; `Err` names the interface and the error.
    pub fn open(iface: &str) -> Result<RawSocket, String> {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2); the descriptor is owned at once.
        let s = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
        if s < 0 {
            return Err(format!("raw socket (needs CAP_NET_RAW): {}", std::io::Error::last_os_error()));
        }
        // SAFETY: `s` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(s) };
        let name = CString::new(iface).map_err(|e| e.to_string())?;
        // SAFETY: a NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(format!("interface {iface:?}: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: a zeroed sockaddr_ll is valid; bind reads `size_of` bytes of it.
        unsafe {
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = ifindex as i32;
            let sa = &sll as *const libc::sockaddr_ll as *const libc::sockaddr;
            if libc::bind(fd.as_raw_fd(), sa, std::mem::size_of::<libc::sockaddr_ll>() as u32) != 0 {
                return Err(format!("bind to {iface:?}: {}", std::io::Error::last_os_error()));
            }
        }
        Ok(RawSocket { fd, drops: 0 })
    }

    fn set_int(&self, level: libc::c_int, opt: libc::c_int, v: libc::c_int) -> bool {
        let p = &v as *const libc::c_int as *const libc::c_void;
        // SAFETY: an int option, its size given.
        unsafe { libc::setsockopt(self.fd.as_raw_fd(), level, opt, p, std::mem::size_of::<libc::c_int>() as u32) == 0 }
    }

    /// A receive buffer of `bytes` (SO_RCVBUFFORCE, which root may set beyond
    /// `rmem_max`, else SO_RCVBUF).
    pub fn set_rcvbuf(&self, bytes: usize) {
        let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        if !self.set_int(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v) {
            self.set_int(libc::SOL_SOCKET, libc::SO_RCVBUF, v);
        }
    }

    /// `recv` returns `None` after `d` without a frame.
    pub fn set_recv_timeout(&self, d: Duration) {
        let tv = libc::timeval { tv_sec: d.as_secs() as libc::time_t, tv_usec: d.subsec_micros() as libc::suseconds_t };
        let p = &tv as *const libc::timeval as *const libc::c_void;
        // SAFETY: a timeval option, its size given.
        unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                p,
                std::mem::size_of::<libc::timeval>() as u32,
            );
        }
    }

    /// Sends one frame; waits and retries while the socket buffer is full.
    pub fn send(&self, frame: &[u8]) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // SAFETY: `frame` is valid for `frame.len()` bytes.
            let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if n == frame.len() as isize {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            let full = matches!(e.raw_os_error(), Some(libc::ENOBUFS) | Some(libc::EAGAIN));
            if n < 0 && full && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
            return Err(format!("send: {n} of {} bytes: {e}", frame.len()));
        }
    }

    /// One received frame into `buf`: its length, or `None` when nothing arrived
    /// within the receive timeout.
    pub fn recv(&self, buf: &mut [u8]) -> Option<usize> {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        usize::try_from(n).ok()
    }

    /// Frames the kernel dropped for this socket so far (its buffer was full):
    /// `PACKET_STATISTICS`, which resets on each read, accumulated.
    pub fn drops(&mut self) -> u64 {
        let mut st = [0u32; 2]; // tpacket_stats: tp_packets, tp_drops
        let mut len = std::mem::size_of_val(&st) as libc::socklen_t;
        // SAFETY: `st` is valid for `len` bytes.
        let r = unsafe {
            libc::getsockopt(self.fd.as_raw_fd(), SOL_PACKET, PACKET_STATISTICS, st.as_mut_ptr().cast(), &mut len)
        };
        if r == 0 {
            self.drops += u64::from(st[1]);
        }
        self.drops
    }
}

/// Frames received on `iface` of namespace `ns` until `stop` is set (then for
/// another 300 ms), by a raw socket opened before this returns.
pub fn capture(ns: &str, iface: &str, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Result<Vec<Vec<u8>>, String>> {
    let (ns, iface) = (ns.to_string(), iface.to_string());
    let (ready_tx, ready_rx) = mpsc::channel();
    let h = std::thread::spawn(move || -> Result<Vec<Vec<u8>>, String> {
        let opened = enter(&ns).and_then(|()| RawSocket::open(&iface));
        let _ = ready_tx.send(());
        let s = opened?;
        s.set_recv_timeout(Duration::from_millis(100));
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65_536];
        let mut until: Option<Instant> = None;
        loop {
            if until.is_none() && stop.load(Ordering::SeqCst) {
                until = Some(Instant::now() + Duration::from_millis(300));
            }
            if until.is_some_and(|t| Instant::now() >= t) {
                break;
            }
            if let Some(n) = s.recv(&mut buf) {
                out.push(buf[..n].to_vec());
            }
        }
        Ok(out)
    });
    let _ = ready_rx.recv_timeout(Duration::from_secs(5));
    h
}
