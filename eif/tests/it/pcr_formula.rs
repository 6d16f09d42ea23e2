//! The PCRs recomputed here from AWS's published definition, with the `sha2`
//! crate directly (not the image-format crate's hasher): a PCR is the extend of 48
//! zero bytes by the SHA-384 of the measured sections' data,
//! `SHA-384(0^48 || SHA-384(data))`. PCR0 measures the kernel, the cmdline and both
//! ramdisks; PCR1 the kernel, the cmdline and the boot ramdisk; PCR2 the app
//! ramdisk. The section bytes are taken from the EIF by a walk of the format
//! written here (548-byte header, then 12-byte section headers: type u16, flags
//! u16, size u64, big-endian), and must be the builder's inputs.

use crate::stand_ins;
use sha2::{Digest, Sha384};
use std::fs;

fn extend(measured: &[&[u8]]) -> String {
    let mut inner = Sha384::new();
    for part in measured {
        inner.update(part);
    }
    let mut pcr = Sha384::new();
    pcr.update([0u8; 48]);
    pcr.update(inner.finalize());
    hex::encode(pcr.finalize())
}

/// (type, data) of every section, by our own reading of the format.
fn sections(eif: &[u8]) -> Vec<(u16, &[u8])> {
    assert_eq!(&eif[..4], b".eif");
    let mut offset = 548;
    let mut out = Vec::new();
    while offset < eif.len() {
        let kind = u16::from_be_bytes(eif[offset..offset + 2].try_into().unwrap());
        let size = usize::try_from(u64::from_be_bytes(
            eif[offset + 4..offset + 12].try_into().unwrap(),
        ))
        .unwrap();
        out.push((kind, &eif[offset + 12..offset + 12 + size]));
        offset += 12 + size;
    }
    assert_eq!(offset, eif.len());
    out
}

#[test]
fn pcrs_equal_the_published_formula() {
    let (_dir, inputs, built) = stand_ins::fresh_build();
    let eif = fs::read(&built.eif).unwrap();
    let kernel = fs::read(inputs.blobs.join("bzImage")).unwrap();
    let cmdline = fs::read(inputs.blobs.join("cmdline")).unwrap();
    let boot = fs::read(built.ramdisks.join("boot-ramdisk.cpio")).unwrap();
    let app = fs::read(built.ramdisks.join("app-ramdisk.cpio")).unwrap();

    // Kernel (1), cmdline (2), metadata (5), ramdisk (3), ramdisk (3): the order
    // nitro-cli's EIFs have, the measured ones being exactly the inputs.
    let found = sections(&eif);
    let kinds: Vec<u16> = found.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [1, 2, 5, 3, 3]);
    assert!(
        found[0].1 == kernel.as_slice(),
        "kernel section is not bzImage"
    );
    assert!(
        found[1].1 == cmdline.as_slice(),
        "cmdline section is not the cmdline blob, verbatim"
    );
    assert!(
        found[3].1 == boot.as_slice(),
        "first ramdisk is not the boot ramdisk"
    );
    assert!(
        found[4].1 == app.as_slice(),
        "second ramdisk is not the app ramdisk"
    );

    let expected = [
        ("PCR0", extend(&[&kernel, &cmdline, &boot, &app])),
        ("PCR1", extend(&[&kernel, &cmdline, &boot])),
        ("PCR2", extend(&[&app])),
    ];
    let printed = stand_ins::printed_pcrs(&built.stdout);
    let record = stand_ins::record(&built.pcrs_json);
    for (i, (name, value)) in expected.iter().enumerate() {
        assert_eq!(
            printed[i],
            (name.to_string(), value.clone()),
            "printed {name}"
        );
        assert_eq!(
            record["measurements"][name],
            value.as_str(),
            "pcrs.json {name}"
        );
    }

    // And `eif-build pcrs` (AWS's EifReader) recomputes the same from the file.
    let output = stand_ins::eif_build()
        .arg("pcrs")
        .arg(&built.eif)
        .output()
        .unwrap();
    stand_ins::assert_success(&output);
    assert_eq!(String::from_utf8(output.stdout).unwrap(), built.stdout);

    // pcrs.json carries the SHA-256 of every input.
    let sha = |bytes: &[u8]| eif_builder::sha256_hex(bytes);
    for name in ["bzImage", "bzImage.config", "cmdline", "init", "nsm.ko"] {
        let bytes = fs::read(inputs.blobs.join(name)).unwrap();
        assert_eq!(record["blobs"][name]["sha256"], sha(&bytes), "{name}");
        assert_eq!(record["blobs"][name]["size"], bytes.len());
    }
    assert_eq!(record["enclave_app_sha256"], sha(&stand_ins::app_bytes()));
    assert_eq!(record["ramdisks"]["boot"]["sha256"], sha(&boot));
    assert_eq!(record["ramdisks"]["app"]["sha256"], sha(&app));
    assert_eq!(record["source_date_epoch"], 1_795_000_000);
    assert_eq!(record["app"]["cmd"], serde_json::json!(stand_ins::CMD));
    assert_eq!(record["app"]["env"], serde_json::json!(stand_ins::ENV));
}
