import LeakTrackTestSupport

@testable import LeakTrackCore

extension WireBuilder {
    /// Decodes everything with one feed call.
    func decode() throws -> [WireRecord] {
        var decoder = StreamDecoder(name: "test stream")
        var records: [WireRecord] = []
        try bytes.withUnsafeBytes { try decoder.feed($0) { records.append($0) } }
        try decoder.finish()
        return records
    }

    /// Applies the stream to a new session.
    func session() throws -> Session {
        let session = Session()
        try decode().forEach { try session.apply($0) }
        return session
    }
}
