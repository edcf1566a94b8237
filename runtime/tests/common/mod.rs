//! Shared test support: an in-process software target on an ephemeral loopback
//! port, a small parametric config, and an exact "device equals intent" check.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use p4clone_compiler::config::Config;
use p4clone_compiler::intent;
use p4clone_compiler::lower;
use p4clone_compiler::source::{load_str, Format};
use p4clone_proto::p4::v1::entity;
use p4clone_runtime::client::{Client, ConnectOptions};
use p4clone_runtime::fleet::{self, DeviceTarget, FleetOptions, FleetPush};
use p4clone_runtime::reconcile::{self, DeviceState};
use p4clone_runtime::replication;
use p4clone_soft::server::{ServerHandle, SoftTarget};

/// A soft target served on 127.0.0.1:0.
pub struct Device {
    pub target: SoftTarget,
    pub handle: Option<ServerHandle>,
    pub addr: SocketAddr,
}

impl Device {
    pub async fn start() -> Device {
        let target = SoftTarget::new(1);
        let handle = target.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = handle.local_addr();
        Device { target, handle: Some(handle), addr }
    }

    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Stops the server (open streams end); the target keeps its state.
    pub async fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await;
        }
    }

    /// Serves the same target again on the same port (state kept).
    pub async fn restart(&mut self) {
        self.stop().await;
        self.handle = Some(serve_retry(&self.target, self.addr).await);
    }

    /// Replaces the target by a fresh one (state lost, like a power cycle).
    pub async fn power_cycle(&mut self) {
        self.stop().await;
        self.target = SoftTarget::new(1);
        self.handle = Some(serve_retry(&self.target, self.addr).await);
    }
}

async fn serve_retry(t: &SoftTarget, addr: SocketAddr) -> ServerHandle {
    let mut last = None;
    for _ in 0..50 {
        match t.serve(addr).await {
            Ok(h) => return h,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cannot serve again on {addr}: {last:?}");
}

/// A clone profile of the test config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub servers: u8,
    pub truncate: u32,
    pub flow_hash: bool,
}

/// A virtual service of the test config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vs {
    pub name: String,
    pub profile: Option<usize>,
    pub members: u8,
}

/// A small config: device `nic0` (wire 1-2), SE `se-1` (backend port 2,
/// monitor port 3, VLAN 50) and, optionally, SE `se-2` on the same device
/// (backend port 5, monitor port 6) in the same SE group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub profiles: Vec<Profile>,
    pub vss: Vec<Vs>,
    pub two_ses: bool,
}

impl Model {
    pub fn new() -> Model {
        Model { profiles: Vec::new(), vss: Vec::new(), two_ses: false }
    }

    pub fn profile(mut self, name: &str, servers: u8) -> Model {
        self.profiles.push(Profile { name: name.into(), servers, truncate: 0, flow_hash: false });
        self
    }

    pub fn vs(mut self, name: &str, profile: Option<usize>, members: u8) -> Model {
        self.vss.push(Vs { name: name.into(), profile, members });
        self
    }

