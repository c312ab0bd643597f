public import ScenarioModel

/// Whether a broken client (`must-fail`) was caught: judged against the run's verdicts.
extension Scenario.MustFail {
        /// Whether the check aimed at the broken client failed with the expected message.
        public func caught(by verdicts: [Verdict]) -> Bool {
            verdicts.contains { $0.check == check && $0.failed && $0.message.contains(message) }
        }

        /// Why the broken client was not caught: what was expected, and what came instead (nil when caught).
        public func mismatch(in verdicts: [Verdict]) -> String? {
            guard !caught(by: verdicts) else { return nil }
            let expected = "expected \(check) to fail with a message containing '\(message)'"
            guard let verdict = verdicts.first(where: { $0.check == check }) else {
                let checks = verdicts.map(\.check)
                return "not caught: \(expected), but the run has no \(check) (its checks: \(checks.isEmpty ? "none" : checks.joined(separator: ", ")))"
            }
            switch verdict.outcome {
            case .passed: return "not caught: \(expected); it passed: \(verdict.message)"
            case .notJudged: return "not caught: \(expected); it was not judged: \(verdict.message)"
            case .failed: return "not caught as written: \(check) failed, but its message does not contain '\(message)'; it said: \(verdict.message)"
            }
        }
}
