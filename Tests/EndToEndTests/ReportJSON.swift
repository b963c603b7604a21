import Foundation

/// `leaktrack report --format json`, decoded: the one model every end-to-end test reads reports through (its
/// fields are README's). A field renamed or dropped in the renderer fails the decoding, loudly.
struct ReportJSON: Decodable {
    struct Frame: Decodable {
        var function: String
        var module: String
        var file: String?
        var line: Int?
        var address: String
        var inlined: Bool
    }

    struct CallSite: Decodable {
        var function: String
        var module: String
        var file: String?
        var line: Int?
        var bytes: Int
        var count: Int
        var stacks: Int
        var stack: [Frame]
        var stackTruncated: Bool
    }

    struct Function: Decodable {
        var function: String
        var bytes: Int
        var count: Int
    }

    struct Module: Decodable {
        var module: String
        var path: String
        var buildId: String
        var bytes: Int
        var count: Int
        var functions: [Function]
    }

    struct Process: Decodable {
        var pid: Int
        var ppid: Int
        var executable: String
        var arguments: [String]
        var complete: Bool
        var exitStatus: Int?
        var durationMilliseconds: Int
    }

    struct Amount: Decodable {
        var bytes: Int
        var count: Int
    }

    struct Suppressed: Decodable {
        struct Reason: Decodable {
            var reason: String
            var bytes: Int
            var count: Int
        }
        var bytes: Int
        var count: Int
        var reasons: [Reason]
    }

    struct Totals: Decodable {
        var allocations: Int
        var frees: Int
        var allocatedBytes: Int
        var peakLiveBytes: Int
        var unknownFrees: Int
    }

    struct Lost: Decodable {
        var stacksDropped: Int
        var bootstrapAllocations: Int
        var failedAllocations: Int
        var skippedWords: Int
        var droppedStackAllocations: Int
        var truncatedStacks: Int
    }

    struct Sample: Decodable {
        var timeNanoseconds: Int
        var residentBytes: Int
        var virtualBytes: Int
        var heapBytes: Int
    }

    struct Symbolization: Decodable {
        var requested: Int
        var unanswered: Int
        var reason: String
    }

    var formatVersion: Int
    var process: Process
    var leaked: Amount
    var modules: [Module]
    var grouping: String
    var callSites: [CallSite]
    var suppressed: Suppressed
    /// The shim's own allocations ("internal" in the JSON).
    var shimOwn: Amount
    var totals: Totals
    var lost: Lost
    var samples: [Sample]
    var symbolization: Symbolization?

    enum CodingKeys: String, CodingKey {
        case formatVersion, process, leaked, modules, grouping, callSites, suppressed, totals, lost, samples,
            symbolization
        case shimOwn = "internal"
    }

    /// The call site named `function` (and at `line`, if given).
    func site(_ function: String, line: Int? = nil) -> CallSite? {
        callSites.first { $0.function == function && (line == nil || $0.line == line) }
    }
}

/// `leaktrack check --format json`, decoded (the parts the tests read).
struct GateJSON: Decodable {
    var passed: Bool
    var exitStatus: Int
    var offenders: [ReportJSON.CallSite]
}

/// The parts of SARIF 2.1.0 the tests read.
struct SARIFLog: Decodable {
    struct Run: Decodable { var results: [Result] }
    struct Result: Decodable { var locations: [Location] }
    struct Location: Decodable { var physicalLocation: PhysicalLocation? }
    struct PhysicalLocation: Decodable {
        struct Artifact: Decodable { var uri: String }
        struct Region: Decodable { var startLine: Int }
        var artifactLocation: Artifact
        var region: Region?
    }
    var runs: [Run]
}

extension Decodable {
    /// Decodes JSON text, or throws saying what it was.
    static func decode(_ text: String) throws -> Self {
        do {
            return try JSONDecoder().decode(Self.self, from: Data(text.utf8))
        } catch {
            throw HarnessError("not the expected \(Self.self) JSON (\(error)): \(text.prefix(2000))")
        }
    }
}
