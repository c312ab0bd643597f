public import ScenarioModel
import EventSchema
import Exploration
import Foundation
import ScenarioJudging
import ScenarioReporting

/// `flatline explore` as one library call: the world from a scenario file, its regressions first,
/// then a schedule per seed run in parallel worlds, each violation shrunk to a minimal scenario
/// written into the output folder. Exit status: 0 no violation, 1 a violation (a regression
/// included), 2 bad input or a world that cannot run, 128+N interrupted by signal N.
public enum Explorer {
    public struct Request: Sendable {
        public var file: String
        public var seeds: ClosedRange<UInt64> = 1...100
        public var jobs = 4
        /// For the whole exploration; shrinking stops where it is when it runs out.
        public var budget: Duration = .seconds(600)
        public var out = "explore"
        public var swarm = false
        public var junit: String?
        /// Write a report page for every schedule run (not only the minimal ones).
        public var report = false
        public var vars: [String: String] = [:]
        public var network: NetworkMode?
        /// A candidate is kept when it violates the same property this many times of this many.
        public var reproduce = 3
        public var shrink = true
        public var verbose = false
        public var slack: Slack = .none
        /// Print each seed's scenario and run nothing.
        public var printOnly = false
        /// The command's arguments, to run it again inside a network namespace (packet mode).
        public var arguments: [String] = []

        public init(file: String) { self.file = file }
    }

    /// What one seed's schedule came to.
    struct SeedResult: Sendable {
        var seed: UInt64
        var schedule: Schedule
        var built: ScheduleScenario?
        var violations: [Violation]
        var error: String?
        var duration: Duration
        var end: Duration?
    }

    public static func run(_ request: Request, say: @escaping @Sendable (String) -> Void, complain: @escaping @Sendable (String) -> Void) async -> Int32 {
        let started = ContinuousClock.now
        let deadline = started + request.budget
        // The world, as `run` reads it; a file with no timeline is a valid world.
        var scenario: Scenario
        do {
            scenario = try Scenario.load(path: request.file, vars: request.vars, world: true)
            if let mode = request.network { scenario = try scenario.in(mode) }
        } catch {
            complain("flatline explore: \(error)")
            return 2
        }
        if scenario.network == .packet {
            let problem = PacketNamespace.inside ? PacketNamespace.prepare() : PacketNamespace.reexecute(arguments: request.arguments)
            if let problem { complain("flatline explore: \(problem)"); return 2 }
        }
        do { try FileManager.default.createDirectory(atPath: request.out, withIntermediateDirectories: true) } catch {
            complain("flatline explore: cannot create \(request.out): \(error.localizedDescription)")
            return 2
        }
        var options = RunOptions()
        options.quiet = true
        options.slack = request.slack
        options.runsDirectory = request.report ? request.out + "/runs" : nil
        options.report = request.report
        options.flatlineExecutable = currentExecutablePath()
        options.console = say
        let interruption = options.interruption

        let work = Task { [options] () -> Int32 in
            await explore(request, scenario: scenario, options: options, deadline: deadline, say: say, complain: complain)
        }
        let signals = TerminationSignals { signalNumber in
            interruption.interrupt(TerminationSignals.name(signalNumber))
            work.cancel()
        }
        defer { signals.cancel() }
        let status = await work.value
        if let reason = interruption.reason {
            complain("flatline explore: interrupted by \(reason)")
            return 128 + TerminationSignals.number(reason)
        }
        if let lost = LineWriter.outputFailure {
            complain("flatline explore: the output was lost (\(lost))")
            return 2
        }
        return status
    }

