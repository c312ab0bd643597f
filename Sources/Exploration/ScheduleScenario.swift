public import ScenarioModel
public import ScenarioJudging
import EventSchema
import FaultModel
import HeartbeatCore

/// A schedule written onto its world as a plain scenario file: the timeline performs the schedule,
/// and every property the client's settings imply is one of its checks. `flatline run` runs the
/// text as it is; exploration runs exactly the same.
public struct ScheduleScenario: Sendable {
    public let schedule: Schedule
    /// The scenario file.
    public let text: String
    public let scenario: Scenario
    /// Which property each check is (`step 4`, `assert 1` → property).
    public let properties: [String: Property]

    /// The properties the run broke, first in the timeline first.
    public func violations(in verdicts: [Verdict]) -> [Violation] {
        verdicts.filter(\.failed).map { Violation(property: properties[$0.check] ?? .schedule, verdict: $0) }
    }

    /// `header`: comment lines written above the scenario (why it exists, how it was found).
    public static func build(_ schedule: Schedule, world: ExploreWorld, name: String, header: [String] = [], file: String? = nil) throws(ScenarioError) -> ScheduleScenario {
        var writer = Writer(world: world, schedule: schedule)
        writer.write()
        let base = world.scenario.world(named: name, clients: schedule.clients, seed: schedule.seed, timeLimit: writer.timeLimit)
        var text = header.map { "# " + $0 }.joined(separator: "\n")
        if !header.isEmpty { text += "\n" }
        text += base.yaml
        text += "timeline:\n" + writer.steps.map(\.text).joined()
        if !writer.assertions.isEmpty {
            text += "assert:\n" + writer.assertions.map { "  - \(quoted($0.text))\n" }.joined()
        }
        let scenario = try Scenario.parse(text, file: file ?? "\(name).yaml")
        var properties: [String: Property] = [:]
        for (position, step) in writer.steps.enumerated() { if let property = step.property { properties["step \(position + 1)"] = property } }
        for (position, assertion) in writer.assertions.enumerated() { properties["assert \(position + 1)"] = assertion.property }
        return ScheduleScenario(schedule: schedule, text: text, scenario: scenario, properties: properties)
    }

    /// Composes the timeline: actions at times relative to the previous action, each followed by
    /// the checks measured from it.
    struct Writer {
        let world: ExploreWorld
        let schedule: Schedule
        var steps: [(text: String, property: Property?)] = []
        var assertions: [(text: String, property: Property)] = []
        var timeLimit = Duration.zero

        init(world: ExploreWorld, schedule: Schedule) {
            self.world = world
            self.schedule = schedule
        }

        var each: String { schedule.clients > 1 ? "    each-client: true\n" : "" }

        mutating func check(_ lines: String, _ property: Property) { steps.append((lines, property)) }
        mutating func action(after delta: Duration, _ body: String) { steps.append(("  - at: \"+\(ms(delta))\"\n    \(body)\n", nil)) }

