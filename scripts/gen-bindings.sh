#!/usr/bin/env bash
# Generates the Python, Kotlin and Swift bindings of trellis-ffi (UniFFI) from the built
# library into their committed locations:
#
#   bindings/python/trellis_ffi.py
#   bindings/kotlin/uniffi/trellis_ffi/trellis_ffi.kt
#   bindings/swift/Sources/Trellis/trellis_ffi.swift
#   bindings/swift/Sources/trellis_ffiFFI/include/{trellis_ffiFFI.h,module.modulemap}
#
#   scripts/gen-bindings.sh           build the library and (re)write the bindings
#   scripts/gen-bindings.sh --check   regenerate into a temporary directory and fail if the
#                                     committed bindings differ (drift check)
#
# Honours CARGO_TARGET_DIR (default: ./target). Output is produced with --no-format so it is
# identical on every machine.
#
# Build: by default the library and the generator are built by `cargo test --workspace
# --no-run`, i.e. with exactly the feature set of the test suite (scripts/test.sh runs
# `cargo test --workspace` first, so this is a no-op there). `cargo build -p trellis-ffi`
# alone resolves features differently (dev-dependencies enable more features of tokio,
# serde_json, regex, libc, ...) and recompiled llama.cpp and most of the workspace in the
# same target directory. TRELLIS_FFI_BUILD=package builds only the two packages instead
# (quicker in a target directory of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

# Builds, then records where cargo put the library and the generators (a cdylib's file in
# deps/ is not copied to debug/ by `cargo test`) in $ARTIFACTS for scripts/test-bindings.sh.
ARTIFACTS="$TARGET_DIR/trellis-ffi-artifacts.env"
case "${TRELLIS_FFI_BUILD:-workspace}" in
  workspace) build=(cargo test --workspace --locked --no-run) ;;
  package) build=(cargo build --locked -p trellis-ffi -p uniffi-bindgen) ;;
  *) echo "gen-bindings: TRELLIS_FFI_BUILD must be 'workspace' or 'package'" >&2; exit 2 ;;
esac
mkdir -p "$TARGET_DIR"
set +e
"${build[@]}" --message-format=json-render-diagnostics | python3 -c '
import json, sys
found = {}
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or m["profile"]["test"]:
        continue
    name, kinds = m["target"]["name"], m["target"]["kind"]
    if name == "trellis_ffi" and "cdylib" in kinds:
        for f in m["filenames"]:
            if f.endswith((".so", ".dylib")):
                found["LIB"] = f
    elif name == "uniffi-bindgen" and "bin" in kinds:
        found["BINDGEN"] = m["executable"]
    elif name == "uniffi-bindgen-swift" and "bin" in kinds:
        found["BINDGEN_SWIFT"] = m["executable"]
for key in ("LIB", "BINDGEN", "BINDGEN_SWIFT"):
    if key not in found:
        sys.exit(f"gen-bindings: cargo did not report the {key} artifact")
    print(f"{key}={found[key]}")
' >"$ARTIFACTS.tmp"
statuses=("${PIPESTATUS[@]}")
set -e
if [ "${statuses[0]}" != 0 ]; then
  echo "gen-bindings: the build failed: ${build[*]}" >&2
  exit 1
fi
[ "${statuses[1]}" = 0 ] || exit 1
mv "$ARTIFACTS.tmp" "$ARTIFACTS"
# shellcheck disable=SC1090
. "$ARTIFACTS"

# The files generated into a tree rooted at $1 (same relative paths as in bindings/).
FILES=(
  python/trellis_ffi.py
  kotlin/uniffi/trellis_ffi/trellis_ffi.kt
  swift/Sources/Trellis/trellis_ffi.swift
  swift/Sources/trellis_ffiFFI/include/trellis_ffiFFI.h
  swift/Sources/trellis_ffiFFI/include/module.modulemap
)

generate() {
  local out="$1" tmp
  tmp="$(mktemp -d)"
  "$BINDGEN" generate "$LIB" --language python --no-format --out-dir "$out/python" >&2
  "$BINDGEN" generate "$LIB" --language kotlin --no-format --out-dir "$out/kotlin" >&2
  # Swift: sources, header and a SwiftPM/Xcode-style modulemap, as the C module the
  # generated Swift imports (`trellis_ffiFFI`).
  "$BINDGEN_SWIFT" "$LIB" "$tmp" --swift-sources --headers --modulemap \
    --module-name trellis_ffiFFI --modulemap-filename module.modulemap >&2
  mkdir -p "$out/swift/Sources/Trellis" "$out/swift/Sources/trellis_ffiFFI/include"
  mv "$tmp/trellis_ffi.swift" "$out/swift/Sources/Trellis/"
  mv "$tmp/trellis_ffiFFI.h" "$tmp/module.modulemap" "$out/swift/Sources/trellis_ffiFFI/include/"
  rm -rf "$tmp"
}

if [ "$check" = 1 ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  drift=0
  for f in "${FILES[@]}"; do
    if ! diff -u "bindings/$f" "$tmp/$f" >"$tmp/drift.diff" 2>&1; then
      head -40 "$tmp/drift.diff" >&2
      echo "gen-bindings: bindings/$f is out of date" >&2
      drift=1
    fi
  done
  if [ "$drift" = 1 ]; then
    echo "gen-bindings: generated bindings differ from the library; run scripts/gen-bindings.sh" >&2
    exit 1
  fi
  echo "gen-bindings: Python, Kotlin and Swift bindings are up to date (${#FILES[@]} files)"
else
  generate "$ROOT/bindings"
  for f in "${FILES[@]}"; do echo "gen-bindings: wrote bindings/$f"; done
fi
