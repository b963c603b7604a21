import XCTest

/// The shim's fast unwinder (preload/lt_unwind.c), compiled with a C driver and no preloading: on every stack
/// shape the driver builds, it must give exactly libunwind's frames, and it must not decline ordinary stacks
/// (which would make it pass by always falling back).
final class UnwinderTests: EndToEndTestCase {
    func testFastUnwinderGivesLibunwindsFramesAtEveryOptimizationLevel() throws {
        let root = Harness.packageRoot
        for flags in [["-O0"], ["-O2"], ["-O3"], ["-O2", "-fno-omit-frame-pointer", "-DWITH_FRAME_POINTERS"]] {
            let level = flags.joined(separator: " ")
            let output = "unwind_compare\(flags.count)\(flags[0])"
            let build = try harness.run(
                ["cc", "-g"] + flags + [
                    "-std=gnu11", "-D_GNU_SOURCE", "-I", root + "/Sources/CLeakTrackWire/include",
                    "-o", harness.path(output), Harness.fixtures + "/unwind_compare.c", root + "/preload/lt_unwind.c",
                    "-lunwind", "-lpthread",
                ])
            XCTAssertEqual(build.status, 0, build.stderr)
            let result = try harness.run([harness.path(output)])
            XCTAssertEqual(result.status, 0, "\(level): \(result.stdout)")
            // Two rounds (rules derived, then cached): 84 ordinary stacks and two in a signal handler, whose
            // frames alone may be left to libunwind.
            let summary = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
            XCTAssertTrue(summary.hasPrefix("unwind: 85 stacks compared, "), "\(level): \(result.stdout)")
            XCTAssertTrue(
                summary.hasSuffix(", 0 declined") || summary.hasSuffix(", 2 declined"), "\(level): \(summary)")
        }
    }
}
