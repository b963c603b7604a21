import Foundation
import XCTest

/// Sampling (`record --sample`, LEAKTRACK_SAMPLE): the estimates of a program with known leaks fall within the
/// Poisson model's bound, a large leak is seen at any rate, nothing that was freed shows up as a leak (frees of
/// unsampled blocks, reallocs that move sampled blocks, frees on another thread), and `check` refuses
/// estimates unless told to take them. Runs are seeded (LEAKTRACK_SAMPLE_SEED): the same samples every time.
final class SamplingTests: EndToEndTestCase {
    func compile() throws { try harness.compile(["sampled.c"], output: "sampled", flags: ["-lpthread"]) }

    func sampledRun(_ mode: String, mean: String, seed: Int, trace: String = "out.trace") throws -> ReportJSON {
        let recorded = try harness.record(
            [harness.path("sampled"), mode], trace: trace, options: ["--sample", mean],
            environment: ["LEAKTRACK_SAMPLE_SEED": String(seed)])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        return try harness.report(of: recorded)
    }

    /// n blocks of `size` leak; sampled at mean M each is kept with probability p = 1 - e^(-size/M) and counts
    /// 1/p, so the estimated count has standard deviation sqrt(n (1 - p) / p). Estimates must be within 5 of
    /// them (a bound a correct sampler breaks once in 1.7 million runs, and these are seeded).
    func testEstimatesFallWithinThePoissonBound() throws {
        try compile()
        let sites: [(function: String, count: Double, size: Double)] = [
            ("small_leak", 40_000, 100), ("mid_leak", 2_000, 4_096), ("huge_leak", 100, 10 * 1_048_576),
            ("array_leak", 20_000, 512),
        ]
        for (mean, seed) in [(4096.0, 1), (65536.0, 2), (65536.0, 3)] {
            let report = try sampledRun("sites", mean: String(Int(mean)), seed: seed)
            XCTAssertEqual(report.sampled?.meanBytes, Int(mean))
            for site in sites {
                let p = 1 - exp(-site.size / mean)
                let bound = 5 * (site.count * (1 - p) / p).squareRoot()
                let found = report.callSites.filter { $0.function == site.function }
                XCTAssertEqual(found.count, 1, "\(site.function) at mean \(mean): \(report.callSites.map(\.function))")
                guard let estimate = found.first else { continue }
                XCTAssertLessThanOrEqual(
                    abs(Double(estimate.count) - site.count), max(bound, 1),
                    "\(site.function) at mean \(mean), seed \(seed): ~\(estimate.count) blocks, truly \(site.count)")
                XCTAssertLessThanOrEqual(
                    abs(Double(estimate.bytes) - site.count * site.size), max(bound, 1) * site.size,
                    "\(site.function) at mean \(mean): ~\(estimate.bytes) B")
                XCTAssertGreaterThan(estimate.samples ?? 0, 0)
                XCTAssertLessThanOrEqual(estimate.samples ?? 0, Int(site.count))
            }
            // The freed churn never shows, and the largest leak comes first.
            XCTAssertFalse(report.callSites.contains { $0.function == "churn" })
            XCTAssertEqual(report.callSites.first?.function, "huge_leak")
        }
    }

    /// 100 blocks of 10 MiB leak: at the sparsest rate the shim takes (64 MiB), each is sampled with
    /// probability 1 - e^(-10/64), so all 100 go unseen with probability e^(-15.6); at any rate below, less.
    func testALargeLeakIsSeenAtAnyRate() throws {
        try compile()
        for (mean, seed) in [("4K", 4), ("512K", 5), ("64M", 6), ("64M", 7)] {
            let report = try sampledRun("sites", mean: mean, seed: seed)
            let huge = report.callSites.first { $0.function == "huge_leak" }
            XCTAssertNotNil(huge, "the 1000 MiB leak went unseen at --sample \(mean)")
        }
    }

    /// Nothing leaks, so nothing may be reported, at a rate that samples tens of thousands of blocks: frees of
    /// blocks that were not sampled, reallocs that move sampled blocks (and reallocs of unsampled blocks into
    /// sampled ones), and blocks freed by another thread than the one that allocated them.
    func testNoPhantomLeaks() throws {
        try compile()
        for seed in [8, 9] {
            let report = try sampledRun("phantoms", mean: "4K", seed: seed)
            XCTAssertEqual(report.callSites.map(\.function), [], "seed \(seed)")
            XCTAssertEqual(report.leaked.count, 0)
            XCTAssertGreaterThan(report.sampled?.samples ?? 0, 10_000)
            XCTAssertEqual(report.totals.unknownFrees, 0)
        }
    }

