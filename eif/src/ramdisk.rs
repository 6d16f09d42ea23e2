//! The two ramdisks, as sorted, deterministic `newc` cpio archives.
//!
//! The layout is the one nitro-cli's linuxkit templates write
//! (aws-nitro-enclaves-cli, `enclave_build/src/yaml_generator.rs`):
//!
//! - **boot** (the first ramdisk, measured into PCR1 with the kernel and cmdline):
//!   `dev/` (0755), `init` (0755), `nsm.ko` (0755). nitro-cli releases from 2025 on
//!   also add a `modules_load_order` file; this builder writes the earlier layout,
//!   which AWS's init still boots.
//! - **app** (every later ramdisk, PCR2): `cmd` and `env` (0644, one entry per
//!   line, each line ending in `\n`, as nitro-cli writes them from the Docker
//!   image's entrypoint and environment), `rootfs/` with `dev`, `proc`, `run`,
//!   `sys`, `tmp`, `var` (0755), and the image's file system under `rootfs/`; here
//!   that is one file, `rootfs/enclave-app` (0755), as in `enclave.Dockerfile`'s
//!   `FROM scratch` image.
//!
//! What makes the bytes a function of the contents alone: members sorted by path
//! (bytewise, so a directory precedes what it holds, which the kernel's unpacker
//! needs: it creates no parents), owner 0:0, every mtime `SOURCE_DATE_EPOCH`, inode
//! numbers by position from 1, no device numbers, no compression. Writing the
//! format is the `cpio` crate's `newc` writer; this module only decides what goes in.

use crate::{Error, SourceDateEpoch};
use cpio::newc::{Builder, ModeFileType};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Directories' permission bits in both ramdisks (linuxkit's templates: "0755").
pub const DIR_MODE: u32 = 0o755;
/// Executables' permission bits (`init`, `nsm.ko`, the app).
pub const EXEC_MODE: u32 = 0o755;
/// `cmd` and `env` (linuxkit's templates: "0644").
pub const CONFIG_MODE: u32 = 0o644;

/// Where the app binary goes: the root of the image's file system, as
/// `enclave.Dockerfile` copies it (`COPY ... /enclave-app`).
pub const APP_PATH: &str = "rootfs/enclave-app";

/// The directories nitro-cli's template creates under `rootfs/` (init mounts
/// devtmpfs, proc, sysfs and tmpfs there before it chroots).
pub const ROOTFS_DIRS: [&str; 6] = ["dev", "proc", "run", "sys", "tmp", "var"];

/// One member of a ramdisk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Member {
    /// A directory with these permission bits.
    Dir {
        /// Permission bits (no file type).
        mode: u32,
    },
    /// A regular file.
    File {
        /// Permission bits (no file type).
        mode: u32,
        /// Its contents.
        data: Vec<u8>,
    },
}

/// A ramdisk's members by path (relative, no leading `/` or `./`), kept sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ramdisk {
    members: BTreeMap<String, Member>,
}

impl Ramdisk {
    /// An empty ramdisk.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a directory.
    pub fn dir(&mut self, path: &str, mode: u32) -> Result<&mut Self, Error> {
        self.insert(path, Member::Dir { mode })
    }

