//! Compiling `p4src/traffic_clone.p4` with p4c, exactly as `p4src/README.md`
//! says, and judging the result: any error or warning fails, and the P4Info
//! p4c writes must equal the hand-kept one ([`crate::p4info`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::artifacts::{P4INFO, SOURCE};
use crate::error::{Bmv2Error, Result};
use crate::locate::{P4c, P4cKind};
use crate::p4info;

/// What p4c produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The BMv2 JSON.
    pub json: PathBuf,
    /// The P4Info (text format).
    pub p4info: PathBuf,
    /// Everything p4c printed (empty for a clean compile).
    pub output: String,
    /// The command, as run from `p4src/`.
    pub command: String,
}

/// The arguments of the `p4src/README.md` command writing into `out`.
pub fn args(p4c: &P4c, out: &Path) -> Vec<String> {
    let p4info = out.join("traffic_clone.p4info.txtpb").display().to_string();
    match p4c.kind {
        P4cKind::Driver => vec![
            "--target".into(),
            "bmv2".into(),
            "--arch".into(),
            "v1model".into(),
            "--p4runtime-files".into(),
            p4info,
            "-o".into(),
            out.display().to_string(),
            SOURCE.into(),
        ],
        P4cKind::Bm2Ss => vec![
            "--arch".into(),
            "v1model".into(),
            "--p4runtime-files".into(),
            p4info,
            "-o".into(),
            out.join("traffic_clone.json").display().to_string(),
            SOURCE.into(),
        ],
    }
}

/// Whether p4c's output reports a warning or an error (any mention fails).
pub fn reports_problems(output: &str) -> bool {
    let l = output.to_ascii_lowercase();
    l.contains("warning") || l.contains("error")
}

/// Compiles `p4src/traffic_clone.p4` into `out` (created). Fails on a non-zero
/// exit, on any warning or error in p4c's output, and when an output is missing.
pub fn compile(p4c: &P4c, p4src: &Path, out: &Path) -> Result<Compiled> {
    std::fs::create_dir_all(out).map_err(|e| Bmv2Error::io(format!("cannot create {}", out.display()), e))?;
    let a = args(p4c, out);
    let command = format!("(cd {} && {} {})", p4src.display(), p4c.path.display(), a.join(" "));
    let o = Command::new(&p4c.path)
        .args(&a)
        .current_dir(p4src)
        .output()
        .map_err(|source| Bmv2Error::Spawn { binary: p4c.path.clone(), source })?;
    let mut output = String::from_utf8_lossy(&o.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&o.stderr));
    if !o.status.success() || reports_problems(&output) {
        return Err(Bmv2Error::Compile(format!(
            "p4c {} on {SOURCE} (any warning or error fails):\n  {command}\n{}",
            if o.status.success() {
                "reported warnings or errors".to_string()
            } else {
                format!("failed ({})", o.status)
            },
            output.lines().map(|l| format!("  | {l}")).collect::<Vec<_>>().join("\n")
        )));
    }
    let json = out.join("traffic_clone.json");
    let p4info = out.join("traffic_clone.p4info.txtpb");
    for f in [&json, &p4info] {
        if std::fs::metadata(f).map_or(true, |m| m.len() == 0) {
            return Err(Bmv2Error::Compile(format!("p4c did not write {} ({command})", f.display())));
        }
    }
    Ok(Compiled { json, p4info, output, command })
}

/// Differences between the hand-kept P4Info (`p4src/traffic_clone.p4info.txtpb`)
/// and `generated` (a P4Info text file), one line each.
pub fn compare_p4info(p4src: &Path, generated: &Path) -> Result<Vec<String>> {
    let read =
        |p: &Path| std::fs::read_to_string(p).map_err(|e| Bmv2Error::io(format!("cannot read {}", p.display()), e));
    let hand = p4info::parse_text(&read(&p4src.join(P4INFO))?)
        .map_err(|e| Bmv2Error::Compile(format!("p4src/{P4INFO}: {e}")))?;
    let gen = p4info::parse_text(&read(generated)?)
        .map_err(|e| Bmv2Error::Compile(format!("{}: {e}", generated.display())))?;
    p4info::differences(&hand, "hand-kept", &gen, "p4c")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_commands() {
        let out = Path::new("/tmp/o");
        let d = args(&P4c { path: "p4c".into(), kind: P4cKind::Driver }, out).join(" ");
        assert_eq!(
            d,
            "--target bmv2 --arch v1model --p4runtime-files /tmp/o/traffic_clone.p4info.txtpb -o /tmp/o traffic_clone.p4"
        );
        let b = args(&P4c { path: "p4c-bm2-ss".into(), kind: P4cKind::Bm2Ss }, out).join(" ");
        assert_eq!(
            b,
            "--arch v1model --p4runtime-files /tmp/o/traffic_clone.p4info.txtpb -o /tmp/o/traffic_clone.json \
             traffic_clone.p4"
        );
    }

    #[test]
    fn any_warning_fails() {
        assert!(reports_problems("traffic_clone.p4(12): [--Wwarn=unused] warning: x"));
        assert!(reports_problems("ERROR: bad"));
        assert!(!reports_problems(""));
    }

    #[test]
    fn hand_kept_equals_itself() {
        let p4src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../p4src"));
        assert!(compare_p4info(p4src, &p4src.join(P4INFO)).unwrap().is_empty());
    }
}