        mutating func write() {
            let margin = ms(world.margin)
            let started = world.heartbeatsVisible ? world.heartbeatEvent : "client connected"
            steps.append(("  - after: \(started)\n    within: 20s\n\(each)", .start))
            let episodes = schedule.episodes
            let maxAttempts = world.scenario.client.reconnect.maxAttempts
            let runs = self.runs()
            var mayHaveGivenUp = false  // a run that may spend max attempts: what follows is not judged
            var closed = false
            for (index, episode) in episodes.enumerated() {
                let run = runs.first { $0.episodes.contains(index) }!
                let startsRun = run.episodes.first == index
                let endsRun = run.episodes.last == index
                let recovery = run.recoveryAfter[index - run.episodes.lowerBound]
                let name = "f\(index + 1)"
                let (start, heal) = self.actions(episode, name: name)
                action(after: episode.gap, start)
                // A close inside this episode ends what the client could still show of it: its
                // detection is judged only if the close comes after the bound, no false death not at all.
                let closeInside = index == episodes.count - 1 ? schedule.close.map(\.after).flatMap { $0 < episode.duration ? $0 : nil } : nil
                if startsRun, !mayHaveGivenUp { detectionAndFalseDeath(episode, index: index, margin: margin, closeAt: closeInside) }
                if startsRun, !mayHaveGivenUp, let maxAttempts {
                    // The attempts that can fail while the whole run lasts: giving up takes max of them.
                    if let possible = run.attempts, possible < maxAttempts {
                        check("  - expect-none: client gave-up\n    for: \(ms(run.length + run.recovery))\n", .gaveUp(episode: index))
                    } else {
                        mayHaveGivenUp = true
                    }
                }
                // The user's close, when it falls inside this (last) episode.
                var remaining = episode.duration
                if index == episodes.count - 1, let close = schedule.close, close.after < episode.duration {
                    closeClient(after: close.after, recovery: recovery)
                    remaining = max(.zero, episode.duration - close.after - Self.closeTakesEffect)
                    closed = true
                }
                action(after: remaining, heal)
                if index == episodes.count - 1, !closed, let close = schedule.close {
                    let after = close.after - episode.duration
                    if after >= recovery, !mayHaveGivenUp { recoveryCheck(recovery, index: index) }
                    closeClient(after: after, recovery: recovery)
                    closed = true
                } else if endsRun, !mayHaveGivenUp, !closed {
                    recoveryCheck(recovery, index: index)
                }
            }
            let lastRecovery = runs.last?.recovery ?? world.recovery(afterAttempts: 0)
            if episodes.isEmpty, let close = schedule.close { closeClient(after: close.after, recovery: lastRecovery) }
            timeLimit = schedule.length + .seconds(30) + lastRecovery * 2 + (schedule.close?.after ?? .zero)

            assertions.append(("max-concurrent client connections <= 1", .oneConnection))
            if maxAttempts == nil { assertions.append(("count client gave-up == 0", .gaveUp(episode: nil))) }
            // Gaps exist only where a reconnect must have happened: a detection judged, then a recovery.
            let detected = Set(steps.compactMap { if case .detection(let e)? = $0.property { e } else { nil } })
            let recovered = steps.contains { if case .recovery(let e)? = $0.property { detected.contains { $0 <= e } } else { false } }
            // The built-in client's events are stamped where they happen; an external client's when
            // its line arrives (a pipe, Chromium's log): their gaps carry that channel's jitter
            // (a browser's 200 ms timer measured 174 ms once in 100 seeds), so 50 ms is allowed.
            let shortest = world.reconnect.delayBounds(attempt: 1).lowerBound
            let allowance = world.reporting == .builtin ? shortest / 10 : max(shortest / 10, .milliseconds(50))
            if shortest - allowance >= .milliseconds(20), recovered {
                assertions.append(("reconnect-gaps >= \(ms(shortest - allowance))", .backoff))
            }
            for (n, assertion) in world.scenario.assertions.enumerated() { assertions.append((assertion.text, .fileAssertion(n + 1))) }
        }

        /// An outage run: consecutive episodes each starting before the client can be known to have
        /// recovered from the one before (its gap shorter than that recovery bound).
        struct Run {
            var episodes: ClosedRange<Int>
            /// From its first fault to its last heal.
            var length: Duration
            /// At most how many attempts fail while it lasts (nil: no bound).
            var attempts: Int?
            /// The recovery bound after each of its episodes, from the attempts up to it.
            var recoveryAfter: [Duration]
            var recovery: Duration { recoveryAfter.last! }
        }

        /// The schedule's episodes grouped into outage runs — the one grouping every property reads.
        func runs() -> [Run] {
            var runs: [Run] = []
            for (index, episode) in schedule.episodes.enumerated() {
                let attempts = world.attemptsPossible(during: episode)
                if var run = runs.last, episode.gap < run.recovery {
                    // A gap inside a run allows one more attempt (it succeeds, or the next fault takes it).
                    run.episodes = run.episodes.lowerBound...index
                    run.length += episode.gap + episode.duration
                    run.attempts = Self.sum(run.attempts, 1, attempts)
                    run.recoveryAfter.append(world.recovery(afterAttempts: run.attempts))
                    runs[runs.count - 1] = run
                } else {
                    runs.append(Run(episodes: index...index, length: episode.duration, attempts: attempts, recoveryAfter: [world.recovery(afterAttempts: attempts)]))
                }
            }
            return runs
        }

        /// A sum of bounds; nil (no bound) wins.
        static func sum(_ values: Int?...) -> Int? {
            values.reduce(0 as Int?) { total, value in total.flatMap { t in value.map { t + $0 } } }
        }

        /// A close is asked for when its step begins and takes effect when the client gets to it: an
        /// attempt its timer started in between is not a reconnect after the close (seen once in 16
        /// seeds at --jobs 8: `connecting` 0.00 ms after the step). The check starts this much later.
        static let closeTakesEffect = Duration.milliseconds(50)

        mutating func closeClient(after: Duration, recovery: Duration) {
            action(after: after, "client: close")
            steps.append(("  - wait: \(ms(Self.closeTakesEffect))\n", nil))
            check("  - expect-none: client connecting\n    for: \(ms(recovery))\n", .noReconnectAfterClose)
        }

        mutating func recoveryCheck(_ recovery: Duration, index: Int) {
            check("  - expect: \(world.heartbeatEvent)\n    within: \(ms(recovery))\n\(each)", .recovery(episode: index))
        }

