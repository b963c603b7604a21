/// The gate's offenders as SARIF 2.1.0, so code-scanning UIs annotate the leaking source line. Paths under
/// `sourceRoot` are written relative to it (against the `%SRCROOT%` base), as code scanning expects.
public struct SARIFRenderer: Renderer {
    public var sourceRoot: String
    public var toolVersion: String

    public init(sourceRoot: String, toolVersion: String) {
        self.sourceRoot = sourceRoot.hasSuffix("/") ? String(sourceRoot.dropLast()) : sourceRoot
        self.toolVersion = toolVersion
    }

    public static let ruleID = "leaktrack/leak-over-budget"

    public func render<Output: TextOutputStream>(_ verdict: GateVerdict, to stream: inout Output) {
        stream.write(document(verdict.result))
    }

    private func document(_ result: GateResult) -> String {
        let results: [JSONValue] = result.offenders.map { offender in
            let site = offender.site
            var members: [String: JSONValue] = [
                "ruleId": .string(SARIFRenderer.ruleID),
                "ruleIndex": .number(0),
                "level": .string("error"),
                "message": .object([
                    "text": .string(
                        "\(site.bytes) bytes in \(site.count) allocations leaked at \(site.function) [\(site.module)]; budget: \(offender.budget)"
                    )
                ]),
                "partialFingerprints": .object([
                    "leaktrackCallSite/v1": .string("\(site.module)|\(site.function)|\(site.file ?? "")")
                ]),
            ]
            var location: [String: JSONValue] = [
                "logicalLocations": .array([
                    .object(["fullyQualifiedName": .string(site.function), "kind": .string("function")])
                ])
            ]
            if let file = site.file {
                var physical: [String: JSONValue] = ["artifactLocation": artifact(file)]
                if let line = site.line, line > 0 { physical["region"] = .object(["startLine": .number(UInt64(line))]) }
                location["physicalLocation"] = .object(physical)
            }
            members["locations"] = .array([.object(location)])
            return .object(members)
        }
        let root = JSONValue.object([
            "$schema": .string("https://json.schemastore.org/sarif-2.1.0.json"),
            "version": .string("2.1.0"),
            "runs": .array([
                .object([
                    "tool": .object([
                        "driver": .object([
                            "name": .string("leaktrack"),
                            "version": .string(toolVersion),
                            "rules": .array([
                                .object([
                                    "id": .string(SARIFRenderer.ruleID),
                                    "name": .string("LeakOverBudget"),
                                    "shortDescription": .object([
                                        "text": .string("Memory allocated here is never freed, beyond the leak budget")
                                    ]),
                                    "defaultConfiguration": .object(["level": .string("error")]),
                                ])
                            ]),
                        ])
                    ]),
                    "originalUriBaseIds": .object([
                        "%SRCROOT%": .object(["uri": .string("file://" + SARIFRenderer.encoded(sourceRoot) + "/")])
                    ]),
                    "results": .array(results),
                ])
            ]),
        ])
        return root.rendered() + "\n"
    }

    private func artifact(_ file: String) -> JSONValue {
        if file.hasPrefix(sourceRoot + "/") {
            return .object([
                "uri": .string(SARIFRenderer.encoded(String(file.dropFirst(sourceRoot.count + 1)))),
                "uriBaseId": .string("%SRCROOT%"),
            ])
        }
        return .object(["uri": .string((file.hasPrefix("/") ? "file://" : "") + SARIFRenderer.encoded(file))])
    }

    /// A path as a URI path: every byte outside RFC 3986's unreserved characters and "/" percent-encoded.
    static func encoded(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 15)])
            }
        }
        return out
    }
}