    pub fn yaml(&self, address: &str) -> String {
        let mut y = String::new();
        y.push_str(
            "networks:\n  - { name: backend, subnet: 10.20.0.0/16 }\n  - { name: monitor, subnet: 192.168.50.0/24, vlan: 50 }\n",
        );
        y.push_str(&format!(
            "devices:\n  - name: nic0\n    target: soft\n    address: \"{address}\"\n    device_id: 1\n    wires: [[1, 2], [4, 5]]\n"
        ));
        y.push_str("se_groups:\n  - name: seg-a\n    service_engines:\n");
        y.push_str("      - name: se-1\n        device: nic0\n        interfaces:\n");
        y.push_str(
            "          - { name: b0, port: 2, mac: \"02:00:00:00:00:02\", ip: 10.20.0.5/16, network: backend }\n",
        );
        y.push_str(
            "          - { name: m0, port: 3, mac: \"02:00:00:00:00:03\", ip: 192.168.50.2/24, network: monitor }\n",
        );
        if self.two_ses {
            y.push_str("      - name: se-2\n        device: nic0\n        interfaces:\n");
            y.push_str(
                "          - { name: b0, port: 5, mac: \"02:00:00:00:00:05\", ip: 10.20.0.6/16, network: backend }\n",
            );
            y.push_str("          - { name: m0, port: 6, mac: \"02:00:00:00:00:06\", ip: 192.168.50.3/24, network: monitor }\n");
        }
        y.push_str("pools:\n");
        if self.vss.is_empty() {
            y.push_str("  []\n");
        }
        for (i, v) in self.vss.iter().enumerate() {
            y.push_str(&format!("  - name: pool-{}\n    servers:\n", v.name));
            for m in 0..v.members {
                y.push_str(&format!("      - {{ ip: 10.20.{}.{}, port: 8080 }}\n", i + 1, u32::from(m) + 10));
            }
        }
        y.push_str("virtual_services:\n");
        if self.vss.is_empty() {
            y.push_str("  []\n");
        }
        for (i, v) in self.vss.iter().enumerate() {
            y.push_str(&format!(
                "  - name: {}\n    vip: 203.0.113.{}\n    services: [{{ port: 443, protocol: tcp }}]\n    se_group: seg-a\n    pool: pool-{}\n",
                v.name,
                i + 1,
                v.name
            ));
            if let Some(p) = v.profile {
                y.push_str(&format!("    traffic_clone_profile: {}\n", self.profiles[p].name));
            }
        }
        y.push_str("traffic_clone_profiles:\n");
        if self.profiles.is_empty() {
            y.push_str("  []\n");
        }
        for (pi, p) in self.profiles.iter().enumerate() {
            y.push_str(&format!(
                "  - name: {}\n    distribution: {}\n    truncate: {}\n    clone_servers:\n",
                p.name,
                if p.flow_hash { "flow_hash" } else { "round_robin" },
                p.truncate
            ));
            for s in 0..p.servers {
                let host = 10 + pi * 10 + usize::from(s);
                y.push_str(&format!(
                    "      - {{ network: monitor, subnet: 192.168.50.0/24, ip: 192.168.50.{host}, mac: \"02:00:00:00:50:{host:02x}\" }}\n"
                ));
            }
        }
        y
    }

    pub fn config(&self, address: &str) -> Config {
        let text = self.yaml(address);
        let loaded = load_str(&text, Format::Yaml).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let diags = loaded.check();
        assert!(!p4clone_compiler::validate::has_errors(&diags), "{diags:?}\n{text}");
        loaded.config
    }
}

pub fn opts() -> FleetOptions {
    FleetOptions { timeout: Duration::from_secs(3), ..FleetOptions::default() }
}

pub async fn push(cfg: &Config) -> FleetPush {
    push_with(cfg, &opts()).await
}

pub async fn push_with(cfg: &Config, o: &FleetOptions) -> FleetPush {
    fleet::push(cfg, &DeviceTarget::from_config(cfg), o, None).await.expect("config compiles")
}

pub async fn read_only(addr: &str) -> Client {
    Client::connect(ConnectOptions::new(addr, 1).read_only()).await.unwrap()
}

/// Multiset of (identity, content) of what the device holds.
pub fn fingerprint(state: &DeviceState) -> HashMap<Vec<u8>, (Vec<u8>, usize)> {
    let mut out: HashMap<Vec<u8>, (Vec<u8>, usize)> = HashMap::new();
    for e in &state.entries {
        let v = out.entry(reconcile::entry_key(e)).or_insert((reconcile::entry_value(e), 0));
        v.1 += 1;
    }
    for s in &state.sessions {
        let mut k = b"session".to_vec();
        k.extend_from_slice(&s.session_id.to_be_bytes());
        let v = out.entry(k).or_insert((reconcile::session_value(s), 0));
        v.1 += 1;
    }
    out
}

/// Asserts the device holds exactly the compiled intent of `cfg` (compiled with
/// the allocation read back from the device), nothing more, nothing less, no
/// duplicates.
pub async fn assert_device_equals_intent(cfg: &Config, addr: &str) {
    let schema = lower::program_schema().unwrap();
    let mut c = read_only(addr).await;
    let state = reconcile::read_state(&mut c, schema).await.unwrap();
    let hints = reconcile::allocation("nic0", &state, schema);
    let intent = intent::compile(cfg, &hints).unwrap();
    let d = intent.device("nic0").unwrap();
    let desired = reconcile::desired_entities(d, schema).unwrap();
    let mut want = DeviceState::default();
    for e in desired {
        if let Some(s) = replication::as_clone_session(&e) {
            want.sessions.push(s.clone());
        } else if let Some(entity::Entity::TableEntry(t)) = e.entity {
            want.entries.push(t);
        }
    }
    let have = fingerprint(&state);
    let wanted = fingerprint(&want);
    assert!(have.values().all(|(_, n)| *n == 1), "duplicates on the device");
    assert_eq!(state.len(), want.len(), "entity count");
    assert!(have == wanted, "device differs from intent");
    for s in &state.sessions {
        assert_eq!(s.replicas.len(), 1, "session {} replicas", s.session_id);
    }
}
