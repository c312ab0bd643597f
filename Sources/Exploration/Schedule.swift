public import ScenarioModel

/// A fault schedule: data, not a seed. Drawn from a seed once, then changed by the shrinker and
/// written as a plain scenario; a smaller schedule is the same schedule with less in it.
///
/// Episodes run one after another (Jepsen's staggered nemesis with a heal after each): a quiet
/// `gap`, then the disturbance for `duration`, then its heal. An optional user close ends it.
public struct Schedule: Sendable, Hashable {
    /// The seed it was drawn from (its name; the shrinker keeps it).
    public var seed: UInt64
    /// How many copies of the client run.
    public var clients: Int
    public var episodes: [Episode]
    /// The user closes the client `after` the start of the last episode (or of the run when there
    /// is none); nothing is done after it.
    public var close: Close?

    public init(seed: UInt64, clients: Int, episodes: [Episode], close: Close? = nil) {
        self.seed = seed
        self.clients = clients
        self.episodes = episodes
        self.close = close
    }

    public struct Episode: Sendable, Hashable {
        /// Quiet time before it starts (from the previous heal, or from the client's first answered heartbeat).
        public var gap: Duration
        public var kind: ExploreKind
        /// How long it lasts before its heal.
        public var duration: Duration
        /// Which connections a link fault takes.
        public var target: ExploreTarget
        /// For latency kinds: the delay each way.
        public var latency: Duration = .zero

        public init(gap: Duration, kind: ExploreKind, duration: Duration, target: ExploreTarget = .all, latency: Duration = .zero) {
            self.gap = gap
            self.kind = kind
            self.duration = duration
            self.target = target
            self.latency = latency
        }
    }

    public struct Close: Sendable, Hashable {
        /// From the start of the last episode's fault (it may fall inside the episode or after its heal).
        public var after: Duration

        public init(after: Duration) { self.after = after }
    }

    /// Fault steps: one per episode, and the close.
    public var size: Int { episodes.count + (close == nil ? 0 : 1) }

    /// Gaps and durations together (what the timeline takes before its last checks).
    public var length: Duration {
        episodes.reduce(Duration.zero) { $0 + $1.gap + $1.duration }
    }

    /// One line per step, with its time from the start of the schedule: what the console prints.
    public var lines: [String] {
        var t = Duration.zero
        var lines: [String] = []
        for (index, episode) in episodes.enumerated() {
            t += episode.gap
            var what = "\(episode.kind.rawValue) for \(episode.duration.flatlineDescription)"
            if episode.kind.isLinkFault, episode.target != .all { what += " (\(episode.target.rawValue) connections)" }
            if episode.latency > .zero { what += " (\(episode.latency.flatlineDescription) each way)" }
            lines.append("t=\(t.flatlineDescription) \(what)")
            if index == episodes.count - 1, let close {
                lines.append("t=\((t + close.after).flatlineDescription) client close")
            }
            t += episode.duration
        }
        if episodes.isEmpty, let close { lines.append("t=\(close.after.flatlineDescription) client close") }
        return lines
    }
}
