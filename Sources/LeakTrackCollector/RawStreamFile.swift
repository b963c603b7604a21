import LeakTrackCore
import LeakTrackSymbolize

/// A raw shim stream saved to a file (`leaktrack collect --input`), turned into a trace as a live stream is.
public enum RawStreamFile {
    /// Decodes the stream in chunks, as from a socket: the collector's memory is the session's, whatever the
    /// file's size. The decoder and the session refuse what no shim writes, as they do for a live stream.
    public static func trace(path: String) throws -> (trace: Trace, hello: Hello) {
        var decoder = StreamDecoder(name: path)
        let session = Session()
        try InputFile(path: path, kind: .rawStream).forEachChunk { try decoder.feed($0, into: session) }
        try decoder.finish()
        guard let hello = session.hello else { throw LeakTrackError.truncated(what: path) }
        var trace = try session.makeTrace(
            symbolizer: nil, endMonotonicNanoseconds: hello.monotonicNanoseconds, releasingLiveTable: true)
        trace.symbolizeLiveFrames(with: LLVMSymbolizer.locate().map { LLVMSymbolizer(executable: $0) })
        return (trace, hello)
    }
}
