import Foundation
import XCTest

/// Call sites people can act on: the user function and line, for C, C++ and Swift, with and without debug
/// information, through inlined helpers, and after the binary is gone.
final class SymbolizationTests: EndToEndTestCase {
    @discardableResult
    func record(_ command: [String], trace: String = "out.trace") throws -> Harness.Result {
        let result = try harness.record(command, trace: trace).result
        XCTAssertEqual(result.status, 0, result.stderr)
        return result
    }

    func callSites(_ trace: String = "out.trace", extra: [String] = []) throws -> [ReportJSON.CallSite] {
        try harness.reportJSON(harness.path(trace), extra: extra).callSites
    }

    func site(_ sites: [ReportJSON.CallSite], _ function: String, line: Int? = nil) -> ReportJSON.CallSite? {
        sites.first { $0.function == function && (line == nil || $0.line == line) }
    }

    func fileName(_ site: ReportJSON.CallSite?) -> String? {
        site?.file.map { ($0 as NSString).lastPathComponent }
    }

    // MARK: C++

    func testCppLeaksNameTheUserFunctionAndLine() throws {
        try harness.run(["g++", "-g", "-O0", "-o", harness.path("cpp_leaks"), Harness.fixtures + "/cpp_leaks.cpp"])
        let result = try record([harness.path("cpp_leaks")])
        // The fixture prints the sizes it left allocated: "widget 100", "vector 24 512", ...
        var sizes: [String: [Int]] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            sizes[String(parts[0])] = parts.dropFirst().compactMap { Int($0) }
        }
        let sites = try callSites()
        func check(
            _ function: String, line: Int, bytes: Int, count: Int, file: StaticString = #filePath, at: UInt = #line
        ) {
            let s = site(sites, function, line: line)
            XCTAssertNotNil(s, "\(function):\(line) in \(sites.map { ($0.function, $0.line) })", file: file, line: at)
            XCTAssertEqual(s?.bytes, bytes, "\(function):\(line)", file: file, line: at)
            XCTAssertEqual(s?.count, count, "\(function):\(line)", file: file, line: at)
            XCTAssertEqual(s?.module, "cpp_leaks", file: file, line: at)
            XCTAssertEqual(fileName(s), "cpp_leaks.cpp", file: file, line: at)
        }
        check("leak_new()", line: 18, bytes: sizes["widget"]![0], count: 1)
        check("grow_vector()", line: 22, bytes: sizes["vector"]![0], count: 1)
        // The vector's buffer: operator new and the std::vector internals are folded into the push_back line.
        check("grow_vector()", line: 23, bytes: sizes["vector"]![1], count: 1)
        check("make_string()", line: 28, bytes: sizes["string"]![0] + sizes["string"]![1], count: 2)
        check("make_shared_widget()", line: 32, bytes: sizes["shared"]![0] + sizes["shared"]![1], count: 2)
        XCTAssertEqual(sites.count, 5, "\(sites.map { $0.function })")
        // The full stack keeps the library frames, demangled.
        let vectorStack = (site(sites, "grow_vector()", line: 23)?.stack ?? [])
            .map(\.function)
        XCTAssertTrue(vectorStack.contains { $0.hasPrefix("operator new(unsigned long)") }, "\(vectorStack)")
        XCTAssertTrue(vectorStack.contains { $0.contains("std::vector<int, std::allocator<int> >") }, "\(vectorStack)")
        // --no-demangle shows the names as the binary spells them.
        let raw = try callSites(extra: ["--no-demangle"])
        XCTAssertNotNil(site(raw, "_Z8leak_newv"), "\(raw.map { $0.function })")
    }

    // MARK: Swift

    func testSwiftLeaksNameTheUserFunctionAndLine() throws {
        let compile = try harness.run(
            ["swiftc", "-g", "-Onone", "-o", harness.path("swift_leaks"), Harness.fixtures + "/swift_leaks.swift"],
            timeout: 300)
        XCTAssertEqual(compile.status, 0, compile.stderr)
        let result = try record([harness.path("swift_leaks")])
        XCTAssertEqual(result.stdout.split(separator: " ").prefix(2).joined(separator: " "), "sessions 10")
        // The same output bare and under the bare preload.
        let bare = try harness.run([harness.path("swift_leaks")])
        let preloaded = try harness.run(
            [harness.path("swift_leaks")], environment: ["LD_PRELOAD": harness.shim, "LEAKTRACK_QUIET": "1"])
        XCTAssertEqual(preloaded.status, 0, preloaded.stderr)
        XCTAssertEqual(preloaded.stdout, bare.stdout)
        XCTAssertEqual(result.stdout, bare.stdout)
        let sites = try callSites()
        // Ten Session instances, attributed to the line that wrote Session(id:).
        let sessions = site(sites, "swift_leaks.openSession(Swift.Int) -> ()", line: 17)
        XCTAssertEqual(sessions?.count, 10, "\(sites.map { ($0.function, $0.line) })")
        XCTAssertEqual(sessions?.bytes, 10 * 56)
        XCTAssertEqual(fileName(sessions), "swift_leaks.swift")
        // The global array's storage, grown by append: one live buffer for ten references.
        let storage = site(sites, "swift_leaks.openSession(Swift.Int) -> ()", line: 18)
        XCTAssertEqual(storage?.count, 1)
        XCTAssertGreaterThanOrEqual(storage?.bytes ?? 0, 32 + 10 * 8)
        // UnsafeMutableRawPointer.allocate.
        let raw = site(sites, "swift_leaks.rawBuffer() -> ()", line: 23)
        XCTAssertEqual(raw?.bytes, 4096)
        XCTAssertEqual(raw?.count, 1)
        XCTAssertEqual(raw?.module, "swift_leaks")
        // Nothing is attributed to the Swift runtime's metadata caches.
        XCTAssertFalse(sites.contains { $0.module.hasPrefix("libswift") }, "\(sites)")
    }

    // MARK: C with and without debug information

    func testInlinedAllocatingHelperIsItsOwnFrame() throws {
        try harness.run(["cc", "-g", "-O1", "-o", harness.path("symbols"), Harness.fixtures + "/symbols.c"])
        try record([harness.path("symbols")])
        let sites = try callSites()
        let inlined = site(sites, "make_buffer")
        XCTAssertEqual(inlined?.line, 7, "\(sites)")
        XCTAssertEqual(inlined?.bytes, 321)
        let stack = inlined?.stack ?? []
        XCTAssertEqual(stack.first?.function, "make_buffer")
        XCTAssertEqual(stack.first?.inlined, true)
        XCTAssertEqual(stack.dropFirst().first?.function, "uses_inline")
        XCTAssertEqual(stack.dropFirst().first?.line, 15)
        XCTAssertEqual(stack.dropFirst().first?.inlined, false)
        XCTAssertEqual(site(sites, "plain_leak")?.line, 11)
    }

    func testWithoutDebugInfoFunctionsComeFromTheSymbolTable() throws {
        try harness.run(["cc", "-g0", "-O0", "-o", harness.path("symbols"), Harness.fixtures + "/symbols.c"])
        try record([harness.path("symbols")])
        let sites = try callSites()
        let plain = site(sites, "plain_leak")
        XCTAssertEqual(plain?.bytes, 123, "\(sites)")
        XCTAssertNotNil(plain)
        XCTAssertNil(plain?.file, "no debug info, no file: \(String(describing: plain))")
        XCTAssertNil(plain?.line)
        XCTAssertEqual(site(sites, "uses_inline")?.bytes, 321)

        // Without any symbols, the frame is named by module and offset.
        try harness.run(["strip", "-s", harness.path("symbols")])
        try record([harness.path("symbols")], trace: "stripped.trace")
        let stripped = try callSites("stripped.trace")
        XCTAssertEqual(stripped.count, 2)
        for s in stripped {
            let function = s.function
            XCTAssertTrue(function.hasPrefix("symbols+0x"), function)
            XCTAssertEqual(s.module, "symbols")
        }
    }

    func testSeparateDebugInfoByDebuglinkAndByBuildID() throws {
        try harness.run([
            "cc", "-g", "-O0", "-Wl,--build-id", "-o", harness.path("symbols"), Harness.fixtures + "/symbols.c",
        ])
        try harness.run(["objcopy", "--only-keep-debug", harness.path("symbols"), harness.path("symbols.debug")])
        try harness.run(["strip", "--strip-debug", "--strip-unneeded", harness.path("symbols")])
        try harness.run(["objcopy", "--add-gnu-debuglink=" + harness.path("symbols.debug"), harness.path("symbols")])
        try record([harness.path("symbols")])
        XCTAssertEqual(site(try callSites(), "plain_leak")?.line, 11)

        // By build id under a debug directory (LEAKTRACK_DEBUG_DIRS), with no debuglink at all.
        try harness.run(["objcopy", "--remove-section=.gnu_debuglink", harness.path("symbols")])
        let notes = try harness.run(["readelf", "-n", harness.path("symbols")]).stdout
        let buildID = try XCTUnwrap(
            notes.split(separator: "\n").first { $0.contains("Build ID") }?.split(separator: " ").last.map(String.init))
        let directory = harness.path("debug/.build-id/" + buildID.prefix(2))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.moveItem(
            atPath: harness.path("symbols.debug"), toPath: directory + "/" + buildID.dropFirst(2) + ".debug")
        let result = try harness.run(
            [harness.leaktrack, "record", "-o", harness.path("by-id.trace"), "--", harness.path("symbols")],
            environment: ["LEAKTRACK_DEBUG_DIRS": harness.path("debug")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(site(try callSites("by-id.trace"), "plain_leak")?.line, 11)
    }

    func testReportWorksAfterTheBinaryIsDeleted() throws {
        try harness.run(["cc", "-g", "-O0", "-o", harness.path("symbols"), Harness.fixtures + "/symbols.c"])
        try record([harness.path("symbols")])
        try FileManager.default.removeItem(atPath: harness.path("symbols"))
        let plain = site(try callSites(), "plain_leak")
        XCTAssertEqual(plain?.line, 11)
        XCTAssertEqual(fileName(plain), "symbols.c")
    }

    // MARK: modules

    func testTwoLibrariesLoadedAtTheSameAddressAreToldApart() throws {
        for name in ["a", "b"] {
            try harness.run([
                "cc", "-g", "-O0", "-fPIC", "-shared", "-o", harness.path("lib_\(name).so"),
                Harness.fixtures + "/lib_\(name).c",
            ])
        }
        try harness.compile(["same_address_main.c"], output: "same_address", flags: ["-ldl"])
        let result = try record([harness.path("same_address"), harness.path("lib_a.so"), harness.path("lib_b.so")])
        let sites = try callSites()
        XCTAssertEqual(site(sites, "leak_a")?.module, "lib_a.so", "\(sites)")
        XCTAssertEqual(site(sites, "leak_a")?.bytes, 1111)
        XCTAssertEqual(site(sites, "leak_b")?.module, "lib_b.so")
        XCTAssertEqual(site(sites, "leak_b")?.bytes, 2222)
        // Say whether the case under test really happened (it does with glibc's loader).
        let bases = result.stdout.split(separator: "\n").map { $0.split(separator: " ").last.map(String.init) ?? "" }
        XCTAssertEqual(bases.count, 2)
        if bases.count == 2 && bases[0] != bases[1] { print("note: the two libraries loaded at different addresses") }
    }

    // MARK: grouping

    func testGroupingIsConsistentBetweenTextAndJSON() throws {
        try harness.compile(["all_kinds.c"], output: "all_kinds")
        try record([harness.path("all_kinds")])
        let byModule = try harness.reportJSON(harness.path("out.trace"), extra: ["--by", "module"])
        let groups = byModule.callSites
        XCTAssertEqual(groups.count, 1)
        XCTAssertEqual(groups.first?.module, "all_kinds")
        XCTAssertEqual(groups.first?.bytes, 5779)
        XCTAssertEqual(groups.first?.count, 13)
        let top = try harness.reportJSON(harness.path("out.trace"), extra: ["--top", "2"]).callSites
        XCTAssertEqual(top.map(\.function), ["leak_pvalloc", "leak_valloc"])
        let text = try harness.run([harness.leaktrack, "report", "--top", "2", harness.path("out.trace")]).stdout
        XCTAssertTrue(text.contains("#1  1000 B in 1 allocations at leak_pvalloc [all_kinds]"), text)
        XCTAssertTrue(text.contains("#2  900 B in 1 allocations at leak_valloc [all_kinds]"), text)
        XCTAssertEqual(text.split(separator: "\n").filter { $0.hasPrefix("#") }.count, 2, text)
    }
}
