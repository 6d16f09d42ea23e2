//! `eif-build`: builds an enclave image file without Docker or nitro-cli, and
//! recomputes any EIF's PCRs. Thin: parses the command line, calls the library,
//! prints. Exit codes: 0 done, 1 failed (the message says why), 2 usage.
#![allow(clippy::print_stdout, clippy::print_stderr)] // The binary's output is its interface.

use clap::{Args, Parser, Subcommand};
use eif_builder::blobs::{Blob, DEFAULT_BLOBS_DIR, NitroBlobs};
use eif_builder::image::{self, BuildRequest};
use eif_builder::inspect;
use eif_builder::ramdisk::AppConfig;
use eif_builder::record::{PcrsRecord, SourceRecord};
use eif_builder::{Error, SourceDateEpoch};
use std::path::PathBuf;
use std::process::ExitCode;

/// Builds AWS Nitro Enclave image files (EIFs) byte for byte reproducibly, without
/// Docker, and recomputes an EIF's PCRs.
#[derive(Debug, Parser)]
#[command(name = "eif-build", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build an EIF from the Nitro CLI's blobs and the enclave-app binary: two sorted,
    /// deterministic newc ramdisks (owner 0:0, every mtime SOURCE_DATE_EPOCH) and the
    /// image written by AWS's aws-nitro-enclaves-image-format crate. Prints PCR0-2 and
    /// writes pcrs.json (the PCRs, the SHA-256 of every input, /cmd and /env).
    ///
    /// Example: eif-build build --app enclave-app --env ENCLAVE_LOG_FORMAT=json
    /// --output enclave.eif --pcrs-json pcrs.json -- /enclave-app --mode nitro
    Build(Box<BuildArgs>),
    /// Recompute an EIF's PCRs (PCR0, PCR1, PCR2; PCR8 when signed) with AWS's
    /// EifReader, after checking the file's structure: a truncated or garbage file
    /// is an error (exit 1), never a guess.
    Pcrs(PcrsArgs),
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// The Nitro CLI's blobs: bzImage, cmdline, init, nsm.ko (and bzImage.config for
    /// the metadata). On a Nitro parent, what the aws-nitro-enclaves-cli package
    /// installs.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_BLOBS_DIR)]
    blobs: PathBuf,
    /// The enclave-app binary (static musl, from scripts/build-enclave-binary); it
    /// becomes rootfs/enclave-app (mode 0755).
    #[arg(long, value_name = "FILE")]
    app: PathBuf,
    /// An entry of the enclave's environment (/env), KEY=VALUE; repeat it, in order.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Where to write the EIF.
    #[arg(long, value_name = "FILE")]
    output: PathBuf,
    /// Where to write pcrs.json.
    #[arg(long, value_name = "FILE")]
    pcrs_json: PathBuf,
    /// Also keep the two ramdisks here (boot-ramdisk.cpio, app-ramdisk.cpio), to
    /// look into with `cpio -itv <FILE`.
    #[arg(long, value_name = "DIR")]
    ramdisk_dir: Option<PathBuf>,
    /// The Unix time (decimal seconds) every file in the image gets, and the
    /// metadata's build time. Required, here or in the environment.
    #[arg(long, env = "SOURCE_DATE_EPOCH", value_name = "SECONDS")]
    source_date_epoch: Option<String>,
    /// The image name in the EIF's metadata section (not measured).
    #[arg(long, value_name = "NAME", default_value = "enclave-lottery")]
    image_name: String,
    /// The image version in the EIF's metadata section (not measured).
    #[arg(long, value_name = "VERSION", default_value = "unversioned")]
    image_version: String,
    /// Record the sources' commit in pcrs.json (`source`), as scripts/build-eif does.
    #[arg(long, value_name = "REV")]
    source_commit: Option<String>,
    /// The repository recorded with --source-commit.
    #[arg(
        long,
        value_name = "URL",
        default_value = "https://github.com/enclave-lottery/enclave-lottery"
    )]
    source_repository: String,
    /// Record that the checkout differed from --source-commit.
    #[arg(long, requires = "source_commit")]
    source_dirty: bool,
    /// Record a build parameter in pcrs.json (`build_args`), KEY=VALUE; repeatable.
    /// Only recorded: what the image holds is --env and the command.
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    build_args: Vec<String>,
    /// The enclave's command (/cmd), after `--`: the program, then its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    cmd: Vec<String>,
}

#[derive(Debug, Args)]
struct PcrsArgs {
    /// The enclave image file.
    #[arg(value_name = "FILE.eif")]
    eif: PathBuf,
    /// Print one JSON object: measurements (nitro-cli's keys), format version,
    /// sections and the metadata section.
    #[arg(long)]
    json: bool,
}

fn build(args: BuildArgs) -> Result<(), Error> {
    let epoch = SourceDateEpoch::parse(args.source_date_epoch.as_deref())?;
    let config = AppConfig::new(args.cmd, args.env)?;
    let build_args = args
        .build_args
        .iter()
        .map(|entry| match entry.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => Err(Error::NotKeyValue {
                what: "the build argument",
                value: entry.clone(),
            }),
        })
        .collect::<Result<_, _>>()?;
    let blobs = NitroBlobs::read(&args.blobs)?;
    let app = Blob::read(&args.app, "the app binary")?;
    eprintln!(
        "eif-build: blobs from {}: bzImage {} bytes, init {} bytes, nsm.ko {} bytes; app {} bytes; SOURCE_DATE_EPOCH={epoch}",
        blobs.dir.display(),
        blobs.kernel.bytes.len(),
        blobs.init.bytes.len(),
        blobs.nsm_ko.bytes.len(),
        app.bytes.len(),
    );
    let request = BuildRequest {
        blobs: &blobs,
        app: &app,
        config: &config,
        epoch,
        image_name: args.image_name,
        image_version: args.image_version,
    };
    let built = image::build(&request, &args.output, args.ramdisk_dir.as_deref())?;
    eprintln!(
        "eif-build: ramdisks boot {} bytes (sha256 {}), app {} bytes (sha256 {})",
        built.boot_ramdisk.size,
        built.boot_ramdisk.sha256,
        built.app_ramdisk.size,
        built.app_ramdisk.sha256
    );
    let mut record = PcrsRecord::new(&built, &blobs, &app, &config, epoch);
    record.source = args.source_commit.map(|commit| SourceRecord {
        repository: args.source_repository,
        commit,
        dirty: args.source_dirty,
        source_date_epoch: epoch.seconds(),
    });
    record.build_args = build_args;
    record.write(&args.pcrs_json)?;
    eprintln!(
        "eif-build: wrote {} ({} bytes, sha256 {}) and {}",
        args.output.display(),
        built.eif.size,
        built.eif.sha256,
        args.pcrs_json.display()
    );
    print!("{}", built.measurements);
    Ok(())
}

fn pcrs(args: &PcrsArgs) -> Result<(), Error> {
    let inspection = inspect::inspect(&args.eif)?;
    if args.json {
        let json =
            serde_json::to_string_pretty(&inspection).map_err(|source| Error::Serialize {
                what: "the inspection",
                source,
            })?;
        println!("{json}");
    } else {
        print!("{}", inspection.measurements);
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => build(*args),
        Command::Pcrs(args) => pcrs(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