    /// Adds a regular file. Its size must fit a `newc` header (checked by the caller
    /// for files read from disk, see [`crate::image`]; here for anything else).
    pub fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) -> Result<&mut Self, Error> {
        if u32::try_from(data.len()).is_err() {
            return Err(Error::RamdiskLayout(format!(
                "{path} is {} bytes, more than a newc member holds",
                data.len()
            )));
        }
        self.insert(path, Member::File { mode, data })
    }

    fn insert(&mut self, path: &str, member: Member) -> Result<&mut Self, Error> {
        let valid = !path.is_empty()
            && !path.starts_with('/')
            && !path.ends_with('/')
            && path
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..")
            && !path.contains('\0');
        if !valid {
            return Err(Error::RamdiskLayout(format!(
                "{path:?} is not a relative path of plain components"
            )));
        }
        if self.members.contains_key(path) {
            return Err(Error::RamdiskLayout(format!(
                "{path} is in the archive twice"
            )));
        }
        self.members.insert(path.to_owned(), member);
        Ok(self)
    }

    /// The members in archive order (sorted by path).
    pub fn members(&self) -> impl Iterator<Item = (&str, &Member)> {
        self.members.iter().map(|(p, m)| (p.as_str(), m))
    }

    /// Checks that every member's parent directory is a member too.
    fn check_parents(&self) -> Result<(), Error> {
        for path in self.members.keys() {
            if let Some((parent, _)) = path.rsplit_once('/') {
                match self.members.get(parent) {
                    Some(Member::Dir { .. }) => {}
                    Some(Member::File { .. }) => {
                        return Err(Error::RamdiskLayout(format!(
                            "{path}'s parent {parent} is a file"
                        )));
                    }
                    None => {
                        return Err(Error::RamdiskLayout(format!(
                            "{path}'s parent directory {parent} is not in the archive"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The archive's bytes: every member with owner 0:0 and mtime `epoch`, then the
    /// `TRAILER!!!` entry.
    pub fn to_newc(&self, epoch: SourceDateEpoch) -> Result<Vec<u8>, Error> {
        self.check_parents()?;
        let mut out = Vec::new();
        self.write_newc(epoch, &mut out)
            .map_err(|e| Error::RamdiskLayout(format!("writing the archive: {e}")))?;
        Ok(out)
    }

    fn write_newc<W: Write>(&self, epoch: SourceDateEpoch, mut out: W) -> io::Result<W> {
        for (index, (path, member)) in self.members.iter().enumerate() {
            // Inode numbers only need to be unique (the kernel links regular files
            // that share one and have nlink > 1; ours all have nlink 1).
            let ino = u32::try_from(index + 1).map_err(|_| io::Error::other("too many members"))?;
            let header = Builder::new(path)
                .ino(ino)
                .uid(0)
                .gid(0)
                .mtime(epoch.seconds());
            out = match member {
                Member::Dir { mode } => {
                    let header = header
                        .mode(*mode)
                        .set_mode_file_type(ModeFileType::Directory)
                        .nlink(2);
                    header.write(out, 0).finish()?
                }
                Member::File { mode, data } => {
                    let size = u32::try_from(data.len())
                        .map_err(|_| io::Error::other("member too large"))?;
                    let header = header
                        .mode(*mode)
                        .set_mode_file_type(ModeFileType::Regular)
                        .nlink(1);
                    let mut writer = header.write(out, size);
                    writer.write_all(data)?;
                    writer.finish()?
                }
            };
        }
        cpio::newc::trailer(out)
    }
}

/// The boot ramdisk: `dev/`, `init`, `nsm.ko`.
pub fn boot_ramdisk(init: &[u8], nsm_ko: &[u8]) -> Result<Ramdisk, Error> {
    let mut ramdisk = Ramdisk::new();
    ramdisk
        .dir("dev", DIR_MODE)?
        .file("init", EXEC_MODE, init.to_vec())?
        .file("nsm.ko", EXEC_MODE, nsm_ko.to_vec())?;
    Ok(ramdisk)
}

/// The enclave's command and environment: what init reads from `/cmd` and `/env`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppConfig {
    /// argv, the program first (for us `/enclave-app --mode nitro`, the Dockerfile's
    /// ENTRYPOINT).
    pub cmd: Vec<String>,
    /// `KEY=VALUE` entries in the order given (the Dockerfile's ENV).
    pub env: Vec<String>,
}

impl AppConfig {
    /// Checks the entries: a non-empty command, no newline or NUL in any entry
    /// (init splits on newlines), every env entry `KEY=VALUE`.
    pub fn new(cmd: Vec<String>, env: Vec<String>) -> Result<Self, Error> {
        if cmd.is_empty() || cmd[0].is_empty() {
            return Err(Error::EmptyCommand);
        }
        let bad = |s: &str| s.contains('\n') || s.contains('\0');
        if let Some(arg) = cmd.iter().find(|a| bad(a)) {
            return Err(Error::BadConfigLine {
                what: "the command argument",
                value: arg.clone(),
            });
        }
        for entry in &env {
            if bad(entry) {
                return Err(Error::BadConfigLine {
                    what: "the environment entry",
                    value: entry.clone(),
                });
            }
            match entry.split_once('=') {
                Some((key, _)) if !key.is_empty() => {}
                _ => {
                    return Err(Error::NotKeyValue {
                        what: "the environment entry",
                        value: entry.clone(),
                    });
                }
            }
        }
        Ok(Self { cmd, env })
    }

    fn lines(entries: &[String]) -> Vec<u8> {
        entries
            .iter()
            .flat_map(|e| e.bytes().chain([b'\n']))
            .collect()
    }

    /// `/cmd`'s bytes: one argument per line.
    pub fn cmd_file(&self) -> Vec<u8> {
        Self::lines(&self.cmd)
    }

    /// `/env`'s bytes: one entry per line.
    pub fn env_file(&self) -> Vec<u8> {
        Self::lines(&self.env)
    }
}

/// The app ramdisk: `cmd`, `env`, `rootfs/` and its directories, the app binary.
pub fn app_ramdisk(config: &AppConfig, app: &[u8]) -> Result<Ramdisk, Error> {
    let mut ramdisk = Ramdisk::new();
    ramdisk
        .file("cmd", CONFIG_MODE, config.cmd_file())?
        .file("env", CONFIG_MODE, config.env_file())?
        .dir("rootfs", DIR_MODE)?;
    for dir in ROOTFS_DIRS {
        ramdisk.dir(&format!("rootfs/{dir}"), DIR_MODE)?;
    }
    ramdisk.file(APP_PATH, EXEC_MODE, app.to_vec())?;
    Ok(ramdisk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch() -> SourceDateEpoch {
        SourceDateEpoch::parse(Some("1700000000")).unwrap()
    }

    fn read_back(bytes: &[u8]) -> Vec<(String, u32, u32, u32, u32, Vec<u8>)> {
        let mut rest = bytes;
        let mut out = Vec::new();
        loop {
            let mut reader = cpio::NewcReader::new(rest).unwrap();
            if reader.entry().is_trailer() {
                break;
            }
            let e = reader.entry();
            let (name, mode, uid, gid, mtime) =
                (e.name().to_owned(), e.mode(), e.uid(), e.gid(), e.mtime());
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut reader, &mut data).unwrap();
            out.push((name, mode, uid, gid, mtime, data));
            rest = reader.finish().unwrap();
        }
        out
    }

    #[test]
    fn members_come_out_sorted_with_fixed_owner_and_time() {
        let config = AppConfig::new(
            vec!["/enclave-app".into(), "--mode".into(), "nitro".into()],
            vec!["A=1".into()],
        )
        .unwrap();
        let bytes = app_ramdisk(&config, b"ELF")
            .unwrap()
            .to_newc(epoch())
            .unwrap();
        let members = read_back(&bytes);
        let names: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "cmd",
                "env",
                "rootfs",
                "rootfs/dev",
                "rootfs/enclave-app",
                "rootfs/proc",
                "rootfs/run",
                "rootfs/sys",
                "rootfs/tmp",
                "rootfs/var"
            ]
        );
        for (name, _, uid, gid, mtime, _) in &members {
            assert_eq!((*uid, *gid, *mtime), (0, 0, 1_700_000_000), "{name}");
        }
        let by_name = |n: &str| members.iter().find(|m| m.0 == n).unwrap();
        assert_eq!(by_name("cmd").1, 0o100644);
        assert_eq!(by_name("cmd").5, b"/enclave-app\n--mode\nnitro\n");
        assert_eq!(by_name("env").5, b"A=1\n");
        assert_eq!(by_name("rootfs/tmp").1, 0o040755);
        assert_eq!(by_name("rootfs/enclave-app").1, 0o100755);
        assert_eq!(by_name("rootfs/enclave-app").5, b"ELF");
    }

    #[test]
    fn same_contents_same_bytes_whatever_the_insertion_order() {
        let mut a = Ramdisk::new();
        a.dir("d", 0o755)
            .unwrap()
            .file("d/x", 0o644, vec![1])
            .unwrap()
            .file("b", 0o644, vec![2])
            .unwrap();
        let mut b = Ramdisk::new();
        b.file("b", 0o644, vec![2])
            .unwrap()
            .file("d/x", 0o644, vec![1])
            .unwrap()
            .dir("d", 0o755)
            .unwrap();
        assert_eq!(a.to_newc(epoch()).unwrap(), b.to_newc(epoch()).unwrap());
    }

    #[test]
    fn layout_mistakes_are_errors() {
        let mut r = Ramdisk::new();
        r.file("a", 0o644, vec![]).unwrap();
        assert!(matches!(
            r.file("a", 0o644, vec![]),
            Err(Error::RamdiskLayout(_))
        ));
        for bad in ["", "/abs", "a/../b", "./a", "a//b", "dir/"] {
            assert!(
                matches!(Ramdisk::new().dir(bad, 0o755), Err(Error::RamdiskLayout(_))),
                "{bad:?}"
            );
        }
        let mut orphan = Ramdisk::new();
        orphan.file("missing/child", 0o644, vec![]).unwrap();
        assert!(matches!(
            orphan.to_newc(epoch()),
            Err(Error::RamdiskLayout(_))
        ));
    }

    #[test]
    fn config_lines_are_checked() {
        assert!(matches!(
            AppConfig::new(vec![], vec![]),
            Err(Error::EmptyCommand)
        ));
        assert!(matches!(
            AppConfig::new(vec!["a\nb".into()], vec![]),
            Err(Error::BadConfigLine { .. })
        ));
        assert!(matches!(
            AppConfig::new(vec!["a".into()], vec!["NOEQUALS".into()]),
            Err(Error::NotKeyValue { .. })
        ));
        assert!(matches!(
            AppConfig::new(vec!["a".into()], vec!["=v".into()]),
            Err(Error::NotKeyValue { .. })
        ));
        let ok = AppConfig::new(
            vec!["a".into()],
            vec!["EMPTY=".into(), "URL=https://x/?a=b".into()],
        )
        .unwrap();
        assert_eq!(ok.env_file(), b"EMPTY=\nURL=https://x/?a=b\n");
    }
}