    private static func explore(
        _ request: Request, scenario: Scenario, options: RunOptions, deadline: ContinuousClock.Instant,
        say: @escaping @Sendable (String) -> Void, complain: @escaping @Sendable (String) -> Void
    ) async -> Int32 {
        let started = ContinuousClock.now
        // How the client reports: the built-in one itself; an external one is probed once.
        let world: ExploreWorld
        do {
            world = try await probe(scenario, options: options, out: request.out)
        } catch {
            complain("flatline explore: \(error)")
            return 2
        }
        if request.printOnly {
            for seed in request.seeds {
                do {
                    let built = try ScheduleScenario.build(ScheduleDrawer.draw(seed: seed, world: world, swarm: request.swarm), world: world, name: "\(scenario.name)-seed\(seed)")
                    say("# seed \(seed)\n" + built.text)
                } catch {
                    complain("flatline explore: seed \(seed): \(error)")
                    return 2
                }
            }
            return 0
        }
        say("world \(scenario.name) (\(request.file)): \(world.reporting.rawValue) client, \(scenario.network.rawValue) mode; heartbeat \(world.heartbeat.interval.flatlineDescription) + \(world.heartbeat.timeout.flatlineDescription), detection within \(world.detection.flatlineDescription) + margin \(world.margin.flatlineDescription)")
        say("kinds: \(world.kinds.map(\.rawValue).joined(separator: ", "))\(request.swarm ? " (swarm: a subset per seed)" : "")")
        var cases: [CaseReports.Case] = []
        var violated = 0
        var errors = 0

        // Regressions first: the minimal scenarios of this world already in the folder.
        let regressions = regressionFiles(in: request.out, world: scenario.name)
        if !regressions.isEmpty { say("regressions: \(regressions.count) minimal scenario(s) in \(request.out)") }
        for file in regressions {
            if Task.isCancelled { break }
            let regression: Scenario
            do { regression = try Scenario.load(path: file) } catch {
                complain("flatline explore: \(error)")
                errors += 1
                continue
            }
            let result = await ScenarioRunner(scenario: regression, options: options).run()
            let failed = result.verdicts.filter(\.failed)
            if let setup = result.setupError {
                say("ERROR \(file): \(setup)")
                errors += 1
                cases.append(.init(name: file, seconds: result.duration.seconds, error: setup))
            } else if !failed.isEmpty {
                violated += 1
                say("FAIL \(file) (regression): " + failed.map(\.line).joined(separator: "; "))
                cases.append(.init(name: file, seconds: result.duration.seconds, failure: "regression \(file) fails again: \(failed[0].line); replay: flatline run \(file)"))
            } else {
                say("ok   \(file) (regression)")
                cases.append(.init(name: file, seconds: result.duration.seconds))
            }
        }

        // The seeds, a few worlds at once.
        let seeds = Array(request.seeds)
        let seedResults: [SeedResult] = await withTaskGroup(of: SeedResult?.self) { group in
            var results: [SeedResult] = []
            var next = 0
            func add() {
                guard next < seeds.count, ContinuousClock.now < deadline, !Task.isCancelled else { return }
                let seed = seeds[next]
                next += 1
                group.addTask { await runSeed(seed, world: world, request: request, options: options) }
            }
            for _ in 0..<max(1, request.jobs) { add() }
            while let result = await group.next() {
                if let result {
                    results.append(result)
                    say(line(for: result, verbose: request.verbose))
                }
                add()
            }
            return results.sorted { $0.seed < $1.seed }
        }
        let explored = ContinuousClock.now - started
        let ran = seedResults.count
        if ran < seeds.count, !Task.isCancelled { say("budget spent: \(ran) of \(seeds.count) seeds run") }

        // The first violation of each property shrunk, in seed order, while the budget lasts
        // (Hypothesis reports one minimal example per distinct failure); later seeds that break a
        // property already shrunk are reported with the seed that stands for them.
        var shrunk: [String: UInt64] = [:]
        for result in seedResults {
            var item = CaseReports.Case(name: "\(scenario.name) seed \(result.seed)", seconds: result.duration.seconds, output: result.schedule.lines.joined(separator: "\n"))
            if let error = result.error {
                errors += 1
                item.error = error
            } else if let first = result.violations.first, let seed = shrunk[first.property.name] {
                violated += 1
                item.failure = "\(first.line); the same property as seed \(seed); replay: flatline explore \(request.file) --seeds \(result.seed)"
            } else if let first = result.violations.first {
                violated += 1
                shrunk[first.property.name] = result.seed
                let file = "\(request.out)/\(scenario.name)-seed\(result.seed).yaml"
                let minimal = await shrink(result, violation: first, world: world, request: request, options: options, deadline: deadline, file: file, say: say)
                item.failure = "\(first.line); minimal scenario \(file) (\(minimal)); replay: flatline run \(file)"
            }
            cases.append(item)
        }

        let perMinute = explored > .zero ? Double(ran) / (explored.seconds / 60) : 0
        let errorText = errors > 0 ? ", \(errors) could not run" : ""
        say("\(ran) schedules, \(violated) violation\(violated == 1 ? "" : "s")\(errorText) — \(String(format: perMinute, decimals: 1)) schedules/min with --jobs \(request.jobs), \((ContinuousClock.now - started).seconds.rounded()) s in all")
        if let junit = request.junit {
            do { try CaseReports.junit(suite: "explore \(request.file)", cases: cases).write(toFile: junit, atomically: true, encoding: .utf8) } catch {
                complain("flatline explore: cannot write \(junit): \(error.localizedDescription)")
                return 2
            }
        }
        if violated > 0 { return 1 }
        if errors > 0 || ran == 0 { return 2 }
        return 0
    }

