//! Writing the EIF: the ramdisks from [`crate::ramdisk`], then AWS's `EifBuilder`
//! exactly as nitro-cli drives it (kernel, cmdline verbatim, the boot ramdisk first
//! and the app ramdisk second, SHA-384, no signature, x86_64 flags), with a metadata
//! section that names nothing of the machine or the hour.

use crate::blobs::{Blob, NitroBlobs};
use crate::measurements::Measurements;
use crate::ramdisk::{self, AppConfig};
use crate::{Error, SourceDateEpoch};
use aws_nitro_enclaves_image_format::defs::{EifBuildInfo, EifIdentityInfo};
use aws_nitro_enclaves_image_format::utils::EifBuilder;
use sha2::Digest as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// The build tool named in the metadata section (nitro-cli writes its own name).
pub const BUILD_TOOL: &str = env!("CARGO_PKG_NAME");
/// This builder's version, in the metadata section and pcrs.json.
pub const BUILD_TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The image-format crate's version (pinned with `=` in Cargo.toml; a unit test
/// checks the lockfile agrees).
pub const IMAGE_FORMAT_VERSION: &str = "0.8.1";
/// The boot ramdisk's file name in `--ramdisk-dir`.
pub const BOOT_RAMDISK_FILE: &str = "boot-ramdisk.cpio";
/// The app ramdisk's file name in `--ramdisk-dir`.
pub const APP_RAMDISK_FILE: &str = "app-ramdisk.cpio";
/// x86_64 (the crate's `EIF_HDR_ARCH_ARM64` bit cleared), what nitro-cli writes for
/// a `linux/amd64` image.
const EIF_FLAGS_X86_64: u16 = 0;

/// What an EIF is built from.
#[derive(Clone, Debug)]
pub struct BuildRequest<'a> {
    /// The Nitro CLI's blobs.
    pub blobs: &'a NitroBlobs,
    /// The enclave-app binary.
    pub app: &'a Blob,
    /// `/cmd` and `/env`.
    pub config: &'a AppConfig,
    /// Every member's mtime and the metadata's build time.
    pub epoch: SourceDateEpoch,
    /// The metadata section's image name (not measured).
    pub image_name: String,
    /// The metadata section's image version (not measured).
    pub image_version: String,
}

/// A file's size and SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileDigest {
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

impl FileDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            sha256: crate::sha256_hex(bytes),
            size: bytes.len() as u64,
        }
    }
}

/// What a build produced.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    /// PCR0, PCR1, PCR2 as the image-format crate computed them while writing.
    pub measurements: Measurements,
    /// The EIF file.
    pub eif: FileDigest,
    /// The boot ramdisk.
    pub boot_ramdisk: FileDigest,
    /// The app ramdisk.
    pub app_ramdisk: FileDigest,
    /// The metadata section's build time (RFC 3339 of `SOURCE_DATE_EPOCH`).
    pub build_time: String,
}

/// Builds the EIF at `output` (written to a temporary file beside it and renamed,
/// so no half-written image ever carries the name). With `ramdisk_dir`, the two
/// ramdisks are kept there too.
pub fn build(
    request: &BuildRequest<'_>,
    output: &Path,
    ramdisk_dir: Option<&Path>,
) -> Result<BuiltImage, Error> {
    let epoch = request.epoch;
    if u32::try_from(request.app.bytes.len()).is_err() {
        return Err(Error::InputTooLarge {
            path: request.app.path.clone(),
            size: request.app.bytes.len() as u64,
        });
    }
    let boot = ramdisk::boot_ramdisk(&request.blobs.init.bytes, &request.blobs.nsm_ko.bytes)?
        .to_newc(epoch)?;
    let app = ramdisk::app_ramdisk(request.config, &request.app.bytes)?.to_newc(epoch)?;

    // EifBuilder reads its inputs by path. It gets copies of exactly the bytes read
    // (and hashed for pcrs.json) above, so a blob changing underneath cannot make
    // the record and the image disagree.
    let scratch = tempfile::tempdir().map_err(|source| Error::WriteOutput {
        path: std::env::temp_dir(),
        source,
    })?;
    let write = |path: PathBuf, bytes: &[u8]| -> Result<PathBuf, Error> {
        fs::write(&path, bytes).map_err(|source| Error::WriteOutput {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    };
    let kernel_path = write(
        scratch.path().join(crate::blobs::KERNEL),
        &request.blobs.kernel.bytes,
    )?;
    let ramdisk_paths = match ramdisk_dir {
        Some(dir) => {
            fs::create_dir_all(dir).map_err(|source| Error::WriteOutput {
                path: dir.to_owned(),
                source,
            })?;
            dir.to_owned()
        }
        None => scratch.path().to_owned(),
    };
    let boot_path = write(ramdisk_paths.join(BOOT_RAMDISK_FILE), &boot)?;
    let app_path = write(ramdisk_paths.join(APP_RAMDISK_FILE), &app)?;

    let (img_os, img_kernel) = request.blobs.os_and_kernel_version();
    let build_time = epoch.rfc3339();
    let identity = EifIdentityInfo {
        img_name: request.image_name.clone(),
        img_version: request.image_version.clone(),
        build_info: EifBuildInfo {
            build_time: build_time.clone(),
            build_tool: BUILD_TOOL.to_owned(),
            build_tool_version: BUILD_TOOL_VERSION.to_owned(),
            img_os,
            img_kernel,
        },
        // nitro-cli puts `docker inspect` output here; there is no Docker image.
        docker_info: serde_json::Value::Null,
        custom_info: serde_json::Value::Null,
    };

    // The crate's builder `expect`s on I/O errors; every input it opens was just
    // written above, so what is left to fail is the output's disk.
    let mut builder = EifBuilder::new(
        &kernel_path,
        request.blobs.cmdline.clone(),
        None,
        sha2::Sha384::new(),
        EIF_FLAGS_X86_64,
        identity,
    );
    builder.add_ramdisk(&boot_path);
    builder.add_ramdisk(&app_path);

    let out_dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&out_dir).map_err(|source| Error::WriteOutput {
        path: out_dir.clone(),
        source,
    })?;
    let mut staged =
        tempfile::NamedTempFile::new_in(&out_dir).map_err(|source| Error::WriteOutput {
            path: output.to_owned(),
            source,
        })?;
    let measurements = Measurements::from_crate(builder.write_to(staged.as_file_mut()));
    let finish = |staged: &mut tempfile::NamedTempFile| -> std::io::Result<()> {
        staged.as_file_mut().flush()?;
        staged.as_file().sync_all()?;
        staged
            .as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
    };
    finish(&mut staged).map_err(|source| Error::WriteOutput {
        path: output.to_owned(),
        source,
    })?;
    staged.persist(output).map_err(|e| Error::WriteOutput {
        path: output.to_owned(),
        source: e.error,
    })?;

    let eif_bytes = fs::read(output).map_err(|source| Error::ReadEif {
        path: output.to_owned(),
        source,
    })?;
    Ok(BuiltImage {
        measurements,
        eif: FileDigest::of(&eif_bytes),
        boot_ramdisk: FileDigest::of(&boot),
        app_ramdisk: FileDigest::of(&app),
        build_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lockfile_pins_the_image_format_version_we_report() {
        let lock = include_str!("../Cargo.lock");
        let entry = format!(
            "name = \"aws-nitro-enclaves-image-format\"\nversion = \"{IMAGE_FORMAT_VERSION}\""
        );
        assert!(
            lock.contains(&entry),
            "Cargo.lock does not pin aws-nitro-enclaves-image-format {IMAGE_FORMAT_VERSION}"
        );
    }
}
