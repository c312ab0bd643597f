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
import WireCapture

/// How a run is carried out and reported.
public struct RunOptions: Sendable {
    public var slack: Slack = .none
    /// Where run folders go (`<runs>/<scenario>/<timestamp>/recording.jsonl`); nil writes none.
    public var runsDirectory: String? = ".flatline/runs"
    /// Show every event, not only the important ones.
    public var verbose = false
    /// Show nothing while running.
    public var quiet = false
    /// Count checks that could not be judged (no capture, no source of their events) as failures.
    public var strict = false
    /// Capture the wire (libpcap) for every scenario, not only those with `capture: true`.
    public var capture = false
    /// The `flatline` executable, for scenarios that run the server as a child process.
    public var flatlineExecutable: String?
    /// Set when the whole run is interrupted (a signal); scenarios in flight stop and say why.
    public var interruption = Interruption()
    /// Write `report.html` into every run folder.
    public var report = false
    /// The invocation's JUnit file, for the report's links.
    public var junitPath: String?
    /// Receives console lines as they happen.
    public var console: @Sendable (String) -> Void = { print($0) }

    public init() {}
}

/// The outcome of one scenario run.
public struct ScenarioResult: Sendable {
    public var scenario: Scenario
    public var verdicts: [Verdict]
    /// A setup problem (port, process…) that kept the scenario from running properly.
    public var setupError: String?
    public var duration: Duration
    public var recordingPath: String?
    /// The console timeline of this run (for JUnit's system-out).
    public var timeline: [String]

    /// The scenario never started (the run was interrupted first): why.
    public var notRun: String?

    /// What the run came to, decided once.
    public var outcome: RunOutcome {
        RunOutcome.decide(verdicts: verdicts, mustFail: scenario.mustFail, setupError: setupError, notRun: notRun != nil)
    }

    /// For a deliberately broken client (`must-fail`): whether the check aimed at it caught it.
    public var caught: Bool? {
        guard let mustFail = scenario.mustFail else { return nil }
        return mustFail.caught(by: verdicts)
    }

    /// Passed: every check held — or, for a broken client, the check aimed at it caught it.
    public var passed: Bool { outcome.succeeded }

    /// Checks that could not be judged (they count as passed unless the run is strict).
    public var notJudged: Int { verdicts.filter { $0.outcome == .notJudged }.count }

    /// A scenario that never started because the run was interrupted first (`reason`).
    public static func notRun(_ scenario: Scenario, reason: String) -> ScenarioResult {
        var result = ScenarioResult(scenario: scenario, verdicts: [], setupError: nil, duration: .zero, recordingPath: nil, timeline: [])
        result.notRun = reason
        return result
    }

    public init(
        scenario: Scenario, verdicts: [Verdict], setupError: String?, duration: Duration, recordingPath: String?, timeline: [String]
    ) {
        self.scenario = scenario
        self.verdicts = verdicts
        self.setupError = setupError
        self.duration = duration
        self.recordingPath = recordingPath
        self.timeline = timeline
    }

    /// The smallest margin of the checks that measured one (none for a broken client: its
    /// margins are meant to be broken).
    public var smallestMargin: Duration? { caught != nil ? nil : verdicts.compactMap(\.margin).min() }
}

/// Why a run was interrupted (shared by all its scenarios; set once, by a signal handler).
public final class Interruption: Sendable {
    private let box = NIOLockedValueBox<String?>(nil)

    public init() {}

    public var reason: String? { box.withLockedValue { $0 } }

    /// Records the first reason; later ones are ignored.
    public func interrupt(_ reason: String) {
        box.withLockedValue { if $0 == nil { $0 = reason } }
    }
}
