public import EventSchema

/// The outcome of one check.
public struct Verdict: Sendable, Hashable {
    /// Passed, failed, or not judged: a check that saw no evidence never passes.
    public enum Outcome: String, Sendable, Hashable {
        case passed
        case failed
        /// Nothing in the run could have produced the evidence (no capture, no source of those
        /// events); `message` says why.
        case notJudged = "not-judged"
    }

    /// `step 4` or `assert 2`.
    public var check: String
    public var label: String
    public var location: String
    public var outcome: Outcome
    public var measured: Duration?
    public var bound: Duration?
    public var message: String
    /// Whether the bound is a minimum (`>=`) rather than a maximum.
    public var isLowerBound = false
    /// The run time the check was measured from (see ``TimelineRule``).
    public var reference: Duration?
    /// For an `expect-none`: the window it watched (run times), and where a violation fell.
    public var window: ClosedRange<Duration>?
    public var violation: Duration?

    public init(
        check: String, label: String, location: String, outcome: Outcome, measured: Duration? = nil, bound: Duration? = nil,
        message: String, reference: Duration? = nil
    ) {
        self.check = check
        self.label = label
        self.location = location
        self.outcome = outcome
        self.measured = measured
        self.bound = bound
        self.message = message
        self.reference = reference
    }

    public var failed: Bool { outcome == .failed }

    /// How far the measurement stayed inside the bound (negative when outside).
    public var margin: Duration? {
        guard let measured, let bound else { return nil }
        return isLowerBound ? measured - bound : bound - measured
    }

    public var symbol: String {
        switch outcome {
        case .passed: "✓"
        case .failed: "✗"
        case .notJudged: "–"
        }
    }

    public var line: String { "\(symbol) \(check): \(label) — \(outcome == .notJudged ? "not judged: " : "")\(message)" }

    public var json: JSONObject {
        var object: JSONObject = [
            "check": .string(check), "label": .string(label), "outcome": .string(outcome.rawValue), "ok": .bool(outcome == .passed),
            "message": .string(message),
        ]
        if let measured { object["measured_ms"] = .double(measured.roundedMilliseconds) }
        if let bound { object["bound_ms"] = .double(bound.roundedMilliseconds) }
        if let margin { object["margin_ms"] = .double(margin.roundedMilliseconds) }
        return object
    }
}
