#!/usr/bin/env bash
# Checks the Swift package in bindings/swift as far as this machine allows:
#
#   1. drift: regenerates the Swift sources, header and modulemap from the library and diffs
#      them against the committed ones;
#   2. C: compiles a C program against the generated header (gcc/cc; Clang's nullability
#      qualifiers defined away), links it with the built library and runs it: the UniFFI
#      contract version, every API checksum the generated Swift checks at start-up (compared
#      with the value the library returns), and a few real calls through the C ABI;
#   3. Swift: `swift test` when `swift --version` works; otherwise says why it was skipped.
#
# Prints `swift checks: ...` as its last line; exits non-zero when a check fails.
# Run by scripts/test-bindings.sh; standalone it builds the library first (via
# scripts/gen-bindings.sh --check). Honours CARGO_TARGET_DIR.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
ARTIFACTS="$TARGET_DIR/trellis-ffi-artifacts.env"
[ -f "$ARTIFACTS" ] || bash scripts/gen-bindings.sh --check >&2
# shellcheck disable=SC1090
. "$ARTIFACTS"
LIB_DIR="$(dirname "$LIB")"
LIB_NAME="$(basename "$LIB")"
SWIFT_FILE="$HERE/Sources/Trellis/trellis_ffi.swift"
INCLUDE="$HERE/Sources/trellis_ffiFFI/include"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "swift checks: FAILED: $*"; exit 1; }

# ---- 1. drift -------------------------------------------------------------------------------
"$BINDGEN_SWIFT" "$LIB" "$tmp/gen" --swift-sources --headers --modulemap \
  --module-name trellis_ffiFFI --modulemap-filename module.modulemap >/dev/null
for pair in "trellis_ffi.swift:$SWIFT_FILE" "trellis_ffiFFI.h:$INCLUDE/trellis_ffiFFI.h" \
            "module.modulemap:$INCLUDE/module.modulemap"; do
  generated="$tmp/gen/${pair%%:*}" committed="${pair#*:}"
  diff -u "$committed" "$generated" >"$tmp/drift.diff" \
    || { head -30 "$tmp/drift.diff"; fail "${committed#"$ROOT"/} is out of date (run scripts/gen-bindings.sh)"; }
done
echo "swift: generated sources, header and modulemap match the library"

# ---- 2. C program against the header and the library ----------------------------------------
# The checksums the generated Swift verifies on first use: `if (uniffi_..._checksum_X() != N)`.
sed -n 's/.*if (\(uniffi_trellis_ffi_checksum_[a-z0-9_]*\)() != \([0-9]*\)).*/\1 \2/p' \
  "$SWIFT_FILE" >"$tmp/checksums.txt"
expected=$(wc -l <"$tmp/checksums.txt")
[ "$expected" -gt 0 ] || fail "no checksums found in the generated Swift"
# The index the generated Swift decodes as TrellisError.ModelNotFound.
not_found=$(sed -n 's/.*case \([0-9]*\): return \.ModelNotFound(.*/\1/p' "$SWIFT_FILE")
[ -n "$not_found" ] || fail "TrellisError.ModelNotFound not found in the generated Swift"
contract=$(sed -n 's/.*let bindings_contract_version = \([0-9]*\).*/\1/p' "$SWIFT_FILE")
[ -n "$contract" ] || fail "no contract version in the generated Swift"

