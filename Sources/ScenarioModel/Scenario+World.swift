public import FaultModel

extension Scenario {
    /// This scenario's world — client, server, settings, vars and network mode — under a new name,
    /// with `clients` copies of its client and no timeline, checks, `must-fail` or `explore:`.
    /// Exploration writes its schedules onto it.
    public func world(named name: String, clients: Int, seed: UInt64, timeLimit: Duration) -> Scenario {
        var world = self
        world.name = name
        world.summary = ""
        world.timeline = []
        world.writtenSteps = []
        world.assertions = []
        world.mustFail = nil
        world.explore = nil
        world.seed = seed
        world.timeLimit = timeLimit
        switch client {
        case .builtin(let configuration, _): world.client = .builtin(configuration, count: clients)
        case .external(let command, _, let heartbeat, let reconnect):
            world.client = .external(command: command, count: clients, heartbeat: heartbeat, reconnect: reconnect)
        }
        world.environment = ScenarioParser.environment(world)
        return world
    }
}

extension Fault {
    /// The fault as a scenario step writes it (`{type: "blackhole", name: "cable", direction: both}`).
    public var scenarioYAML: String { ScenarioEncoder().fault(self) }
}
