//! The `ami3` command line: a thin shell over the library's steps.

use ami3::analyze::planner::Planner;
use ami3::companion::{fit_files, fit_json, summary_line, FitOptions};
use ami3::error::{Error, Kind, Result};
use ami3::fits::{ByteSource, FileSource};
use ami3::options::{cli_name, Options};
use ami3::pipeline::{run_pipeline_sources, Association};
use ami3::products::amilg::LgFitWriter;
use ami3::steps::{
    amilg_name, amimulti_oi_name, analyze_source_into, finish_amilg, write_amimulti_oi,
};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "usage:
  ami3 run ASN.json --out DIR [--save-averages] [--oifits true|false] [--fit-binary] [every analyze option]
  ami3 analyze EXPOSURE.fits... --out DIR [--throughput FILE] [--nrm FILE] [--bandpass FILE]
       [--oversample N] [--affine2d commissioning|none|FILE] [--rotation-search \"START STOP STEP\"]
       [--psf-offset \"X Y\"] [--rotation DEG] [--usebp true|false] [--run-bpfix true|false] [--mode default|improved]
       [--firstfew N] [--chooseholes B4,C2,...] [--exact]
  ami3 demo --out DIR   (writes the page's demo association: demo_asn.json and 4 _calints files)
  ami3 fit-binary FILE.fits... [--json OUT] [--rmin-mas 30] [--rmax-mas 600] [--step-mas 2]
       [--starts 20] [--contrast common|per-filter] [--v2] [--errors auto|diagonal]
       [--frame auto|sky|detector] [--bandpass filter|tophat] [--no-limits] [--limit-bin-mas 10]
       (companion search on calibrated OIFITS; `run ... --fit-binary` fits the calibrated product)";

/// The largest input file read (a 10,000-integration SUB80 `_calints` with ERR and variances
/// is ~1.5 GB).
const MAX_INPUT_BYTES: u64 = 8 << 30;

/// Reads an input file whole (reference files, associations, OIFITS). Only regular files are
/// read: a FIFO would block forever and a device such as /dev/zero never ends; a file larger
/// than [`MAX_INPUT_BYTES`] is refused up front.
fn read_file(path: &str) -> Result<Vec<u8>> {
    check_input(path)?;
    std::fs::read(path).map_err(|e| Error::file(path, Kind::Read, format!("cannot read: {e}")))
}

/// Opens an exposure to be read as it is analysed (never whole), with [`read_file`]'s checks.
fn open_file(path: &str) -> Result<Arc<dyn ByteSource>> {
    check_input(path)?;
    let source = FileSource::open(Path::new(path))
        .map_err(|e| Error::file(path, Kind::Read, format!("cannot read: {e}")))?;
    Ok(Arc::new(source))
}

/// Refuses what [`read_file`] and [`open_file`] must not read.
fn check_input(path: &str) -> Result<()> {
    let fail = |p: String| Error::file(path, Kind::Read, p);
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(fail(if meta.is_dir() {
            "is a folder, not a file".into()
        } else {
            "not a regular file (a pipe, socket or device): refused".into()
        }));
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(fail(format!(
            "is {} bytes, more than the {} bytes ami3 reads",
            meta.len(),
            MAX_INPUT_BYTES
        )));
    }
    Ok(())
}

/// Writes product `name` into `dir`; a name that is not a plain file name is refused (the
/// library checks the names it builds; this keeps every write inside `--out` whatever the names).
fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let path = output_path(dir, name)?;
    std::fs::write(&path, bytes)
        .map_err(|e| Error::output(path.display().to_string(), format!("cannot write: {e}")))?;
    Ok(path)
}

/// `dir/name`, refused unless `name` is a plain file name.
fn output_path(dir: &Path, name: &str) -> Result<PathBuf> {
    if Path::new(name).file_name().and_then(|n| n.to_str()) != Some(name) {
        return Err(Error::output(
            name,
            "not a plain file name: refused to write outside the output folder",
        ));
    }
    Ok(dir.join(name))
}

/// Writes the product `name` into `dir` with `write`, straight to the file (buffered).
fn write_streamed(
    dir: &Path,
    name: &str,
    write: impl FnOnce(BufWriter<File>) -> Result<BufWriter<File>>,
) -> Result<PathBuf> {
    let path = output_path(dir, name)?;
    let shown = path.display().to_string();
    let fail = |e: std::io::Error| Error::output(&shown, format!("cannot write: {e}"));
    let file = File::create(&path).map_err(fail)?;
    let out = write(BufWriter::new(file)).map_err(|e| Error {
        input: ami3::error::Input::Output(shown.clone()),
        ..e
    })?;
    out.into_inner().map_err(|e| fail(e.into_error()))?;
    Ok(path)
}

/// The six spool files of one exposure's `_amilg` cubes, in the output folder (hidden names),
/// removed when dropped; on Unix their names are removed as soon as they are open (the files
/// live on until closed), so that a run that is killed leaves none behind.
struct Spools {
    paths: Vec<PathBuf>,
}

impl Spools {
    fn create(dir: &Path, exposure: &str) -> Result<Spools> {
        let stem = Path::new(exposure)
            .file_name()
            .map_or("exposure".into(), |n| n.to_string_lossy().into_owned());
        let paths = (0..6)
            .map(|k| dir.join(format!(".{stem}.amilg-spool-{}-{k}", std::process::id())))
            .collect();
        Ok(Spools { paths })
    }

    /// The spool files, created empty, open for reading and writing.
    fn files(&self) -> Result<Vec<File>> {
        self.paths
            .iter()
            .map(|p| {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(p)
                    .map_err(|e| {
                        Error::output(
                            p.display().to_string(),
                            format!("cannot create a spool file: {e}"),
                        )
                    });
                if cfg!(unix) {
                    let _ = std::fs::remove_file(p);
                }
                file
            })
            .collect()
    }
}

impl Drop for Spools {
    fn drop(&mut self) {
        for p in &self.paths {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Positional arguments, `--out`, the options, and any other `--name value` pairs.
type ParsedArgs = (Vec<String>, Option<String>, Options, Vec<(String, String)>);

/// Splits arguments into positional ones, `--out`, and options. `--save-averages` and `--exact` may stand
/// alone, as a flag.
fn parse(args: &[String]) -> Result<ParsedArgs> {
    let mut args: Vec<String> = args.to_vec();
    for flag in ["--save-averages", "--exact"] {
        if let Some(i) = args.iter().position(|a| a == flag) {
            let next_is_value = args.get(i + 1).is_some_and(|v| v == "true" || v == "false");
            if !next_is_value {
                args.insert(i + 1, "true".into());
            }
        }
    }
    let mut positional = Vec::new();
    let mut out = None;
    let mut opts = Options::default();
    let mut other = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if let Some(name) = a.strip_prefix("--") {
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (format!("--{n}"), v.to_string()),
                None => {
                    i += 1;
                    let v = args
                        .get(i)
                        .cloned()
                        .ok_or_else(|| Error::usage(format!("{a} needs a value")))?;
                    (a.clone(), v)
                }
            };
            if name == "--out" {
                out = Some(value);
            } else if !opts.set(&name, &value)? {
                other.push((name, value));
            }
        } else {
            positional.push(a.clone());
        }
        i += 1;
    }
    Ok((positional, out, opts, other))
}

fn analyze_command(args: &[String]) -> Result<bool> {
    let (files, out, opts, other) = parse(args)?;
    let pipeline_only = ["--save-averages", "--oifits"];
    if let Some(name) = args.iter().find(|a| pipeline_only.contains(&a.as_str())) {
        return Err(Error::usage(format!("unknown option {name}\n{USAGE}")));
    }
    if let Some((name, _)) = other.first() {
        return Err(Error::usage(format!("unknown option {name}\n{USAGE}")));
    }
    let out = out.ok_or_else(|| Error::usage(format!("--out DIR is required\n{USAGE}")))?;
    if files.is_empty() {
        return Err(Error::usage(format!("no exposure given\n{USAGE}")));
    }
    let (options, refs) = opts.resolve(&cli_name, &read_file)?;
    let params = options.analyze;
    let dir = PathBuf::from(&out);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::output(&out, format!("cannot create: {e}")))?;
    let mut all_ok = true;
    let planner = Planner::new(); // one bad-pixel fixer for exposures that share it
    for file in &files {
        let started = std::time::Instant::now();
        let progress = |done: usize, total: usize| {
            eprintln!("{file}: integration {done} of {total}");
        };
        // `_amilg` is written as the integrations come: each cube to a spool file in the
        // output folder, assembled into the product once the analysis is done.
        let spools = Spools::create(&dir, file)?;
        let mut amilg =
            LgFitWriter::new(&format!("the _amilg product of {file}"), spools.files()?)?;
        let result = open_file(file).and_then(|source| {
            analyze_source_into(
                source, file, &refs, &params, &planner, &mut amilg, &progress,
            )
        });
        match result {
            Ok((analyzed, products)) => {
                for note in &analyzed.analysis.notes {
                    eprintln!("{file}: note: {note}");
                }
                for p in products {
                    let path = write_file(&dir, &p.name, &p.bytes)?;
                    println!("wrote {}", path.display());
                }
                let path = write_streamed(&dir, &amimulti_oi_name(&analyzed), |out| {
                    write_amimulti_oi(&analyzed, out)
                })?;
                println!("wrote {}", path.display());
                let path = write_streamed(&dir, &amilg_name(&analyzed), |out| {
                    finish_amilg(&analyzed, amilg, out)
                })?;
                println!("wrote {}", path.display());
                drop(spools);
                let nint = analyzed.analysis.integrations.len();
                let secs = started.elapsed().as_secs_f64();
                eprintln!(
                    "{file}: {nint} integrations in {secs:.3} s ({:.1} ms per integration)",
                    1e3 * secs / nint as f64
                );
            }
            Err(e) => {
                eprintln!("error: {e}");
                all_ok = false;
            }
        }
    }
    Ok(all_ok)
}

fn run_command(args: &[String]) -> Result<bool> {
    let fit_binary = args.iter().any(|a| a == "--fit-binary");
    let args: Vec<String> = args
        .iter()
        .filter(|a| *a != "--fit-binary")
        .cloned()
        .collect();
    let (files, out, opts, other) = parse(&args)?;
    if let Some((name, _)) = other.first() {
        return Err(Error::usage(format!("unknown option {name}\n{USAGE}")));
    }
    let out = out.ok_or_else(|| Error::usage(format!("--out DIR is required\n{USAGE}")))?;
    let [asn_path] = files.as_slice() else {
        return Err(Error::usage(format!(
            "give exactly one association file\n{USAGE}"
        )));
    };
    let (options, refs) = opts.resolve(&cli_name, &read_file)?;
    let text = String::from_utf8(read_file(asn_path)?)
        .map_err(|_| Error::file(asn_path.as_str(), Kind::BadAssociation, "not UTF-8 text"))?;
    let asn = Association::from_json(&text, asn_path)?;
    let folder = Path::new(asn_path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let load = |name: &str| {
        open_file(&folder.join(name).display().to_string()).map_err(|e| Error {
            input: ami3::error::Input::File(name.to_string()),
            ..e
        })
    };
    let dir = PathBuf::from(&out);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::output(&out, format!("cannot create: {e}")))?;
    let progress =
        |name: &str, done: usize, total: usize| eprintln!("{name}: integration {done} of {total}");
    let (products, combined, errors) =
        run_pipeline_sources(&asn, &load, &refs, &options, &progress);
    for p in products.iter().chain(&combined.products) {
        let path = write_file(&dir, &p.name, &p.bytes)?;
        println!("wrote {}", path.display());
    }
    for m in &combined.messages {
        println!("note: {m}");
    }
    let mut fit_failed = false;
    if fit_binary {
        for p in combined
            .products
            .iter()
            .filter(|p| p.name.ends_with("_aminorm-oi.fits"))
        {
            // a failed search loses none of the products written above
            let report =
                match fit_files(&[(p.name.clone(), p.bytes.clone())], &FitOptions::default()) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("error: companion search: {e}");
                        fit_failed = true;
                        continue;
                    }
                };
            let stem = p.name.trim_end_matches("_aminorm-oi.fits");
            let json = fit_json(&report.fit);
            let path = write_file(&dir, &format!("{stem}_companion.json"), json.as_bytes())?;
            report
                .warnings
                .iter()
                .for_each(|w| eprintln!("warning: {w}"));
            println!("wrote {}", path.display());
            println!("{}", summary_line(&report.fit));
        }
    }
    if let Some(cp) = &combined.calibrated_closure_phases_deg {
        let rms = (cp.iter().map(|c| c * c).sum::<f64>() / cp.len() as f64).sqrt();
        println!(
            "calibrated closure phases: {} triangles, RMS {rms:.4} deg",
            cp.len()
        );
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    Ok(errors.is_empty() && !fit_failed)
}