{
  cat <<'EOF'
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "trellis_ffiFFI.h"

struct checksum { const char *name; uint16_t (*get)(void); uint16_t expected; };
static const struct checksum CHECKSUMS[] = {
EOF
  while read -r fn value; do echo "    {\"$fn\", $fn, $value},"; done <"$tmp/checksums.txt"
  cat <<EOF
};
#define CONTRACT_VERSION $contract
#define MODEL_NOT_FOUND $not_found
EOF
  cat <<'EOF'

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int main(void) {
    int failures = 0;
    uint32_t version = ffi_trellis_ffi_uniffi_contract_version();
    if (version != CONTRACT_VERSION) {
        printf("contract version: library %u, bindings %u\n", version, CONTRACT_VERSION);
        failures++;
    }
    size_t n = sizeof CHECKSUMS / sizeof CHECKSUMS[0], matched = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t got = CHECKSUMS[i].get();
        if (got == CHECKSUMS[i].expected) {
            matched++;
        } else {
            printf("checksum mismatch: %s: library %u, Swift %u\n", CHECKSUMS[i].name, got,
                   CHECKSUMS[i].expected);
        }
    }
    printf("checksums matched: %zu/%zu\n", matched, n);
    failures += (int)(n - matched);

    /* A call through the C ABI: the bundled model's path (a string in a RustBuffer). */
    RustCallStatus status;
    memset(&status, 0, sizeof status);
    RustBuffer path = uniffi_trellis_ffi_fn_func_bundled_model_path(&status);
    if (status.code != 0 || path.len == 0 || path.data == NULL) {
        printf("bundled_model_path failed: status %d\n", status.code);
        failures++;
    } else {
        printf("bundled_model_path() = %.*s\n", (int)path.len, (const char *)path.data);
        if (path.len < 5 || memcmp(path.data + path.len - 5, ".gguf", 5) != 0) failures++;
        ffi_trellis_ffi_rustbuffer_free(path, &status);
    }

    /* A record: default_model_options() -> {context_size u32, threads u32, batch_size u32},
       serialized big-endian. */
    memset(&status, 0, sizeof status);
    RustBuffer options = uniffi_trellis_ffi_fn_func_default_model_options(&status);
    if (status.code != 0 || options.len != 12) {
        printf("default_model_options failed: status %d, %llu bytes\n", status.code,
               (unsigned long long)options.len);
        failures++;
    } else {
        uint32_t context = be32(options.data), threads = be32(options.data + 4),
                 batch = be32(options.data + 8);
        printf("default_model_options() = {context_size %u, threads %u, batch_size %u}\n",
               context, threads, batch);
        if (context == 0 || threads == 0 || batch == 0) failures++;
        ffi_trellis_ffi_rustbuffer_free(options, &status);
    }

    /* An error through the C ABI: loading a missing model gives an error status
       (code 1: a TrellisError, serialized into error_buf). */
    const char missing[] = "/nonexistent/trellis.gguf";
    memset(&status, 0, sizeof status);
    RustBuffer none = ffi_trellis_ffi_rustbuffer_alloc(1, &status);
    none.data[0] = 0; /* Option::None for the options */
    none.len = 1;
    /* The string argument is passed as a RustBuffer holding its UTF-8 bytes. */
    RustBuffer path_arg = ffi_trellis_ffi_rustbuffer_alloc(sizeof missing - 1, &status);
    memcpy(path_arg.data, missing, sizeof missing - 1);
    path_arg.len = sizeof missing - 1;
    memset(&status, 0, sizeof status);
    uint64_t handle = uniffi_trellis_ffi_fn_constructor_model_load(path_arg, none, &status);
    if (status.code != 1 || handle != 0) {
        printf("Model.load(missing) did not fail with an error status (code %d)\n", status.code);
        failures++;
    } else {
        /* error_buf: i32 variant index (1-based) then the fields. */
        uint32_t variant = be32(status.errorBuf.data);
        printf("Model.load(missing) -> TrellisError variant %u (Swift: ModelNotFound = %u)\n",
               variant, MODEL_NOT_FOUND);
        if (variant != MODEL_NOT_FOUND) failures++;
        RustCallStatus s2;
        memset(&s2, 0, sizeof s2);
        ffi_trellis_ffi_rustbuffer_free(status.errorBuf, &s2);
    }
    return failures == 0 ? 0 : 1;
}
EOF
} >"$tmp/check.c"

CC="${CC:-$(command -v gcc || command -v cc || true)}"
[ -n "$CC" ] || fail "no C compiler (gcc/cc)"
# Clang's nullability qualifiers are not C: define them away for gcc.
NULLABILITY=(-D_Nonnull= -D_Nullable= -D_Null_unspecified=)
"$CC" -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter "${NULLABILITY[@]}" -I"$INCLUDE" \
  "$tmp/check.c" -L"$LIB_DIR" -l:"$LIB_NAME" -Wl,-rpath,"$LIB_DIR" -o "$tmp/check" \
  || fail "the generated header does not compile or link"
echo "swift: C program compiled against trellis_ffiFFI.h and linked with $LIB_NAME"
"$tmp/check" | tee "$tmp/check.out" || fail "C checks failed (see above)"
matched="$(sed -n 's/^checksums matched: //p' "$tmp/check.out")"

# ---- 3. swift test --------------------------------------------------------------------------
if swift_version="$(swift --version 2>&1)"; then
  echo "swift: $swift_version" | head -n 1
  (cd "$HERE" && TRELLIS_LIB_DIR="$LIB_DIR" swift test) || fail "swift test failed"
  swift_tests="swift test passed"
else
  swift_tests="swift test skipped: no Swift toolchain here (\`swift --version\` failed)"
fi
echo "swift checks: drift ok, header compiles and links, $matched checksums matched, C calls ok; $swift_tests"
