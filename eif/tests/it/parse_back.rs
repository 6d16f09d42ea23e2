//! The EIF parses back with AWS's image-format crate (the reader nitro-cli's
//! `describe-eif` and the loader use), and its sections are the inputs.

use crate::stand_ins;
use aws_nitro_enclaves_image_format::defs::{
    CURRENT_VERSION, EIF_MAGIC, EifHeader, EifSectionHeader, EifSectionType,
};
use aws_nitro_enclaves_image_format::utils::eif_reader::EifReader;
use std::fs;

#[test]
fn the_eif_parses_back_with_the_image_format_crate() {
    let (_dir, inputs, built) = stand_ins::fresh_build();
    let eif = fs::read(&built.eif).unwrap();

    let mut reader = EifReader::from_eif(built.eif.to_str().unwrap().to_owned()).unwrap();
    let header = reader.get_header();
    assert_eq!(header.magic, EIF_MAGIC);
    assert_eq!(header.version, CURRENT_VERSION);
    assert_eq!(header.flags, 0, "x86_64");
    assert_eq!(header.num_sections, 5);
    assert!(reader.check_crc(), "the header's CRC32 matches the content");
    assert!(reader.signature_section.is_none(), "unsigned");

    // The crate's PCRs are the ones the builder printed and recorded.
    let measurements = reader.get_measurements().unwrap();
    for (name, value) in stand_ins::printed_pcrs(&built.stdout) {
        assert_eq!(measurements[&name], value);
    }
    assert!(!measurements.contains_key("PCR8"));
    assert_eq!(
        measurements["HashAlgorithm"],
        stand_ins::record(&built.pcrs_json)["measurements"]["HashAlgorithm"]
    );

    // The metadata section: no wall clock, no host; the kernel version from the config.
    let metadata = reader.get_metadata().unwrap();
    assert_eq!(metadata.build_info.build_time, "2026-11-18T11:06:40+00:00");
    assert_eq!(metadata.build_info.build_tool, "eif-builder");
    assert_eq!(metadata.build_info.img_os, "Linux");
    assert_eq!(metadata.build_info.img_kernel, "6.12.37");
    assert_eq!(metadata.img_name, "enclave-lottery");

    // Each section, found through the header's table, holds exactly its input.
    let expected: [(EifSectionType, Vec<u8>); 5] = [
        (
            EifSectionType::EifSectionKernel,
            fs::read(inputs.blobs.join("bzImage")).unwrap(),
        ),
        (
            EifSectionType::EifSectionCmdline,
            stand_ins::KERNEL_CMDLINE.as_bytes().to_vec(),
        ),
        (
            EifSectionType::EifSectionMetadata,
            serde_json::to_vec(&metadata).unwrap(),
        ),
        (
            EifSectionType::EifSectionRamdisk,
            fs::read(built.ramdisks.join("boot-ramdisk.cpio")).unwrap(),
        ),
        (
            EifSectionType::EifSectionRamdisk,
            fs::read(built.ramdisks.join("app-ramdisk.cpio")).unwrap(),
        ),
    ];
    let header = EifHeader::from_be_bytes(&eif[..EifHeader::size()]).unwrap();
    for (i, (kind, data)) in expected.iter().enumerate() {
        let offset = usize::try_from(header.section_offsets[i]).unwrap();
        let section =
            EifSectionHeader::from_be_bytes(&eif[offset..offset + EifSectionHeader::size()])
                .unwrap();
        assert_eq!(section.section_type, *kind, "section {i}");
        assert_eq!(section.section_size, header.section_sizes[i]);
        let start = offset + EifSectionHeader::size();
        let body = &eif[start..start + usize::try_from(section.section_size).unwrap()];
        assert!(
            body == data.as_slice(),
            "section {i} ({kind:?}) is not its input"
        );
    }

    // `eif-build pcrs --json` reports the same structure.
    let output = stand_ins::eif_build()
        .arg("pcrs")
        .arg("--json")
        .arg(&built.eif)
        .output()
        .unwrap();
    stand_ins::assert_success(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["version"], 4);
    let kinds: Vec<&str> = json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["kernel", "cmdline", "metadata", "ramdisk", "ramdisk"]
    );
    assert_eq!(
        json["measurements"],
        stand_ins::record(&built.pcrs_json)["measurements"]
    );
    assert_eq!(
        json["metadata"]["BuildMetadata"]["BuildTool"],
        "eif-builder"
    );
}
