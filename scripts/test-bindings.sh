#!/usr/bin/env bash
# Builds trellis-ffi, checks that the committed Python bindings match the library (drift
# check), then runs the Python tests (pytest) against the real bundled model.
#
# Honours CARGO_TARGET_DIR (default: ./target). Installs pytest for the system python3 if it
# is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

bash scripts/gen-bindings.sh --check

case "$(uname -s)" in
  Darwin) LIB="$TARGET_DIR/debug/libtrellis_ffi.dylib" ;;
  *) LIB="$TARGET_DIR/debug/libtrellis_ffi.so" ;;
esac
# The generated module loads the library from its own directory.
cp "$LIB" bindings/python/

if ! python3 -c 'import pytest' 2>/dev/null; then
  echo "test-bindings: installing pytest" >&2
  python3 -m pip install --quiet pytest 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages pytest 2>/dev/null \
    || { echo "test-bindings: could not install pytest with pip" >&2; exit 1; }
fi

export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
echo "== pytest (bindings/python/tests) =="
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
python3 -m pytest -q -p no:cacheprovider bindings/python/tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo "test-bindings: $(tail -n 1 "$log")"
exit "$status"
