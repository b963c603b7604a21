import Foundation
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Real programs (installed by `scripts/setup --tests`) under the shim: the same output and exit status as a
/// bare run, no hang, and a report that makes sense.
final class RealProgramTests: EndToEndTestCase {
    /// A TCP port on 127.0.0.1 that nothing listens on right now.
    private func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw HarnessError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts `arguments` (not waited for); the caller stops it and calls the returned closure to wait.
    private func start(_ arguments: [String]) throws -> () -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: harness.directory)
        process.environment = ProcessInfo.processInfo.environment.filter {
            $0.key != "LD_PRELOAD" && !$0.key.hasPrefix("LEAKTRACK_")
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return {
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    /// Waits (up to 10 s) until something accepts connections on the port (bash's /dev/tcp).
    private func waitForPort(_ port: Int) {
        for _ in 0..<200 {
            if (try? harness.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/\(port)"], timeout: 5))?.status == 0 {
                return
            }
            usleep(50_000)
        }
    }

    private func allocations(_ report: ReportJSON) -> Int { report.totals.allocations }

    func testSqliteBuildsAndQueriesAHundredThousandRows() throws {
        let script = """
            CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);
            WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
            INSERT INTO t SELECT x, 'name-' || x, x * 0.5 FROM c;
            CREATE INDEX t_name ON t(name);
            SELECT count(*), sum(v), max(name) FROM t WHERE id % 7 = 0;
            SELECT name FROM t WHERE name LIKE 'name-9999%' ORDER BY id;
            """
        try script.write(toFile: harness.path("q.sql"), atomically: true, encoding: .utf8)
        func run(_ prefix: [String], _ database: String, environment: [String: String] = [:]) throws -> Harness.Result {
            try harness.run(prefix + ["sh", "-c", "exec sqlite3 \(database) < q.sql"], environment: environment)
        }
        let bare = try run([], "bare.db")
        XCTAssertEqual(bare.status, 0, bare.stderr)
        XCTAssertTrue(bare.stdout.hasPrefix("14285|357132142.5|name-99995\n"), bare.stdout)
        let preloaded = try run([], "preloaded.db", environment: ["LD_PRELOAD": harness.shim, "LEAKTRACK_QUIET": "1"])
        XCTAssertEqual(preloaded.status, 0, preloaded.stderr)
        XCTAssertEqual(preloaded.stdout, bare.stdout)
        let recorded = try run([harness.leaktrack, "record", "-o", harness.path("sqlite.trace"), "--"], "recorded.db")
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        XCTAssertEqual(recorded.stdout, bare.stdout)
        // record -o names the trace of the last program the command's pid ran: sh exec'd sqlite3.
        let report = try harness.reportJSON(harness.path("sqlite.trace"))
        XCTAssertEqual(report.process.executable, "/usr/bin/sqlite3")
        XCTAssertGreaterThan(allocations(report), 100_000)
        XCTAssertEqual(
            Leak.total(report).count, 0,
            "glibc's name-service caches are suppressed by default: \(Leak.callSites(report))")
    }

    func testMultiThreadedCppWithExceptionsKeepsItsOutputAndExactLeaks() throws {
        let build = try harness.run(
            ["c++", "-g", "-O2", "-pthread", "-o", harness.path("cpp_threads"), Harness.fixtures + "/cpp_threads.cpp"])
        XCTAssertEqual(build.status, 0, build.stderr)
        let bare = try harness.run([harness.path("cpp_threads")])
        XCTAssertEqual(bare.stdout, "checksum 491560\n")
        let preloaded = try harness.run(
            [harness.path("cpp_threads")], environment: ["LD_PRELOAD": harness.shim, "LEAKTRACK_QUIET": "1"])
        XCTAssertEqual(preloaded.status, 0, preloaded.stderr)
        XCTAssertEqual(preloaded.stdout, bare.stdout)
        let recorded = try harness.record([harness.path("cpp_threads")], trace: "cpp.trace")
        XCTAssertEqual(recorded.stdout, bare.stdout)
        let report = try harness.reportJSON(harness.path("cpp.trace"))
        XCTAssertEqual(
            Leak.callSites(report),
            [Leak(function: "leak_in_worker(int)", module: "cpp_threads", bytes: 6400, count: 400)])
    }

    func testRedisServesABenchmarkUnderRecord() throws {
        let port = try freePort()
        let wait = try start([
            harness.leaktrack, "record", "-o", harness.path("redis.trace"), "--", "redis-server", "--port", "\(port)",
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
        ])
        waitForPort(port)
        let benchmark = try harness.run(
            ["redis-benchmark", "-p", "\(port)", "-n", "100000", "-q", "-t", "set,get,lpush,lpop"], timeout: 300)
        XCTAssertEqual(benchmark.status, 0, benchmark.stderr)
        XCTAssertEqual(benchmark.stdout.components(separatedBy: "requests per second").count - 1, 4, benchmark.stdout)
        let check = try harness.run(["redis-cli", "-p", "\(port)", "dbsize"])
        XCTAssertGreaterThan(Int(check.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, 0, check.stdout)
        _ = try harness.run(["redis-cli", "-p", "\(port)", "shutdown", "nosave"])
        XCTAssertEqual(wait(), 0)
        let report = try harness.reportJSON(harness.path("redis.trace"))
        XCTAssertEqual(report.process.complete, true)
        XCTAssertGreaterThan(allocations(report), 400_000, "every request allocates")
    }

    func testNginxMasterAndWorkersEachGetATrace() throws {
        let port = try freePort()
        let root = harness.directory
        try FileManager.default.createDirectory(atPath: root + "/html", withIntermediateDirectories: true)
        try "hello from nginx\n".write(toFile: root + "/html/index.html", atomically: true, encoding: .utf8)
        let temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map { "\($0)_temp_path \(root)/\($0);" }.joined(
            separator: " ")
        try """
        daemon off;
        worker_processes 2;
        pid \(root)/nginx.pid;
        error_log \(root)/error.log warn;
        events { worker_connections 64; }
        http { access_log off; \(temp) server { listen 127.0.0.1:\(port); root \(root)/html; } }
        """.write(toFile: root + "/nginx.conf", atomically: true, encoding: .utf8)
        let wait = try start([
            harness.leaktrack, "record", "-o", harness.path("nginx.trace"), "--", "nginx", "-p", root, "-c",
            root + "/nginx.conf",
            "-e", root + "/error.log",
        ])
        waitForPort(port)
        let requests = try harness.run(
            ["sh", "-c", "for i in $(seq 200); do curl -s http://127.0.0.1:\(port)/; done"], timeout: 120)
        XCTAssertEqual(requests.stdout, String(repeating: "hello from nginx\n", count: 200))
        let pid = try String(contentsOfFile: root + "/nginx.pid", encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        XCTAssertEqual(kill(pid_t(pid) ?? 0, SIGQUIT), 0)
        XCTAssertEqual(wait(), 0)
        XCTAssertGreaterThan(allocations(try harness.reportJSON(harness.path("nginx.trace"))), 100)
        let workers = try harness.traces(of: "nginx")
        XCTAssertGreaterThanOrEqual(workers.count, 2, "the workers' traces: \(workers)")
        var served = 0
        for worker in workers { served += allocations(try harness.reportJSON(harness.path(worker))) }
        XCTAssertGreaterThan(served, 200, "the workers allocate for the requests they serve")
    }
}
