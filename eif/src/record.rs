//! pcrs.json: the measurements with everything needed to rebuild them.
//!
//! It keeps the keys `scripts/build-enclave` writes where they mean the same thing
//! (`measurements` with nitro-cli's `HashAlgorithm`/`PCR0`/`PCR1`/`PCR2`,
//! `enclave_app_sha256`, `eif.sha256`, `eif.build_time`), so `jq .measurements.PCR0
//! pcrs.json` works on either path's file; `scripts/build-eif` adds `source` and
//! `build_args` as `build-enclave` does. It names no absolute path, host or wall
//! clock, so two builds of the same inputs write the same file byte for byte.

use crate::blobs::{self, NitroBlobs};
use crate::image::{self, BuiltImage, FileDigest};
use crate::measurements::Measurements;
use crate::ramdisk::AppConfig;
use crate::{Error, SourceDateEpoch};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The whole record.
#[derive(Clone, Debug, Serialize)]
pub struct PcrsRecord {
    /// The PCRs, in nitro-cli's shape.
    pub measurements: Measurements,
    /// The app binary's SHA-256 (what `scripts/check-reproducible` compares).
    pub enclave_app_sha256: String,
    /// The EIF file itself: with this builder its SHA-256 is reproducible too.
    pub eif: EifRecord,
    /// The one time in the image.
    pub source_date_epoch: u32,
    /// Every input blob by its file name in the blobs directory.
    pub blobs: BTreeMap<&'static str, FileDigest>,
    /// The two ramdisks as written.
    pub ramdisks: RamdiskRecord,
    /// `/cmd` and `/env`, entry by entry (a rebuild needs them exactly).
    pub app: AppRecord,
    /// What built it.
    pub tools: ToolsRecord,
    /// The source the app was built from, when the caller says (`--source-commit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceRecord>,
    /// The build's own parameters as the caller names them (`--build-arg`), the
    /// same key as `scripts/build-enclave`'s Docker build arguments.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub build_args: BTreeMap<String, String>,
}

/// Where the sources came from (`scripts/build-enclave`'s `source` object).
#[derive(Clone, Debug, Serialize)]
pub struct SourceRecord {
    /// The repository's URL.
    pub repository: String,
    /// The commit.
    pub commit: String,
    /// Whether the checkout differed from the commit (the build used the commit).
    pub dirty: bool,
    /// SOURCE_DATE_EPOCH again, where build-enclave's record has it.
    pub source_date_epoch: u32,
}

/// The EIF file.
#[derive(Clone, Debug, Serialize)]
pub struct EifRecord {
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// The metadata section's `BuildTime`.
    pub build_time: String,
}

/// The two ramdisks.
#[derive(Clone, Debug, Serialize)]
pub struct RamdiskRecord {
    /// The first: `init`, `nsm.ko` (PCR1).
    pub boot: FileDigest,
    /// The second: `cmd`, `env`, `rootfs/` (PCR2).
    pub app: FileDigest,
}

/// The enclave's command and environment.
#[derive(Clone, Debug, Serialize)]
pub struct AppRecord {
    /// `/cmd`, one argument per entry.
    pub cmd: Vec<String>,
    /// `/env`, one `KEY=VALUE` per entry.
    pub env: Vec<String>,
    /// The binary (`rootfs/enclave-app`).
    pub binary: FileDigest,
}

/// The tools.
#[derive(Clone, Debug, Serialize)]
pub struct ToolsRecord {
    /// `eif-builder <version>`.
    pub eif_builder: String,
    /// `aws-nitro-enclaves-image-format <version>`.
    pub image_format: String,
}

impl PcrsRecord {
    /// The record of one build.
    pub fn new(
        built: &BuiltImage,
        blobs: &NitroBlobs,
        app: &crate::blobs::Blob,
        config: &AppConfig,
        epoch: SourceDateEpoch,
    ) -> Self {
        let mut inputs = BTreeMap::new();
        inputs.insert(blobs::KERNEL, FileDigest::of(&blobs.kernel.bytes));
        if let Some(config) = &blobs.kernel_config {
            inputs.insert(blobs::KERNEL_CONFIG, FileDigest::of(&config.bytes));
        }
        inputs.insert(blobs::CMDLINE, FileDigest::of(&blobs.cmdline_blob.bytes));
        inputs.insert(blobs::INIT, FileDigest::of(&blobs.init.bytes));
        inputs.insert(blobs::NSM_KO, FileDigest::of(&blobs.nsm_ko.bytes));
        let binary = FileDigest::of(&app.bytes);
        Self {
            measurements: built.measurements.clone(),
            enclave_app_sha256: binary.sha256.clone(),
            eif: EifRecord {
                sha256: built.eif.sha256.clone(),
                size: built.eif.size,
                build_time: built.build_time.clone(),
            },
            source_date_epoch: epoch.seconds(),
            blobs: inputs,
            ramdisks: RamdiskRecord {
                boot: built.boot_ramdisk.clone(),
                app: built.app_ramdisk.clone(),
            },
            app: AppRecord {
                cmd: config.cmd.clone(),
                env: config.env.clone(),
                binary,
            },
            tools: ToolsRecord {
                eif_builder: format!("{} {}", image::BUILD_TOOL, image::BUILD_TOOL_VERSION),
                image_format: format!(
                    "aws-nitro-enclaves-image-format {}",
                    image::IMAGE_FORMAT_VERSION
                ),
            },
            source: None,
            build_args: BTreeMap::new(),
        }
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        let mut out = serde_json::to_vec_pretty(self).map_err(|source| Error::Serialize {
            what: "pcrs.json",
            source,
        })?;
        out.push(b'\n');
        Ok(out)
    }

    /// Writes the record to `path`.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::WriteOutput {
                path: dir.to_owned(),
                source,
            })?;
        }
        std::fs::write(path, self.to_json()?).map_err(|source| Error::WriteOutput {
            path: path.to_owned(),
            source,
        })
    }
}
