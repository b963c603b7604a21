import Foundation
import LeakTrackCore
import LeakTrackTestSupport
import XCTest

@testable import LeakTrackReport

/// Builds traces by hand: modules by file name, frames as (function, module, file, line), stacks of
/// frame lists, live allocations per stack.
struct TraceBuilder {
    var modules: [Module] = []
    var frames: [Frame] = []
    var stacks: [Stack] = [Stack(frames: [])]
    var live: [LiveAllocation] = []
    var nextAddress: UInt64 = 0x1000

    mutating func module(_ name: String) -> Int {
        if let index = modules.firstIndex(where: { $0.name == name }) { return index }
        modules.append(Module(path: "/lib/" + name, buildID: [1, 2], bias: 0))
        return modules.count - 1
    }

    /// symbols: innermost first; more than one means inlined frames at one address.
    mutating func frame(_ module: String?, _ symbols: [Symbol]) -> Int {
        nextAddress += 0x10
        frames.append(
            Frame(address: nextAddress, module: module.map { self.module($0) }, offset: nextAddress, symbols: symbols))
        return frames.count - 1
    }

    mutating func frame(_ function: String, _ module: String, file: String? = nil, line: Int? = nil) -> Int {
        frame(module, [Symbol(function: function, file: file, line: line)])
    }

    /// Adds a stack and `count` live allocations of `size` bytes on it; returns the stack id.
    @discardableResult
    mutating func leak(_ frames: [Int], count: Int, size: UInt64) -> UInt32 {
        stacks.append(
            Stack(
                frames: frames, allocations: UInt64(count), allocatedBytes: UInt64(count) &* size,
                liveCount: UInt64(count), liveBytes: UInt64(count) &* size))
        let id = UInt32(stacks.count - 1)
        for _ in 0..<count {
            nextAddress += 0x100
            live.append(LiveAllocation(address: nextAddress, size: size, stack: id))
        }
        return id
    }

    mutating func liveWithoutStack(_ id: UInt32, size: UInt64) {
        nextAddress += 0x100
        live.append(LiveAllocation(address: nextAddress, size: size, stack: id))
    }

    var trace: Trace {
        Trace(
            process: ProcessSummary(
                pid: 1, ppid: 0, executable: "/bin/app", arguments: ["app"], forked: false, startTime: 0,
                durationNanoseconds: 1_500_000, complete: true, exitStatus: 0),
            modules: modules, frames: frames, stacks: stacks, live: live, totals: Totals(), lost: ShimCounters(),
            samples: [])
    }
}

/// app: main -> Widget::make -> operator new (libstdc++) -> malloc; and a plain C leak in libfoo.so.
func sampleTrace() -> TraceBuilder {
    var b = TraceBuilder()
    let newFrame = b.frame("operator new(unsigned long)", "libstdc++.so.6")
    let make = b.frame("Widget::make()", "app", file: "/src/widget.cpp", line: 12)
    let main = b.frame("main", "app", file: "/src/main.cpp", line: 3)
    let start = b.frame("__libc_start_main", "libc.so.6")
    b.leak([newFrame, make, main, start], count: 3, size: 100)
    let foo = b.frame("foo_alloc", "libfoo.so", file: "/src/foo.c", line: 7)
    b.leak([foo, main, start], count: 1, size: 1000)
    return b
}

final class LeakReportTests: XCTestCase {

    func testTotalsModulesAndCallSites() {
        let report = LeakReport(trace: sampleTrace().trace)
        XCTAssertEqual(report.leakedBytes, 1300)
        XCTAssertEqual(report.leakedCount, 4)
        XCTAssertEqual(report.modules.map(\.module), ["libfoo.so", "app"])
        XCTAssertEqual(report.modules.map(\.bytes), [1000, 300])
        XCTAssertEqual(report.modules[1].functions.map(\.function), ["Widget::make()"])
        XCTAssertEqual(report.groups.map(\.function), ["foo_alloc", "Widget::make()"])
        let widget = report.groups[1]
        XCTAssertEqual(widget.module, "app")
        XCTAssertEqual(widget.file, "/src/widget.cpp")
        XCTAssertEqual(widget.line, 12)
        XCTAssertEqual(widget.count, 3)
        XCTAssertEqual(
            widget.stack.map(\.function),
            ["operator new(unsigned long)", "Widget::make()", "main", "__libc_start_main"])
    }

