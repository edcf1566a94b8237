//! Clone profile rules: clone server count, truncation length, and clone server
//! networks directly connected to every SE that clones to them.

use super::validator::{ses_phrase, Obj, Rel, Validator};
use crate::limits::{MAX_CLONE_SERVERS, MAX_TRUNCATE, MIN_TRUNCATE};

impl Validator<'_, '_> {
    /// A profile has 1..10 clone servers.
    pub(super) fn rule_clone_server_count(&mut self) {
        for (t, prof) in self.cfg.traffic_clone_profiles.iter().enumerate() {
            let n = prof.clone_servers.len();
            if n == 0 {
                self.error(Obj::Profile(t).field("clone_servers"), "a clone profile needs at least one clone server");
            } else if n > MAX_CLONE_SERVERS {
                self.error(
                    Obj::Profile(t).field("clone_servers"),
                    format!("{n} clone servers; a clone profile has at most {MAX_CLONE_SERVERS}"),
                );
            }
        }
    }

    /// `truncate` is 0 (whole frames) or 64..9216.
    pub(super) fn rule_truncate(&mut self) {
        for (t, prof) in self.cfg.traffic_clone_profiles.iter().enumerate() {
            let n = prof.truncate;
            if (1..MIN_TRUNCATE).contains(&n) {
                self.error(
                    Obj::Profile(t).field("truncate"),
                    format!(
                        "truncate {n} is too short to hold the headers; use 0 for whole frames or at least {MIN_TRUNCATE}"
                    ),
                );
            } else if n > MAX_TRUNCATE {
                self.error(
                    Obj::Profile(t).field("truncate"),
                    format!(
                        "truncate {n} is larger than any jumbo frame ({MAX_TRUNCATE} bytes); use 0 for whole frames"
                    ),
                );
            }
        }
    }

    /// Every SE of every VS using a profile has an interface on each clone
    /// server's network (that interface is where the clones leave).
    pub(super) fn rule_clone_server_connected(&mut self) {
        let cfg = self.cfg;
        // The users of each profile, in config order (= `sources(profile, Profile)`).
        let mut users: Vec<Vec<usize>> = vec![Vec::new(); cfg.traffic_clone_profiles.len()];
        for v in 0..cfg.virtual_services.len() {
            if let Some(Obj::Profile(t)) = self.follow(Obj::Vs(v), Rel::Profile) {
                users[t].push(v);
            }
        }
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            for c in 0..prof.clone_servers.len() {
                let cs = Obj::CloneServer(t, c);
                let Some(net) = self.follow(cs, Rel::Network) else { continue };
                for &v in &users[t] {
                    let Some(group) = self.follow(Obj::Vs(v), Rel::SeGroup) else { continue };
                    let missing: Vec<&str> = self
                        .vs_ses(v)
                        .iter()
                        .filter(|&&se| self.se_networks(se).is_some_and(|nets| !nets.contains(&net)))
                        .map(|&se| self.se_name(se))
                        .collect();
                    if !missing.is_empty() {
                        let msg = format!(
                            "network `{}` is not directly connected to SE group `{}` of VS `{}`: {} {} no interface on it",
                            self.network_name(net),
                            self.group_name(group),
                            cfg.virtual_services[v].name,
                            ses_phrase(&missing),
                            if missing.len() == 1 { "has" } else { "have" }
                        );
                        self.error(cs.field("network"), msg);
                    }
                }
            }
        }
    }
}
