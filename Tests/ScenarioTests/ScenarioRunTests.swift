import Foundation
import EventSchema
import HeartbeatCore
import Scenario
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
        if scenario.capture, let problem = LiveCapture.probePermission() {
            print("skipped \(path): its check needs a capture: \(problem)")
            return
        }
        let result = try await run(path)
        #expect(result.setupError == nil)
        #expect(!result.passed, "\(path) must fail")
        let failure = result.verdicts.first { $0.check == mustFail.check }
        #expect(failure?.ok == false, "\(path): \(mustFail.check) must fail; verdicts: \(result.verdicts.map(\.line))")
        #expect(failure?.message.contains(mustFail.message) == true, "\(path): \(failure?.message ?? "none")")
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
        #expect(replayed.map(\.ok) == result.verdicts.map(\.ok))
        #expect(replayed.map(\.measured) == result.verdicts.map(\.measured))
        // An edited scenario is judged against the old run: a tighter bound now fails.
        let tighter = recording.scenarioText.replacingOccurrences(of: "within: heartbeat.interval + heartbeat.timeout + 100ms", with: "within: 100ms")
        let edited = try Scenario.parse(tighter, file: "edited.yaml")
        #expect(Judge.judge(edited, events: recording.events).first?.ok == false)
        try? FileManager.default.removeItem(atPath: folder)
    }
}
