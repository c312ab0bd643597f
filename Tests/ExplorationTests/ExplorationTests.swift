import EventSchema
import Exploration
import ScenarioJudging
import ScenarioModel
import Testing

@Suite("Exploration: schedules as data, properties from settings, shrinking")
struct ExplorationTests {
    static let worldText = """
        name: world
        client:
          heartbeat: {dialect: json, interval: 300ms, timeout: 200ms}
          reconnect: {delay: 300ms, max-attempts: 6}
        server: {dialect: json}
        explore:
          faults: {min: 2, max: 4}
        """

    static func world(_ text: String = worldText, reporting: ClientReporting = .builtin) throws -> ExploreWorld {
        try ExploreWorld(Scenario.parse(text, file: "world.yaml", world: true), reporting: reporting)
    }

    @Test func aWorldNeedsNoTimelineButARunDoes() throws {
        _ = try Scenario.parse(Self.worldText, file: "world.yaml", world: true)
        #expect(throws: ScenarioError.self) { try Scenario.parse(Self.worldText, file: "world.yaml") }
    }

    @Test func theExploreSectionIsCheckedWhereItIsWritten() throws {
        let bad = Self.worldText + "\n  kinds: [blackhole, power-los]\n"
        let error = try #require(throws: ScenarioError.self) { try Scenario.parse(bad, file: "w.yaml", world: true) }
        #expect(error.description.contains("w.yaml:8:22"), "\(error)")
        #expect(error.description.contains("did you mean 'power-loss'"), "\(error)")
        // Packet mode cannot delay packets: asking for latency says so.
        let packet = Self.worldText.replacingOccurrences(of: "server: {dialect: json}", with: "server: {dialect: json}\nnetwork: packet") + "\n  kinds: [latency-above]\n"
        let world = try Scenario.parse(packet, file: "w.yaml", world: true)
        let refused = try #require(throws: ScenarioError.self) { try ExploreWorld(world, reporting: .builtin) }
        #expect(refused.description.contains("latency-above cannot be drawn here"), "\(refused)")
        // By default, packet mode draws only what it can carry out.
        let defaults = try ExploreWorld(Scenario.parse(Self.worldText + "\nnetwork: packet\n", file: "w.yaml", world: true), reporting: .builtin)
        #expect(!defaults.kinds.contains(.latencyBelow) && !defaults.kinds.contains(.dropReplies) && defaults.kinds.contains(.blackhole))
        #expect(defaults.targets == [.all])
    }

    @Test func aSeedAloneGivesTheSameSchedule() throws {
        let world = try Self.world()
        for seed in UInt64(1)...50 {
            #expect(ScheduleDrawer.draw(seed: seed, world: world) == ScheduleDrawer.draw(seed: seed, world: world))
        }
        let distinct = Set((UInt64(1)...50).map { ScheduleDrawer.draw(seed: $0, world: world) })
        #expect(distinct.count == 50)
        // Every drawn schedule keeps to the world's ranges.
        for seed in UInt64(1)...200 {
            let schedule = ScheduleDrawer.draw(seed: seed, world: world)
            #expect(schedule.episodes.count <= 4)
            for episode in schedule.episodes {
                #expect(world.durations.contains(episode.duration) && world.gaps.contains(episode.gap))
                #expect(world.kinds.contains(episode.kind))
            }
        }
    }

    @Test func swarmDrawsASubsetOfKindsPerSeed() throws {
        let world = try Self.world()
        var kindsPerSeed: [Int] = []
        for seed in UInt64(1)...100 {
            let schedule = ScheduleDrawer.draw(seed: seed, world: world, swarm: true)
            kindsPerSeed.append(Set(schedule.episodes.map(\.kind)).count)
        }
        let even = (UInt64(1)...100).map { Set(ScheduleDrawer.draw(seed: $0, world: world).episodes.map(\.kind)).count }
        // Fewer distinct kinds per schedule on average under swarm.
        #expect(kindsPerSeed.reduce(0, +) < even.reduce(0, +))
    }

