// swift-tools-version:5.9
// Trellis for Swift: the UniFFI-generated bindings of the Rust crate `trellis-ffi` (module
// `Trellis`) over a C module (`trellis_ffiFFI`: the generated header and modulemap).
//
// Two ways to get the Rust library:
//  - local development and `swift test` (macOS or Linux): the C target links
//    `libtrellis_ffi` from the Cargo target directory, `TRELLIS_LIB_DIR` (default:
//    ../../target/debug; build it with `cargo build -p trellis-ffi`);
//  - apps (iOS/macOS): `bash build-xcframework.sh` writes `TrellisFFI.xcframework` (static
//    libraries + header + modulemap); `TRELLIS_XCFRAMEWORK=1` makes the package use it as a
//    binary target.
import Foundation
import PackageDescription

let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
let environment = ProcessInfo.processInfo.environment
let libDir = environment["TRELLIS_LIB_DIR"] ?? "\(here)/../../target/debug"
let useXCFramework = environment["TRELLIS_XCFRAMEWORK"] == "1"

// What llama.cpp (C++, inside the Rust library) needs from the system when linked statically.
let systemLinks: [LinkerSetting] = [
    .linkedLibrary("c++", .when(platforms: [.macOS, .iOS])),
    .linkedLibrary("stdc++", .when(platforms: [.linux])),
    .linkedFramework("Accelerate", .when(platforms: [.macOS, .iOS])),
]

let ffiTarget: Target = useXCFramework
    ? .binaryTarget(name: "trellis_ffiFFI", path: "TrellisFFI.xcframework")
    : .target(
        name: "trellis_ffiFFI",
        path: "Sources/trellis_ffiFFI",
        publicHeadersPath: "include",
        linkerSettings: [
            .linkedLibrary("trellis_ffi"),
            .unsafeFlags(["-L\(libDir)", "-Xlinker", "-rpath", "-Xlinker", libDir]),
        ]
    )

let package = Package(
    name: "Trellis",
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [
        .library(name: "Trellis", targets: ["Trellis"]),
    ],
    targets: [
        ffiTarget,
        .target(
            name: "Trellis",
            dependencies: ["trellis_ffiFFI"],
            path: "Sources/Trellis",
            linkerSettings: useXCFramework ? systemLinks : []
        ),
        .testTarget(
            name: "TrellisTests",
            dependencies: ["Trellis"],
            path: "Tests/TrellisTests"
        ),
    ]
)
