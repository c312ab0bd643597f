import ArgumentParser
import Foundation
import EventSchema
import HeartbeatCore
import Scenario
import ScenarioJudging
import ScenarioReporting
import ScenarioModel

#if canImport(Glibc)
import Glibc
#endif

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run scenario files: start server, proxy and client, apply the faults, judge the client.",
        discussion: """
            A folder means the scenario files directly in it; subfolders (negative/, clients/) only \
            when named or with --recursive. A scenario with 'must-fail' passes when its check catches \
            the broken client. Exit status: 0 all checks held, 1 a check failed, 2 a scenario is \
            invalid or could not be set up or its evidence could not be written, 128+N interrupted \
            by signal N (the report is still written).
            """
    )

    @Argument(help: "Scenario files or folders.") var paths: [String]
    @Option(help: "Scenarios to run at once (a scenario with more than 100 clients always runs alone). The default, 8, was measured: see docs/scale.md.") var jobs: Int = 8
    @Flag(help: "Include subfolders of the folders given.") var recursive = false
    @Option(help: "Widen every 'within' bound for slow machines: 20%, 50ms or 20%+50ms.") var slack: String = "0"
    @Option(help: "Write one JUnit XML report for the whole invocation.") var junit: String?
    @Option(help: "Folder for run recordings.") var runsDir: String = ".flatline/runs"
    @Flag(help: "Do not write recordings.") var noRecord = false
    @Flag(help: "Print only failures and the summary.") var quiet = false
    @Flag(help: "Print every event.") var verbose = false
    @Flag(help: "Capture the wire with libpcap (capture.pcap in each run folder, wire events in the recording); needs root or CAP_NET_RAW.") var capture = false
    @Flag(help: "Count checks that could not be judged (no capture, no source of their events) as failures.") var strict = false
    @Flag(help: "Write report.html into every run folder and index.html into --runs-dir (self-contained pages: timeline, expectations).") var report = false
    @Option(help: "Run one stable part of the files: I/N (e.g. 2/4), split by name and balanced by --durations; writes shard-I-of-N.json for 'flatline report --merge'.") var shard: String?
    @Option(help: "Scenario durations (JSON: file → seconds, as 'flatline report --merge' writes) to balance --shard; give every shard the same file.") var durations: String?
    @Option(name: .customLong("var"), help: ArgumentHelp("Set one of a scenario's vars (its 'vars:' section; {var.NAME} in commands), e.g. --var mode=faithful. Repeatable.", valueName: "NAME=VALUE")) var vars: [String] = []
    @Option(help: "Where faults are carried out: proxy (the proxy's stages) or packet (nftables rules in a private network namespace; needs root or unprivileged user namespaces, and nft). Default: each scenario's own 'network:'.") var network: String?

    func run() async throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        let slackValue: Slack
        do { slackValue = try Slack(parsing: slack) } catch { throw ValidationError("--slack: \(error.message)") }
        var files: [String]
        do { files = try ScenarioFiles.resolve(paths, recursive: recursive) } catch {
            LineWriter.standardError.write("flatline run: \(error)")
            throw ExitCode(2)
        }
        let allFiles = files
        var shardValue: ScenarioShards.Shard?
        if let shard {
            do throws(ConfigurationError) {
                let parsed = try ScenarioShards.Shard(parsing: shard)
                shardValue = parsed
                var known: [String: Double] = [:]
                if let durations {
                    guard FileManager.default.fileExists(atPath: durations) else { throw ConfigurationError("--durations \(durations): no such file") }
                    known = try ScenarioShards.durations(at: durations)
                }
                files = ScenarioShards.select(files, shard: parsed, durations: known)
            } catch {
                LineWriter.standardError.write("flatline run: \(error.message)")
                throw ExitCode(2)
            }
            if noRecord {
                LineWriter.standardError.write("flatline run: --shard writes its manifest and recordings into --runs-dir for 'flatline report --merge'; it cannot be used with --no-record")
                throw ExitCode(2)
            }
        }
        let varValues: [String: String]
        do { varValues = try parseVars(vars) } catch {
            LineWriter.standardError.write("flatline run: \(error)")
            throw ExitCode(2)
        }
        var scenarios: [Scenario] = []
        var invalid = false
        for file in files {
            do {
                scenarios.append(try Scenario.load(path: file, vars: varValues))
            } catch {
                LineWriter.standardError.write("\(error)")
                invalid = true
            }
        }
        if let network {
            guard let mode = NetworkMode(rawValue: network) else {
                throw ValidationError("--network must be proxy or packet, got '\(network)'")
            }
            for (index, scenario) in scenarios.enumerated() {
                do { scenarios[index] = try scenario.in(mode) } catch {
                    LineWriter.standardError.write("\(error)")
                    invalid = true
                }
            }
        }
        if invalid { throw ExitCode(2) }
        // Packet mode: the whole run moves into a private network namespace (this process is
        // replaced by the same command inside it), which vanishes with the run however it ends.
        if scenarios.contains(where: { $0.network == .packet }) {
            if PacketNamespace.inside {
                if let problem = PacketNamespace.prepare() {
                    LineWriter.standardError.write("flatline run: \(problem)")
                    throw ExitCode(2)
                }
            } else {
                let problem = PacketNamespace.reexecute(arguments: Array(CommandLine.arguments.dropFirst()))
                LineWriter.standardError.write("flatline run: \(problem)")
                throw ExitCode(2)
            }
        }

        // A stale report must never pass for this run: the old one goes before anything runs.
        if let junit { unlink(junit) }
        // Recordings are the evidence: a folder they cannot be written to stops the run before it starts.
        if !noRecord, let problem = Self.unwritable(runsDir) {
            LineWriter.standardError.write("flatline run: cannot write recordings to \(runsDir): \(problem) (use --runs-dir DIR, or --no-record)")
            throw ExitCode(2)
        }

        var options = RunOptions()
        options.slack = slackValue
        options.runsDirectory = noRecord ? nil : runsDir
        options.verbose = verbose
        options.capture = capture
        options.strict = strict
        options.flatlineExecutable = currentExecutablePath()
        // Several at once: each timeline is printed whole when its scenario ends, not interleaved.
        let concurrent = min(jobs, scenarios.count) > 1
        options.quiet = quiet || concurrent
        options.console = { LineWriter.standardOutput.write($0) }
        options.report = report && !noRecord
        options.junitPath = junit
        if report, noRecord {
            LineWriter.standardError.write("flatline run: --report draws the pages from the recordings; it cannot be used with --no-record")
            throw ExitCode(2)
        }

        let started = ContinuousClock.now
        // SIGINT, SIGTERM, SIGHUP: the scenarios in flight stop and are torn down, the finished
        // ones keep their verdicts, the report is written, and the exit status says which signal.
        let interruption = options.interruption
        let run = Task { [options, scenarios] in await Self.runAll(scenarios, options: options, jobs: jobs) }
        let signals = TerminationSignals { signalNumber in
            interruption.interrupt(TerminationSignals.name(signalNumber))
            run.cancel()
        }
        defer { signals.cancel() }
        let results = await run.value
        let wall = ContinuousClock.now - started
        for result in results {
            if concurrent, !quiet {
                for line in result.timeline { LineWriter.standardOutput.write(line) }
            } else if quiet {
                for verdict in result.verdicts where verdict.outcome != .passed { LineWriter.standardOutput.write("\(result.scenario.name): \(verdict.line)") }
                if let error = result.setupError { LineWriter.standardOutput.write("\(result.scenario.name): ✗ setup: \(error)") }
                if let reason = result.notRun { LineWriter.standardOutput.write("\(result.scenario.name): – not run: \(reason)") }
            }
            if verbose, let path = result.recordingPath { LineWriter.standardOutput.write("  recording: \(path)") }
        }
        for line in Reports.summary(results, wall: wall) { LineWriter.standardOutput.write(line) }
        // Where the evidence is: every run's folder (recording, capture).
        let folders = results.compactMap { $0.recordingPath.map { ($0 as NSString).deletingLastPathComponent } }
        if folders.count == 1 {
            LineWriter.standardOutput.write("run folder: \(folders[0])")
        } else if !folders.isEmpty {
            LineWriter.standardOutput.write("run folders (in \(runsDir)):")
            for folder in folders { LineWriter.standardOutput.write("  \(folder)") }
        }
        if let junit {
            do {
                try Reports.junit(results).write(toFile: junit, atomically: true, encoding: .utf8)
            } catch {
                LineWriter.standardError.write("flatline run: cannot write \(junit): \(error)")
                throw ExitCode(2)
            }
        }
        if report {
            let entries = results.map { result in
                RunIndex.Entry(result: result, link: result.recordingPath.map { RunReport.relativePath(from: runsDir, to: ($0 as NSString).deletingLastPathComponent + "/report.html") })
            }
            let indexPath = "\(runsDir)/index.html"
            let links = junit.map { [("JUnit", RunReport.relativePath(from: runsDir, to: $0))] } ?? []
            if (try? RunIndex.html(entries, title: "flatline run " + paths.joined(separator: " "), wall: wall, extraLinks: links).write(toFile: indexPath, atomically: true, encoding: .utf8)) != nil {
                LineWriter.standardOutput.write("report: \(indexPath)")
            } else {
                LineWriter.standardError.write("flatline run: cannot write \(indexPath)")
                throw ExitCode(2)
            }
        }
        if let shardValue {
            let ran = results.map(\.scenario.file)
            let runFolders = results.compactMap { $0.recordingPath.map { RunReport.relativePath(from: runsDir, to: ($0 as NSString).deletingLastPathComponent) } }
            let path = "\(runsDir)/shard-\(shardValue.index)-of-\(shardValue.count).json"
            do {
                try ScenarioShards.manifest(shard: shardValue, all: allFiles, ran: ran, folders: runFolders).write(toFile: path, atomically: true, encoding: .utf8)
                LineWriter.standardOutput.write("shard \(shardValue.description): \(ran.count) of \(allFiles.count) scenario files; manifest \(path)")
            } catch {
                LineWriter.standardError.write("flatline run: cannot write \(path): \(error)")
                throw ExitCode(2)
            }
        }
        let lostRecordings = results.filter { !noRecord && $0.recordingPath == nil && $0.outcome != .notRun }
        for result in lostRecordings { LineWriter.standardError.write("flatline run: the recording of \(result.scenario.name) could not be written") }
        if let problem = LineWriter.outputFailure.withLockedValue({ $0 }) {
            LineWriter.standardError.write("flatline run: the output was lost (\(problem))")
            throw ExitCode(2)
        }
        if !lostRecordings.isEmpty { throw ExitCode(2) }
        if let reason = interruption.reason {
            LineWriter.standardError.write("flatline run: interrupted by \(reason); \(results.filter { $0.outcome != .notRun }.count) of \(scenarios.count) scenarios finished")
            throw ExitCode(128 + TerminationSignals.number(reason))
        }
        if results.contains(where: { $0.outcome == .error }) { throw ExitCode(2) }
        if results.contains(where: { !$0.outcome.succeeded }) { throw ExitCode(1) }
    }

    /// Why recordings cannot be written to `folder`, or nil.
    static func unwritable(_ folder: String) -> String? {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            return (error as NSError).localizedDescription
        }
        let probe = "\(folder)/.flatline-write-test-\(getpid())"
        guard FileManager.default.createFile(atPath: probe, contents: Data()) else { return "permission denied" }
        unlink(probe)
        return nil
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
}

