public import ScenarioModel
public import EventSchema

extension Duration {
    package var roundedMilliseconds: Double { (milliseconds * 1000).rounded() / 1000 }
    package var short: String {
        let ms = milliseconds
        if abs(ms) >= 10_000 { return String(format: ms / 1000, decimals: 2) + "s" }
        return String(format: ms, decimals: abs(ms) < 10 ? 2 : 0) + "ms"
    }
}

extension String {
    package func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }

    package init(format value: Double, decimals: Int) {
        var factor = 1.0
        for _ in 0..<decimals { factor *= 10 }
        let rounded = (value * factor).rounded() / factor
        if decimals == 0 {
            self = String(Int64(rounded))
        } else {
            var text = String(rounded)
            if let dot = text.firstIndex(of: ".") {
                let have = text.distance(from: dot, to: text.endIndex) - 1
                if have < decimals { text += String(repeating: "0", count: decimals - have) }
            }
            self = text
        }
    }
}

/// Judges a scenario over a recording alone: a live run and the replay of its recording give the
/// same verdicts.
public enum Judge {
    /// Judges every check. `strict` turns "not judged" into a failure.
    public static func judge(_ scenario: Scenario, events allEvents: [EventRecord], slack: Slack = .none, strict: Bool = false) -> [Verdict] {
        // Only what happened before teardown counts.
        let cut = allEvents.firstIndex { $0.type == .runner(.teardown) } ?? allEvents.endIndex
        let events = ClientSources.visible(Array(allEvents[..<cut]))
        let evidence = Evidence(scenario: scenario, events: events)
        var verdicts = checks(scenario, events: events, evidence: evidence, slack: slack)
        IdleExplanation.explain(&verdicts, scenario: scenario, events: events)
        if strict {
            for index in verdicts.indices where verdicts[index].outcome == .notJudged {
                verdicts[index].outcome = .failed
                verdicts[index].message = "not judged, and --strict counts that as a failure: \(verdicts[index].message)"
            }
        }
        return verdicts
    }

