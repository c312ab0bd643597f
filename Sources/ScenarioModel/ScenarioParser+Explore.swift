import FaultModel

extension ScenarioParser {
    /// The `explore:` section (see ``ExploreSpace``); each key is checked where it is written.
    static func explore(_ node: YAMLValue) throws(ScenarioError) -> ExploreSpace {
        var space = ExploreSpace()
        for (key, _, value) in try node.mapping("the explore section", allowed: ExploreSpace.keys) {
            switch key {
            case "kinds":
                var kinds: [ExploreKind] = []
                for item in try value.sequence("a list of fault kinds, e.g. [blackhole, server-kill]") {
                    let name = try item.string("a fault kind")
                    guard let kind = ExploreKind(rawValue: name) else {
                        let names = ExploreKind.allCases.map(\.rawValue)
                        throw item.error("unknown kind '\(name)'\(String.suggestion(for: name, in: names)); explore draws \(names.joined(separator: ", "))")
                    }
                    if !kinds.contains(kind) { kinds.append(kind) }
                }
                guard !kinds.isEmpty else { throw value.error("kinds must name at least one kind") }
                space.kinds = kinds
            case "targets":
                var targets: [ExploreTarget] = []
                for item in try value.sequence("a list of targets: all, existing, new") {
                    let name = try item.string("a target")
                    guard let target = ExploreTarget(rawValue: name) else {
                        throw item.error("unknown target '\(name)'; use all, existing or new")
                    }
                    if !targets.contains(target) { targets.append(target) }
                }
                guard !targets.isEmpty else { throw value.error("targets must name at least one target") }
                space.targets = targets
            case "durations": space.durations = try durationRange(value, what: "durations")
            case "gaps": space.gaps = try durationRange(value, what: "gaps")
            case "faults": space.faults = try countRange(value, what: "faults", limit: 1...20)
            case "clients": space.clients = try countRange(value, what: "clients", limit: 1...100)
            case "length":
                let length = try value.duration()
                guard length > .zero, length <= .seconds(600) else { throw value.error("length must be between 1ms and 10m, got \(length.flatlineDescription)") }
                space.length = length
            case "margin":
                let margin = try value.duration()
                guard margin >= .zero, margin <= .seconds(60) else { throw value.error("margin must be between 0 and 60s, got \(margin.flatlineDescription)") }
                space.margin = margin
            default: break
            }
        }
        return space
    }

    /// `{min: 100ms, max: 3s}`: both required, min ≤ max, at most 10 minutes.
    private static func durationRange(_ node: YAMLValue, what: String) throws(ScenarioError) -> ClosedRange<Duration> {
        var low: Duration?, high: Duration?
        for (key, _, value) in try node.mapping("\(what) as {min: DURATION, max: DURATION}", allowed: ["min", "max"]) {
            if key == "min" { low = try value.duration() } else { high = try value.duration() }
        }
        guard let low, let high else { throw node.error("\(what) needs both min and max, e.g. {min: 100ms, max: 2s}") }
        guard low > .zero || what == "gaps", low >= .zero else { throw node.error("\(what): min must be above 0") }
        guard low <= high else { throw node.error("\(what): min \(low.flatlineDescription) is above max \(high.flatlineDescription)") }
        guard high <= .seconds(600) else { throw node.error("\(what): max must be at most 10m") }
        return low...high
    }

    private static func countRange(_ node: YAMLValue, what: String, limit: ClosedRange<Int>) throws(ScenarioError) -> ClosedRange<Int> {
        var low: Int?, high: Int?
        for (key, _, value) in try node.mapping("\(what) as {min: N, max: N}", allowed: ["min", "max"]) {
            let number = try value.int("a whole number from \(limit.lowerBound) to \(limit.upperBound)", in: limit)
            if key == "min" { low = number } else { high = number }
        }
        guard let low, let high else { throw node.error("\(what) needs both min and max, e.g. {min: 1, max: 3}") }
        guard low <= high else { throw node.error("\(what): min \(low) is above max \(high)") }
        return low...high
    }
}
