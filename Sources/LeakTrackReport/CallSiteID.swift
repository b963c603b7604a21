/// A call site's identity: the one key that report grouping, the gate's merging of traces, JUnit's test
/// names and baselines all use, at the precision each needs (`at(_:)`).
public struct CallSiteID: Hashable, Comparable, Sendable {
    public var module: String
    public var function: String
    /// The source file; "" without debug information (or where the precision drops it).
    public var file: String
    /// 0 without debug information (or where the precision drops it).
    public var line: Int
    /// The frame's address when it has no symbol (two unnamed frames of one module are two sites); else 0.
    public var address: UInt64

    public init(module: String, function: String, file: String = "", line: Int = 0, address: UInt64 = 0) {
        self.module = module
        self.function = function
        self.file = file
        self.line = line
        self.address = address
    }

    /// The call site of an allocation: its frame.
    public init(_ frame: ReportFrame) {
        self.init(
            module: frame.module, function: frame.function, file: frame.file ?? "", line: frame.line ?? 0,
            address: frame.symbolized ? 0 : frame.address)
    }

    /// A reported group's site (the gate merges the groups of several traces by it).
    public init(_ site: LeakGroup) {
        self.init(module: site.module, function: site.function, file: site.file ?? "", line: site.line ?? 0)
    }

    public enum Precision: Sendable {
        /// Module, function, file, line (and address when unnamed).
        case line
        /// Module and function.
        case function
        /// The module alone.
        case module
        /// Module, function and the source file's name without directories: what a baseline keeps, so a
        /// rebuild (addresses) or an unrelated edit (lines) does not change it.
        case baseline
    }

    /// This identity with what `precision` ignores dropped.
    public func at(_ precision: Precision) -> CallSiteID {
        switch precision {
        case .line: return self
        case .function: return CallSiteID(module: module, function: function)
        case .module: return CallSiteID(module: module, function: "")
        case .baseline: return CallSiteID(module: module, function: function, file: fileName(file))
        }
    }

    public static func < (a: CallSiteID, b: CallSiteID) -> Bool {
        (a.module, a.function, a.file, a.line, a.address) < (b.module, b.function, b.file, b.line, b.address)
    }
}
