public import ScenarioModel
import EventSchema
import Foundation
import ScenarioJudging
public import ScenarioReporting

/// `flatline run` as one library call: the files (a shard of them), the scenarios (with their
/// vars and network mode), run a few at a time under the admission policy, interrupted cleanly by
/// a signal, and the evidence written — recordings, JUnit, pages, the index, the shard manifest.
/// The exit status is decided here: 0 every check held, 1 a check failed, 2 bad input, a setup
/// error or lost evidence, 128+N interrupted by signal N.
public enum Suite {
    public struct Request: Sendable {
        public var paths: [String]
        public var recursive = false
        public var jobs = 8
        /// `I/N`: run one stable part of the files.
        public var shard: String?
        /// A `durations.json` to balance the shards.
        public var durations: String?
        public var vars: [String: String] = [:]
        /// Overrides each scenario's own `network:`.
        public var network: NetworkMode?
        /// Where run folders go; nil writes no recordings.
        public var runs: RunFolders?
        public var junit: String?
        public var report = false
        public var quiet = false
        public var verbose = false
        public var capture = false
        public var strict = false
        public var slack: Slack = .none
        /// The command's arguments, to run it again inside a network namespace (packet mode).
        public var arguments: [String] = []

        public init(paths: [String]) { self.paths = paths }
    }

    /// Runs the request, printing with `say` and `complain`; returns the exit status.
    public static func run(_ request: Request, say: @escaping @Sendable (String) -> Void, complain: @escaping @Sendable (String) -> Void) async -> Int32 {
        let prepared: Prepared
        switch prepare(request) {
        case .success(let value): prepared = value
        case .failure(let problems):
            for problem in problems.lines { complain(problem) }
            return 2
        }
        var options = RunOptions()
        options.slack = request.slack
        options.runsDirectory = request.runs?.root
        options.verbose = request.verbose
        options.capture = request.capture
        options.strict = request.strict
        options.flatlineExecutable = currentExecutablePath()
        // Several at once: each timeline is printed whole when its scenario ends, not interleaved.
        let concurrent = min(request.jobs, prepared.scenarios.count) > 1
        options.quiet = request.quiet || concurrent
        options.console = say
        options.report = request.report
        options.junitPath = request.junit
        options.keepTimeline = (concurrent && !request.quiet) || request.junit != nil

        let started = ContinuousClock.now
        // SIGINT, SIGTERM, SIGHUP: the scenarios in flight stop and are torn down, the finished
        // ones keep their verdicts, the report is written, and the exit status says which signal.
        let interruption = options.interruption
        let run = Task { [options] in await runAll(prepared.scenarios, options: options, jobs: request.jobs) }
        let signals = TerminationSignals { signalNumber in
            interruption.interrupt(TerminationSignals.name(signalNumber))
            run.cancel()
        }
        defer { signals.cancel() }
        let results = await run.value
        let wall = ContinuousClock.now - started
        for line in console(results, request: request, concurrent: concurrent, wall: wall) { say(line) }
        var problems = writeEvidence(results, request: request, prepared: prepared, wall: wall, say: say)
        if request.runs != nil {
            problems += results.filter { $0.recordingPath == nil && $0.outcome != .notRun }.map { "the recording of \($0.scenario.name) could not be written" }
        }
        if let lost = LineWriter.outputFailure { problems.append("the output was lost (\(lost))") }
        for problem in problems { complain("flatline run: \(problem)") }
        if !problems.isEmpty { return 2 }
        if let reason = interruption.reason {
            complain("flatline run: interrupted by \(reason); \(results.filter { $0.outcome != .notRun }.count) of \(prepared.scenarios.count) scenarios finished")
            return 128 + TerminationSignals.number(reason)
        }
        if results.contains(where: { $0.outcome == .error }) { return 2 }
        return results.allSatisfy(\.outcome.succeeded) ? 0 : 1
    }

    /// What a request runs: its scenarios, and the shard with the whole list it was cut from.
    struct Prepared: Sendable {
        var scenarios: [Scenario]
        var allFiles: [String]
        var shard: ScenarioShards.Shard?
    }

    struct Problems: Error {
        var lines: [String]
    }

    static func prepare(_ request: Request) -> Result<Prepared, Problems> {
        func fail(_ lines: String...) -> Result<Prepared, Problems> { .failure(Problems(lines: lines)) }
        if request.report, request.runs == nil {
            return fail("flatline run: --report draws the pages from the recordings; it cannot be used with --no-record")
        }
        var files: [String]
        do { files = try ScenarioFiles.resolve(request.paths, recursive: request.recursive) } catch { return fail("flatline run: \(error)") }
        let allFiles = files
        var shard: ScenarioShards.Shard?
        if let text = request.shard {
            guard request.runs != nil else {
                return fail("flatline run: --shard writes its manifest and recordings into --runs-dir for 'flatline report --merge'; it cannot be used with --no-record")
            }
            do throws(ConfigurationError) {
                let parsed = try ScenarioShards.Shard(parsing: text)
                var known: [String: Double] = [:]
                if let durations = request.durations {
                    guard FileManager.default.fileExists(atPath: durations) else { throw ConfigurationError("--durations \(durations): no such file") }
                    known = try ScenarioShards.durations(at: durations)
                }
                files = ScenarioShards.select(files, shard: parsed, durations: known)
                shard = parsed
            } catch {
                return fail("flatline run: \(error.message)")
            }
        }
        var scenarios: [Scenario] = []
        var invalid: [String] = []
        for file in files {
            do {
                let scenario = try Scenario.load(path: file, vars: request.vars)
                scenarios.append(try request.network.map { mode throws(ScenarioError) in try scenario.in(mode) } ?? scenario)
            } catch {
                invalid.append("\(error)")
            }
        }
        if !invalid.isEmpty { return .failure(Problems(lines: invalid)) }
        // Packet mode: the whole run moves into a private network namespace (this process is
        // replaced by the same command inside it), which vanishes with the run however it ends.
        if scenarios.contains(where: { $0.network == .packet }) {
            let problem = PacketNamespace.inside ? PacketNamespace.prepare() : PacketNamespace.reexecute(arguments: request.arguments)
            if let problem { return fail("flatline run: \(problem)") }
        }
        // A stale report must never pass for this run: the old one goes before anything runs.
        if let junit = request.junit { try? FileManager.default.removeItem(atPath: junit) }
        // Recordings are the evidence: a folder they cannot be written to stops the run before it starts.
        if let runs = request.runs, let problem = runs.unwritable() {
            return fail("flatline run: cannot write recordings to \(runs.root): \(problem) (use --runs-dir DIR, or --no-record)")
        }
        return .success(Prepared(scenarios: scenarios, allFiles: allFiles, shard: shard))
    }