    /// check refuses estimates (a budget of 0 cannot be proven from samples) unless --allow-estimates, and
    /// then judges them, saying so.
    func testCheckRefusesEstimatesUnlessAllowed() throws {
        try compile()
        _ = try sampledRun("sites", mean: "64K", seed: 10, trace: "sites.trace")
        let refused = try harness.run([harness.leaktrack, "check", harness.path("sites.trace")])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("is sampled"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--allow-estimates"), refused.stderr)
        let judged = try harness.run([harness.leaktrack, "check", "--allow-estimates", harness.path("sites.trace")])
        XCTAssertEqual(judged.status, 1)
        XCTAssertTrue(judged.stdout.contains("estimated"), judged.stdout)
        XCTAssertTrue(judged.stdout.contains("~"), judged.stdout)
        _ = try sampledRun("phantoms", mean: "4K", seed: 11, trace: "clean.trace")
        let clean = try harness.run([
            harness.leaktrack, "check", "--allow-estimates", "--format", "json", harness.path("clean.trace"),
        ])
        XCTAssertEqual(clean.status, 0, clean.stdout + clean.stderr)
        XCTAssertTrue(clean.stdout.contains("\"estimated\": true"), clean.stdout)
    }

    /// The text report says the figures are estimates, and from how many samples.
    func testTheTextReportMarksEstimates() throws {
        try compile()
        _ = try sampledRun("sites", mean: "64K", seed: 12, trace: "sites.trace")
        let text = try harness.run([harness.leaktrack, "report", harness.path("sites.trace")])
        XCTAssertEqual(text.status, 0)
        XCTAssertTrue(text.stdout.contains("SAMPLED: one allocation per 64.0 KiB"), text.stdout)
        XCTAssertTrue(text.stdout.contains("LEAK DETECTED: ~"), text.stdout)
        XCTAssertTrue(text.stdout.contains("(estimated from "), text.stdout)
        XCTAssertTrue(text.stdout.contains("samples) at huge_leak"), text.stdout)
        // diff says so too, against an exact trace of the same program.
        let exact = try harness.record([harness.path("sampled"), "sites"], trace: "exact.trace")
        let diff = try harness.run([harness.leaktrack, "diff", exact.trace, harness.path("sites.trace")])
        XCTAssertEqual(diff.status, 0, diff.stderr)
        XCTAssertTrue(diff.stdout.contains("the newer trace is sampled: its amounts are estimates"), diff.stdout)
        let diffJSON = try harness.run([
            harness.leaktrack, "diff", "--format", "json", exact.trace, harness.path("sites.trace"),
        ])
        XCTAssertTrue(diffJSON.stdout.contains("\"meanBytes\": 65536"), diffJSON.stdout)
        // An exact trace says nothing of the kind.
        let report = try harness.report(of: exact)
        XCTAssertNil(report.sampled)
        XCTAssertEqual(report.callSites.first { $0.function == "small_leak" }?.count, 40_000)
        XCTAssertNil(report.callSites.first?.samples)
    }

    /// A rate so dense that the shim's table of sampled blocks fills: the blocks it has no room for are counted
    /// and the report says the estimates are low, rather than passing them off as right.
    func testAFullTableIsCountedAndSaid() throws {
        try compile()
        let recorded = try harness.record(
            [harness.path("sampled"), "many"], trace: "many.trace", options: ["--sample", "16"],
            environment: ["LEAKTRACK_SAMPLE_SEED": "13"])
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        let report = try harness.report(of: recorded)
        let refused = try XCTUnwrap(report.sampled?.refused)
        XCTAssertGreaterThan(refused, 0)
        let text = try harness.run([harness.leaktrack, "report", recorded.trace])
        XCTAssertTrue(text.stdout.contains("sampled allocations were left unrecorded"), text.stdout)
    }

    /// `check -- CMD` records every allocation even with LEAKTRACK_SAMPLE in its environment.
    func testCheckRecordsExactlyWhateverTheEnvironmentSays() throws {
        try compile()
        let result = try harness.run(
            [harness.leaktrack, "check", "--", harness.path("sampled"), "phantoms"],
            environment: ["LEAKTRACK_SAMPLE": "4K"])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("PASSED: 0 B in 0 allocations"), result.stdout)
    }

    /// A bad --sample is refused before anything runs.
    func testABadSampleSizeIsRefused() throws {
        for bad in ["1G", "lots", "-1"] {
            let result = try harness.run([harness.leaktrack, "record", "--sample", bad, "--", "/bin/true"])
            XCTAssertEqual(result.status, 2, bad + ": " + result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains("--sample"), result.stderr)
        }
    }
}
