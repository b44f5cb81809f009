//! The generator binaries start and print their usage. (Also makes `cargo test --workspace`
//! build them, so `scripts/gen-bindings.sh` reuses the test build instead of compiling the
//! workspace again with another feature set.)

use std::process::Command;

fn usage(binary: &str) -> String {
    let out = Command::new(binary)
        .arg("--help")
        .output()
        .expect("the generator runs");
    assert!(out.status.success(), "{binary} --help failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn uniffi_bindgen_prints_usage() {
    assert!(usage(env!("CARGO_BIN_EXE_uniffi-bindgen")).contains("generate"));
}

#[test]
fn uniffi_bindgen_swift_prints_usage() {
    let text = usage(env!("CARGO_BIN_EXE_uniffi-bindgen-swift"));
    assert!(text.contains("--swift-sources") && text.contains("--modulemap"));
}