    func testLibraryFramesFoldIntoTheProgramsOwnCaller() {
        var b = TraceBuilder()
        let frames = [
            b.frame("operator new(unsigned long)", "libstdc++.so.6"),
            b.frame("std::__new_allocator<int>::allocate(unsigned long, void const*)", "app"),
            b.frame("void std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>(int const&)", "app"),
            b.frame("fopen", "libc.so.6"),
            b.frame("Config::load()", "app", file: "config.cpp", line: 40),
        ]
        b.leak(frames, count: 1, size: 64)
        XCTAssertEqual(LeakReport(trace: b.trace).groups.first?.function, "Config::load()")
        var options = ReportOptions()
        options.rules.foldPatterns.append(Pattern("Config::*"))
        // Everything folded: the first frame that is not an allocator wrapper is the call site.
        XCTAssertEqual(
            LeakReport(trace: b.trace, options: options).groups.first?.function,
            "std::__new_allocator<int>::allocate(unsigned long, void const*)")
    }

    func testInlinedSymbolsAreFramesOfTheirOwn() {
        var b = TraceBuilder()
        let both = b.frame(
            "app",
            [
                Symbol(function: "make_buffer", file: "a.c", line: 7, inlined: true),
                Symbol(function: "uses_inline", file: "a.c", line: 15),
            ])
        b.leak([both], count: 1, size: 8)
        let group = LeakReport(trace: b.trace).groups[0]
        XCTAssertEqual(group.function, "make_buffer")
        XCTAssertEqual(group.stack.map(\.function), ["make_buffer", "uses_inline"])
        XCTAssertEqual(group.stack.map(\.inlined), [true, false])
        XCTAssertEqual(group.stack[0].address, group.stack[1].address)
    }

    func testRuntimeOnlyLoaderAndStdioLeaksAreSuppressedByDefaultOnly() {
        var b = sampleTrace()
        b.leak(
            [b.frame("pool::pool()", "libstdc++.so.6"), b.frame("call_init", "ld-linux-x86-64.so.2")], count: 1,
            size: 72704)
        b.leak(
            [
                b.frame("_dl_new_object", "ld-linux-x86-64.so.2"), b.frame("dlopen", "libc.so.6"),
                b.frame("main", "app"),
            ],
            count: 2, size: 50)
        b.leak(
            [b.frame("_IO_file_doallocate", "libc.so.6"), b.frame("printf", "libc.so.6"), b.frame("main", "app")],
            count: 1, size: 4096)
        b.leak(
            [
                b.frame("__nss_module_allocate", "libc.so.6"), b.frame("__nss_action_parse", "libc.so.6"),
                b.frame("nss_database_check_reload_and_get", "libc.so.6"), b.frame("getpwuid", "libc.so.6"),
                b.frame("main", "app"),
            ], count: 3, size: 40)
        let report = LeakReport(trace: b.trace)
        XCTAssertEqual(report.leakedBytes, 1300)
        XCTAssertEqual(report.suppressedBytes, 72704 + 100 + 4096 + 120)
        XCTAssertEqual(
            Set(report.suppressed.map(\.reason)),
            [
                Suppressions.runtimeStartupReason, Suppressions.loaderReason,
                "leak:_IO_file_doallocate (stdio buffer, reachable from the FILE)",
                "leak:__nss_module_allocate (glibc's name-service modules, kept for the process's life)",
            ])
        var options = ReportOptions()
        options.suppressions = Suppressions(useDefaults: false)
        let raw = LeakReport(trace: b.trace, options: options)
        XCTAssertEqual(raw.leakedBytes, 1300 + 72704 + 100 + 4096 + 120)
        XCTAssertEqual(raw.suppressed, [])
    }

    func testUserSuppressionsMatchFunctionModuleAndFileWithWildcards() {
        func suppressed(_ pattern: String) -> UInt64 {
            var options = ReportOptions()
            options.suppressions = Suppressions(rules: [.init(pattern: Pattern(pattern), reason: "")])
            return LeakReport(trace: sampleTrace().trace, options: options).suppressedBytes
        }
        XCTAssertEqual(suppressed("foo_*"), 1000)
        XCTAssertEqual(suppressed("libfoo.so"), 1000)
        XCTAssertEqual(suppressed("*/widget.cpp"), 300)
        XCTAssertEqual(suppressed("Widget::*"), 300)
        XCTAssertEqual(suppressed("nothing*matches"), 0)
    }

