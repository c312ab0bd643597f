import Foundation
import EventSchema
import HeartbeatCore
import Scenario
import ScenarioJudging
import ScenarioReporting
import ScenarioModel
import Testing
import WireCapture

private func run(_ path: String, runs: String? = nil) async throws -> ScenarioResult {
    var options = RunOptions()
    options.runsDirectory = runs
    options.quiet = true
    return await ScenarioRunner(scenario: try Scenario.load(path: path), options: options).run()
}

@Suite("Scenario runs", .serialized)
struct ScenarioRunTests {
    /// Every deliberately wrong client is caught, by the check aimed at it, with its message.
    @Test(arguments: try! ScenarioFiles.resolve(["scenarios/negative"], recursive: false))
    func negativeScenarioIsCaughtByItsCheck(path: String) async throws {
        let scenario = try Scenario.load(path: path)
        let mustFail = try #require(scenario.mustFail, "\(path) needs must-fail")
        // Without capture permission the wire check is not judged, which is not a catch: the
        // scenario must then not pass as "caught" either.
        if scenario.capture, LiveCapture.probePermission() != nil {
            let result = try await run(path)
            #expect(result.verdicts.first { $0.check == mustFail.check }?.outcome == .notJudged)
            return
        }
        let result = try await run(path)
        #expect(result.setupError == nil)
        #expect(result.caught == true, "\(path): the broken client must be caught")
        #expect(result.passed, "a caught broken client counts as passed")
        let failure = result.verdicts.first { $0.check == mustFail.check }
        #expect(failure?.outcome == .failed, "\(path): \(mustFail.check) must fail; verdicts: \(result.verdicts.map(\.line))")
        #expect(failure?.message.contains(mustFail.message) == true, "\(path): \(failure?.message ?? "none")")
    }

