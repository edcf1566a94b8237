//! `p4clone import avi FILE... --site SITE.yaml`: a p4clone config from the
//! reference load balancer's objects (configuration export, API list responses or
//! single objects, JSON) and a site file. The config is validated as `check` does
//! before anything is written.

use std::fs;
use std::path::{Path, PathBuf};

use p4clone_compiler::diag::Severity;
use p4clone_compiler::import::avi::{self, Imported, InputFile};
use p4clone_compiler::intent::summarize;
use p4clone_compiler::source;

use crate::compiled::compile_yaml_text;
use crate::failure::{Failure, Outcome, EXIT_INPUT};
use crate::render::{emit, plural, render_summary};

/// Import configuration from another system.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The system to import from.
    #[command(subcommand)]
    pub source: Source,
}

/// Systems `import` reads.
#[derive(Debug, clap::Subcommand)]
pub enum Source {
    /// From the Avi / NSX ALB controller's objects (API 30.x JSON) and a site file
    ///
    /// Read the load balancer's TrafficCloneProfile, VirtualService, Pool, VsVip,
    /// Network, ServiceEngineGroup, Tenant and Cloud objects, resolve every reference
    /// (by uuid or name, tenant-scoped), add the site file's devices and service-engine
    /// placement, and write a p4clone config that `p4clone check` accepts. Every
    /// problem names the input file, object type, name/uuid and field; on any error
    /// nothing is written (exit 2).
    ///
    /// Example: p4clone import avi examples/avi/export.json --site examples/avi/site.yaml -o c.yaml
    Avi(AviArgs),
}

/// The arguments of `import avi` (help text on [`Source::Avi`]).
#[derive(Debug, clap::Args)]
pub struct AviArgs {
    /// Input files (JSON): a configuration export, API list responses
    /// (`{"count":N,"results":[...]}`) or single objects, in any mix
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Site file (YAML): devices and wires, service engines per SE group (device,
    /// interfaces: port, mac, ip, network), network VLANs, NAT bindings
    #[arg(long)]
    pub site: PathBuf,
    /// Output config file (default: stdout)
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Import only the virtual services of this tenant
    #[arg(long)]
    pub tenant: Option<String>,
    /// Print the summary `p4clone check` prints for the imported config; write nothing
    #[arg(long)]
    pub check: bool,
}

/// Runs `import`.
pub fn run(args: &Args) -> Outcome {
    match &args.source {
        Source::Avi(a) => run_avi(a),
    }
}

fn read(path: &Path, what: &str) -> Result<String, Failure> {
    fs::read_to_string(path).map_err(|e| Failure::Input(format!("cannot read {what} {}: {e}", path.display())))
}

fn run_avi(args: &AviArgs) -> Outcome {
    let mut inputs = Vec::new();
    for path in &args.inputs {
        let text = read(path, "input file")?;
        let json =
            serde_json::from_str(&text).map_err(|e| Failure::Input(format!("{}: not JSON: {e}", path.display())))?;
        inputs.push(InputFile { name: path.display().to_string(), json });
    }
    let site_name = args.site.display().to_string();
    let site =
        avi::parse_site(&site_name, &read(&args.site, "site file")?).map_err(|e| Failure::Input(e.to_string()))?;
    let imported = match avi::convert(&inputs, &site, args.tenant.as_deref()) {
        Ok(i) => i,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!("error: {} error{} found; nothing written", errors.len(), plural(errors.len()));
            return Err(Failure::Reported(EXIT_INPUT));
        }
    };
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let text = avi::render_yaml(&imported, &names, &site_name)
        .map_err(|e| Failure::Runtime(format!("cannot render the config as YAML: {e}")))?;
    let shown = args.output.clone().unwrap_or_else(|| PathBuf::from("<imported config>"));
    reject_invalid(&imported, &text, &shown)?;
    let compiled = compile_yaml_text(&shown, text.clone())?;
    if args.check {
        let summary = summarize(&compiled.config, &compiled.intent);
        return emit(&render_summary(&shown.display().to_string(), &summary, compiled.warnings), None);
    }
    emit(&text, args.output.as_deref())
}

/// Validates the imported config as `check` does; on errors prints each with the
/// input object it came from, and fails (exit 2, nothing written).
fn reject_invalid(imported: &Imported, text: &str, shown: &Path) -> Outcome {
    let loaded = source::load_str(text, source::Format::Yaml)
        .map_err(|e| Failure::Runtime(format!("the imported config does not parse back: {e}")))?;
    let diags = loaded.check();
    let errors: Vec<_> = diags.iter().filter(|d| d.severity == Severity::Error).collect();
    if errors.is_empty() {
        return Ok(());
    }
    for d in &errors {
        match imported.origin_of_path(&d.path) {
            Some(origin) => eprintln!("error: {}: {} (from {origin})", d.path, d.message),
            None => eprintln!("error: {}: {}", d.path, d.message),
        }
    }
    eprintln!(
        "error: {}: the imported config does not pass `p4clone check`: {} error{}; nothing written",
        shown.display(),
        errors.len(),
        plural(errors.len())
    );
    Err(Failure::Reported(EXIT_INPUT))
}