    func testInternalAndDroppedStacks() {
        var b = sampleTrace()
        b.liveWithoutStack(SpecialStack.none, size: 24)
        b.liveWithoutStack(SpecialStack.dropped, size: 40)
        let report = LeakReport(trace: b.trace)
        XCTAssertEqual(report.internalBytes, 24)
        XCTAssertEqual(report.internalCount, 1)
        XCTAssertEqual(report.leakedBytes, 1340)
        XCTAssertTrue(report.groups.contains { $0.function.hasPrefix("[stack not recorded") && $0.bytes == 40 })
    }

    /// A call site keeps every stack, largest first, and gathering them stays linear: a group copied out of
    /// a dictionary once copied all its stacks for every stack added (minutes for 65,536 stacks).
    func testACallSiteKeepsEveryStackAndGathersThemInLinearTime() {
        var b = TraceBuilder()
        let make = b.frame("make", "app", file: "/src/make.c", line: 4)
        let stacks = 30_000
        for i in 0..<stacks {
            b.leak(
                [make, b.frame("caller\(i)", "app", file: "/src/callers.c", line: i + 1)], count: 1,
                size: 1 + UInt64(i % 3))
        }
        let trace = b.trace
        var options = ReportOptions()
        options.suppressions = Suppressions(useDefaults: false) // only the grouping is timed
        let started = Date()
        let report = LeakReport(trace: trace, options: options)
        let took = Date().timeIntervalSince(started)
        XCTAssertEqual(report.groups.count, 1)
        let site = report.groups[0]
        XCTAssertEqual(site.stackCount, stacks)
        XCTAssertEqual(site.stacks.map(\.bytes), site.stacks.map(\.bytes).sorted(by: >))
        XCTAssertEqual(site.bytes, site.stacks.reduce(0) { $0 + $1.bytes })
        XCTAssertEqual(site.stack[1].function, "caller2", "the largest stack first; equal ones by address")
        XCTAssertEqual(report.modules.first?.functions.first?.stackCount, stacks)
        XCTAssertLessThan(took, 10, "\(stacks) stacks of one call site took \(took) s")
    }

    func testAnonymousFramesAndGroupingAndTop() {
        var b = sampleTrace()
        // JIT-like code outside every module allocates: its own call site, in module "[anon]".
        b.leak([b.frame(nil, []), b.frame("main", "app", file: "/src/main.cpp", line: 9)], count: 2, size: 5)
        var options = ReportOptions()
        options.grouping = .module
        let byModule = LeakReport(trace: b.trace, options: options)
        XCTAssertEqual(byModule.groups.map(\.module), ["libfoo.so", "app", "[anon]"])
        XCTAssertEqual(byModule.groups.map(\.bytes), [1000, 300, 10])
        options.grouping = .function
        let byFunction = LeakReport(trace: b.trace, options: options).groups
        XCTAssertEqual(byFunction.map(\.function).prefix(2), ["foo_alloc", "Widget::make()"])
        XCTAssertTrue(byFunction[2].function.hasPrefix("0x"), byFunction[2].function)
        XCTAssertEqual(byFunction[2].stack.map(\.module), ["[anon]", "app"])
        options.grouping = .callsite
        options.top = 1
        let top = LeakReport(trace: b.trace, options: options)
        XCTAssertEqual(top.groups.count, 1)
        XCTAssertEqual(top.modules.count, 1)
        XCTAssertEqual(top.leakedBytes, 1310, "--top limits what is listed, not what is counted")
    }

    func testNoDemangleShowsLinkageNames() {
        var b = TraceBuilder()
        b.leak(
            [b.frame("app", [Symbol(function: "Widget::make()", linkageName: "_ZN6Widget4makeEv")])], count: 1, size: 1)
        var options = ReportOptions()
        XCTAssertEqual(LeakReport(trace: b.trace, options: options).groups.first?.function, "Widget::make()")
        options.demangle = false
        XCTAssertEqual(LeakReport(trace: b.trace, options: options).groups.first?.function, "_ZN6Widget4makeEv")
    }