    /// The built-in client reports its own events, and the proxy's observations of the same
    /// connections are derived beside them (`observed: true`): both sources agree within a few ms.
    @Test func observedClientEventsAgreeWithTheClientsOwn() async throws {
        let folder = NSTemporaryDirectory() + "flatline-runs-\(UInt64.random(in: 0...UInt64.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let recorded = try await run("scenarios/pulled-cable.yaml", runs: folder)
        #expect(recorded.passed, "\(recorded.verdicts.map(\.line))")
        let all = try Recording.read(path: try #require(recorded.recordingPath)).events
        let events = Array(all.prefix { $0.type != .runner(.teardown) })
        // The client's own `disconnected` is its declaration at the deadline, which the proxy sees as
        // its close frame (`close-sent`); the observed `disconnected` is the socket released, after
        // the close grace.
        let pairs: [(ClientEventType, ClientEventType)] = [(.connecting, .connecting), (.connected, .connected), (.disconnected, .closeSent)]
        for (type, seenAs) in pairs {
            // (Attempts that never connected end without a close frame: only declarations are compared.)
            let own = events.filter { $0.type == .client(type) && $0.fields["observed"] == nil && (type != .disconnected || $0.fields["reason"] == "heartbeat-timeout") }
            let observed = events.filter { $0.type == .client(seenAs) && $0.fields["observed"] == true }
            #expect(own.count >= (type == .disconnected ? 1 : 2) && own.count == observed.count, "\(type): \(own.count) own, \(observed.count) observed")
            // The client says "connecting" before its TCP handshake starts; the proxy sees the accept
            // after it (a few ms in a debug build on a busy machine).
            let tolerance = type == .connecting ? 25.0 : 10.0
            for (mine, seen) in zip(own, observed) {
                let gap = abs((seen.t - mine.t).milliseconds)
                #expect(gap < tolerance, "\(type): the client at \(mine.t.milliseconds) ms, the proxy at \(seen.t.milliseconds) ms")
            }
        }
        let declared = events.filter { $0.type == .client(.disconnected) && $0.fields["observed"] == nil && $0.fields["reason"] == "heartbeat-timeout" }
        let released = events.filter { $0.type == .client(.disconnected) && $0.fields["observed"] == true }
        for mine in declared {
            let socketGone = released.first { $0.fields["conn"] == mine.fields["conn"] }
            let after = try #require(socketGone, "the proxy saw connection \(mine.fields["conn"] ?? "?") released").t - mine.t
            #expect(after >= .zero && after < .milliseconds(75 + 50), "released \(after) after the declaration (close grace: timeout / 2 = 75 ms)")
        }
        // The observed ones stand aside for the client's own: the checks counted each event once.
        #expect(ClientSources.visible(events).filter { $0.fields["observed"] == true }.isEmpty)
    }

    @Test func replayOfARecordingGivesTheSameVerdicts() async throws {
        let folder = NSTemporaryDirectory() + "flatline-runs-\(UInt64.random(in: 0...UInt64.max))"
        let result = try await run("scenarios/pulled-cable.yaml", runs: folder)
        #expect(result.passed, "\(result.verdicts.map(\.line))")
        let path = try #require(result.recordingPath)
        let recording = try Recording.read(path: path)
        // Every event any component recorded is a declared type with declared fields.
        for event in recording.events {
            #expect(EventCatalog.problem(with: event) == nil, "\(event.jsonLine)")
        }
        let scenario = try Scenario.parse(recording.scenarioText, file: recording.scenarioFile)
        let replayed = Judge.judge(scenario, events: recording.events)
        #expect(replayed.map(\.outcome) == result.verdicts.map(\.outcome))
        #expect(replayed.map(\.measured) == result.verdicts.map(\.measured))
        #expect(replayed.map(\.reference) == result.verdicts.map(\.reference))
        // An edited scenario is judged against the old run: a tighter bound now fails.
        let tighter = recording.scenarioText.replacingOccurrences(of: "within: heartbeat.interval + heartbeat.timeout + 100ms", with: "within: 100ms")
        let edited = try Scenario.parse(tighter, file: "edited.yaml")
        #expect(Judge.judge(edited, events: recording.events).first?.outcome == .failed)
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// A live run and its replay measure every check from the same instant, `wait:` steps included,
    /// and the live walker waits from that same instant (a check's deadline is its reference + bound).
    @Test func liveRunAndReplayShareTheTimelineRule() async throws {
        let text = """
            name: timeline-rule
            client:
              heartbeat: {dialect: json, interval: 100ms, timeout: 60ms}
              reconnect: {delay: 100ms}
            timeline:
              - after: client heartbeat-acked
                within: 2s
              - fault: {type: blackhole, name: cable}
              - wait: 50ms
              - expect: client disconnected reason=heartbeat-timeout
                within: heartbeat.interval + heartbeat.timeout + 200ms
              - heal: cable
              - expect: client connected
                within: reconnect.delay + 500ms
            """
        let folder = NSTemporaryDirectory() + "flatline-runs-\(UInt64.random(in: 0...UInt64.max))"
        var options = RunOptions()
        options.runsDirectory = folder
        options.quiet = true
        let scenario = try Scenario.parse(text, file: "timeline-rule.yaml")
        let result = await ScenarioRunner(scenario: scenario, options: options).run()
        #expect(result.passed, "\(result.verdicts.map(\.line))")
        let recording = try Recording.read(path: try #require(result.recordingPath))
        let stepTimes = TimelineRule.stepTimes(recording.events)
        let waitEnded = try #require(stepTimes[3])
        let check = try #require(result.verdicts.first { $0.check == "step 4" })
        #expect(check.reference == waitEnded)
        let replayed = Judge.judge(scenario, events: recording.events)
        #expect(replayed.map(\.reference) == result.verdicts.map(\.reference))
        #expect(replayed.map(\.measured) == result.verdicts.map(\.measured))
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// A run parked in an `after:` that never comes still ends at its time limit (before, the
    /// wait ignored cancellation and the run outlived its limit by the `after:`'s 30 s).
    @Test func theTimeLimitHoldsWhileAnAfterWaits() async throws {
        let text = """
            name: parked
            time-limit: 1s
            client:
              heartbeat: {dialect: json, interval: 200ms, timeout: 100ms}
            timeline:
              - after: server reaped
                within: 30s
              - wait: 10ms
            """
        var options = RunOptions()
        options.runsDirectory = nil
        options.quiet = true
        let started = ContinuousClock.now
        let result = await ScenarioRunner(scenario: try Scenario.parse(text, file: "parked.yaml"), options: options).run()
        let took = ContinuousClock.now - started
        #expect(result.setupError?.contains("time limit of 1s") == true, "\(String(describing: result.setupError))")
        #expect(took < .seconds(10), "the run took \(took)")
    }

    /// `ramp` spreads the first connections evenly (client i of n starts at ramp × (i − 1) / n), for
    /// built-in clients and external processes alike. Without it they start together, and the
    /// check that sees the spread fails.
    @Test(arguments: [false, true])
    func aRampSpreadsTheClientsStarts(external: Bool) async throws {
        let client = external
            ? "  command: [sh, -c, \"echo started; sleep 5\"]\n  heartbeat: {dialect: json, interval: 300ms, timeout: 150ms}\n"
            : "  heartbeat: {dialect: json, interval: 300ms, timeout: 150ms}\n"
        let event = external ? "client output" : "client connecting attempt=0"
        func text(ramp: Bool) -> String {
            "name: ramp\nclient:\n  count: 5\n" + (ramp ? "  ramp: 500ms\n" : "") + client
                + "timeline:\n  - wait: 900ms\nassert:\n  - count \(event) == 5\n  - spread \(event) >= 350ms\n  - spread \(event) <= client.ramp + 300ms\n"
        }
        var options = RunOptions()
        options.runsDirectory = NSTemporaryDirectory() + "flatline-runs-\(UInt64.random(in: 0...UInt64.max))"
        options.quiet = true
        defer { try? FileManager.default.removeItem(atPath: options.runsDirectory!) }
        let ramped = await ScenarioRunner(scenario: try Scenario.parse(text(ramp: true), file: "ramp.yaml"), options: options).run()
        #expect(ramped.passed, "\(ramped.verdicts.map(\.line)) \(ramped.setupError ?? "")")
        // Each client no earlier than its own share of the ramp (timers never fire early). Measured
        // from the first client's event, which a busy loop may itself delay: 20 ms allowed for that.
        let events = try Recording.read(path: try #require(ramped.recordingPath)).events
            .filter { $0.type == .client(external ? .output : .connecting) }
        let first = try #require(events.first?.t)
        for event in events {
            let index = try #require(event.fields["client"]?.intValue)
            #expect((event.t - first).milliseconds >= Double(index - 1) * 100 - 20, "client \(index) at \((event.t - first).milliseconds) ms")
        }
        let together = await ScenarioRunner(scenario: try Scenario.parse(text(ramp: false), file: "ramp.yaml"), options: options).run()
        #expect(together.verdicts.first { $0.label.hasPrefix("spread") && $0.label.contains(">=") }?.outcome == .failed, "\(together.verdicts.map(\.line))")
    }
}
