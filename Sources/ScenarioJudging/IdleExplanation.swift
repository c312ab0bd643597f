import EventSchema
import FaultModel
import ScenarioModel

/// Why a check failed when a middlebox acted on idle connections during the run: which fault
/// forgot or closed how many connections after how long, set against the client's heartbeat
/// interval. A heartbeat slower than a NAT's idle timeout loses every idle connection — the
/// failure should say so, not leave the reader to work it out.
enum IdleExplanation {
    /// The sentence to add to failed checks, or nil when no connection expired.
    static func sentence(_ scenario: Scenario, events: [EventRecord]) -> String? {
        var order: [String] = []
        var expired: [String: (kind: String, idle: Int64, count: Int)] = [:]
        for event in events where event.type == .proxy(.idleExpired) {
            guard let name = event.fields["fault"]?.stringValue, let idle = event.fields["idle_ms"]?.intValue else { continue }
            if expired[name] == nil {
                order.append(name)
                expired[name] = (event.fields["kind"]?.stringValue ?? "", idle, 0)
            }
            expired[name]?.count += 1
        }
        guard !order.isEmpty else { return nil }
        // A freeze step of the timeline that ran.
        let ran = TimelineRule.stepTimes(events)
        let slept = scenario.timeline.contains { step in
            guard case .action(_, .clientFreeze) = step.kind else { return false }
            return ran[step.index] != nil
        }
        let interval: Duration? = if case .duration(let d)? = scenario.environment["heartbeat.interval"] { d } else { nil }
        let parts = order.compactMap { name -> String? in
            guard let entry = expired[name] else { return nil }
            let idle = Duration.milliseconds(entry.idle)
            let what = entry.kind == FaultType.idleClose.rawValue ? "closed" : "forgot"
            let connections = entry.count == 1 ? "1 connection" : "\(entry.count) connections"
            var text = "'\(name)' (\(entry.kind.replacingOccurrences(of: "_", with: "-"))) \(what) \(connections) idle for \(idle.flatlineDescription)"
            if let interval {
                text += interval >= idle
                    ? "; the client's heartbeat interval \(interval.flatlineDescription) is not shorter than that idle, so its heartbeat cannot keep the connection alive"
                    : "; the client's heartbeat interval is \(interval.flatlineDescription), shorter than that idle, \(slept ? "but the client was asleep (client freeze) longer" : "yet its connection went quiet (a heartbeat that stopped?)")"
            }
            return text
        }
        return parts.joined(separator: "; ")
    }

    /// Adds the sentence to every failed check.
    static func explain(_ verdicts: inout [Verdict], scenario: Scenario, events: [EventRecord]) {
        guard verdicts.contains(where: { $0.outcome == .failed }), let sentence = sentence(scenario, events: events) else { return }
        for index in verdicts.indices where verdicts[index].outcome == .failed {
            verdicts[index].message += " (\(sentence))"
        }
    }
}