    func testPatterns() {
        XCTAssertTrue(Pattern("operator new*").matches("operator new(unsigned long)"))
        XCTAssertFalse(Pattern("operator new*").matches("xoperator new"))
        XCTAssertTrue(Pattern("*alloc*").matches("my_alloc_thing"))
        XCTAssertTrue(Pattern("a*b*c").matches("a--b--c"))
        XCTAssertFalse(Pattern("a*b*c").matches("a--c--b"))
        XCTAssertTrue(Pattern("exact").matches("exact"))
        XCTAssertFalse(Pattern("exact").matches("exactly"))
        XCTAssertTrue(Pattern("*").matches(""))
        XCTAssertEqual(QualifiedName.of("void std::vector<int>::push_back(int const&)"), "std::vector<int>::push_back")
        XCTAssertEqual(QualifiedName.of("operator new(unsigned long)"), "operator new")
        XCTAssertEqual(QualifiedName.of("main"), "main")
    }
}

final class RendererTests: XCTestCase {
    func testJSONHasTheDocumentedShape() throws {
        var b = sampleTrace()
        b.leak([b.frame("nofile", "app")], count: 1, size: 1)
        let json = JSONRenderer().render(LeakReport(trace: b.trace))
        let report = try ReportJSON.decode(json)
        XCTAssertEqual(report.leaked.bytes, 1301)
        XCTAssertEqual(report.leaked.count, 5)
        XCTAssertEqual(report.modules.map(\.module), ["libfoo.so", "app"])
        XCTAssertEqual(report.modules.first?.path, "/lib/libfoo.so")
        XCTAssertEqual(report.modules.first?.buildId, "0102")
        let sites = report.callSites
        XCTAssertEqual(sites.map(\.bytes), [1000, 300, 1])
        XCTAssertEqual(sites[0].line, 7)
        XCTAssertEqual(sites[0].stacks, 1)
        XCTAssertNil(sites[2].file)
        // Missing values are explicit nulls, and a frame has exactly the documented keys.
        struct Shape: Decodable {
            struct Site: Decodable { var stack: [[String: PresentOrNull]] }
            var callSites: [Site]
        }
        struct Keys: Decodable { var callSites: [[String: PresentOrNull]] }
        let site = try Keys.decode(json).callSites[2]
        XCTAssertEqual(site["file"], .null)
        XCTAssertEqual(site["line"], .null)
        let frame = try Shape.decode(json).callSites[0].stack[0]
        XCTAssertEqual(Set(frame.keys), ["function", "module", "file", "line", "address", "inlined"])
        // Keys are sorted, so output diffs cleanly.
        let keys = json.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        XCTAssertEqual(keys, keys.sorted())
    }

    /// Every stack of every call site, outermost frame first, one line each (same names: one line, bytes added).
    func testFoldedStacksHaveEveryStackOutermostFirst() {
        var b = sampleTrace()
        let main = b.frame("main", "app", file: "/src/main.cpp", line: 5)
        let start = b.frame("__libc_start_main", "libc.so.6")
        // Another line of Widget::make, through operator new: the same names as the sample's stack, one line.
        b.leak(
            [
                b.frame("operator new(unsigned long)", "libstdc++.so.6"), b.frame("Widget::make()", "app", line: 13),
                main, start,
            ],
            count: 1, size: 50)
        let inlined = b.frame(
            "app",
            [Symbol(function: "make_buffer", inlined: true), Symbol(function: "uses_inline", file: "a.c", line: 15)])
        b.leak([inlined, main, start], count: 2, size: 8)
        let deep = b.leak([b.frame("deep_alloc", "app"), b.frame("level41", "app")], count: 1, size: 4)
        b.stacks[Int(deep)].truncated = true
        b.leak([b.frame("odd;name\n#0 forged", "app"), main], count: 1, size: 2)
        b.liveWithoutStack(SpecialStack.dropped, size: 40)
        b.liveWithoutStack(SpecialStack.none, size: 24)
        let report = LeakReport(trace: b.trace)
        let folded = FoldedStacksRenderer().render(report)
        XCTAssertEqual(
            folded,
            """
            [stack not recorded: LEAKTRACK_MAX_STACKS reached] 40
            [truncated];level41;deep_alloc 4
            __libc_start_main;main;Widget::make();operator new(unsigned long) 350
            __libc_start_main;main;foo_alloc 1000
            __libc_start_main;main;uses_inline;make_buffer 16
            main;odd\\x3bname\\n#0 forged 2

            """)
        // The same stacks however the report groups them.
        var options = ReportOptions()
        for grouping in Grouping.allCases {
            options.grouping = grouping
            XCTAssertEqual(FoldedStacksRenderer().render(LeakReport(trace: b.trace, options: options)), folded)
        }
        XCTAssertEqual(FoldedStacksRenderer().render(LeakReport(trace: TraceBuilder().trace)), "")
    }