    private static func checks(_ scenario: Scenario, events: [EventRecord], evidence: Evidence, slack: Slack) -> [Verdict] {
        let end = events.last?.t ?? .zero
        let stepTimes = TimelineRule.stepTimes(events)
        let env = scenario.environment
        var verdicts: [Verdict] = []

        for step in scenario.timeline {
            let check = "step \(step.index)"
            let reference = TimelineRule.reference(of: step, in: scenario.timeline, stepTimes: stepTimes)
            func verdict(_ outcome: Verdict.Outcome, _ message: String, measured: Duration? = nil, bound: Duration? = nil) {
                verdicts.append(Verdict(check: check, label: step.description, location: step.location, outcome: outcome, measured: measured, bound: bound, message: message, reference: reference))
            }
            switch step.kind {
            case .after(let pattern, _):
                if stepTimes[step.index] == nil {
                    if let missing = evidence.missing(for: pattern) {
                        verdict(.notJudged, "\(pattern) could not be observed (\(missing)), so the rest of the timeline did not run")
                    } else if step.eachClient, let reference {
                        let first = firstPerClient(pattern, events: events, from: reference)
                        let missing = clientKeys(scenario.client.count).filter { first[$0] == nil }
                        verdict(.failed, "\(pattern) never happened for \(missing.count) of \(scenario.client.count) clients (client \(listed(missing))), so the rest of the timeline did not run")
                    } else {
                        verdict(.failed, "\(pattern) never happened, so the rest of the timeline did not run")
                    }
                }
            case .expect(let pattern, let within, let notBefore):
                if let missing = evidence.missing(for: pattern) {
                    verdict(.notJudged, missing)
                    continue
                }
                guard let reference else {
                    verdict(.failed, "not reached: an earlier step did not complete")
                    continue
                }
                let bound = slack.widen((try? within.duration(env)) ?? .zero)
                let earliest = (try? notBefore?.duration(env)) ?? nil
                if step.eachClient {
                    let (outcome, message, worst) = eachClient(pattern, clients: scenario.client.count, events: events, from: reference, bound: bound, within: within, earliest: earliest)
                    verdict(outcome, message, measured: worst, bound: bound)
                    continue
                }
                guard let match = events.first(where: { $0.t >= reference && pattern.matches($0) }) else {
                    let seen = events.filter { $0.t >= reference && pattern.kind.covers($0.type) }.prefix(3)
                    let instead = seen.isEmpty ? "" : "; saw instead: " + seen.map { describe($0, from: reference) }.joined(separator: ", ")
                    verdict(.failed, "\(pattern) not seen within \(bound.short) (\(within))\(instead)", bound: bound)
                    continue
                }
                let measured = match.t - reference
                if measured > bound {
                    verdict(.failed, "seen after \(measured.short), bound \(bound.short) (\(within)), late by \((measured - bound).short)", measured: measured, bound: bound)
                } else if let earliest, measured < earliest {
                    verdict(.failed, "seen after \(measured.short), earlier than allowed (not before \(earliest.short))", measured: measured, bound: bound)
                } else {
                    verdict(.passed, "\(measured.short) ≤ \(bound.short) (margin \((bound - measured).short))", measured: measured, bound: bound)
                }
            case .expectNone(let pattern, let window):
                if let missing = evidence.missing(for: pattern) {
                    verdict(.notJudged, missing)
                    continue
                }
                let range: ClosedRange<Duration>?
                let windowText: String
                switch window {
                case .duration(let expression):
                    let length = (try? expression.duration(env)) ?? .zero
                    range = reference.map { $0...($0 + length) }
                    windowText = "the \(length.short) after the previous step"
                case .whileFault(let name):
                    range = faultWindow(name, scenario: scenario, events: events, stepTimes: stepTimes, end: end)
                    windowText = "while '\(name)' was on"
                }
                guard let range else {
                    verdict(.failed, "not reached: the window never opened")
                    continue
                }
                let violation = events.first(where: { range.contains($0.t) && pattern.matches($0) })
                if let violation {
                    verdict(.failed, "\(describe(violation, from: range.lowerBound)) during \(windowText)")
                } else {
                    verdict(.passed, "none during \(windowText) (\((range.upperBound - range.lowerBound).short))")
                }
                verdicts[verdicts.count - 1].window = range
                verdicts[verdicts.count - 1].violation = violation?.t
            case .action, .wait:
                if stepTimes[step.index] == nil {
                    verdict(.failed, "not performed: the timeline stopped earlier")
                }
            }
        }

        for (index, assertion) in scenario.assertions.enumerated() {
            let check = "assert \(index + 1)"
            if let missing = evidence.missing(for: assertion) {
                verdicts.append(Verdict(check: check, label: assertion.text, location: assertion.location, outcome: .notJudged, message: missing))
                continue
            }
            verdicts.append(judge(assertion, check: check, events: events, env: env))
        }
        return verdicts
    }

    /// From the fault's `fault-on` to the start of the step that heals it: what the healing itself
    /// releases (a withheld FIN, held bytes) belongs after the window.
    static func faultWindow(_ name: String, scenario: Scenario, events: [EventRecord], stepTimes: [Int: Duration], end: Duration) -> ClosedRange<Duration>? {
        let on = events.first { $0.type == .proxy(.faultOn) && $0.fields["fault"]?.stringValue == name }?.t
        let added = scenario.timeline.first { candidate in
            if case .action(_, .addFault(let fault)) = candidate.kind { return fault.name == name }
            return false
        }?.index ?? 0
        let healing = scenario.timeline.first { candidate in
            guard candidate.index > added, case .action(_, let action) = candidate.kind else { return false }
            switch action {
            case .removeFault(let healed): return healed == name
            case .heal: return true
            default: return false
            }
        }
        let off = healing.flatMap { stepTimes[$0.index] }
            ?? events.first { $0.type == .proxy(.faultOff) && $0.fields["fault"]?.stringValue == name && $0.t >= (on ?? .zero) }?.t
        return on.map { $0...max($0, off ?? end) }
    }

