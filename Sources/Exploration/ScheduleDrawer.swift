import ScenarioModel
import EventSchema
import Foundation

/// Draws a schedule from a seed: the same seed and world give the same schedule, on any machine.
public enum ScheduleDrawer {
    /// `swarm`: the seed first draws which kinds this schedule may use at all (each with even odds,
    /// at least one) — swarm testing (Groce et al., ISSTA 2012): schedules that leave kinds out
    /// reach states an even mix of every kind rarely does.
    public static func draw(seed: UInt64, world: ExploreWorld, swarm: Bool = false) -> Schedule {
        var random = SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D &+ 0x1234_5678)
        var pool = world.kinds.filter { $0 != .clientClose }
        var mayClose = world.kinds.contains(.clientClose)
        if swarm {
            let kept = pool.filter { _ in random.nextUnit() < 0.5 }
            pool = kept.isEmpty && !pool.isEmpty ? [pool[Int(random.next() % UInt64(pool.count))]] : kept
            mayClose = mayClose && random.nextUnit() < 0.5
        }
        let clients = Int(random.draw(in: world.clients.lowerBound...world.clients.upperBound))
        let count = Int(random.draw(in: world.faults.lowerBound...world.faults.upperBound))
        var episodes: [Schedule.Episode] = []
        var length = Duration.zero
        for _ in 0..<count where !pool.isEmpty {
            let kind = pool[Int(random.next() % UInt64(pool.count))]
            let gap = random.duration(in: world.gaps)
            let duration = drawDuration(&random, world: world)
            guard episodes.isEmpty || length + gap + duration <= world.length else { break }
            var episode = Schedule.Episode(gap: gap, kind: kind, duration: duration)
            if kind.isLinkFault, world.targets.count > 1 {
                // Half of them on every connection; the rest on existing or new ones only.
                episode.target = random.nextUnit() < 0.5 ? .all : world.targets[Int(random.next() % UInt64(world.targets.count))]
            } else if kind.isLinkFault {
                episode.target = world.targets[0]
            }
            let timeout = world.heartbeat.timeout
            switch kind {
            case .latencyBelow:
                // Round trip below the timeout by at least the margin.
                episode.latency = ((timeout - world.margin) / 2).scaled(by: 0.3 + 0.6 * random.nextUnit()).roundedToMilliseconds
            case .latencyAbove:
                episode.latency = ((timeout + world.margin) / 2 + timeout.scaled(by: 0.5 * random.nextUnit())).roundedToMilliseconds
            default: break
            }
            episodes.append(episode)
            length += gap + duration
        }
        var close: Schedule.Close?
        if mayClose, pool.isEmpty || random.nextUnit() < 0.3 {
            let last = episodes.last?.duration ?? .zero
            close = Schedule.Close(after: random.duration(in: .zero...(last + world.gaps.upperBound)))
        }
        return Schedule(seed: seed, clients: clients, episodes: episodes, close: close)
    }

    /// Half of the durations log-uniform over the whole range (short stalls are as likely as long
    /// outages); the other half past the detection deadline, where detection and recovery are judged.
    static func drawDuration(_ random: inout SplitMix64, world: ExploreWorld) -> Duration {
        let range = world.durations
        let long = world.detection + world.margin
        if random.nextUnit() < 0.5, long < range.upperBound {
            return random.duration(in: max(long, range.lowerBound)...range.upperBound)
        }
        let low = max(range.lowerBound.seconds, 0.001), high = max(range.upperBound.seconds, low)
        let value = low * pow(high / low, random.nextUnit())
        return Duration.milliseconds(Int64((value * 1000).rounded())).clamped(to: range)
    }
}

extension SplitMix64 {
    mutating func draw(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// Whole milliseconds, uniform over the range.
    mutating func duration(in range: ClosedRange<Duration>) -> Duration {
        let low = Int(range.lowerBound.milliseconds.rounded(.up)), high = max(low, Int(range.upperBound.milliseconds.rounded(.down)))
        return .milliseconds(Int64(draw(in: low...high)))
    }
}

extension Duration {
    var roundedToMilliseconds: Duration { .milliseconds(Int64(milliseconds.rounded())) }

    func clamped(to range: ClosedRange<Duration>) -> Duration { min(max(self, range.lowerBound), range.upperBound) }
}