    func testTextVerdicts() {
        let leaky = TextRenderer().render(LeakReport(trace: sampleTrace().trace))
        XCTAssertTrue(
            leaky.contains("LEAK DETECTED: 1.3 KiB (1300 bytes) in 4 allocations still allocated at exit"), leaky)
        XCTAssertTrue(leaky.contains("#1  1000 B in 1 allocations at foo_alloc [libfoo.so]  /src/foo.c:7"), leaky)
        let clean = TextRenderer().render(LeakReport(trace: TraceBuilder().trace))
        XCTAssertTrue(clean.contains("No leaks: every allocation was freed."), clean)
    }

    func testFormatting() {
        XCTAssertEqual(formatBytes(1023), "1023 B")
        XCTAssertEqual(formatBytes(1536), "1.5 KiB")
        XCTAssertEqual(formatCount(1_234_567), "1,234,567")
        XCTAssertEqual(JSONValue.quote("a\"b\n\u{1}"), "\"a\\\"b\\n\\u0001\"")
    }
}

/// Names from the traced program or a file are text the program chose: newlines, ANSI escape sequences,
/// bidirectional overrides. Text output escapes them (one line stays one line, the terminal is not driven);
/// JSON keeps them exactly, as escapes.
final class ControlCharacterTests: XCTestCase {
    static let hostile =
        "evil\u{1b}[2J\u{1b}]0;owned\u{07}\n#0 forged_frame  forged.c:1  [app]\r\tx\u{7f}\u{9b}31m\u{202e}cod.exe"

    func trace() -> Trace {
        var b = TraceBuilder()
        let h = ControlCharacterTests.hostile
        b.leak(
            [b.frame(h, "lib\u{1b}[31m.so", file: "/src/\(h).c", line: 4), b.frame("main", "app")], count: 1, size: 64)
        b.leak([b.frame("quiet\u{1b}", "app")], count: 1, size: 8)
        var trace = b.trace
        trace.process.arguments = ["app", "--name=\u{1b}[31mred\nsecond line"]
        trace.process.executable = "/bin/\u{1b}app"
        return trace
    }

