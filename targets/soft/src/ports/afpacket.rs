//! The AF_PACKET backend (Linux): a raw packet socket bound to one interface.
//!
//! - `socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, 0)`, then `bind` to the interface
//!   with `ETH_P_ALL` (a socket created with protocol 0 receives nothing until the
//!   bind, so no frame of another interface slips in), promiscuous through
//!   `PACKET_ADD_MEMBERSHIP`/`PACKET_MR_PROMISC` (dropped by the kernel when the
//!   socket closes).
//! - **Batching: `recvmmsg`/`sendmmsg`**, not PACKET_MMAP. Both move a whole burst
//!   per system call. `recvmmsg` writes straight into the engine's [`RxBatch`] arena
//!   (one kernel copy, as with any non-mmap socket), and `sendmmsg` takes each
//!   frame as a two-element iovec, the clone's rewritten head and the input frame's
//!   tail, so transmit copies nothing in user space. A TPACKET_V3 ring would save
//!   the receive copy but brings block retirement timeouts, ring sizing and
//!   frame-lifetime rules against the ring. That is not worth it for a backend whose
//!   jobs are functional tests, veth labs and low rates: the high-rate path is DPDK.
//! - Outgoing frames are ignored on receive: `PACKET_IGNORE_OUTGOING` where the
//!   kernel has it (4.20+), and in any case every frame whose `sll_pkttype` is
//!   `PACKET_OUTGOING` is skipped. The engine therefore never sees its own
//!   transmissions.
//! - 802.1Q: the kernel strips a received VLAN tag into metadata. The backend asks
//!   for it (`PACKET_AUXDATA`) and puts the tag back in front of the EtherType, so
//!   the pipeline sees the frame as it was on the wire. Each receive buffer keeps 4
//!   spare bytes in front of the frame so this costs a 12-byte move.
//! - Receive buffers are 65,536 bytes by default ([`AfPacketOptions::frame_size`]).
//!   Frames larger than that are dropped and counted in
//!   [`BackendStats::rx_oversize`]. Kernel drops (`PACKET_STATISTICS`) are in
//!   [`BackendStats::rx_dropped`].
//! - Transmit: a frame the driver refuses (over the MTU, shorter than an Ethernet
//!   header) is marked [`TxFailure::Driver`] and the rest of the burst goes on. When
//!   the socket buffer is full (`EAGAIN`/`ENOBUFS`) the backend waits up to about
//!   1 ms per burst for room, then reports the remainder as not taken
//!   (driver-failed). Link down (`ENETDOWN`, `ENXIO`) drops the rest of the burst.
//! - Receive timestamps are the wall clock when the burst was read (used only for
//!   pcap output of live traffic).

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libc::{c_int, c_uint, c_void};

use super::batch::{RxBatch, TxBurst, TxFailure};
use super::error::{PortError, Result};
use super::port::{BackendStats, InputKind, Port};

const SOL_PACKET: c_int = 263;
const PACKET_ADD_MEMBERSHIP: c_int = 1;
const PACKET_STATISTICS: c_int = 6;
const PACKET_AUXDATA: c_int = 8;
const PACKET_IGNORE_OUTGOING: c_int = 23;
const PACKET_MR_PROMISC: u16 = 1;
const PACKET_OUTGOING: u8 = 4;
const TP_STATUS_VLAN_VALID: u32 = 0x10;
const TP_STATUS_VLAN_TPID_VALID: u32 = 0x40;
const ETH_P_ALL: u16 = 0x0003;

/// Spare bytes in front of each receive buffer, for re-inserting a VLAN tag.
const VLAN_ROOM: usize = 4;
/// Frames per system call.
const MAX_BURST: usize = 64;
/// Control buffer per message, in u64 words (aligned for `cmsghdr`).
const CTRL_WORDS: usize = 8;
/// Waits for socket buffer room per transmit burst.
const TX_RETRIES: u32 = 10;

#[repr(C)]
struct PacketMreq {
    mr_ifindex: c_int,
    mr_type: u16,
    mr_alen: u16,
    mr_address: [u8; 8],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct TpacketAuxdata {
    tp_status: u32,
    tp_len: u32,
    tp_snaplen: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_vlan_tci: u16,
    tp_vlan_tpid: u16,
}

#[repr(C)]
#[derive(Default)]
struct TpacketStats {
    tp_packets: c_uint,
    tp_drops: c_uint,
}

/// Options of an AF_PACKET port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AfPacketOptions {
    /// Largest frame received (bytes, without FCS); larger ones are dropped.
    pub frame_size: usize,
    /// Put the interface in promiscuous mode.
    pub promiscuous: bool,
    /// `SO_RCVBUF`/`SO_SNDBUF` to ask for (bytes; 0 = kernel default).
    pub socket_buffer: usize,
}