/// Scenarios run at once share the machine. One with more than 100 clients needs the cores and
/// the descriptors to itself (a herd of 1,000 saturates both cores for a moment, 4,000 clients take
/// 16,000 descriptors): it starts when nothing else runs, and nothing starts while it runs.
/// First come, first served: a waiting large scenario is not overtaken by later small ones.
actor Admission {
    private var running = 0
    private var exclusive = false
    private var waiting: [(alone: Bool, resume: CheckedContinuation<Void, Never>)] = []

    static func needsTheMachine(_ scenario: Scenario) -> Bool { scenario.client.count > 100 }

    func enter(alone: Bool) async {
        if waiting.isEmpty, fits(alone) {
            take(alone)
            return
        }
        await withCheckedContinuation { waiting.append((alone, $0)) }
    }

    func leave(alone: Bool) {
        running -= 1
        if alone { exclusive = false }
        while let first = waiting.first, fits(first.alone) {
            waiting.removeFirst()
            take(first.alone)
            first.resume.resume()
        }
    }

    private func fits(_ alone: Bool) -> Bool { !exclusive && (!alone || running == 0) }

    private func take(_ alone: Bool) {
        running += 1
        if alone { exclusive = true }
    }
}

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check scenario files without running them (exit 2 on the first problem of each file)."
    )

    @Argument(help: "Scenario files or folders.") var paths: [String]
    @Flag(help: "Include subfolders.") var recursive = false
    @Option(name: .customLong("var"), help: ArgumentHelp("Set one of a scenario's vars, e.g. --var mode=faithful. Repeatable.", valueName: "NAME=VALUE")) var vars: [String] = []

    func run() throws {
        let varValues: [String: String]
        do { varValues = try parseVars(vars) } catch {
            LineWriter.standardError.write("flatline validate: \(error)")
            throw ExitCode(2)
        }
        let files: [String]
        do { files = try ScenarioFiles.resolve(paths, recursive: recursive) } catch {
            LineWriter.standardError.write("flatline validate: \(error)")
            throw ExitCode(2)
        }
        var invalid = false
        for file in files {
            do {
                let scenario = try Scenario.load(path: file, vars: varValues)
                let checks = scenario.timeline.filter(\.isCheck).count + scenario.assertions.count
                LineWriter.standardOutput.write("ok  \(file): \(scenario.name) — \(scenario.timeline.count) steps, \(checks) checks")
            } catch {
                LineWriter.standardError.write("\(error)")
                invalid = true
            }
        }
        if invalid { throw ExitCode(2) }
    }
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-print a recorded run and judge it again, offline.",
        discussion: """
            With --scenario, new or changed expectations and assertions are judged against the old \
            run; an edited scenario whose actions differ from the recorded run is refused (--force \
            judges it anyway). The run's --slack and --strict are reused unless given. A recording \
            without its end record (a run killed mid-way, a file cut short) is judged on what it \
            holds and the replay exits 2.
            """
    )

    @Argument(help: "A recording.jsonl written by 'flatline run' (or use --last).") var recording: String?
    @Option(help: "Replay the newest recording of this scenario (by name) in --runs-dir.") var last: String?
    @Option(help: "Where 'flatline run' wrote its run folders (for --last).") var runsDir: String = ".flatline/runs"
    @Option(help: "An edited scenario to judge the recording with.") var scenario: String?
    @Option(help: "Widen 'within' bounds: 20%, 50ms or 20%+50ms (default: the run's own).") var slack: String?
    @Flag(help: "Print every event.") var verbose = false
    @Option(help: "A capture (pcap) of the run, to show its wire events beside the others.") var pcap: String?
    @Flag(help: "Count checks that could not be judged as failures (default: as the run did).") var strict = false
    @Flag(help: "Judge with an edited scenario even if its actions differ from the recorded run's.") var force = false
    @Flag(help: "Write report.html beside the recording, drawn from this replay's verdicts.") var report = false

    func run() throws {
        let recording: String
        switch (self.recording, last) {
        case (let path?, nil): recording = path
        case (nil, let name?):
            guard let newest = Self.newestRecording(of: name, in: runsDir) else {
                let known = ((try? FileManager.default.contentsOfDirectory(atPath: runsDir)) ?? []).sorted()
                LineWriter.standardError.write("flatline replay: no recording of '\(name)' in \(runsDir)" + (known.isEmpty ? "" : "; scenarios recorded: \(known.joined(separator: ", "))"))
                throw ExitCode(2)
            }
            recording = newest
        default:
            throw ValidationError("give a recording.jsonl or --last NAME (one of them)")
        }
        let loaded: Recording
        do { loaded = try Recording.read(path: recording) } catch {
            LineWriter.standardError.write("flatline replay: \(error.message)")
            throw ExitCode(2)
        }
        var slackValue = loaded.slack
        if let slack {
            do { slackValue = try Slack(parsing: slack) } catch { throw ValidationError("--slack: \(error.message)") }
        }
        let judged: Scenario
        let recorded: Scenario
        // The run's network mode (the file's, or --network) decides which checks apply.
        let network = loaded.configuration["network"]?.stringValue.flatMap(NetworkMode.init(rawValue:)) ?? .proxy
        do {
            recorded = try Scenario.parse(loaded.scenarioText, file: loaded.scenarioFile).in(network)
            judged = try scenario.map { path throws(ScenarioError) in try Scenario.load(path: path).in(network) } ?? recorded
        } catch {
            LineWriter.standardError.write("\(error)")
            throw ExitCode(2)
        }
        // Only expectations and assertions may change: the recorded events answer the recorded actions.
        let actions = { (s: Scenario) in s.timeline.filter { !$0.isCheck }.map(\.label) }
        if scenario != nil, actions(judged) != actions(recorded), !force {
            LineWriter.standardError.write(
                "flatline replay: \(scenario ?? "") does not do what the recorded run did (its actions, waits or afters differ): the recording cannot answer it; use --force to judge it anyway"
            )
            throw ExitCode(2)
        }
        if !loaded.complete {
            LineWriter.standardError.write("flatline replay: \(recording) is incomplete (no end record, or lines missing): the run was cut short, and its checks are judged on what is there")
        }
        var events = loaded.events
        if let pcap {
            do {
                events = try CaptureMerge.merge(events: events, pcap: pcap, configuration: loaded.configuration)
            } catch {
                LineWriter.standardError.write("flatline replay: \(error)")
                throw ExitCode(2)
            }
        }
        LineWriter.standardOutput.write("▶ \(judged.name)  (replay of \(recording))")
        for line in Reports.timeline(events, verbose: verbose) { LineWriter.standardOutput.write(line) }
        let verdicts = Judge.judge(judged, events: events, slack: slackValue, strict: strict || loaded.strict)
        for verdict in verdicts { LineWriter.standardOutput.write("  " + verdict.line) }
        // The same run, the same rules: the verdicts must be the run's own; say where they are not.
        if scenario == nil, slack == nil, pcap == nil, loaded.complete {
            for (index, verdict) in verdicts.enumerated() {
                let stored = index < loaded.storedVerdicts.count ? loaded.storedVerdicts[index] : nil
                let was = stored?["outcome"]?.stringValue ?? (stored?["ok"] == true ? "passed" : stored == nil ? "absent" : "failed")
                if stored?["check"]?.stringValue != verdict.check || was != verdict.outcome.rawValue {
                    LineWriter.standardOutput.write("  ≠ \(verdict.check): the run recorded \(was), the replay finds \(verdict.outcome.rawValue)")
                }
            }
        }
        if report {
            let folder = (recording as NSString).deletingLastPathComponent
            let path = (folder.isEmpty ? "." : folder) + "/report.html"
            var shown = loaded
            shown.events = events
            let input = RunReport.Input(
                recording: shown, scenario: judged, verdicts: verdicts, incomplete: loaded.complete ? nil : "the run was cut short (no end record)",
                links: RunReport.links(folder: folder.isEmpty ? "." : folder, junit: nil), setupError: loaded.setupError
            )
            do {
                try RunReport.html(input).write(toFile: path, atomically: true, encoding: .utf8)
                LineWriter.standardOutput.write("report: \(path)")
            } catch {
                LineWriter.standardError.write("flatline replay: cannot write \(path): \(error)")
                throw ExitCode(2)
            }
        }
        let failed = verdicts.filter(\.failed).count
        let notJudged = verdicts.filter { $0.outcome == .notJudged }.count
        let passed = verdicts.count - failed - notJudged
        LineWriter.standardOutput.write("\(passed) passed, \(failed) failed" + (notJudged > 0 ? ", \(notJudged) not judged" : ""))
        if !loaded.complete { throw ExitCode(2) }
        if failed > 0 { throw ExitCode(1) }
    }

    /// The newest `recording.jsonl` of scenario `name` (run folders are named by time, so the last in order).
    static func newestRecording(of name: String, in runsDir: String) -> String? {
        let safe = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
        let folder = "\(runsDir)/\(safe)"
        let runs = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        return runs.reversed().map { "\(folder)/\($0)/recording.jsonl" }.first { FileManager.default.fileExists(atPath: $0) }
    }
}

/// `--var NAME=VALUE` options, each once.
func parseVars(_ options: [String]) throws(ConfigurationError) -> [String: String] {
    var values: [String: String] = [:]
    for option in options {
        guard let equals = option.firstIndex(of: "="), equals != option.startIndex else {
            throw ConfigurationError("--var \(option): write NAME=VALUE, e.g. --var mode=faithful")
        }
        let name = String(option[..<equals])
        guard values[name] == nil else { throw ConfigurationError("--var \(name) is given twice") }
        values[name] = String(option[option.index(after: equals)...])
    }
    return values
}