    /// Each client's first event matching `pattern` at or after `from`, as time since `from`, by
    /// client number (one pass).
    static func firstPerClient(_ pattern: EventPattern, events: [EventRecord], from reference: Duration) -> [String: Duration] {
        var first: [String: Duration] = [:]
        for event in events where event.t >= reference && pattern.matches(event) {
            let key = ClientSources.clientKey(event)
            if first[key] == nil { first[key] = event.t - reference }
        }
        return first
    }

    /// The client numbers of a run with `count` clients, as events name them.
    static func clientKeys(_ count: Int) -> [String] { (1...max(count, 1)).map(String.init) }

    /// Client names for a message: all of a few, or the first ten and how many more.
    static func listed(_ names: [String]) -> String {
        names.count <= 10 ? names.joined(separator: ", ") : names.prefix(10).joined(separator: ", ") + " and \(names.count - 10) more"
    }

    /// An `expect … each-client: true`: every client's first matching event at or after `from`
    /// must come within `bound` (and not before `earliest`). One pass over the events.
    static func eachClient(
        _ pattern: EventPattern, clients count: Int, events: [EventRecord], from reference: Duration, bound: Duration, within: DurationExpression, earliest: Duration?
    ) -> (Verdict.Outcome, String, Duration?) {
        let first = firstPerClient(pattern, events: events, from: reference)
        let keys = clientKeys(count)
        let measured = keys.compactMap { key in first[key].map { (key, $0) } }.sorted { $0.1 < $1.1 }
        let missing = keys.filter { first[$0] == nil }
        let late = measured.filter { $0.1 > bound }
        let early = earliest.map { e in measured.filter { $0.1 < e } } ?? []
        let worst = measured.last
        if !missing.isEmpty {
            return (.failed, "\(missing.count) of \(count) clients: no \(pattern) within \(bound.short) (\(within)): client \(listed(missing))", worst?.1)
        }
        if !late.isEmpty {
            let names = late.reversed().map { "\($0.0) (\($0.1.short))" }
            return (.failed, "\(late.count) of \(count) clients late, bound \(bound.short) (\(within)): client \(listed(names)); worst late by \((late.last!.1 - bound).short)", worst?.1)
        }
        if !early.isEmpty, let earliest {
            return (.failed, "\(early.count) of \(count) clients earlier than allowed (not before \(earliest.short)): client \(listed(early.map { "\($0.0) (\($0.1.short))" }))", worst?.1)
        }
        guard let worst else { return (.failed, "no \(pattern)", nil) }
        let median = measured[measured.count / 2].1
        return (.passed, "each of \(count) clients: median \(median.short), worst \(worst.1.short) (client \(worst.0)) ≤ \(bound.short) (margin \((bound - worst.1).short))", worst.1)
    }

    static func describe(_ event: EventRecord, from reference: Duration) -> String {
        var text = event.type.description
        let interesting = event.fields.filter { ["reason", "conn", "client", "attempt", "side", "how"].contains($0.key) }
        if !interesting.isEmpty {
            text += " {" + interesting.map { "\($0.key): \($0.value.stringValue ?? $0.value.description)" }.joined(separator: ", ") + "}"
        }
        return text + " at +\((event.t - reference).short)"
    }