impl Default for AfPacketOptions {
    fn default() -> Self {
        AfPacketOptions { frame_size: 65_536, promiscuous: true, socket_buffer: 4 << 20 }
    }
}

/// A port on a Linux interface through an AF_PACKET socket.
pub struct AfPacketPort {
    iface: String,
    ifindex: c_int,
    fd: Option<OwnedFd>,
    slot: usize,
    rx_hdrs: Vec<libc::mmsghdr>,
    rx_iov: Vec<libc::iovec>,
    rx_addr: Vec<libc::sockaddr_ll>,
    rx_ctrl: Vec<u64>,
    rx_keep: Vec<(usize, usize)>,
    tx_hdrs: Vec<libc::mmsghdr>,
    tx_iov: Vec<libc::iovec>,
    stats: BackendStats,
    rx_outgoing: u64,
}

// SAFETY: the raw pointers inside the `mmsghdr`/`iovec` scratch vectors are only
// meaningful during one `recv_burst`/`send_burst` call, which rebuilds them; between
// calls they are never dereferenced. Everything else is owned data.
unsafe impl Send for AfPacketPort {}

impl std::fmt::Debug for AfPacketPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfPacketPort")
            .field("iface", &self.iface)
            .field("ifindex", &self.ifindex)
            .field("open", &self.fd.is_some())
            .finish()
    }
}

