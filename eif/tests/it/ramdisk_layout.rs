//! The ramdisks, read back with the `cpio` crate's newc reader: nitro-cli's layout,
//! sorted, owner 0:0, every mtime SOURCE_DATE_EPOCH, the inputs' bytes.

use crate::stand_ins::{self, CMD, ENV};
use std::fs;
use std::io::Read;

struct Member {
    name: String,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u32,
    data: Vec<u8>,
}

fn members(mut archive: &[u8]) -> Vec<Member> {
    let mut out = Vec::new();
    loop {
        let mut reader = cpio::NewcReader::new(archive).unwrap();
        if reader.entry().is_trailer() {
            break;
        }
        let e = reader.entry();
        let (name, mode, uid, gid, mtime) =
            (e.name().to_owned(), e.mode(), e.uid(), e.gid(), e.mtime());
        let mut data = Vec::new();
        reader.read_to_end(&mut data).unwrap();
        out.push(Member {
            name,
            mode,
            uid,
            gid,
            mtime,
            data,
        });
        archive = reader.finish().unwrap();
    }
    out
}

#[test]
fn the_ramdisks_hold_nitro_clis_layout_and_nothing_of_the_machine() {
    let (_dir, inputs, built) = stand_ins::fresh_build();
    let epoch: u32 = stand_ins::EPOCH.parse().unwrap();

    let boot = members(&fs::read(built.ramdisks.join("boot-ramdisk.cpio")).unwrap());
    let app = members(&fs::read(built.ramdisks.join("app-ramdisk.cpio")).unwrap());
    for m in boot.iter().chain(&app) {
        assert_eq!((m.uid, m.gid), (0, 0), "{} is owned by root", m.name);
        assert_eq!(m.mtime, epoch, "{}'s mtime is SOURCE_DATE_EPOCH", m.name);
    }

    let layout = |ms: &[Member]| {
        ms.iter()
            .map(|m| (m.name.clone(), m.mode))
            .collect::<Vec<_>>()
    };
    let own = |pairs: &[(&str, u32)]| {
        pairs
            .iter()
            .map(|(n, m)| (n.to_string(), *m))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        layout(&boot),
        own(&[("dev", 0o040755), ("init", 0o100755), ("nsm.ko", 0o100755)])
    );
    assert_eq!(
        layout(&app),
        own(&[
            ("cmd", 0o100644),
            ("env", 0o100644),
            ("rootfs", 0o040755),
            ("rootfs/dev", 0o040755),
            ("rootfs/enclave-app", 0o100755),
            ("rootfs/proc", 0o040755),
            ("rootfs/run", 0o040755),
            ("rootfs/sys", 0o040755),
            ("rootfs/tmp", 0o040755),
            ("rootfs/var", 0o040755),
        ])
    );

    let data = |ms: &[Member], name: &str| ms.iter().find(|m| m.name == name).unwrap().data.clone();
    assert_eq!(
        data(&boot, "init"),
        fs::read(inputs.blobs.join("init")).unwrap()
    );
    assert_eq!(
        data(&boot, "nsm.ko"),
        fs::read(inputs.blobs.join("nsm.ko")).unwrap()
    );
    assert_eq!(data(&app, "rootfs/enclave-app"), stand_ins::app_bytes());
    let lines = |entries: &[&str]| {
        entries
            .iter()
            .map(|e| format!("{e}\n"))
            .collect::<String>()
            .into_bytes()
    };
    assert_eq!(data(&app, "cmd"), lines(&CMD));
    assert_eq!(data(&app, "env"), lines(&ENV));
}