    @Test func everyScheduleIsAPlainScenarioThatSurvivesTheEncoder() throws {
        let world = try Self.world()
        for seed in UInt64(1)...100 {
            for swarm in [false, true] {
                let built = try ScheduleScenario.build(ScheduleDrawer.draw(seed: seed, world: world, swarm: swarm), world: world, name: "world-seed\(seed)")
                let again = try Scenario.parse(built.scenario.yaml, file: "again.yaml")
                #expect(again.yaml == built.scenario.yaml)
                #expect(built.scenario.timeline.count >= 1 + built.schedule.episodes.count * 2)
                // Every check is a property, and every property a check.
                let checks = built.scenario.timeline.filter(\.isCheck).map { "step \($0.index)" } + built.scenario.assertions.indices.map { "assert \($0 + 1)" }
                #expect(Set(checks).isSubset(of: Set(built.properties.keys)))
            }
        }
    }

    @Test func propertiesFollowTheClientsSettings() throws {
        let world = try Self.world()
        let long = Schedule(seed: 1, clients: 1, episodes: [Schedule.Episode(gap: .milliseconds(500), kind: .blackhole, duration: .seconds(2))])
        let built = try ScheduleScenario.build(long, world: world, name: "long")
        #expect(built.text.contains("expect: client disconnected reason=heartbeat-timeout\n    within: heartbeat.detection + 200ms"), "\(built.text)")
        #expect(built.properties.values.contains(.detection(episode: 0)))
        // In a blackhole an attempt hangs until its connect timeout (5 s): one attempt at most, so
        // giving up within max-attempts 6 is a violation, and recovery is judged.
        #expect(built.properties.values.contains(.gaveUp(episode: 0)))
        #expect(built.properties.values.contains(.recovery(episode: 0)))
        // With the server down for 2 s, attempts fail at once, one per 300 ms: 7 of them may spend
        // max-attempts 6, so giving up is not judged — nor is what follows (the client may be gone).
        let down = Schedule(seed: 1, clients: 1, episodes: [Schedule.Episode(gap: .milliseconds(500), kind: .serverStop, duration: .seconds(2))])
        let downBuilt = try ScheduleScenario.build(down, world: world, name: "down")
        #expect(!downBuilt.properties.values.contains(.gaveUp(episode: 0)))
        #expect(!downBuilt.properties.values.contains(.recovery(episode: 0)))
        let forever = try ScheduleScenario.build(long, world: Self.world(Self.worldText.replacingOccurrences(of: ", max-attempts: 6", with: "")), name: "forever")
        #expect(forever.properties.values.contains(.recovery(episode: 0)))
        #expect(forever.properties.values.contains(.gaveUp(episode: nil)))
        let short = Schedule(seed: 1, clients: 1, episodes: [Schedule.Episode(gap: .milliseconds(500), kind: .serverStop, duration: .milliseconds(700))])
        let stop = try ScheduleScenario.build(short, world: world, name: "stop")
        #expect(stop.properties.values.contains(.gaveUp(episode: 0)))
        // A stall shorter than the timeout by the margin: no death may be declared.
        let world2 = try Self.world(Self.worldText.replacingOccurrences(of: "interval: 300ms, timeout: 200ms", with: "interval: 1s, timeout: 500ms"))
        let held = Schedule(seed: 1, clients: 1, episodes: [Schedule.Episode(gap: .milliseconds(500), kind: .hold, duration: .milliseconds(250))])
        let heldBuilt = try ScheduleScenario.build(held, world: world2, name: "held")
        #expect(heldBuilt.properties.values.contains(.noFalseDeath(episode: 0)))
        #expect(!heldBuilt.properties.values.contains(.detection(episode: 0)))
        // Black-box clients are judged from outside.
        let blackBox = try ScheduleScenario.build(long, world: Self.world(reporting: .blackBox), name: "bb")
        #expect(blackBox.text.contains("expect: client abandoned"))
        // A close: nothing may reconnect after it.
        var closing = long
        closing.close = Schedule.Close(after: .milliseconds(900))
        let closed = try ScheduleScenario.build(closing, world: world, name: "closed")
        #expect(closed.properties.values.contains(.noReconnectAfterClose))
        #expect(closed.properties.values.contains(.detection(episode: 0)), "a close after the detection bound leaves detection judged")
        closing.close = Schedule.Close(after: .milliseconds(200))
        let early = try ScheduleScenario.build(closing, world: world, name: "early")
        #expect(!early.properties.values.contains(.detection(episode: 0)), "closed before it could have detected")
        #expect(!closed.properties.values.contains(.recovery(episode: 0)))
    }

