//! UniFFI's Swift packaging generator (`--swift-sources`, `--headers`, `--modulemap`), pinned
//! to the workspace's uniffi version. Run through `scripts/gen-bindings.sh`.

fn main() {
    uniffi::uniffi_bindgen_swift()
}
