//! Reading a file someone pointed us at (a config file, a key, a CA bundle, an egress
//! allowlist, a saved attestation document): one reader with a size cap.
//!
//! The cap is checked while reading (one byte past it is enough to know), so a wrong
//! path to a log, a device or a file that grows while being read fails with a clear
//! error instead of filling memory. Errors name the path, never the content.

use std::{
    io::Read,
    path::{Path, PathBuf},
};

use zeroize::Zeroizing;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// It could not be opened, inspected or read.
    #[error("cannot read {}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// It is a directory, a device or a pipe, not a regular file (only checked where
    /// the caller asks for a regular file: secrets).
    #[error("{} is not a regular file", path.display())]
    NotAFile {
        /// The file.
        path: PathBuf,
    },
    /// It holds more than the cap.
    #[error("{} is larger than {max} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The cap.
        max: u64,
    },
    /// It is not UTF-8 text (where text was asked for).
    #[error("{} is not UTF-8 text", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
}

impl FileError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Unreadable { path, .. }
            | Self::NotAFile { path }
            | Self::TooLarge { path, .. }
            | Self::NotText { path } => path,
        }
    }
}

/// Reads at most `max` bytes of `path`.
///
/// # Errors
/// [`FileError::Unreadable`] or [`FileError::TooLarge`].
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    let unreadable = |source| FileError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > max {
        return Err(FileError::TooLarge {
            path: path.to_owned(),
            max,
        });
    }
    Ok(bytes)
}

/// Reads at most `max` bytes of `path` as UTF-8 text.
///
/// # Errors
/// [`FileError::Unreadable`], [`FileError::TooLarge`] or [`FileError::NotText`].
pub fn read_text(path: &Path, max: u64) -> Result<String, FileError> {
    String::from_utf8(read_bounded(path, max)?).map_err(|_| FileError::NotText {
        path: path.to_owned(),
    })
}

/// Reads a small secret (a private key): a regular file of at most `max` bytes of
/// UTF-8, held in memory that is zeroized on drop. Warns through `tracing` when the
/// file is readable by its group or others (it still loads: this is for development,
/// and the warning says `chmod 600`).
///
/// # Errors
/// Any [`FileError`].
pub fn read_secret_text(path: &Path, max: u64) -> Result<Zeroizing<String>, FileError> {
    let meta = std::fs::metadata(path).map_err(|source| FileError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    if !meta.is_file() {
        return Err(FileError::NotAFile {
            path: path.to_owned(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "key file is readable by other users; chmod 600 it");
        }
    }
    let bytes = Zeroizing::new(read_bounded(path, max)?);
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(_) => Err(FileError::NotText {
            path: path.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn reads_up_to_the_cap_and_refuses_one_byte_more() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&[7u8; 16]).unwrap();
        assert_eq!(read_bounded(file.path(), 16).unwrap(), vec![7u8; 16]);
        let err = read_bounded(file.path(), 15).unwrap_err();
        assert!(matches!(err, FileError::TooLarge { max: 15, .. }), "{err}");
        assert_eq!(err.path(), file.path());
        assert!(err.to_string().contains("larger than 15 bytes"), "{err}");
    }

    #[test]
    fn errors_name_the_path_and_never_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let err = read_text(&missing, 10).unwrap_err();
        assert!(matches!(err, FileError::Unreadable { .. }), "{err}");
        assert!(err.to_string().contains("missing"), "{err}");

        let err = read_secret_text(dir.path(), 10).unwrap_err();
        assert!(matches!(err, FileError::NotAFile { .. }), "{err}");

        let mut secret = tempfile::NamedTempFile::new().unwrap();
        secret.write_all(b"\xffSECRET").unwrap();
        let err = read_secret_text(secret.path(), 100).unwrap_err();
        assert!(matches!(err, FileError::NotText { .. }), "{err}");
        assert!(!format!("{err} {err:?}").contains("SECRET"));
    }

    #[test]
    fn a_device_is_refused_without_reading_it_whole() {
        // /dev/zero never ends: only the cap stops the read.
        let err = read_bounded(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(matches!(err, FileError::TooLarge { .. }), "{err}");
        let err = read_secret_text(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(matches!(err, FileError::NotAFile { .. }), "{err}");
    }
}