/// `ami3 demo --out DIR`: the simulated association the page's Demo button reduces, the same
/// bytes, so `ami3 run DIR/asn.json` reproduces the page's demo products.
fn demo_command(args: &[String]) -> Result<bool> {
    let (positional, out, _, other) = parse(args)?;
    if !positional.is_empty() || !other.is_empty() {
        return Err(Error::usage(format!("demo takes only --out\n{USAGE}")));
    }
    let out = out.ok_or_else(|| Error::usage("demo needs --out DIR"))?;
    let dir = Path::new(&out);
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::output(&out, format!("cannot create the folder: {e}")))?;
    for f in ami3::simulate::demo_association() {
        let path = write_file(dir, &f.name, &f.bytes)?;
        println!("wrote {}", path.display());
    }
    Ok(true)
}

/// `ami3 fit-binary FILE... [--json OUT] [options]`: the companion search (companion.md §1, §9).
fn fit_binary_command(args: &[String]) -> Result<bool> {
    let mut options = FitOptions::default();
    let (mut files, mut json) = (Vec::new(), None);
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if !a.starts_with("--") {
            files.push(a.to_string());
        } else if FitOptions::is_flag(a) {
            options.take(a, "true")?;
        } else {
            i += 1;
            let value = args
                .get(i)
                .ok_or_else(|| Error::usage(format!("{a} needs a value")))?;
            if a == "--json" {
                json = Some(value.clone());
            } else if !options.take(a, value)? {
                return Err(Error::usage(format!("unknown option {a}\n{USAGE}")));
            }
        }
        i += 1;
    }
    let inputs = files
        .iter()
        .map(|f| read_file(f).map(|b| (f.clone(), b)))
        .collect::<Result<Vec<_>>>()?;
    let report = fit_files(&inputs, &options)?;
    report
        .warnings
        .iter()
        .for_each(|w| eprintln!("warning: {w}"));
    if let Some(out) = json {
        std::fs::write(&out, fit_json(&report.fit))
            .map_err(|e| Error::output(&out, format!("cannot write: {e}")))?;
    }
    println!("{}", summary_line(&report.fit));
    Ok(true)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("analyze") => analyze_command(&args[1..]),
        Some("run") => run_command(&args[1..]),
        Some("demo") => demo_command(&args[1..]),
        Some("fit-binary") => fit_binary_command(&args[1..]),
        Some("-h") | Some("--help") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(Error::usage(format!("unknown command '{other}'\n{USAGE}"))),
    };
    let _ = std::io::stdout().flush();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
