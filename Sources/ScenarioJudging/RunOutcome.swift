public import ScenarioModel

/// What one scenario run came to — decided once (``decide(verdicts:mustFail:setupError:notRun:incomplete:)``)
/// and read by the console, the summary, JUnit, the HTML page and index, and the exit code.
public enum RunOutcome: String, Sendable, CaseIterable {
    /// Every check held (checks not judged count as held unless the run is strict).
    case passed
    /// A check failed — or a broken client's scenario (`must-fail`) got through.
    case failed
    /// A broken client's scenario: the check aimed at it failed as it should.
    case caught
    /// Every check of the run was not judged: nothing could be observed, nothing failed.
    case notJudged = "not judged"
    /// The recording ends before the run did (a replay or report of a cut-off run).
    case incomplete
    /// The scenario never started: the run was interrupted first.
    case notRun = "not run"
    /// The scenario could not run properly (a port, a process, the time limit).
    case error

    /// The one decision.
    public static func decide(verdicts: [Verdict], mustFail: Scenario.MustFail?, setupError: String?, notRun: Bool = false, incomplete: Bool = false) -> RunOutcome {
        if notRun { return .notRun }
        if setupError != nil { return .error }
        if let mustFail { return mustFail.caught(by: verdicts) ? .caught : .failed }
        if verdicts.contains(where: \.failed) { return .failed }
        if incomplete { return .incomplete }
        if !verdicts.isEmpty, verdicts.allSatisfy({ $0.outcome == .notJudged }) { return .notJudged }
        return .passed
    }

    /// Whether the run counts as a pass (exit code 0, JUnit without a failure).
    public var succeeded: Bool {
        switch self {
        case .passed, .caught, .notJudged, .incomplete: true
        case .failed, .notRun, .error: false
        }
    }

    /// How bad it is, for ordering (0: failures and errors first).
    public var rank: Int {
        switch self {
        case .failed, .error, .notRun: 0
        case .incomplete, .notJudged: 1
        case .passed, .caught: 2
        }
    }

    /// A class name for the pages (`not-judged`).
    public var cssClass: String { String(rawValue.map { $0 == " " ? "-" : $0 }) }

    /// The summary table's six-character column.
    public var column: String {
        switch self {
        case .passed: "pass  "
        case .failed: "FAIL  "
        case .caught: "caught"
        case .notJudged: "–     "
        case .incomplete: "cut   "
        case .notRun: "skip  "
        case .error: "ERROR "
        }
    }
}
