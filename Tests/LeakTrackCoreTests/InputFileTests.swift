import Foundation
import XCTest

@testable import LeakTrackCore

#if canImport(Glibc)
    import Glibc
#endif

/// The one way leaktrack opens the files it reads: regular files only, never more than the kind's bound.
final class InputFileTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "leaktrack-input-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testAFIFOIsRefusedWithoutBlockingAndDevicesAndDirectoriesToo() throws {
        let fifo = directory + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let started = Date()
        XCTAssertThrowsError(try InputFile(path: fifo, kind: .text("budget file"))) {
            XCTAssertEqual($0 as? LeakTrackError, .notRegularFile(path: fifo, kind: "budget file", type: "a FIFO"))
            XCTAssertEqual("\($0)", "cannot read budget file \(fifo): it is a FIFO, not a regular file")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertThrowsError(try InputFile(path: "/dev/zero", kind: .trace)) {
            XCTAssertEqual(
                $0 as? LeakTrackError, .notRegularFile(path: "/dev/zero", kind: "trace", type: "a character device"))
        }
        XCTAssertThrowsError(try InputFile(path: directory, kind: .rawStream)) {
            XCTAssertEqual(
                $0 as? LeakTrackError, .notRegularFile(path: directory, kind: "stream file", type: "a directory"))
        }
        XCTAssertThrowsError(try InputFile(path: directory + "/missing", kind: .trace)) {
            XCTAssertEqual($0 as? LeakTrackError, .file(path: directory + "/missing", operation: "open", errno: ENOENT))
        }
    }

    func testTheSizeBoundHoldsAtOpenAndWhileReading() throws {
        let path = directory + "/sparse"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
        XCTAssertEqual(truncate(path, off_t(InputKind.textLimit)), 0)
        XCTAssertEqual(try InputFile(path: path, kind: .text("baseline")).readAll().count, Int(InputKind.textLimit))
        XCTAssertEqual(truncate(path, off_t(InputKind.textLimit + 1)), 0)
        XCTAssertThrowsError(try InputFile(path: path, kind: .text("baseline"))) {
            XCTAssertEqual($0 as? LeakTrackError, .tooLarge(path: path, kind: "baseline", limit: InputKind.textLimit))
            XCTAssertEqual(
                "\($0)",
                "cannot read baseline \(path): it is larger than 64 MiB, the most leaktrack reads for a baseline")
        }
        // A file that grows past the bound after it was opened is cut off there too.
        XCTAssertEqual(truncate(path, 10), 0)
        let file = try InputFile(path: path, kind: .text("baseline"))
        XCTAssertEqual(truncate(path, off_t(InputKind.textLimit + 1)), 0)
        XCTAssertThrowsError(try file.readAll()) {
            XCTAssertEqual($0 as? LeakTrackError, .tooLarge(path: path, kind: "baseline", limit: InputKind.textLimit))
        }
    }

    func testTextIsReadWhole() throws {
        let path = directory + "/text"
        try Data("leak:foo\n\u{fe}".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try InputFile.text(path: path, kind: "suppression file"), "leak:foo\n\u{fe}")
    }
}