    static func judge(_ assertion: Assertion, check: String, events: [EventRecord], env: [String: DurationExpression.Value]) -> Verdict {
        func verdict(_ ok: Bool, _ message: String, measured: Duration? = nil, bound: Duration? = nil, lower: Bool = false) -> Verdict {
            var verdict = Verdict(
                check: check, label: assertion.text, location: assertion.location, outcome: ok ? .passed : .failed, measured: measured, bound: bound,
                message: message
            )
            verdict.isLowerBound = lower
            return verdict
        }
        switch assertion.kind {
        case .count(let pattern, let op, let expression):
            let count = events.filter { pattern.matches($0) }.count
            let bound = (try? expression.evaluate(env)).map { value -> Double in
                switch value {
                case .number(let n): n
                case .duration(let d): d.milliseconds
                }
            } ?? 0
            let ok = op.holds(Double(count), bound)
            return verdict(ok, "\(count) \(pattern) (must be \(op.rawValue) \(String(format: bound, decimals: 0)))")
        case .maxConcurrent(let op, let expression):
            let bound = (try? expression.number(env)) ?? 1
            var open: [String: Set<Int64>] = [:]
            /// Connections a client left open when it dialled again: leaks, unless it goes on using them.
            var left: [String: Set<Int64>] = [:]
            var maximum = 0
            var worst = ""
            for event in events {
                guard case .client(let type) = event.type else { continue }
                let client = event.fields["client"]?.description ?? "1"
                guard let conn = event.fields["conn"]?.intValue else {
                    if type == .closed || type == .gaveUp { open[client] = [] }
                    continue
                }
                // A connection is in use from its upgrade until its socket is gone, the client sent
                // its close frame or dialled again. A socket kept open after that is a leak (shown
                // by `abandoned … open=true`), not a second connection — unless the client still
                // sends on it: then both are in use.
                switch type {
                case .connected: open[client, default: []].insert(conn)
                case .disconnected, .closeSent:
                    open[client, default: []].remove(conn)
                    left[client, default: []].remove(conn)
                case .abandoned where event.fields["how"] == "redial":
                    if open[client, default: []].remove(conn) != nil { left[client, default: []].insert(conn) }
                case .heartbeatSent, .messageSent:
                    if left[client, default: []].remove(conn) != nil { open[client, default: []].insert(conn) }
                default: break
                }
                if let size = open[client]?.count, size > maximum {
                    maximum = size
                    worst = "client \(client) had \(size) at once (\(open[client]!.sorted().map { "#\($0)" }.joined(separator: ", "))) at \(event.t.short)"
                }
            }
            let ok = op.holds(Double(maximum), bound)
            return verdict(ok, "at most \(maximum) at once (must be \(op.rawValue) \(String(format: bound, decimals: 0)))" + (ok || worst.isEmpty ? "" : ": \(worst)"))
        case .reconnectGaps(let op, let expression):
            let gaps = reconnectGaps(events)
            let bound = (try? expression.duration(env)) ?? .zero
            guard !gaps.isEmpty else { return verdict(false, "no reconnect happened, so there are no gaps to check") }
            let boundMs = bound.milliseconds
            if let bad = gaps.first(where: { !op.holds($0.milliseconds, boundMs) }) {
                return verdict(false, "gap of \(bad.short) breaks \(op.rawValue) \(bound.short); gaps: \(listed(gaps))", measured: bad, bound: bound)
            }
            let lower = op == .greater || op == .greaterOrEqual
            let extreme = lower ? gaps.min()! : gaps.max()!
            return verdict(true, "\(gaps.count) gaps, all \(op.rawValue) \(bound.short): \(listed(gaps))", measured: extreme, bound: bound, lower: lower)
        case .reconnectGapsNonDecreasing:
            // Per client: its own gaps, in order.
            let byClient = reconnectGapsByClient(events)
            let perClient = Dictionary(grouping: byClient, by: \.client)
            let gaps = byClient.map(\.gap)
            guard perClient.values.contains(where: { $0.count >= 2 }) else {
                return verdict(false, "fewer than two reconnects of any client, nothing to compare (gaps: \(listed(gaps)))")
            }
            // Timers fire late under load (31 ms seen on a loaded 2-core machine): a gap is a decrease
            // when it is shorter than the previous by more than 20% of it (and 10 ms); a backoff
            // that really goes down halves or starts over.
            for client in perClient.keys.sorted(by: { $0.count == $1.count ? $0 < $1 : $0.count < $1.count }) {
                let own = perClient[client]!.map(\.gap)
                for index in own.indices.dropFirst() where own[index] + max(.milliseconds(10), own[index - 1] / 5) < own[index - 1] {
                    let who = perClient.count > 1 ? "client \(client): " : ""
                    return verdict(false, "\(who)gap \(index + 1) (\(own[index].short)) is shorter than gap \(index) (\(own[index - 1].short)); gaps: \(listed(own))")
                }
            }
            return verdict(true, "gaps never shrink: \(listed(gaps))")
        case .reconnectGapSpread(let op, let expression):
            let gaps = reconnectGaps(events)
            let bound = (try? expression.duration(env)) ?? .zero
            guard let shortest = gaps.min(), let longest = gaps.max(), gaps.count >= 2 else {
                return verdict(false, "fewer than two reconnects (\(gaps.count)): nothing to compare")
            }
            let spread = longest - shortest
            let ok = op.holds(spread.milliseconds, bound.milliseconds)
            return verdict(ok, "\(gaps.count) gaps from \(shortest.short) to \(longest.short), spread \(spread.short) (must be \(op.rawValue) \(bound.short))", measured: spread, bound: bound, lower: op == .greater || op == .greaterOrEqual)
        case .reconnectGapShortest(let op, let expression):
            let gaps = reconnectGaps(events)
            let bound = (try? expression.duration(env)) ?? .zero
            guard let shortest = gaps.min() else { return verdict(false, "no reconnect happened, so there are no gaps to check") }
            let ok = op.holds(shortest.milliseconds, bound.milliseconds)
            return verdict(ok, "shortest of \(gaps.count) gaps \(shortest.short) (must be \(op.rawValue) \(bound.short)); gaps: \(listed(gaps))", measured: shortest, bound: bound, lower: op == .greater || op == .greaterOrEqual)
        case .spread(let pattern, let op, let expression):
            let times = events.filter { pattern.matches($0) }.map(\.t)
            let bound = (try? expression.duration(env)) ?? .zero
            guard let first = times.min(), let last = times.max(), times.count >= 2 else {
                return verdict(false, "fewer than two \(pattern) events (\(times.count)): nothing to spread")
            }
            let spread = last - first
            let ok = op.holds(spread.milliseconds, bound.milliseconds)
            return verdict(ok, "\(times.count) events spread over \(spread.short) (must be \(op.rawValue) \(bound.short))", measured: spread, bound: bound, lower: op == .greater || op == .greaterOrEqual)
        }
    }