fn errno() -> io::Error {
    io::Error::last_os_error()
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

fn setsockopt<T>(fd: c_int, level: c_int, name: c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` points to a live `T` of the given size for the duration of the call.
    let r = unsafe {
        libc::setsockopt(fd, level, name, (v as *const T).cast::<c_void>(), size_of::<T>() as libc::socklen_t)
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

impl AfPacketPort {
    /// Opens a promiscuous raw socket on interface `iface` with default options.
    pub fn open(iface: &str) -> Result<Self> {
        Self::open_with(iface, AfPacketOptions::default())
    }

    /// Opens a raw socket on interface `iface`.
    pub fn open_with(iface: &str, opts: AfPacketOptions) -> Result<Self> {
        let fail = |reason: String| PortError::AfPacket { iface: iface.to_string(), reason };
        let cname = CString::new(iface).map_err(|_| fail("interface name contains a NUL byte".into()))?;
        if iface.is_empty() || iface.len() >= libc::IFNAMSIZ {
            return Err(fail(format!("interface names are 1..{} bytes long", libc::IFNAMSIZ - 1)));
        }
        // SAFETY: plain system call with constant arguments.
        let raw =
            unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            let e = errno();
            return Err(fail(match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => {
                    format!("cannot open a raw socket ({e}): needs root or CAP_NET_RAW")
                }
                Some(libc::EAFNOSUPPORT) => {
                    format!("this kernel has no AF_PACKET support ({e})")
                }
                _ => format!("cannot open a raw socket: {e}"),
            }));
        }
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: `cname` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) } as c_int;
        if ifindex == 0 {
            return Err(fail(
                "no such interface (see `ip link`; in a network namespace, open the port from inside it)".into(),
            ));
        }
        let s = fd.as_raw_fd();
        // Best effort: older kernels lack it; outgoing frames are filtered below anyway.
        let _ = setsockopt(s, SOL_PACKET, PACKET_IGNORE_OUTGOING, &1 as &c_int);
        setsockopt(s, SOL_PACKET, PACKET_AUXDATA, &1 as &c_int)
            .map_err(|e| fail(format!("setsockopt(PACKET_AUXDATA): {e}")))?;
        if opts.socket_buffer > 0 {
            let b = opts.socket_buffer.min(i32::MAX as usize) as c_int;
            let _ = setsockopt(s, libc::SOL_SOCKET, libc::SO_RCVBUF, &b);
            let _ = setsockopt(s, libc::SOL_SOCKET, libc::SO_SNDBUF, &b);
        }
        // SAFETY: all-zero is a valid `sockaddr_ll`.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: `sll` is a valid `sockaddr_ll` of the given size.
        let r = unsafe {
            libc::bind(
                s,
                (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            let e = errno();
            return Err(fail(match e.raw_os_error() {
                Some(libc::ENODEV) => "no such interface".to_string(),
                _ => format!("cannot bind the raw socket: {e}"),
            }));
        }
        if opts.promiscuous {
            let mreq = PacketMreq { mr_ifindex: ifindex, mr_type: PACKET_MR_PROMISC, mr_alen: 0, mr_address: [0; 8] };
            setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq)
                .map_err(|e| fail(format!("cannot enable promiscuous mode: {e}")))?;
        }
        let slot = (opts.frame_size.max(64) + VLAN_ROOM).next_multiple_of(64);
        // SAFETY: all-zero is a valid `mmsghdr`, `iovec` and `sockaddr_ll` (null
        // pointers, zero lengths); they are filled before every system call.
        let (hdr, iov, addr) =
            unsafe { (zeroed::<libc::mmsghdr>(), zeroed::<libc::iovec>(), zeroed::<libc::sockaddr_ll>()) };
        Ok(AfPacketPort {
            iface: iface.to_string(),
            ifindex,
            fd: Some(fd),
            slot,
            rx_hdrs: vec![hdr; MAX_BURST],
            rx_iov: vec![iov; MAX_BURST],
            rx_addr: vec![addr; MAX_BURST],
            rx_ctrl: vec![0; MAX_BURST * CTRL_WORDS],
            rx_keep: Vec::with_capacity(MAX_BURST),
            tx_hdrs: vec![hdr; MAX_BURST],
            tx_iov: vec![iov; MAX_BURST * 2],
            stats: BackendStats::default(),
            rx_outgoing: 0,
        })
    }

    /// The interface name.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// The interface index.
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// Outgoing frames seen and skipped on receive (0 where the kernel filters them).
    pub fn rx_outgoing_skipped(&self) -> u64 {
        self.rx_outgoing
    }

    fn raw_fd(&self) -> Result<c_int> {
        self.fd
            .as_ref()
            .map(|f| f.as_raw_fd())
            .ok_or_else(|| PortError::AfPacket { iface: self.iface.clone(), reason: "port is closed".into() })
    }

    fn wait_writable(fd: c_int) {
        let mut p = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut p, 1, 1) };
    }
}

/// The VLAN tag the kernel took off a received frame, from its `PACKET_AUXDATA`.
///
/// # Safety
/// `h` must be a message header just filled by `recvmmsg`, its control buffer alive.
unsafe fn vlan_from_cmsg(h: &libc::msghdr) -> Option<(u16, u16)> {
    let mut c = libc::CMSG_FIRSTHDR(h);
    while !c.is_null() {
        let cm = &*c;
        if cm.cmsg_level == SOL_PACKET && cm.cmsg_type == PACKET_AUXDATA {
            let aux: TpacketAuxdata = ptr::read_unaligned(libc::CMSG_DATA(c).cast());
            if aux.tp_status & TP_STATUS_VLAN_VALID == 0 {
                return None;
            }
            let tpid = if aux.tp_status & TP_STATUS_VLAN_TPID_VALID != 0 { aux.tp_vlan_tpid } else { 0x8100 };
            return Some((tpid, aux.tp_vlan_tci));
        }
        c = libc::CMSG_NXTHDR(h, c);
    }
    None
}

impl Port for AfPacketPort {
    fn describe(&self) -> String {
        format!("afpacket:{}", self.iface)
    }

    fn input_kind(&self) -> InputKind {
        InputKind::Live
    }

    fn recv_burst(&mut self, batch: &mut RxBatch) -> Result<usize> {
        let fd = self.raw_fd()?;
        let n = batch.room().min(MAX_BURST);
        if n == 0 {
            return Ok(0);
        }
        let slot = self.slot;
        let base = batch.spare(n * slot).as_mut_ptr();
        for i in 0..n {
            self.rx_iov[i] = libc::iovec {
                // SAFETY: `i * slot + VLAN_ROOM` is inside the `n * slot` spare region.
                iov_base: unsafe { base.add(i * slot + VLAN_ROOM) }.cast::<c_void>(),
                iov_len: slot - VLAN_ROOM,
            };
            let h = &mut self.rx_hdrs[i];
            h.msg_len = 0;
            h.msg_hdr.msg_name = (&mut self.rx_addr[i] as *mut libc::sockaddr_ll).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            h.msg_hdr.msg_iov = &mut self.rx_iov[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = self.rx_ctrl[i * CTRL_WORDS..].as_mut_ptr().cast();
            h.msg_hdr.msg_controllen = (CTRL_WORDS * 8) as _;
            h.msg_hdr.msg_flags = 0;
        }
        // SAFETY: `rx_hdrs[..n]` point to live iovecs (into the batch's spare region,
        // which is not touched until the call returns), addresses and control buffers.
        let r =
            unsafe { libc::recvmmsg(fd, self.rx_hdrs.as_mut_ptr(), n as c_uint, libc::MSG_DONTWAIT, ptr::null_mut()) };
        if r < 0 {
            let e = errno();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) | Some(libc::ENETDOWN) => Ok(0),
                _ => Err(PortError::io(format!("afpacket {}: recvmmsg", self.iface), e)),
            };
        }
        let got = r as usize;
        let ts = now_ns();
        self.rx_keep.clear();
        {
            let region = batch.spare(n * slot);
            for i in 0..got {
                let h = &self.rx_hdrs[i];
                if self.rx_addr[i].sll_pkttype == PACKET_OUTGOING {
                    self.rx_outgoing += 1;
                    continue;
                }
                if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                    self.stats.rx_oversize += 1;
                    continue;
                }
                let len = h.msg_len as usize;
                let off = i * slot;
                // SAFETY: `h` was just filled by recvmmsg; its control buffer is ours.
                match unsafe { vlan_from_cmsg(&h.msg_hdr) } {
                    Some((tpid, tci)) if len >= 12 => {
                        region.copy_within(off + VLAN_ROOM..off + VLAN_ROOM + 12, off);
                        region[off + 12..off + 14].copy_from_slice(&tpid.to_be_bytes());
                        region[off + 14..off + 16].copy_from_slice(&tci.to_be_bytes());
                        self.rx_keep.push((off, len + 4));
                    }
                    _ => self.rx_keep.push((off + VLAN_ROOM, len)),
                }
            }
        }
        for &(off, len) in &self.rx_keep {
            batch.commit_spare(ts, off, len);
        }
        batch.advance_spare(got * slot);
        Ok(self.rx_keep.len())
    }

    fn send_burst(&mut self, burst: &mut TxBurst<'_>) -> Result<usize> {
        let fd = self.raw_fd()?;
        let total = burst.len();
        let mut start = 0;
        let mut retries = 0;
        while start < total {
            let chunk = (total - start).min(MAX_BURST);
            for k in 0..chunk {
                let f = burst.get(start + k);
                let (a, b) = (2 * k, 2 * k + 1);
                self.tx_iov[a] = libc::iovec { iov_base: f.head.as_ptr() as *mut c_void, iov_len: f.head.len() };
                self.tx_iov[b] = libc::iovec { iov_base: f.tail.as_ptr() as *mut c_void, iov_len: f.tail.len() };
                let h = &mut self.tx_hdrs[k];
                h.msg_len = 0;
                h.msg_hdr.msg_name = ptr::null_mut();
                h.msg_hdr.msg_namelen = 0;
                h.msg_hdr.msg_control = ptr::null_mut();
                h.msg_hdr.msg_controllen = 0;
                h.msg_hdr.msg_flags = 0;
                if f.head.is_empty() {
                    h.msg_hdr.msg_iov = &mut self.tx_iov[b];
                    h.msg_hdr.msg_iovlen = 1;
                } else {
                    h.msg_hdr.msg_iov = &mut self.tx_iov[a];
                    h.msg_hdr.msg_iovlen = 2;
                }
            }
            let mut done = 0;
            while done < chunk {
                // SAFETY: `tx_hdrs[done..chunk]` point to live iovecs whose buffers
                // (the burst's frames) outlive the call.
                let r = unsafe {
                    libc::sendmmsg(
                        fd,
                        self.tx_hdrs.as_mut_ptr().add(done),
                        (chunk - done) as c_uint,
                        libc::MSG_DONTWAIT,
                    )
                };
                if r > 0 {
                    done += r as usize;
                    continue;
                }
                if r == 0 {
                    return Ok(start + done);
                }
                let e = errno();
                match e.raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::EAGAIN) | Some(libc::ENOBUFS) => {
                        if retries >= TX_RETRIES {
                            return Ok(start + done);
                        }
                        retries += 1;
                        if e.raw_os_error() == Some(libc::EAGAIN) {
                            Self::wait_writable(fd);
                        } else {
                            std::thread::sleep(Duration::from_micros(100));
                        }
                    }
                    Some(libc::EMSGSIZE) | Some(libc::EINVAL) => {
                        burst.fail(start + done, TxFailure::Driver);
                        done += 1;
                    }
                    Some(libc::ENETDOWN) | Some(libc::ENXIO) | Some(libc::ENODEV) => {
                        return Ok(start + done);
                    }
                    _ => return Err(PortError::io(format!("afpacket {}: sendmmsg", self.iface), e)),
                }
            }
            start += chunk;
        }
        Ok(total)
    }

    fn is_exhausted(&self) -> bool {
        false
    }

    fn close(&mut self) -> Result<()> {
        self.fd = None;
        Ok(())
    }

    fn backend_stats(&mut self) -> BackendStats {
        if let Some(fd) = &self.fd {
            let mut st = TpacketStats::default();
            let mut len = size_of::<TpacketStats>() as libc::socklen_t;
            // SAFETY: `st` is a live buffer of `len` bytes.
            let r = unsafe {
                libc::getsockopt(
                    fd.as_raw_fd(),
                    SOL_PACKET,
                    PACKET_STATISTICS,
                    (&mut st as *mut TpacketStats).cast(),
                    &mut len,
                )
            };
            // The kernel resets its counters on every read: accumulate.
            if r == 0 {
                self.stats.rx_dropped += u64::from(st.tp_drops);
                let _ = st.tp_packets;
            }
        }
        self.stats
    }
}
