// swift-tools-version:5.9
import PackageDescription

// The preload shim (preload/, C) is deliberately not a target here: a SwiftPM library would link the Swift
// runtime into every traced process. scripts/build-preload builds it with the system C compiler.
let package = Package(
    name: "leaktrack",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "leaktrack", targets: ["leaktrack"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // The wire format header shared with the shim (header only; the .c file holds its static checks).
        .target(name: "CLeakTrackWire"),
        // accept4 and SO_PEERCRED, which the Glibc module does not expose; the ring's consumer side, which reads
        // record headers through the wire header.
        .target(name: "CLeakTrackSystem", dependencies: ["CLeakTrackWire"]),
        // Stream decoding, the live-allocation ledger, the trace model and the trace file format.
        .target(
            name: "LeakTrackCore", dependencies: ["CLeakTrackWire"],
            // The session's state is touched by one thread only; dynamic exclusivity checks on its class
            // properties measured ~10% of the collector's time.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        // Addresses to functions, files and lines (llvm-symbolizer, swift_demangle).
        .target(
            name: "LeakTrackSymbolize", dependencies: ["LeakTrackCore"],
            // __cxa_demangle, for C++ names.
            linkerSettings: [.linkedLibrary("stdc++")]
        ),
        // Leak analysis (call sites, suppressions, grouping) and the text and JSON renderers.
        .target(name: "LeakTrackReport", dependencies: ["LeakTrackCore"]),
        // The collector: serves shim connections (HELLO, the shared ring, liveness), runs recordings, stores
        // traces, and hands out live sessions' snapshots. Knows nothing of command lines or output.
        .target(
            name: "LeakTrackCollector",
            dependencies: ["LeakTrackCore", "LeakTrackSymbolize", "CLeakTrackWire", "CLeakTrackSystem"]
        ),
        // The subcommands: parse arguments, call the libraries, print.
        .target(
            name: "LeakTrackCLI",
            dependencies: [
                "LeakTrackCore", "LeakTrackReport", "LeakTrackCollector",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "leaktrack", dependencies: ["LeakTrackCLI"]),
        // What the test targets share: a seeded random generator, WireBuilder, which writes shim streams through
        // the wire header, and the decodable report JSON.
        .target(name: "LeakTrackTestSupport", dependencies: ["CLeakTrackWire"], path: "Tests/LeakTrackTestSupport"),
        .testTarget(
            name: "LeakTrackCoreTests", dependencies: ["LeakTrackCore", "CLeakTrackWire", "LeakTrackTestSupport"]),
        .testTarget(
            name: "LeakTrackReportTests", dependencies: ["LeakTrackReport", "LeakTrackCore", "LeakTrackTestSupport"]),
        // Saved traces rendered in every format, diffed against checked-in expected files (Tests/Golden).
        .testTarget(
            name: "GoldenTests", dependencies: ["LeakTrackReport", "LeakTrackCore", "LeakTrackTestSupport"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["LeakTrackCore", "LeakTrackCollector", "LeakTrackTestSupport"],
            // C programs the tests compile and run under the shim; found through #filePath.
            exclude: ["Fixtures"]
        ),
    ]
)
