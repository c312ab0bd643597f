import ScenarioReporting
public import ScenarioJudging
public import ScenarioModel
import FaultProxy
import FaultModel
import Foundation
import HeartbeatClient
import EventSchema
import HeartbeatCore
import HeartbeatServer
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WebSocketSupport
import NetworkSupport
import WireCapture

/// Runs one scenario live: starts the server, the proxy and the clients on loopback with
/// ephemeral ports, walks the timeline in real time, records every event and judges the run.
public final class ScenarioRunner: Sendable {
    public let scenario: Scenario
    public let options: RunOptions

    public init(scenario: Scenario, options: RunOptions) {
        self.scenario = scenario
        self.options = options
    }

    public func run() async -> ScenarioResult {
        let started = ContinuousClock.now
        let origin = Instant.now
        let log = EventLog(origin: origin)
        let timeline = NIOLockedValueBox(options.keepTimeline ? KeptLines() : KeptLines(head: 0, tail: 0))
        let options = self.options
        let scenario = self.scenario
        let say: @Sendable (String) -> Void = { line in
            timeline.withLockedValue { $0.append(line) }
            if !options.quiet { options.console(line) }
        }
        // Each event's line, only when someone will read it (a quiet soak makes hundreds of thousands).
        if !options.quiet || options.keepTimeline {
            log.onRecord { event in
                guard let line = TimelineLines.line(for: event, verbose: options.verbose) else { return }
                timeline.withLockedValue { $0.append(line) }
                if !options.quiet { options.console(line) }
            }
        }
        say("▶ \(scenario.name)  (\(scenario.file))")
        if !scenario.summary.isEmpty, options.verbose { say("  \(scenario.summary)") }

        // The run folder exists from the start: the capture is written into it.
        let folder = options.runsDirectory.map { RunFolders(root: $0).newRun(of: scenario.name) }
        var world: World?
        var setupError: String?
        var capture: WireRecorder?
        do {
            let started = try await World.start(scenario, log: log, executable: options.flatlineExecutable)
            world = started
            if scenario.capture || options.capture {
                let path = folder.map(RunFolders.capture(in:))
                do {
                    var onWire: (@Sendable (WireEvent, Duration) -> Void)?
                    if started.packets != nil {
                        let world = started
                        onWire = { @Sendable event, t in world.observeWire(event, at: t) }
                    }
                    capture = try await WireRecorder.start(
                        log: log, proxyPorts: started.proxies.map(\.port), serverPort: started.serverPort, path: path, onWire: onWire
                    )
                    log.record(RunnerEventType.capture, fields: ["status": "started", "path": .string(path ?? "")])
                } catch {
                    log.record(RunnerEventType.capture, fields: ["status": "skipped", "reason": .string("\(error)")])
                    say("  ⚠ capture skipped: \(error)")
                }
            }
            try started.startClients()
        } catch {
            setupError = "\(error)"
        }

        if let world {
            let finished = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await self.walk(world: world, log: log, say: say)
                    return true
                }
                group.addTask {
                    try? await Task.sleep(for: scenario.timeLimit)
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            if Task.isCancelled {
                setupError = "interrupted: \(options.interruption.reason ?? "cancelled") before the scenario finished"
            } else if !finished {
                setupError = "the scenario did not finish within its time limit of \(scenario.timeLimit.flatlineDescription)"
            }
            log.record(RunnerEventType.teardown)
            await world.stop()
            if setupError == nil, let failure = world.server.failure { setupError = failure }
        }
        await capture?.stop()

        let events = log.events
        let verdicts = setupError == nil ? Judge.judge(scenario, events: events, slack: options.slack, strict: options.strict) : []
        for verdict in verdicts { say("  " + verdict.line) }
        if setupError == nil, let mismatch = scenario.mustFail?.mismatch(in: verdicts) { say("  ✗ must fail: \(mismatch)") }
        if let setupError { say("  ✗ setup: \(setupError)") }
        var recordingPath: String?
        if let folder {
            let recording = Self.recording(
                scenario: scenario, events: events, verdicts: verdicts, world: world, slack: options.slack, strict: options.strict,
                duration: ContinuousClock.now - started, setupError: setupError
            )
            let path = RunFolders.recording(in: folder)
            if (try? recording.write(to: path)) != nil { recordingPath = path }
            if options.report {
                let html = RunReport.html(RunReport.Input(
                    recording: recording, scenario: scenario, verdicts: verdicts,
                    links: RunReport.links(folder: folder, junit: options.junitPath), setupError: setupError
                ))
                if (try? html.write(toFile: RunFolders.report(in: folder), atomically: true, encoding: .utf8)) == nil { say("  ⚠ cannot write \(RunFolders.report(in: folder))") }
            }
        }
        log.close()
        var result = ScenarioResult(
            scenario: scenario, verdicts: verdicts, setupError: setupError,
            duration: ContinuousClock.now - started, recordingPath: recordingPath,
            timeline: timeline.withLockedValue { $0.lines }
        )
        if options.quiet, !result.passed { result.story = Self.story(of: events) }
        return result
    }

    /// Every event's line (as `--verbose` prints them), its first 60 and last 140.
    static func story(of events: [EventRecord]) -> [String] {
        var kept = KeptLines(head: 60, tail: 140)
        for event in events {
            if let line = TimelineLines.line(for: event, verbose: true) { kept.append(line) }
        }
        return kept.lines
    }

