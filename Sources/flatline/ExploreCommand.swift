import ArgumentParser
import Scenario
import ScenarioModel

struct ExploreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explore",
        abstract: "Find what nobody wrote down: run seeded fault schedules against a world and shrink each violation to a minimal scenario.",
        discussion: """
            FILE is a scenario file whose client, server, settings and network mode are the world \
            (its timeline and checks are ignored; it may have none), with an optional 'explore:' \
            section narrowing what is drawn. Each seed draws a schedule of faults; the properties \
            come from the client's declared settings (detection, no false death, recovery, one \
            connection at a time, gave-up only after max attempts, backoff, no reconnect after a \
            close) and the file's own assert lines. A violation is shrunk and written as \
            OUT/<name>-seed<N>.yaml, a plain scenario that 'flatline run' fails by itself; those \
            already in OUT run first. Exit status: 0 no violation, 1 a violation, 2 bad input or \
            a world that cannot run, 128+N interrupted by signal N. See docs/explore.md.
            """
    )

    @Argument(help: "The world: a scenario file.") var file: String
    @Option(help: "Seeds to run: N or A-B.") var seeds: SeedRange = SeedRange(1...100)
    @Option(help: "Schedules run at once, each in a world of its own.") var jobs: Int = 4
    @Option(help: "Time for the whole exploration, shrinking included (e.g. 10m).") var budget: Duration = .seconds(600)
    @Option(help: "Folder for minimal scenarios (and regressions, read first).") var out: String = "explore"
    @Flag(help: "Each seed draws a subset of the fault kinds first (swarm testing).") var swarm = false
    @Option(help: "Write JUnit XML: one test case per seed.") var junit: String?
    @Flag(help: "Write a report page for every schedule run into OUT/runs (minimal scenarios always get one).") var report = false
    @Option(help: "A candidate is kept when it violates the same property K times of K.") var reproduce: Int = 3
    @Flag(help: "Report violations without shrinking them.") var noShrink = false
    @Flag(help: "Print each schedule's steps.") var verbose = false
    @Flag(name: .customLong("print"), help: "Print each seed's schedule as the scenario it runs, and run nothing (an external client is still probed once).") var printOnly = false
    @Option(help: "Widen every 'within' bound for slow machines: 20%, 50ms or 20%+50ms.") var slack: Slack = .none
    @Option(name: .customLong("var"), help: ArgumentHelp("Set one of the world's vars, e.g. --var bug=none. Repeatable.", valueName: "NAME=VALUE")) var vars: [String] = []
    @Option(help: "Where faults are carried out: proxy or packet. Default: the world's own 'network:'.") var network: NetworkMode?

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        guard (1...10).contains(reproduce) else { throw ValidationError("--reproduce must be between 1 and 10") }
        guard budget > .zero else { throw ValidationError("--budget must be above 0") }
    }

    func run() async throws {
        var request = Explorer.Request(file: file)
        do { request.vars = try Scenario.vars(fromOptions: vars) } catch {
            LineWriter.standardError.write("flatline explore: \(error.message)")
            throw ExitCode(2)
        }
        request.seeds = seeds.range
        request.jobs = jobs
        request.budget = budget
        request.out = out
        request.swarm = swarm
        request.junit = junit
        request.report = report
        request.reproduce = reproduce
        request.shrink = !noShrink
        request.verbose = verbose
        request.printOnly = printOnly
        request.slack = slack
        request.network = network
        request.arguments = Array(CommandLine.arguments.dropFirst())
        let status = await Explorer.run(request, say: LineWriter.standardOutput.write, complain: LineWriter.standardError.write)
        if status != 0 { throw ExitCode(status) }
    }
}

/// `--seeds 17` or `--seeds 1-500`.
struct SeedRange: ExpressibleByArgument {
    var range: ClosedRange<UInt64>

    init(_ range: ClosedRange<UInt64>) { self.range = range }

    init?(argument: String) {
        let parts = argument.split(separator: "-", omittingEmptySubsequences: false)
        if parts.count == 1, let n = UInt64(parts[0]) {
            range = n...n
        } else if parts.count == 2, let a = UInt64(parts[0]), let b = UInt64(parts[1]), a <= b, b - a < 1_000_000 {
            range = a...b
        } else {
            return nil
        }
    }

    var defaultValueDescription: String { "\(range.lowerBound)-\(range.upperBound)" }
}