    @Test func aViolationIsNamedByItsProperty() throws {
        let world = try Self.world()
        let schedule = Schedule(seed: 3, clients: 1, episodes: [Schedule.Episode(gap: .milliseconds(500), kind: .blackhole, duration: .seconds(2))])
        let built = try ScheduleScenario.build(schedule, world: world, name: "v")
        let detection = try #require(built.properties.first { $0.value == .detection(episode: 0) }?.key)
        let failed = Verdict(check: detection, label: "expect client disconnected", location: "v.yaml:9", outcome: .failed, message: "not seen")
        let passed = Verdict(check: "assert 1", label: "max-concurrent", location: "v.yaml:20", outcome: .passed, message: "1")
        let notJudged = Verdict(check: "assert 2", label: "count", location: "v.yaml:21", outcome: .notJudged, message: "no evidence")
        let violations = built.violations(in: [failed, passed, notJudged])
        #expect(violations.map(\.property) == [.detection(episode: 0)])
    }

    /// The shrinker against a known bug: it violates only when a server stop comes before a
    /// blackhole of at least 600 ms. From a schedule of four faults it must come down to those two.
    @Test func theShrinkerFindsTheTwoFaultsThatMatter() async throws {
        let world = try Self.world()
        func bug(_ s: Schedule) -> Bool {
            guard let stop = s.episodes.firstIndex(where: { $0.kind == .serverStop }) else { return false }
            return s.episodes[(stop + 1)...].contains { $0.kind == .blackhole && $0.duration >= .milliseconds(600) }
        }
        let original = Schedule(seed: 9, clients: 2, episodes: [
            .init(gap: .milliseconds(700), kind: .latencyBelow, duration: .milliseconds(900), latency: .milliseconds(20)),
            .init(gap: .milliseconds(800), kind: .serverStop, duration: .milliseconds(1200)),
            .init(gap: .milliseconds(900), kind: .hold, duration: .milliseconds(300)),
            .init(gap: .milliseconds(600), kind: .blackhole, duration: .milliseconds(1500)),
        ], close: .init(after: .milliseconds(2000)))
        #expect(bug(original))
        var runs = 0
        var steps: [String] = []
        let minimal = await Shrinker(world: world).shrink(
            original, violated: .detection(episode: 3),
            reproduces: { runs += 1; return bug($0) }, outOfBudget: { runs > 500 }, accepted: { steps.append($0.step) }
        )
        #expect(minimal.episodes.map(\.kind) == [.serverStop, .blackhole])
        #expect(minimal.close == nil && minimal.clients == 1)
        #expect(minimal.episodes[1].duration >= .milliseconds(600) && minimal.episodes[1].duration < .milliseconds(1500))
        #expect(bug(minimal))
        #expect(!steps.isEmpty && runs < 200, "\(runs) runs: \(steps)")
    }

    @Test func theShrinkerStopsAtItsBudget() async throws {
        let world = try Self.world()
        let original = ScheduleDrawer.draw(seed: 4, world: world)
        var runs = 0
        let result = await Shrinker(world: world).shrink(original, violated: .oneConnection, reproduces: { _ in runs += 1; return false }, outOfBudget: { runs >= 3 }, accepted: { _ in })
        #expect(runs == 3)
        #expect(result == original)
    }
}
