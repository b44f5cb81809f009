#!/usr/bin/env bash
# Tests the UniFFI bindings of trellis-ffi against the real bundled model:
#
#   1. drift check: the committed Python, Kotlin and Swift sources match the library
#      (scripts/gen-bindings.sh --check, which also builds the library);
#   2. Python: pytest (bindings/python/tests);
#   3. Kotlin: compiles bindings/kotlin (generated + layer + tests) with kotlinc and runs the
#      test runner on the JVM (JNA loads the library);
#   4. Swift: bindings/swift/check.sh (header compiles and links with a C compiler, API
#      checksums match; `swift test` when a Swift toolchain exists).
#
# Every part runs even when an earlier one fails; each prints a summary line, and the script
# fails if any part failed. Honours CARGO_TARGET_DIR (default: ./target) and
# TRELLIS_CACHE_DIR (where the Kotlin compiler is installed, default ~/.cache/trellis).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
CACHE_DIR="${TRELLIS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

start=$SECONDS
summaries=()
failures=0
record() { # record STATUS SUMMARY
  summaries+=("$2")
  [ "$1" = 0 ] || failures=$((failures + 1))
}

echo "== bindings drift check =="
set +e
bash scripts/gen-bindings.sh --check
status=$?
set -e
if [ "$status" = 0 ]; then
  record 0 "drift check: Python, Kotlin and Swift bindings up to date"
else
  record 1 "drift check: FAILED (build error or out-of-date bindings, see above)"
fi
# Where cargo put the library (written by gen-bindings.sh).
if [ ! -f "$TARGET_DIR/trellis-ffi-artifacts.env" ]; then
  echo "test-bindings: the library was never built (see the build error above); stopping" >&2
  exit 1
fi
# shellcheck disable=SC1091
. "$TARGET_DIR/trellis-ffi-artifacts.env"
LIB_DIR="$(dirname "$LIB")"

# ---- Python ---------------------------------------------------------------------------------
echo "== Python: pytest (bindings/python/tests) =="
# The generated module loads the library from its own directory.
cp "$LIB" bindings/python/
if ! python3 -c 'import pytest' 2>/dev/null; then
  echo "test-bindings: installing pytest" >&2
  python3 -m pip install --quiet pytest 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages pytest 2>/dev/null \
    || { echo "test-bindings: could not install pytest with pip" >&2; exit 1; }
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
python3 -m pytest -q -p no:cacheprovider bindings/python/tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
record "$status" "pytest: $(tail -n 1 "$log" | sed 's/^=* *//; s/ *=*$//')"

# ---- Kotlin ---------------------------------------------------------------------------------
echo "== Kotlin: kotlinc + test runner (bindings/kotlin) =="
KOTLIN_HOME="$CACHE_DIR/kotlin/node_modules/kotlin-compiler"
KOTLINC="$KOTLIN_HOME/bin/kotlinc"
JNA_JAR="${JNA_JAR:-/usr/share/java/jna.jar}"
COROUTINES_JAR="$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar"
STDLIB_JAR="$KOTLIN_HOME/lib/kotlin-stdlib.jar"
kotlin_status=0
if [ ! -x "$KOTLINC" ]; then
  echo "test-bindings: installing kotlin-compiler@2.4.20 into $CACHE_DIR/kotlin (npm)" >&2
  mkdir -p "$CACHE_DIR/kotlin"
  npm install --silent --no-audit --no-fund --prefix "$CACHE_DIR/kotlin" kotlin-compiler@2.4.20 >&2 \
    || kotlin_status=1
fi
for f in "$KOTLINC" "$JNA_JAR" "$COROUTINES_JAR" "$STDLIB_JAR"; do
  [ -e "$f" ] || { echo "test-bindings: missing $f (scripts/install-deps.sh --bindings installs JNA and the JDK)" >&2; kotlin_status=1; }
done
command -v javac >/dev/null || { echo "test-bindings: javac missing (scripts/install-deps.sh --bindings)" >&2; kotlin_status=1; }
if [ "$kotlin_status" = 0 ]; then
  KT_SOURCES=(bindings/kotlin/uniffi/trellis_ffi/trellis_ffi.kt bindings/kotlin/trellis/Trellis.kt
              bindings/kotlin/tests/TrellisTests.kt)
  KT_OUT="bindings/kotlin/build"
  # One kotlinc run (~20 s+); skipped when the sources and the compiler are unchanged.
  stamp="$(cat "${KT_SOURCES[@]}" "$KOTLINC" | sha256sum | cut -c1-16)"
  JAR="$KT_OUT/trellis-tests-$stamp.jar"
  if [ ! -f "$JAR" ]; then
    rm -rf "$KT_OUT"
    mkdir -p "$KT_OUT"
    echo "test-bindings: compiling Kotlin (${#KT_SOURCES[@]} files)" >&2
    set +e
    "$KOTLINC" -nowarn "${KT_SOURCES[@]}" -cp "$COROUTINES_JAR:$JNA_JAR" -d "$JAR.tmp.jar" 2>&1 \
      | grep -v '^warning: unable to find kotlin-stdlib.jar'
    kotlin_status=${PIPESTATUS[0]}
    set -e
    [ "$kotlin_status" = 0 ] && mv "$JAR.tmp.jar" "$JAR"
  fi
fi
if [ "$kotlin_status" = 0 ]; then
  set +e
  java -Djna.library.path="$LIB_DIR" -cp "$JAR:$STDLIB_JAR:$COROUTINES_JAR:$JNA_JAR" \
    trellis.tests.TrellisTestsKt 2>&1 | tee "$log"
  kotlin_status=${PIPESTATUS[0]}
  set -e
  record "$kotlin_status" "$(grep '^kotlin tests:' "$log" || echo "kotlin tests: runner failed (status $kotlin_status)")"
else
  record 1 "kotlin tests: not run (toolchain or compile failure above)"
fi

# ---- Swift ----------------------------------------------------------------------------------
echo "== Swift: header, link and checksum checks (bindings/swift) =="
set +e
LIB="$LIB" bash bindings/swift/check.sh 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
record "$status" "$(grep '^swift checks:' "$log" | tail -n 1 || echo "swift checks: failed (status $status)")"

echo "== bindings summary ($((SECONDS - start)) s) =="
for s in "${summaries[@]}"; do echo "test-bindings: $s"; done
[ "$failures" = 0 ] || { echo "test-bindings: $failures part(s) failed" >&2; exit 1; }
