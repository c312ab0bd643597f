public import ScenarioModel

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

    /// A failed run's events, every kind (bounded: its first and last lines), for a console that
    /// printed nothing of it as it ran (`--quiet`): what a failure in CI is diagnosed from.
    public var story: [String] = []

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