    /// Per client: time from each connection's end to the next `connecting`. The end is the
    /// client's `disconnected` or, seen from outside, the first of its close frame and its socket
    /// gone (`close-sent`, `disconnected`); a client that dials again with neither shows no gap.
    static func reconnectGaps(_ events: [EventRecord]) -> [Duration] {
        reconnectGapsByClient(events).map(\.gap)
    }

    /// Each gap with the client it belongs to, in the order they happened.
    static func reconnectGapsByClient(_ events: [EventRecord]) -> [(client: String, gap: Duration)] {
        var pending: [String: Duration] = [:]
        var gaps: [(client: String, gap: Duration)] = []
        for event in events {
            guard case .client(let type) = event.type else { continue }
            let client = ClientSources.clientKey(event)
            if type == .disconnected || type == .closeSent {
                if pending[client] == nil { pending[client] = event.t }
            } else if type == .connecting, let start = pending.removeValue(forKey: client) {
                gaps.append((client, event.t - start))
            }
        }
        return gaps
    }

    /// Durations for a message: all of a few, or a summary and the first ten of many.
    static func listed(_ values: [Duration]) -> String {
        guard values.count > 12 else { return values.map(\.short).joined(separator: ", ") }
        let sorted = values.sorted()
        return "min \(sorted.first!.short), median \(sorted[sorted.count / 2].short), max \(sorted.last!.short); first ten "
            + values.prefix(10).map(\.short).joined(separator: ", ")
    }
}
