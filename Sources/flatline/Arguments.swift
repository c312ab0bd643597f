public import ArgumentParser
import EventSchema
public import FaultModel
public import HeartbeatCore
public import ScenarioModel

// Option values as typed arguments: parsed once, by the library's own parsers, with the library's
// defaults shown in --help.

extension Duration: @retroactive ExpressibleByArgument {
    /// `250ms`, `4s`, `1m30s`.
    public init?(argument: String) {
        guard let duration = try? DurationParser.parse(argument) else { return nil }
        self = duration
    }

    public var defaultValueDescription: String { flatlineDescription }
}

extension Slack: ExpressibleByArgument {
    /// `20%`, `50ms` or `20%+50ms`.
    public init?(argument: String) {
        guard let slack = try? Slack(parsing: argument) else { return nil }
        self = slack
    }

    public var defaultValueDescription: String { description }
}

extension NetworkMode: ExpressibleByArgument {}
extension HeartbeatDialect.Name: ExpressibleByArgument {}

extension HostPort: ExpressibleByArgument {
    /// `HOST:PORT`.
    public init?(argument: String) {
        guard let address = try? HostPort(parsing: argument) else { return nil }
        self = address
    }

    public var defaultValueDescription: String { description }
}