    func assertNoControlCharacters(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        let bad = text.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || String.needsEscape($0) && $0 != "\n" }
        XCTAssertEqual(bad.map { String($0.value, radix: 16) }, [], file: file, line: line)
    }

    func testTheEscapes() {
        XCTAssertEqual("plain name, with \\ and é".escapingControlCharacters, "plain name, with \\ and é")
        XCTAssertEqual(
            "a\nb\rc\td\u{1b}[0m\u{7f}\u{0}\u{9b}\u{202e}\u{2028}".escapingControlCharacters,
            "a\\nb\\rc\\td\\x1b[0m\\x7f\\x00\\u{009b}\\u{202e}\\u{2028}")
        XCTAssertEqual(String(repeating: "x", count: 100).excerpt(limit: 5), "xxxxx…")
        XCTAssertEqual(JSONValue.quote("\u{1b}\u{7f}\u{9b}\u{202e}"), "\"\\u001b\\u007f\\u009b\\u202e\"")
    }

    func testTextReportsEscapeWhatTheProgramNamed() throws {
        var options = ReportOptions()
        options.suppressions = Suppressions(rules: [Suppressions.Rule(pattern: Pattern("quiet*"), reason: "s\u{1b}:1")])
        let report = LeakReport(trace: trace(), options: options)
        let text = TextRenderer().render(report)
        assertNoControlCharacters(text)
        XCTAssertTrue(text.hasPrefix("leaktrack report: app --name=\\x1b[31mred\\nsecond line\n"), text)
        XCTAssertTrue(
            text.contains(
                "at evil\\x1b[2J\\x1b]0;owned\\x07\\n#0 forged_frame  forged.c:1  [app]\\r\\tx\\x7f\\u{009b}31m\\u{202e}cod.exe [lib\\x1b[31m.so]"
            ), text)
        XCTAssertFalse(text.split(separator: "\n").contains { $0.hasPrefix("#0 forged_frame") }, "no forged line")
        XCTAssertTrue(text.contains("leak:quiet* (s\\x1b:1)"), text)
        // Grouped by module and by stack, too.
        for grouping in [Grouping.module, .stack, .function] {
            options.grouping = grouping
            assertNoControlCharacters(TextRenderer().render(LeakReport(trace: trace(), options: options)))
        }

        // JSON keeps the names exactly (as escapes), so tools get what the program said.
        let json = JSONRenderer().render(report)
        assertNoControlCharacters(json)
        let decoded = try ReportJSON.decode(json)
        XCTAssertEqual(decoded.process.arguments, trace().process.arguments)
        XCTAssertEqual(decoded.process.executable, "/bin/\u{1b}app")
        XCTAssertEqual(decoded.callSites.first?.function, ControlCharacterTests.hostile)
        XCTAssertEqual(decoded.callSites.first?.file, "/src/\(ControlCharacterTests.hostile).c")
    }

    func testGateOutputEscapesToo() {
        let report = LeakReport(trace: trace())
        let rule = BudgetRule(
            subject: .function, pattern: Pattern("evil\u{1b}*"), maxBytes: 0, maxCount: nil, origin: "b\u{1b}:1")
        let baseline = Baseline(entries: [:])
        let result = LeakGate(
            rules: [rule], baseline: baseline,
            suppressions: [Suppressions.Rule(pattern: Pattern("no\u{1b}ne"), reason: "s:1")]
        ).evaluate([report])
        XCTAssertFalse(result.passed)
        let text = GateTextRenderer().render(GateVerdict(result))
        assertNoControlCharacters(text)
        XCTAssertTrue(text.contains("budget: function evil\\x1b*: at most 0 bytes (b\\x1b:1)"), text)
        XCTAssertTrue(text.contains("new     evil\\x1b[2J"), text)
        XCTAssertTrue(text.contains("warning: suppression leak:no\\x1bne (s:1) matched nothing"), text)
        let annotations = GitHubAnnotations(sourceRoot: "/src").render(GateVerdict(result))
        assertNoControlCharacters(annotations)
        XCTAssertEqual(annotations.split(separator: "\n").count, result.offenders.count, annotations)
        XCTAssertTrue(
            annotations.contains("title=leak in evil\\x1b[2J\\x1b]0;owned\\x07\\n#0 forged_frame  forged.c"),
            annotations)
        let gateJSON = GateJSONRenderer().render(GateVerdict(result))
        let sarif = SARIFRenderer(sourceRoot: "/src", toolVersion: "0").render(GateVerdict(result))
        for rendered in [gateJSON, sarif] { assertNoControlCharacters(rendered) }
        XCTAssertEqual(try GateJSON.decode(gateJSON).offenders.first?.function, ControlCharacterTests.hostile)
        XCTAssertEqual(try SARIFLog.decode(sarif).runs.first?.results.count, result.offenders.count)
    }

    func testParseErrorsQuoteAShortEscapedExcerpt() {
        XCTAssertThrowsError(
            try BudgetFile.parse("max-leaks \u{1b}[31m" + String(repeating: "9", count: 10_000) + "x\n", name: "f")
        ) {
            XCTAssertEqual("\($0)", "f:1: \"\\x1b[31m" + String(repeating: "9", count: 75) + "…\" is not a number")
        }
        XCTAssertThrowsError(try Baseline.parse(Baseline.header + "\n1\t\u{1b}\n", name: "b")) {
            XCTAssertEqual(
                "\($0)", "b:2: expected bytes, count, module, function and file separated by tabs, found \"1\\t\\x1b\"")
        }
    }
}
