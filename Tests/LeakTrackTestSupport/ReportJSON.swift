import Foundation

/// `leaktrack report --format json` (JSONRenderer), decoded: the one model the tests read reports through, the
/// end-to-end tests' and the renderer's own (its fields are README's). A field renamed or dropped in the
/// renderer fails the decoding, loudly.
public struct ReportJSON: Decodable {
    public struct Frame: Decodable {
        public var function: String
        public var module: String
        public var file: String?
        public var line: Int?
        public var address: String
        public var inlined: Bool
    }

    public struct CallSite: Decodable {
        public var function: String
        public var module: String
        public var file: String?
        public var line: Int?
        public var bytes: Int
        public var count: Int
        /// Sampled traces only: the sampled blocks behind the estimates.
        public var samples: Int?
        public var stacks: Int
        public var stack: [Frame]
        public var stackTruncated: Bool
        /// Traces with three snapshots or more: bytes and count at each, and the verdict.
        public var snapshots: [Amount]?
        public var growth: Growth?
        public var age: Age?
    }

    public struct Growth: Decodable {
        public var verdict: String
        public var bytesPerHour: Double
        public var bytesPerMillionAllocations: Double
        public var steadiness: Double
    }

    public struct Age: Decodable {
        public var oldestSeconds: Double
        public var olderBytes: Int
    }

    public struct Snapshot: Decodable {
        public var index: Int
        public var t: Double
        public var trigger: String
        public var resident: Int
        public var `private`: Int
        public var virtual: Int
        public var heapBytes: Int
        public var heapCount: Int
        public var allocations: Int
    }

    public struct Function: Decodable {
        public var function: String
        public var bytes: Int
        public var count: Int
    }

    public struct Module: Decodable {
        public var module: String
        public var path: String
        public var buildId: String
        public var bytes: Int
        public var count: Int
        public var functions: [Function]
    }

    public struct Process: Decodable {
        public var pid: Int
        public var ppid: Int
        public var executable: String
        public var arguments: [String]
        public var complete: Bool
        public var exitStatus: Int?
        public var durationMilliseconds: Int
    }

    public struct Amount: Decodable {
        public var bytes: Int
        public var count: Int
    }

    public struct Suppressed: Decodable {
        public struct Reason: Decodable {
            public var reason: String
            public var bytes: Int
            public var count: Int
        }
        public var bytes: Int
        public var count: Int
        public var reasons: [Reason]
    }

    public struct Totals: Decodable {
        public var allocations: Int
        public var frees: Int
        public var allocatedBytes: Int
        public var peakLiveBytes: Int
        public var unknownFrees: Int
    }

    public struct Lost: Decodable {
        public var stacksDropped: Int
        public var bootstrapAllocations: Int
        public var failedAllocations: Int
        public var skippedWords: Int
        public var droppedStackAllocations: Int
        public var truncatedStacks: Int
    }

    public struct Sample: Decodable {
        public var t: Double
        public var resident: Int
        public var `private`: Int
        public var virtual: Int
        public var heapBytes: Int
        public var heapCount: Int
        public var available: Int
    }

    public struct Symbolization: Decodable {
        public var requested: Int
        public var unanswered: Int
        public var reason: String
    }

    public var formatVersion: Int
    public var process: Process
    public var leaked: Amount
    public var modules: [Module]
    public var grouping: String
    public var callSites: [CallSite]
    public var suppressed: Suppressed
    /// The shim's own allocations ("internal" in the JSON).
    public var shimOwn: Amount
    public var totals: Totals
    public var lost: Lost
    public var memory: [Sample]
    public var symbolization: Symbolization?
    public var snapshots: [Snapshot]
    public var isSnapshot: Bool
    public var ageCutoffSeconds: Double?
    public struct Sampled: Decodable {
        public var meanBytes: Int
        public var samples: Int
        public var refused: Int
    }
    /// null for an exact trace.
    public var sampled: Sampled?

    enum CodingKeys: String, CodingKey {
        case formatVersion, process, leaked, modules, grouping, callSites, suppressed, totals, lost, memory,
            symbolization, snapshots, isSnapshot, ageCutoffSeconds, sampled
        case shimOwn = "internal"
    }
}

/// `leaktrack check --format json`, decoded (the parts the tests read).
public struct GateJSON: Decodable {
    public var passed: Bool
    public var exitStatus: Int
    public var offenders: [ReportJSON.CallSite]
}

/// The parts of SARIF 2.1.0 the tests read.
public struct SARIFLog: Decodable {
    public struct Run: Decodable { public var results: [Result] }
    public struct Result: Decodable { public var locations: [Location] }
    public struct Location: Decodable { public var physicalLocation: PhysicalLocation? }
    public struct PhysicalLocation: Decodable {
        public struct Artifact: Decodable { public var uri: String }
        public struct Region: Decodable { public var startLine: Int }
        public var artifactLocation: Artifact
        public var region: Region?
    }
    public var runs: [Run]
}

extension Decodable {
    /// Decodes JSON text, or throws saying what it was.
    public static func decode(_ text: String) throws -> Self {
        do {
            return try JSONDecoder().decode(Self.self, from: Data(text.utf8))
        } catch {
            throw JSONMismatch(description: "not the expected \(Self.self) JSON (\(error)): \(text.prefix(2000))")
        }
    }
}

/// JSON that is not what a test expected to decode, with the text.
public struct JSONMismatch: Error, CustomStringConvertible {
    public var description: String
}

/// Any JSON value, told apart only from null: to read an object's exact keys, and which are an explicit null
/// (a `Decodable` model accepts a missing key and a null alike).
public enum PresentOrNull: Decodable, Equatable {
    case null, present

    public init(from decoder: Decoder) throws {
        self = try decoder.singleValueContainer().decodeNil() ? .null : .present
    }
}
