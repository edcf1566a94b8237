//! Output helpers: aligned plain-text tables, writing results to stdout or a
//! file, and small wording helpers shared by the commands.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use p4clone_compiler::config::Target;
use p4clone_compiler::intent::Summary;
use p4clone_soft::engine::RunReport;

use crate::failure::Failure;

/// `"s"` unless `n == 1`.
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The config spelling of a target.
pub fn target_name(t: Target) -> &'static str {
    match t {
        Target::Soft => "soft",
        Target::Bmv2 => "bmv2",
        Target::Tofino => "tofino",
    }
}

/// Prints a job's progress line on stderr.
pub fn stderr_line(line: &str) {
    eprintln!("{line}");
}

/// `warning: ` lines on stderr for clones that were requested but never left.
pub fn warn_clones(report: &RunReport) {
    for w in p4clone::jobs::soft::clone_warnings(report) {
        eprintln!("warning: {w}");
    }
}

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Pad on the right.
    Left,
    /// Pad on the left (numbers).
    Right,
}

/// A plain-text table: a header row and data rows, columns separated by two spaces,
/// no trailing whitespace.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers and alignments.
    pub fn new(columns: &[(&str, Align)]) -> Table {
        Table {
            header: columns.iter().map(|(h, _)| h.to_string()).collect(),
            align: columns.iter().map(|(_, a)| *a).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (missing cells are blank, extra cells are dropped).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut r: Vec<String> = cells.into_iter().map(Into::into).take(self.header.len()).collect();
        r.resize(self.header.len(), String::new());
        self.rows.push(r);
    }

    /// Renders the table, header included, each line ending in `\n`.
    pub fn render(&self) -> String {
        let n = self.header.len();
        let mut width = vec![0usize; n];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        for r in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = width[i] - c.chars().count();
                match self.align[i] {
                    Align::Left => {
                        line.push_str(c);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(c);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Writes `text` to `output` (a file) or stdout. An unwritable file is bad input
/// (exit 2); a closed stdout pipe (`| head`) is not an error.
pub fn emit(text: &str, output: Option<&Path>) -> Result<(), Failure> {
    match output {
        Some(path) => fs::write(path, text)
            .map_err(|e| Failure::Input(format!("cannot write output file {}: {e}", path.display()))),
        None => {
            let mut out = io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(Failure::Runtime(format!("cannot write to stdout: {e}"))),
            }
        }
    }
}

/// Streams output produced by `write` to `output` (a file) or stdout, buffered. An
/// uncreatable or unwritable file is bad input (exit 2); a closed stdout pipe is not
/// an error; any other stdout failure is a runtime failure (exit 1).
pub fn emit_with(output: Option<&Path>, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), Failure> {
    match output {
        Some(path) => {
            let file_err = |e: io::Error| Failure::Input(format!("cannot write output file {}: {e}", path.display()));
            let file = fs::File::create(path).map_err(file_err)?;
            let mut w = io::BufWriter::with_capacity(1 << 16, file);
            write(&mut w).and_then(|()| w.flush()).map_err(file_err)
        }
        None => {
            let mut w = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
            match write(&mut w).and_then(|()| w.flush()) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(Failure::Runtime(format!("cannot write to stdout: {e}"))),
            }
        }
    }
}

/// The human summary: an object-count table, then entries per table per device.
pub fn render_summary(name: &str, s: &Summary, warnings: usize) -> String {
    let mut out = format!("{name}: valid");
    if warnings > 0 {
        out.push_str(&format!(" ({warnings} warning{})", plural(warnings)));
    }
    out.push_str("\n\n");
    let mut t = Table::new(&[("OBJECT", Align::Left), ("COUNT", Align::Right)]);
    t.row(["tenants".to_string(), s.tenants.to_string()]);
    t.row(["virtual services".to_string(), s.virtual_services.to_string()]);
    t.row(["  cloned".to_string(), s.cloned_virtual_services.to_string()]);
    t.row(["clone profiles".to_string(), s.profiles.to_string()]);
    t.row(["clone members".to_string(), s.members.to_string()]);
    t.row(["devices".to_string(), s.devices.len().to_string()]);
    out.push_str(&t.render());
    if s.devices.is_empty() {
        return out;
    }
    out.push('\n');
    let mut t = Table::new(&[
        ("DEVICE", Align::Left),
        ("TARGET", Align::Left),
        ("ADDRESS", Align::Left),
        ("ID", Align::Right),
        ("TABLE", Align::Left),
        ("ENTRIES", Align::Right),
    ]);
    for d in &s.devices {
        let mut first = true;
        let rows = d.tables.rows();
        for (table, n) in rows.iter().map(|(t, n)| (t.to_string(), *n)).chain([("total".to_string(), d.tables.total())])
        {
            let (dev, target, addr, id) = if first {
                (d.name.clone(), target_name(d.target).to_string(), d.address.clone(), d.device_id.to_string())
            } else {
                Default::default()
            };
            first = false;
            t.row([dev, target, addr, id, table, n.to_string()]);
        }
    }
    out.push_str(&t.render());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(&[("NAME", Align::Left), ("N", Align::Right), ("NOTE", Align::Left)]);
        t.row(["a", "1", ""]);
        t.row(["longer", "100", "x"]);
        assert_eq!(t.render(), "NAME      N  NOTE\na         1\nlonger  100  x\n");
    }
}