    /// Walks the timeline. Times are relative to the run's start; every check's reference comes
    /// from ``TimelineRule``, the same rule the judge measures with.
    private func walk(world: World, log: EventLog, say: @escaping @Sendable (String) -> Void) async {
        let env = scenario.environment
        let timeline = scenario.timeline
        // A check that cannot be judged for want of a capture is not waited for: it must not move
        // the timeline. (Whether an external client reports events is known only at the end.)
        let unobservable = Evidence(wireMissing: Evidence(scenario: scenario, events: log.events).wireMissing)
        var stepTimes: [Int: Duration] = [:]
        var lastDeadline = Duration.zero
        let clients = scenario.client.count
        var pending: [(EventPattern, Duration, Duration, Int?)] = []
        /// Expectations since the last action that are not decided yet, and windows still open.
        var undecided: [(EventPattern, Duration, Duration, Int?)] = []
        var windowEnd = Duration.zero
        func settle() async {
            // A step written after expectations runs once they are decided (seen, or out of time).
            for (pattern, from, deadline, each) in undecided { _ = await log.wait(for: pattern, from: from, until: deadline, eachOf: each) }
            undecided.removeAll()
            await sleep(until: windowEnd, log: log)
        }
        func recordStep(_ step: Step, at time: Duration, _ extra: JSONObject = [:]) -> Duration {
            var fields: JSONObject = ["index": .int(Int64(step.index)), "label": .string(step.label)]
            for (key, value) in extra { fields[key] = value }
            return log.record(EventRecord(t: time, RunnerEventType.step, fields: fields)).t
        }
        for step in timeline {
            if Task.isCancelled { return }
            let reference = TimelineRule.reference(of: step, in: timeline, stepTimes: stepTimes) ?? log.now
            switch step.kind {
            case .action(let at, let action):
                var target = reference
                switch at {
                case .absolute(let time)?: target = time
                case .relative(let delta)?: target = reference + delta
                case nil: await settle()
                }
                await sleep(until: target, log: log)
                // The step is recorded when it begins, before what it causes (so the timeline prints
                // in order); a failure is recorded after it, and the step then counts as not performed.
                stepTimes[step.index] = recordStep(step, at: log.now)
                do {
                    try await world.perform(action)
                } catch {
                    stepTimes[step.index] = nil
                    _ = recordStep(step, at: log.now, ["ok": false, "error": .string("\(error)")])
                }
            case .wait(let expression):
                await sleep(until: reference + ((try? expression.duration(env)) ?? .zero), log: log)
                stepTimes[step.index] = recordStep(step, at: log.now)
            case .after(let pattern, let within):
                let deadline = reference + ((try? within.duration(env)) ?? .seconds(30))
                guard let event = await log.wait(for: pattern, from: reference, until: deadline, eachOf: step.eachClient ? clients : nil) else {
                    _ = recordStep(step, at: log.now, ["ok": false, "error": .string(step.eachClient ? "\(pattern) did not happen for each of the \(clients) clients" : "\(pattern) did not happen")])
                    return
                }
                stepTimes[step.index] = recordStep(step, at: event.t)
            case .expect(let pattern, let within, _):
                guard unobservable.missing(for: pattern) == nil else { continue }
                let entry = (pattern, reference, reference + options.slack.widen((try? within.duration(env)) ?? .zero), step.eachClient ? clients : nil)
                pending.append(entry)
                undecided.append(entry)
            case .expectNone(let pattern, let window):
                guard unobservable.missing(for: pattern) == nil else { continue }
                if case .duration(let expression) = window {
                    let end = reference + ((try? expression.duration(env)) ?? .zero)
                    lastDeadline = max(lastDeadline, end)
                    windowEnd = max(windowEnd, end)
                }
            }
        }
        // Let every expectation be decided before judging: an expected event ends its wait early,
        // an expect-none window has to run its course.
        for (pattern, from, deadline, each) in pending {
            _ = await log.wait(for: pattern, from: from, until: deadline, eachOf: each)
        }
        let last = stepTimes.values.max() ?? .zero
        await sleep(until: max(lastDeadline, last) + .milliseconds(20), log: log)
    }

    private func sleep(until target: Duration, log: EventLog) async {
        let remaining = target - log.now
        if remaining > .zero { try? await Task.sleep(for: remaining) }
    }

    static func recording(
        scenario: Scenario, events: [EventRecord], verdicts: [Verdict], world: World?, slack: Slack, strict: Bool, duration: Duration, setupError: String?
    ) -> Recording {
        var recording = Recording(
            scenarioFile: scenario.file, scenarioText: scenario.text, configuration: Self.configuration(scenario, world: world),
            events: events, verdicts: verdicts, slack: slack, strict: strict
        )
        recording.duration = duration
        recording.setupError = setupError
        return recording
    }

    static func configuration(_ scenario: Scenario, world: World?) -> JSONObject {
        var object: JSONObject = ["name": .string(scenario.name), "seed": .int(Int64(scenario.seed)), "network": .string(scenario.network.rawValue)]
        var settings = JSONObject()
        for (key, value) in scenario.environment.sorted(by: { $0.key < $1.key }) {
            switch value {
            case .duration(let d): settings[key] = .string(d.flatlineDescription)
            case .number(let n): settings[key] = .double(n)
            }
        }
        object["settings"] = .object(settings)
        if let world {
            object["server_port"] = .int(Int64(world.serverPort))
            object["proxy_port"] = .int(Int64(world.proxy.port))
            if world.proxies.count > 1 { object["proxy_ports"] = .array(world.proxies.map { .int(Int64($0.port)) }) }
        }
        return object
    }
}
