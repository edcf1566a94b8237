//! Clone filters and sampling: every field parses, a profile has at most
//! [`MAX_FILTERS`] rules, rules that can never apply are warned about naming the
//! rule that hides them, and only devices whose program can filter and sample get
//! such a profile.

use super::validator::{Obj, Rel, Validator};
use crate::config::FilterAction;
use crate::filter::{SampleMode, MAX_FILTERS};

fn action_name(a: FilterAction) -> &'static str {
    match a {
        FilterAction::Clone => "clone",
        FilterAction::Skip => "skip",
    }
}

impl Validator<'_, '_> {
    /// Every filter field and `sample` parse; at most [`MAX_FILTERS`] rules.
    pub(super) fn rule_filter_values(&mut self) {
        for (t, prof) in self.model.profiles.iter().enumerate() {
            let o = Obj::Profile(t);
            if prof.filters.len() > MAX_FILTERS {
                self.error(
                    o.field("filters"),
                    format!("{} filter rules; a clone profile has at most {MAX_FILTERS}", prof.filters.len()),
                );
            }
            for (i, f) in prof.filters.iter().enumerate() {
                if let Err(errs) = f {
                    for (field, msg) in errs {
                        self.error(format!("{}.filters[{i}].{field}", o.path()), msg.clone());
                    }
                }
            }
            if let Err((field, msg)) = &prof.sample {
                self.error(format!("{}.sample.{field}", o.path()), msg.clone());
            }
        }
    }

    /// A rule that an earlier rule fully covers is never reached: a warning naming
    /// both (conflicting when their actions differ, redundant when they agree).
    pub(super) fn rule_filter_reach(&mut self) {
        for (t, prof) in self.model.profiles.iter().enumerate() {
            let path = Obj::Profile(t).path();
            for (j, later) in prof.filters.iter().enumerate() {
                let Ok(later) = later else { continue };
                let hider =
                    prof.filters[..j].iter().enumerate().find(|(_, e)| e.as_ref().is_ok_and(|e| e.covers(later)));
                let Some((i, Ok(earlier))) = hider else { continue };
                let msg = if earlier.action == later.action {
                    format!(
                        "filters[{j}] ({}) is never reached: filters[{i}] before it matches every packet it \
                         matches and also says {}; remove one",
                        action_name(later.action),
                        action_name(earlier.action)
                    )
                } else {
                    format!(
                        "filters[{j}] ({}) conflicts with filters[{i}] ({}): filters[{i}] comes first and matches \
                         every packet filters[{j}] matches, so filters[{j}] never applies; move it up or narrow \
                         filters[{i}]",
                        action_name(later.action),
                        action_name(earlier.action)
                    )
                };
                self.warning(format!("{path}.filters[{j}]"), msg);
            }
        }
    }

    /// Filters and sampling only on devices whose program has them.
    pub(super) fn rule_filter_targets(&mut self) {
        let cfg = self.cfg;
        for v in 0..cfg.virtual_services.len() {
            let Some(Obj::Profile(t)) = self.follow(Obj::Vs(v), Rel::Profile) else { continue };
            let prof = &self.model.profiles[t];
            let sampled = matches!(prof.sample, Ok(SampleMode::Flows(_) | SampleMode::OneIn(_)));
            if prof.filters.is_empty() && !sampled {
                continue;
            }
            let what = if sampled { "sample" } else { "filters" };
            let mut reported = Vec::new();
            for se in self.vs_ses(v).to_vec() {
                let Obj::Se(g, s) = se else { continue };
                let Some(d) = self.model.ses[self.model.se_index(g, s)].device else { continue };
                let rules = cfg.devices[d].target.rules();
                if rules.filtering || reported.contains(&d) {
                    continue;
                }
                reported.push(d);
                self.error(
                    Obj::Profile(t).field(what),
                    format!(
                        "VS `{}` clones on device `{}` ({}), whose program has no filter or sampling actions: \
                         use a profile without filters and sample there",
                        cfg.virtual_services[v].name, cfg.devices[d].name, rules.name
                    ),
                );
            }
        }
    }
}
