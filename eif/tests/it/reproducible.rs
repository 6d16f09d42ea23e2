//! The Must-show: two builds from clean, on different absolute paths, from inputs
//! with different file times, through different spellings of the same options,
//! give the same EIF bytes, the same PCRs and the same pcrs.json.

use crate::stand_ins::{self, EPOCH, Inputs};
use std::fs;
use std::path::Path;

#[test]
fn two_clean_builds_on_different_paths_are_byte_identical() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    // Build A: inputs dated 2010, absolute paths, epoch from the environment.
    let inputs_a = stand_ins::write_inputs(a.path(), stand_ins::mtime(10));
    let built_a = stand_ins::build(a.path(), &inputs_a, &a.path().join("out"), EPOCH, false);
    // Build B: somewhere deeper (with a space), inputs dated 2024, relative paths
    // from its own working directory, epoch from the flag.
    let root_b = b.path().join("another checkout").join("deeper");
    let inputs_b = stand_ins::write_inputs(&root_b, stand_ins::mtime(24));
    let relative = Inputs {
        blobs: "blobs".into(),
        app: "./enclave-app".into(),
    };
    let built_b = stand_ins::build(&root_b, &relative, Path::new("build/output"), EPOCH, true);

    // The inputs really differ in everything but their contents.
    assert_ne!(inputs_a.blobs, inputs_b.blobs);
    assert_ne!(
        fs::metadata(&inputs_a.app).unwrap().modified().unwrap(),
        fs::metadata(&inputs_b.app).unwrap().modified().unwrap()
    );

    let eif_a = fs::read(&built_a.eif).unwrap();
    let eif_b = fs::read(&built_b.eif).unwrap();
    assert!(eif_a.len() > 1 << 20, "the EIF holds the kernel at least");
    assert!(eif_a == eif_b, "the two EIFs differ");
    assert_eq!(built_a.stdout, built_b.stdout, "printed PCRs differ");
    assert_eq!(
        fs::read(&built_a.pcrs_json).unwrap(),
        fs::read(&built_b.pcrs_json).unwrap(),
        "pcrs.json differs"
    );
    for ramdisk in ["boot-ramdisk.cpio", "app-ramdisk.cpio"] {
        assert_eq!(
            fs::read(built_a.ramdisks.join(ramdisk)).unwrap(),
            fs::read(built_b.ramdisks.join(ramdisk)).unwrap(),
            "{ramdisk} differs"
        );
    }

    // What was printed is PCR0-2, 96 hex digits each, and the record says the same.
    let printed = stand_ins::printed_pcrs(&built_a.stdout);
    assert_eq!(
        printed.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["PCR0", "PCR1", "PCR2"]
    );
    let record = stand_ins::record(&built_a.pcrs_json);
    for (name, value) in &printed {
        assert_eq!(value.len(), 96);
        assert_eq!(record["measurements"][name], value.as_str());
    }
    assert_eq!(record["eif"]["sha256"], eif_builder::sha256_hex(&eif_a));

    // No path of either machine in the outputs.
    for dir in [a.path(), b.path()] {
        let needle = dir.to_str().unwrap().as_bytes();
        assert!(
            !eif_a.windows(needle.len()).any(|w| w == needle),
            "the EIF names {}",
            dir.display()
        );
        let json = fs::read(&built_a.pcrs_json).unwrap();
        assert!(
            !json.windows(needle.len()).any(|w| w == needle),
            "pcrs.json names {}",
            dir.display()
        );
    }
}

#[test]
fn each_input_moves_only_the_pcrs_that_measure_it() {
    let (dir, inputs, base) = stand_ins::fresh_build();
    let base_pcrs = stand_ins::printed_pcrs(&base.stdout);

    // Another app binary: PCR2 (and PCR0) change, PCR1 (kernel + boot ramdisk) does not.
    fs::write(&inputs.app, b"another enclave-app").unwrap();
    let other_app = stand_ins::build(
        dir.path(),
        &inputs,
        &dir.path().join("other-app"),
        EPOCH,
        false,
    );
    let pcrs = stand_ins::printed_pcrs(&other_app.stdout);
    assert_ne!(pcrs[0], base_pcrs[0]);
    assert_eq!(pcrs[1], base_pcrs[1]);
    assert_ne!(pcrs[2], base_pcrs[2]);

    // Another SOURCE_DATE_EPOCH: both ramdisks' mtimes change, so PCR1 and PCR2.
    fs::write(&inputs.app, stand_ins::app_bytes()).unwrap();
    let other_time = stand_ins::build(
        dir.path(),
        &inputs,
        &dir.path().join("other-time"),
        "1795000001",
        false,
    );
    let pcrs = stand_ins::printed_pcrs(&other_time.stdout);
    assert_ne!(pcrs[1], base_pcrs[1]);
    assert_ne!(pcrs[2], base_pcrs[2]);

    // Back to the first inputs: the first PCRs again.
    let again = stand_ins::build(dir.path(), &inputs, &dir.path().join("again"), EPOCH, false);
    assert_eq!(again.stdout, base.stdout);
}
