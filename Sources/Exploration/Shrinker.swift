import ScenarioModel

/// Shrinks a violating schedule to a smaller one that still violates the same property, in
/// proptest-state-machine's order: drop what comes after the violation, delete faults (large
/// chunks first, then one at a time), fewer clients, weaker kinds, shorter durations and gaps.
/// Greedy: the first smaller candidate that still reproduces becomes the current one, and the
/// passes start again from it, until none does or the budget is spent.
///
/// Whether a candidate reproduces is the caller's: exploration runs it k times on real clocks and
/// keeps it only when all k violate the property (a seed fixes the schedule, not the timing).
public struct Shrinker: Sendable {
    public let world: ExploreWorld

    public init(world: ExploreWorld) { self.world = world }

    /// A smaller schedule and what was done to get it.
    public struct Candidate: Sendable {
        public var schedule: Schedule
        public var step: String
    }

    public func shrink(
        _ schedule: Schedule, violated property: Property,
        reproduces: (Schedule) async -> Bool, outOfBudget: () -> Bool, accepted: (Candidate) -> Void
    ) async -> Schedule {
        var current = schedule
        var tried: Set<Schedule> = [schedule]
        var improved = true
        while improved, !outOfBudget() {
            improved = false
            for candidate in candidates(current, violated: property) where !tried.contains(candidate.schedule) {
                if outOfBudget() { break }
                tried.insert(candidate.schedule)
                if await reproduces(candidate.schedule) {
                    current = candidate.schedule
                    accepted(candidate)
                    improved = true
                    break
                }
            }
        }
        return current
    }

    /// Every smaller neighbour of `schedule`, most reduction first.
    public func candidates(_ schedule: Schedule, violated property: Property) -> [Candidate] {
        var out: [Candidate] = []
        let episodes = schedule.episodes
        // 1. Nothing after the episode the violation belongs to matters.
        if let e = property.episode, e + 1 < episodes.count {
            var cut = schedule
            cut.episodes = Array(episodes[...e])
            cut.close = nil
            out.append(Candidate(schedule: cut, step: "dropped the \(episodes.count - e - 1) fault(s) after fault \(e + 1)"))
        }
        // 2. Delete faults: halves, quarters, …, then one at a time (delta debugging).
        var chunk = episodes.count / 2
        while chunk >= 1 {
            var start = 0
            while start < episodes.count {
                let end = min(start + chunk, episodes.count)
                var smaller = schedule
                smaller.episodes.removeSubrange(start..<end)
                if smaller.episodes.count + (smaller.close == nil ? 0 : 1) >= 1 {
                    let what = chunk == 1 ? "fault \(start + 1) (\(episodes[start].kind.rawValue))" : "faults \(start + 1)–\(end)"
                    out.append(Candidate(schedule: smaller, step: "deleted \(what)"))
                }
                start += chunk
            }
            chunk /= 2
        }
        if schedule.close != nil, !episodes.isEmpty {
            var without = schedule
            without.close = nil
            out.append(Candidate(schedule: without, step: "deleted the client close"))
        }
        // 3. Fewer clients.
        if schedule.clients > 1 {
            var fewer = schedule
            fewer.clients = 1
            out.append(Candidate(schedule: fewer, step: "one client instead of \(schedule.clients)"))
        }
        // 4. Weaker kinds.
        for (index, episode) in episodes.enumerated() {
            for weaker in Self.weaker(episode.kind) where world.kinds.contains(weaker) {
                var weakened = schedule
                weakened.episodes[index].kind = weaker
                out.append(Candidate(schedule: weakened, step: "fault \(index + 1): \(episode.kind.rawValue) → \(weaker.rawValue)"))
            }
            if episode.target != .all {
                var widened = schedule
                widened.episodes[index].target = .all
                out.append(Candidate(schedule: widened, step: "fault \(index + 1): every connection instead of \(episode.target.rawValue) ones"))
            }
        }
        // 5. Shorter durations and gaps, by bisection towards the smallest allowed.
        for (index, episode) in episodes.enumerated() {
            for shorter in Self.bisections(episode.duration, floor: world.durations.lowerBound) {
                var cut = schedule
                cut.episodes[index].duration = shorter
                out.append(Candidate(schedule: cut, step: "fault \(index + 1): \(episode.duration.flatlineDescription) → \(shorter.flatlineDescription)"))
            }
            for shorter in Self.bisections(episode.gap, floor: world.gaps.lowerBound) {
                var cut = schedule
                cut.episodes[index].gap = shorter
                out.append(Candidate(schedule: cut, step: "gap before fault \(index + 1): \(episode.gap.flatlineDescription) → \(shorter.flatlineDescription)"))
            }
        }
        if let close = schedule.close {
            for shorter in Self.bisections(close.after, floor: .zero) {
                var cut = schedule
                cut.close = Schedule.Close(after: shorter)
                out.append(Candidate(schedule: cut, step: "client close: \(close.after.flatlineDescription) → \(shorter.flatlineDescription) into the last fault"))
            }
        }
        return out
    }

    /// Power loss → blackhole → one-way loss; kill → stop; freeze → mute; latency above → below.
    static func weaker(_ kind: ExploreKind) -> [ExploreKind] {
        switch kind {
        case .powerLoss: [.blackhole]
        case .blackhole: [.lossDownstream, .lossUpstream]
        case .serverKill: [.serverStop]
        case .serverFreeze: [.serverMute]
        case .reset: [.close]
        default: []
        }
    }

    /// The floor, then the points halfway to it from the value (whole milliseconds), largest cut first.
    static func bisections(_ value: Duration, floor: Duration) -> [Duration] {
        guard value > floor + .milliseconds(10) else { return [] }
        let half = Duration.milliseconds(Int64(((value + floor) / 2).milliseconds.rounded()))
        let threeQuarters = Duration.milliseconds(Int64(((value + half) / 2).milliseconds.rounded()))
        return [floor, half, threeQuarters].filter { $0 < value }
    }
}
