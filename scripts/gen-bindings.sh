#!/usr/bin/env bash
# Generates the Python bindings of trellis-ffi (UniFFI) into bindings/python/.
#
#   scripts/gen-bindings.sh           build the library and (re)write bindings/python/trellis_ffi.py
#   scripts/gen-bindings.sh --check   regenerate into a temporary directory and fail if the
#                                     committed bindings differ (drift check)
#
# Honours CARGO_TARGET_DIR (default: ./target). Output is produced with --no-format so it is
# identical on every machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT_DIR="$ROOT/bindings/python"

check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

cargo build --locked -p trellis-ffi -p uniffi-bindgen >&2

case "$(uname -s)" in
  Darwin) LIB="$TARGET_DIR/debug/libtrellis_ffi.dylib" ;;
  *) LIB="$TARGET_DIR/debug/libtrellis_ffi.so" ;;
esac
BINDGEN="$TARGET_DIR/debug/uniffi-bindgen"

generate() {
  "$BINDGEN" generate "$LIB" --language python --no-format --out-dir "$1" >&2
}

if [ "$check" = 1 ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  if ! diff -u "$OUT_DIR/trellis_ffi.py" "$tmp/trellis_ffi.py" >"$tmp/drift.diff"; then
    head -40 "$tmp/drift.diff" >&2
    echo "gen-bindings: bindings/python/trellis_ffi.py is out of date; run scripts/gen-bindings.sh" >&2
    exit 1
  fi
  echo "gen-bindings: Python bindings are up to date"
else
  mkdir -p "$OUT_DIR"
  generate "$OUT_DIR"
  echo "gen-bindings: wrote $OUT_DIR/trellis_ffi.py"
fi