        /// Detection where the client's link is lost for longer than its deadline or ends; no
        /// false death where heartbeats and replies still get through within the timeout.
        mutating func detectionAndFalseDeath(_ episode: Schedule.Episode, index: Int, margin: String, closeAt: Duration?) {
            // After a close the client has nothing left to show: a detection is judged only when
            // the close comes after its bound, a window of no false death not at all.
            let blackBoxDelay = world.reporting == .blackBox ? ExploreWorld.largestDelay(world.reconnect, attempts: 1) : .zero
            func check(_ lines: String, _ property: Property) {
                if let closeAt {
                    if case .noFalseDeath = property { return }
                    if closeAt < world.detection + world.margin + blackBoxDelay { return }
                }
                self.check(lines, property)
            }
            // A false death is the client declaring a live link dead: its heartbeat timeout (from
            // outside: giving the socket up). A refused attempt is no death.
            let falseDeath = world.reporting == .blackBox ? "client abandoned" : "client disconnected reason=\(DisconnectReason.heartbeatTimeout.rawValue)"
            let heartbeat = world.heartbeat
            let takesCurrent = !episode.kind.isLinkFault || episode.target != .new
            let outlasts = episode.duration >= world.detection + world.margin
            let withinTimeout = episode.duration + world.margin <= heartbeat.timeout
            let detectionWithin = "\(world.detectionExpression) + \(margin)"
            switch episode.kind {
            case .blackhole, .lossUpstream, .lossDownstream, .hold, .powerLoss, .latencyAbove, .dropReplies, .serverFreeze, .serverMute:
                if takesCurrent, outlasts {
                    switch world.reporting {
                    case .builtin:
                        check("  - expect: client disconnected reason=heartbeat-timeout\n    within: \(detectionWithin)\n\(each)", .detection(episode: index))
                    case .selfReporting:
                        check("  - expect: client disconnected\n    within: \(detectionWithin)\n\(each)", .detection(episode: index))
                    case .blackBox:
                        // From outside, the first of: its socket released, its next attempt.
                        let delay = ms(ExploreWorld.largestDelay(world.reconnect, attempts: 1))
                        check("  - expect: client abandoned\n    within: \(detectionWithin) + \(delay)\n\(each)", .detection(episode: index))
                    }
                } else if [.blackhole, .lossUpstream, .lossDownstream, .hold, .serverFreeze, .serverMute].contains(episode.kind), takesCurrent, withinTimeout {
                    check("  - expect-none: \(falseDeath)\n    for: \(ms(episode.duration))\n", .noFalseDeath(episode: index))
                } else if !takesCurrent, episode.kind != .powerLoss {
                    check("  - expect-none: \(falseDeath)\n    for: \(ms(episode.duration))\n", .noFalseDeath(episode: index))
                }
            case .reset, .close, .serverStop, .serverKill:
                if takesCurrent {
                    check("  - expect: client disconnected\n    within: \(detectionWithin)\n\(each)", .detection(episode: index))
                } else {
                    check("  - expect-none: \(falseDeath)\n    for: \(ms(episode.duration))\n", .noFalseDeath(episode: index))
                }
            case .latencyBelow, .refuse:
                check("  - expect-none: \(falseDeath)\n    for: \(ms(episode.duration))\n", .noFalseDeath(episode: index))
            case .natExpiry, .idleClose:
                // A heartbeat that keeps going keeps the connection busy: nothing may be lost, by
                // a timeout or by the middlebox's close.
                let anyLoss = world.reporting == .blackBox ? "client abandoned" : "client disconnected"
                check("  - expect-none: \(anyLoss)\n    for: \(ms(episode.duration))\n", .noFalseDeath(episode: index))
            case .clientClose:
                break
            }
        }

        /// The step that starts an episode and the one that ends it.
        func actions(_ episode: Schedule.Episode, name: String) -> (String, String) {
            switch episode.kind {
            case .serverStop: return ("server: stop", "server: start")
            case .serverKill: return ("server: kill", "server: start")
            case .serverFreeze: return ("server: freeze", "server: resume")
            case .serverMute: return ("server: mute", "server: unmute")
            case .clientClose: return ("wait: 0ms", "wait: 0ms")
            default:
                let fault = ExploreWorld.fault(for: episode.kind, dialect: world.heartbeat.dialect, latency: episode.latency, idle: world.idleLimit, target: episode.target, name: name)
                return ("fault: " + (fault?.scenarioYAML ?? "{}"), "heal: \(name)")
            }
        }
    }
}

/// Whole milliseconds, as a scenario writes a duration.
func ms(_ duration: Duration) -> String { "\(Int64(duration.milliseconds.rounded()))ms" }

func quoted(_ text: String) -> String { JSONValue.string(text).description }
