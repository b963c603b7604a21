/// The gate's verdict as JUnit XML, for test dashboards: one test case per leaking call site (failed when it is
/// over budget, its stack in the failure text) and one for the gate as a whole.
public struct JUnitRenderer: Renderer {
    public init() {}

    public func render<Output: TextOutputStream>(_ verdict: GateVerdict, to stream: inout Output) {
        stream.write(document(verdict.result, commandStatus: verdict.commandStatus))
    }

    private func document(_ result: GateResult, commandStatus: Int32?) -> String {
        let offenders = Dictionary(result.offenders.map { (CallSiteID($0.site), $0) }, uniquingKeysWith: { a, _ in a })
        var cases: [String] = []
        var failures = 0
        let verdict = result.passed ? nil : "\(result.offenders.count) call sites over budget"
        cases.append(testCase(name: "leak budget", classname: "leaktrack", failure: verdict.map { ($0, "") }))
        if verdict != nil { failures += 1 }
        if let commandStatus, commandStatus != 0 {
            cases.append(
                testCase(name: "checked command", classname: "leaktrack", failure: ("exit status \(commandStatus)", ""))
            )
            failures += 1
        }
        for site in result.callSites {
            let name =
                "\(site.function)"
                + (site.file.map { " at \(fileName($0))" + (site.line.map { ":\($0)" } ?? "") } ?? "")
            var failure: (String, String)?
            if let offender = offenders[CallSiteID(site)] {
                failures += 1
                let stack = site.stack.map { f in
                    "  \(f.function)" + (f.file.map { "  \($0)" + (f.line.map { ":\($0)" } ?? "") } ?? "")
                        + "  [\(f.module)]"
                }.joined(separator: "\n")
                failure = ("\(site.bytes) bytes in \(site.count) allocations leaked; budget: \(offender.budget)", stack)
            }
            cases.append(testCase(name: name, classname: "leaktrack.\(site.module)", failure: failure))
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuites name="leaktrack check" tests="\(cases.count)" failures="\(failures)">
              <testsuite name="leaktrack check" tests="\(cases.count)" failures="\(failures)" errors="0" skipped="0">
            \(cases.joined(separator: "\n"))
              </testsuite>
            </testsuites>

            """
    }

    private func testCase(name: String, classname: String, failure: (message: String, text: String)?) -> String {
        var out = "    <testcase name=\"\(xml(name))\" classname=\"\(xml(classname))\""
        guard let failure else { return out + "/>" }
        out +=
            ">\n      <failure message=\"\(xml(failure.message))\" type=\"leak\">\(xml(failure.text))</failure>\n    </testcase>"
        return out
    }

    private func xml(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20: out += " " // not allowed in XML 1.0
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