    static func runAll(_ scenarios: [Scenario], options: RunOptions, jobs: Int) async -> [ScenarioResult] {
        let admission = Admission()
        @Sendable func run(_ index: Int) async -> (Int, ScenarioResult) {
            let alone = Admission.needsTheMachine(scenarios[index])
            await admission.enter(alone: alone)
            let result = await ScenarioRunner(scenario: scenarios[index], options: options).run()
            await admission.leave(alone: alone)
            return (index, result)
        }
        return await withTaskGroup(of: (Int, ScenarioResult).self) { group in
            var results: [ScenarioResult?] = Array(repeating: nil, count: scenarios.count)
            var next = 0
            for _ in 0..<min(jobs, scenarios.count) {
                let index = next
                group.addTask { await run(index) }
                next += 1
            }
            while let (index, result) = await group.next() {
                results[index] = result
                MemoryReturn.afterScenario()
                if next < scenarios.count, !Task.isCancelled {
                    let index = next
                    group.addTask { await run(index) }
                    next += 1
                }
            }
            // Scenarios that never started (the run was interrupted) are reported, not dropped.
            return results.enumerated().map { index, result in
                result ?? .notRun(scenarios[index], reason: "\(options.interruption.reason ?? "the run was cancelled") first")
            }
        }
    }

    /// The lines after the run: whole timelines of concurrent runs, failures when quiet, the
    /// summary, and where the run folders are.
    static func console(_ results: [ScenarioResult], request: Request, concurrent: Bool, wall: Duration) -> [String] {
        var lines: [String] = []
        for result in results {
            if concurrent, !request.quiet {
                lines += result.timeline
            } else if request.quiet {
                if !result.story.isEmpty {
                    let replay = result.recordingPath.map { " (all of them: flatline replay --verbose \($0))" } ?? ""
                    lines.append("\(result.scenario.name): what happened\(replay)")
                    lines += result.story
                }
                lines += result.verdicts.filter { $0.outcome != .passed }.map { "\(result.scenario.name): \($0.line)" }
                if let error = result.setupError { lines.append("\(result.scenario.name): ✗ setup: \(error)") }
                if let reason = result.notRun { lines.append("\(result.scenario.name): – not run: \(reason)") }
            }
            if request.verbose, let path = result.recordingPath { lines.append("  recording: \(path)") }
        }
        lines += Reports.summary(results, wall: wall)
        let folders = results.compactMap { $0.recordingPath.map(RunFolders.folder(ofRecording:)) }
        if folders.count == 1 {
            lines.append("run folder: \(folders[0])")
        } else if !folders.isEmpty, let runs = request.runs {
            lines.append("run folders (in \(runs.root)):")
            lines += folders.map { "  \($0)" }
        }
        return lines
    }

    /// JUnit, the index page and the shard manifest; the problems writing them.
    static func writeEvidence(_ results: [ScenarioResult], request: Request, prepared: Prepared, wall: Duration, say: (String) -> Void) -> [String] {
        var outcome = ReportPages.Outcome()
        if let junit = request.junit {
            _ = ReportPages.write(Reports.junit(results), to: junit, into: &outcome)
        }
        if let runs = request.runs, request.report {
            let entries = results.map { result in
                RunIndex.Entry(result: result, link: result.recordingPath.map { RunReport.relativePath(from: runs.root, to: RunFolders.report(in: RunFolders.folder(ofRecording: $0))) })
            }
            let links = request.junit.map { [("JUnit", RunReport.relativePath(from: runs.root, to: $0))] } ?? []
            let page = RunIndex.html(entries, title: "flatline run " + request.paths.joined(separator: " "), wall: wall, extraLinks: links)
            if ReportPages.write(page, to: runs.index, into: &outcome) { say("report: \(runs.index)") }
        }
        if let runs = request.runs, let shard = prepared.shard {
            let manifest = ScenarioShards.Manifest(
                shard: shard, all: prepared.allFiles, files: results.map(\.scenario.file),
                folders: results.compactMap { $0.recordingPath.map { RunReport.relativePath(from: runs.root, to: RunFolders.folder(ofRecording: $0)) } }
            )
            let path = runs.manifest(index: shard.index, count: shard.count)
            if ReportPages.write(manifest.text, to: path, into: &outcome) {
                say("shard \(shard.description): \(manifest.files.count) of \(prepared.allFiles.count) scenario files; manifest \(path)")
            }
        }
        return outcome.problems
    }
}