    static func line(for result: SeedResult, verbose: Bool) -> String {
        let size = "\(result.schedule.size) fault step\(result.schedule.size == 1 ? "" : "s")"
        if let error = result.error { return "ERROR seed \(result.seed) (\(size)): \(error)" }
        if let first = result.violations.first {
            let at = first.verdict.reference.map { " at t=\(($0 + (first.verdict.measured ?? .zero)).flatlineDescription)" } ?? ""
            return "FAIL seed \(result.seed)\(at) (\(size)): \(first.line)"
        }
        let text = "ok   seed \(result.seed) (\(size), \(result.duration.seconds.rounded()) s)"
        return verbose ? text + "\n" + result.schedule.lines.map { "       \($0)" }.joined(separator: "\n") : text
    }

    /// Draws, builds and runs one seed's schedule.
    static func runSeed(_ seed: UInt64, world: ExploreWorld, request: Request, options: RunOptions) async -> SeedResult? {
        if Task.isCancelled { return nil }
        let schedule = ScheduleDrawer.draw(seed: seed, world: world, swarm: request.swarm)
        let built: ScheduleScenario
        do {
            built = try ScheduleScenario.build(schedule, world: world, name: "\(world.scenario.name)-seed\(seed)")
        } catch {
            return SeedResult(seed: seed, schedule: schedule, violations: [], error: "the schedule does not make a valid scenario: \(error)", duration: .zero)
        }
        return await run(built, options: options)
    }

    static func run(_ built: ScheduleScenario, options: RunOptions) async -> SeedResult? {
        let result = await ScenarioRunner(scenario: built.scenario, options: options).run()
        if result.setupError != nil, options.interruption.reason != nil { return nil }
        let all = built.violations(in: result.verdicts)
        var error = result.setupError
        if error == nil, let setup = all.first(where: { !$0.property.isClientProperty }) {
            error = "\(setup.property.name): \(setup.verdict.message)"
        }
        return SeedResult(seed: built.schedule.seed, schedule: built.schedule, built: built, violations: error == nil ? all.filter(\.property.isClientProperty) : [], error: error, duration: result.duration)
    }

