import ArgumentParser
import Foundation
import EventSchema
import HeartbeatCore
import Scenario
import ScenarioJudging
import ScenarioReporting
import ScenarioModel


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
    @Option(help: "Widen every 'within' bound for slow machines: 20%, 50ms or 20%+50ms.") var slack: Slack = .none
    @Option(help: "Write one JUnit XML report for the whole invocation.") var junit: String?
    @Option(help: "Folder for run recordings.") var runsDir: String = ".flatline/runs"
    @Flag(help: "Do not write recordings.") var noRecord = false
    @Flag(help: "Print only failures (each with its events, as --verbose prints them) and the summary.") var quiet = false
    @Flag(help: "Print every event.") var verbose = false
    @Flag(help: "Capture the wire with libpcap (capture.pcap in each run folder, wire events in the recording); needs root or CAP_NET_RAW.") var capture = false
    @Flag(help: "Count checks that could not be judged (no capture, no source of their events) as failures.") var strict = false
    @Flag(help: "Write report.html into every run folder and index.html into --runs-dir (self-contained pages: timeline, expectations).") var report = false
    @Option(help: "Run one stable part of the files: I/N (e.g. 2/4), split by name and balanced by --durations; writes shard-I-of-N.json for 'flatline report --merge'.") var shard: String?
    @Option(help: "Scenario durations (JSON: file → seconds, as 'flatline report --merge' writes) to balance --shard; give every shard the same file.") var durations: String?
    @Option(name: .customLong("var"), help: ArgumentHelp("Set one of a scenario's vars (its 'vars:' section; {var.NAME} in commands), e.g. --var mode=faithful. Repeatable.", valueName: "NAME=VALUE")) var vars: [String] = []
    @Option(help: "Where faults are carried out: proxy (the proxy's stages) or packet (nftables rules in a private network namespace; needs root or unprivileged user namespaces, and nft). Default: each scenario's own 'network:'.") var network: NetworkMode?

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
    }

    func run() async throws {
        var request = Suite.Request(paths: paths)
        do { request.vars = try Scenario.vars(fromOptions: vars) } catch {
            LineWriter.standardError.write("flatline run: \(error.message)")
            throw ExitCode(2)
        }
        request.recursive = recursive
        request.jobs = jobs
        request.shard = shard
        request.durations = durations
        request.network = network
        request.runs = noRecord ? nil : RunFolders(root: runsDir)
        request.junit = junit
        request.report = report
        request.quiet = quiet
        request.verbose = verbose
        request.capture = capture
        request.strict = strict
        request.slack = slack
        request.arguments = Array(CommandLine.arguments.dropFirst())
        let status = await Suite.run(request, say: LineWriter.standardOutput.write, complain: LineWriter.standardError.write)
        if status != 0 { throw ExitCode(status) }
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
        do { varValues = try Scenario.vars(fromOptions: vars) } catch {
            LineWriter.standardError.write("flatline validate: \(error.message)")
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
    @Option(help: "Widen 'within' bounds: 20%, 50ms or 20%+50ms (default: the run's own).") var slack: Slack?
    @Flag(help: "Print every event.") var verbose = false
    @Option(help: "A capture (pcap) of the run, to show its wire events beside the others.") var pcap: String?
    @Flag(help: "Count checks that could not be judged as failures (default: as the run did).") var strict = false
    @Flag(help: "Judge with an edited scenario even if its actions differ from the recorded run's.") var force = false
    @Flag(help: "Write report.html beside the recording, drawn from this replay's verdicts.") var report = false

    func run() throws {
        var request: Replay.Request
        switch (recording, last) {
        case (let path?, nil): request = Replay.Request(recording: path)
        case (nil, let name?):
            do { request = Replay.Request(recording: try Replay.recording(last: name, in: RunFolders(root: runsDir))) } catch {
                LineWriter.standardError.write("flatline replay: \(error.message)")
                throw ExitCode(2)
            }
        default:
            throw ValidationError("give a recording.jsonl or --last NAME (one of them)")
        }
        request.scenario = scenario
        request.slack = slack
        request.strict = strict
        request.force = force
        request.verbose = verbose
        request.report = report
        if let pcap {
            request.capture = { @Sendable events, configuration in try CaptureMerge.merge(events: events, pcap: pcap, configuration: configuration) }
        }
        let status = Replay.run(request, say: LineWriter.standardOutput.write, complain: LineWriter.standardError.write)
        if status != 0 { throw ExitCode(status) }
    }
}
