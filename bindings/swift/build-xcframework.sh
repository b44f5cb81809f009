#!/usr/bin/env bash
# Builds TrellisFFI.xcframework (macOS only: needs Xcode's xcodebuild, lipo and the Apple
# SDKs): the Rust library `trellis-ffi` as a static library for iOS devices, the iOS
# simulator (arm64 + x86_64) and macOS (arm64 + x86_64), with the generated header and
# modulemap. Then `TRELLIS_XCFRAMEWORK=1 swift build` (or adding the package in Xcode with
# that variable set) links it as a binary target.
#
#   bash bindings/swift/build-xcframework.sh   (release profile)
#
# Not run in CI (no macOS there). llama.cpp is C++: linking the static library needs libc++
# and the Accelerate framework (Package.swift adds both for the binary target). The
# workspace builds llama.cpp with OpenMP; on Apple platforms that needs an OpenMP runtime
# (e.g. `brew install libomp` for macOS), which iOS does not ship — build for iOS with the
# `openmp` feature of llama-cpp-2 turned off if linking fails.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
[ "$(uname -s)" = Darwin ] || { echo "build-xcframework: needs macOS with Xcode" >&2; exit 1; }
PROFILE=release
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

IOS=aarch64-apple-ios
SIM=(aarch64-apple-ios-sim x86_64-apple-ios)
MAC=(aarch64-apple-darwin x86_64-apple-darwin)
for t in "$IOS" "${SIM[@]}" "${MAC[@]}"; do
  rustup target add "$t" >/dev/null
  cargo build --locked -p trellis-ffi --lib --profile "$PROFILE" --target "$t"
done
lib() { echo "$TARGET_DIR/$1/$PROFILE/libtrellis_ffi.a"; }

OUT="$HERE/build/xcframework"
rm -rf "$OUT" "$HERE/TrellisFFI.xcframework"
mkdir -p "$OUT/headers" "$OUT/ios-sim" "$OUT/macos"
cp "$HERE/Sources/trellis_ffiFFI/include/trellis_ffiFFI.h" \
   "$HERE/Sources/trellis_ffiFFI/include/module.modulemap" "$OUT/headers/"
lipo -create "$(lib "${SIM[0]}")" "$(lib "${SIM[1]}")" -output "$OUT/ios-sim/libtrellis_ffi.a"
lipo -create "$(lib "${MAC[0]}")" "$(lib "${MAC[1]}")" -output "$OUT/macos/libtrellis_ffi.a"

xcodebuild -create-xcframework \
  -library "$(lib "$IOS")" -headers "$OUT/headers" \
  -library "$OUT/ios-sim/libtrellis_ffi.a" -headers "$OUT/headers" \
  -library "$OUT/macos/libtrellis_ffi.a" -headers "$OUT/headers" \
  -output "$HERE/TrellisFFI.xcframework"
echo "build-xcframework: wrote $HERE/TrellisFFI.xcframework"
