//! Malformed input gives a clear error and exit code 1, never a panic: garbage,
//! truncated and corrupted EIFs to `eif-build pcrs`, and bad build inputs.

use crate::stand_ins::{self, EPOCH};
use std::fs;
use std::path::Path;

/// Runs `eif-build pcrs FILE` and checks it fails cleanly with `expected` in its message.
fn pcrs_fails(file: &Path, expected: &str) {
    let output = stand_ins::eif_build()
        .arg("pcrs")
        .arg(file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "exit code for {}: {stderr}",
        file.display()
    );
    assert!(output.stdout.is_empty(), "no PCRs printed for a bad file");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
}

#[test]
fn garbage_and_truncated_eifs_fail_with_a_clear_message() {
    let (dir, _inputs, built) = stand_ins::fresh_build();
    let good = fs::read(&built.eif).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        fs::write(&path, bytes).unwrap();
        path
    };

    pcrs_fails(
        &dir.path().join("absent.eif"),
        "cannot read the enclave image",
    );
    pcrs_fails(
        &write("empty.eif", b""),
        "shorter than the 548-byte EIF header",
    );
    pcrs_fails(
        &write("short.eif", &stand_ins::bytes(9, 100)),
        "shorter than the 548-byte EIF header",
    );
    pcrs_fails(
        &write("garbage.eif", &stand_ins::bytes(9, 64 << 10)),
        "does not start with the EIF magic",
    );
    pcrs_fails(
        &write("header-only.eif", &good[..548]),
        "declares 5 sections, the file holds 0",
    );
    pcrs_fails(
        &write("cut-in-section-header.eif", &good[..548 + 5]),
        "is cut off",
    );
    pcrs_fails(
        &write("cut-in-kernel.eif", &good[..good.len() / 3]),
        "past the end of the file",
    );
    pcrs_fails(
        &write("cut-by-one.eif", &good[..good.len() - 1]),
        "past the end of the file",
    );

    // A magic followed by garbage: the section table is nonsense.
    let mut magic_then_garbage = b".eif".to_vec();
    magic_then_garbage.extend(stand_ins::bytes(10, 4096));
    pcrs_fails(
        &write("magic-garbage.eif", &magic_then_garbage),
        "not a valid enclave image file",
    );

    // Zero sections declared (bytes 26..28 of the header).
    let mut no_sections = good.clone();
    no_sections[26..28].copy_from_slice(&0u16.to_be_bytes());
    pcrs_fails(
        &write("no-sections.eif", &no_sections),
        "declares 0 sections",
    );

    // The kernel section claims (almost) 2^64 bytes: AWS's reader would try to
    // allocate that; ours refuses first.
    let mut huge = good.clone();
    huge[548 + 4..548 + 12].copy_from_slice(&(u64::MAX - 1).to_be_bytes());
    pcrs_fails(
        &write("huge-section.eif", &huge),
        "past the end of the file",
    );

    // An unknown section type.
    let mut unknown = good.clone();
    unknown[548..550].copy_from_slice(&77u16.to_be_bytes());
    pcrs_fails(&write("unknown-type.eif", &unknown), "unknown type 77");

    // Bytes after the last section.
    let mut trailing = good.clone();
    trailing.extend([0u8; 64]);
    pcrs_fails(
        &write("trailing.eif", &trailing),
        "more sections than the 5 its header declares",
    );

    // One flipped bit in the kernel: the structure holds, the CRC does not.
    let mut flipped = good;
    flipped[548 + 12 + 1000] ^= 1;
    pcrs_fails(&write("flipped.eif", &flipped), "the file is corrupt");
}

/// Runs `eif-build build` with `args` and checks it fails cleanly.
fn build_fails(envs: &[(&str, &str)], args: &[&str], code: i32, expected: &str) {
    let (dir, inputs, _) = stand_ins::fresh_build();
    let mut command = stand_ins::eif_build();
    command
        .current_dir(dir.path())
        .envs(envs.iter().copied())
        .arg("build");
    if !args.contains(&"--blobs") {
        command.arg("--blobs").arg(&inputs.blobs);
    }
    let output = command
        .arg("--app")
        .arg(&inputs.app)
        .args(["--output", "x.eif", "--pcrs-json", "x.json"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
    assert!(
        !dir.path().join("x.eif").exists(),
        "nothing written on failure"
    );
}

#[test]
fn bad_build_inputs_fail_before_anything_is_written() {
    build_fails(
        &[],
        &["--", "/enclave-app"],
        1,
        "SOURCE_DATE_EPOCH is not set",
    );
    build_fails(
        &[("SOURCE_DATE_EPOCH", "yesterday")],
        &["--", "/enclave-app"],
        1,
        "is not a Unix time",
    );
    build_fails(
        &[],
        &["--source-date-epoch=-5", "--", "/enclave-app"],
        1,
        "is not a Unix time",
    );
    build_fails(
        &[("SOURCE_DATE_EPOCH", EPOCH)],
        &["--blobs", "/nonexistent", "--", "/enclave-app"],
        1,
        "cannot read the kernel (bzImage)",
    );
    build_fails(
        &[("SOURCE_DATE_EPOCH", EPOCH)],
        &["--env", "NOVALUE", "--", "/enclave-app"],
        1,
        "is not KEY=VALUE",
    );
    build_fails(
        &[("SOURCE_DATE_EPOCH", EPOCH)],
        &["--env", "A=line\nbreak", "--", "/enclave-app"],
        1,
        "contains a newline",
    );
    // No command at all: a usage error (clap's exit code 2).
    build_fails(&[("SOURCE_DATE_EPOCH", EPOCH)], &[], 2, "CMD");
}