    /// Shrinks one violating schedule and writes its minimal scenario; returns a one-line summary.
    static func shrink(
        _ result: SeedResult, violation: Violation, world: ExploreWorld, request: Request, options: RunOptions,
        deadline: ContinuousClock.Instant, file: String, say: @escaping @Sendable (String) -> Void
    ) async -> String {
        let name = "\(world.scenario.name)-seed\(result.seed)"
        let shrinkStarted = ContinuousClock.now
        let k = max(1, request.reproduce)
        let property = violation.property
        var runs = 0
        func violates(_ schedule: Schedule) async -> (Bool, Violation?) {
            guard let built = try? ScheduleScenario.build(schedule, world: world, name: name), let outcome = await run(built, options: options) else { return (false, nil) }
            runs += 1
            let same = outcome.violations.first { $0.property.name == property.name }
            return (same != nil, same)
        }
        // How often the original reproduces (it violated once already).
        var originalHits = 1
        for _ in 1..<k where !Task.isCancelled { if await violates(result.schedule).0 { originalHits += 1 } }
        say("shrinking seed \(result.seed): \(property.name), reproduced \(originalHits) of \(k); \(result.schedule.size) fault steps")
        var minimal = result.schedule
        if request.shrink, originalHits > 0 {
            minimal = await Shrinker(world: world).shrink(
                result.schedule, violated: property,
                reproduces: { candidate in
                    for _ in 0..<k {
                        if Task.isCancelled || ContinuousClock.now >= deadline { return false }
                        if await !violates(candidate).0 { return false }
                    }
                    return true
                },
                outOfBudget: { Task.isCancelled || ContinuousClock.now >= deadline },
                accepted: { say("  ✓ \($0.step) → \($0.schedule.size) fault step\($0.schedule.size == 1 ? "" : "s")") }
            )
        }
        // The minimal scenario, confirmed once more with its report page.
        var confirming = options
        confirming.runsDirectory = request.out + "/runs"
        confirming.report = true
        var measurement = violation.verdict.message
        var check = violation.verdict.check
        var confirmed = false
        if let built = try? ScheduleScenario.build(minimal, world: world, name: name, file: file) {
            let result = await ScenarioRunner(scenario: built.scenario, options: confirming).run()
            runs += 1
            if let same = built.violations(in: result.verdicts).first(where: { $0.property.name == property.name }) {
                measurement = same.verdict.message
                check = same.verdict.check
                confirmed = true
            }
            if let recording = result.recordingPath {
                let page = RunFolders.report(in: RunFolders.folder(ofRecording: recording))
                try? FileManager.default.removeItem(atPath: "\(request.out)/\(name).html")
                try? FileManager.default.copyItem(atPath: page, toPath: "\(request.out)/\(name).html")
            }
        }
        let header = [
            "Found by: flatline explore \(request.file) --seeds \(result.seed)\(request.swarm ? " --swarm" : "")",
            "Violates: \(property.name)\(confirmed || minimal == result.schedule ? " (\(check))" : "") — \(measurement)",
            "Shrunk from \(result.schedule.size) to \(minimal.size) fault steps in \(runs) runs; the original reproduced \(originalHits) of \(k)\(confirmed ? "" : "; the last confirming run did not violate it (timing)")",
            "Schedule:",
        ] + minimal.lines.map { "  " + $0 } + ["Replay: flatline run \(file)"]
        let text = (try? ScheduleScenario.build(minimal, world: world, name: name, header: header, file: file).text) ?? ""
        do { try text.write(toFile: file, atomically: true, encoding: .utf8) } catch { say("  ⚠ cannot write \(file): \(error.localizedDescription)") }
        say("minimal: \(file) — \(property.name), \(result.schedule.size) → \(minimal.size) fault steps, \(runs) runs in \(Int((ContinuousClock.now - shrinkStarted).seconds)) s, original reproduced \(originalHits)/\(k): \(measurement)")
        return "\(result.schedule.size) → \(minimal.size) fault steps"
    }

    /// The minimal scenarios of this world in the output folder (`<world>-seed<N>.yaml`).
    static func regressionFiles(in folder: String, world: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasPrefix("\(world)-seed") && $0.hasSuffix(".yaml") }.sorted().map { "\(folder)/\($0)" }
    }

    /// The world resolved: an external client is run once, quietly, to learn whether it reports
    /// its own events and whether its heartbeats can be seen.
    static func probe(_ scenario: Scenario, options: RunOptions, out: String) async throws -> ExploreWorld {
        guard case .external = scenario.client else { return try ExploreWorld(scenario, reporting: .builtin) }
        let probeFolder = out + "/.probe"
        let wait = scenario.client.heartbeat.detectionBound * 2
        let text = scenario.world(named: "\(scenario.name)-probe", clients: 1, seed: 1, timeLimit: .seconds(60)).yaml
            + "timeline:\n  - after: client connected\n    within: 20s\n  - wait: \(Int64(wait.milliseconds))ms\n"
        let probe = try Scenario.parse(text, file: "\(scenario.file) (probe)")
        var options = options
        options.runsDirectory = probeFolder
        options.report = false
        let result = await ScenarioRunner(scenario: probe, options: options).run()
        defer { try? FileManager.default.removeItem(atPath: probeFolder) }
        if let error = result.setupError { throw ConfigurationError("the world cannot start: \(error)") }
        if let failed = result.verdicts.first(where: \.failed) {
            throw ConfigurationError("the client never connected in its probe run (\(failed.message)); check its command and server")
        }
        guard let path = result.recordingPath else { throw ConfigurationError("the probe run left no recording in \(probeFolder)") }
        let recording = try Recording.read(path: path)
        let events = ClientSources.visible(recording.events)
        let evidence = Evidence(scenario: probe, events: events)
        return try ExploreWorld(scenario, reporting: evidence.selfReporting ? .selfReporting : .blackBox, heartbeatsVisible: evidence.heartbeatMissing == nil)
    }
}
