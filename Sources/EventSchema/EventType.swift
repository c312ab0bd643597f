/// An event's source and type, as the catalog declares them: the one form in which code compares
/// events. Names appear only where events are written and read (`jsonLine`, `init(jsonLine:)`).
public enum EventType: Sendable, Hashable, CustomStringConvertible {
    case client(ClientEventType)
    case server(ServerEventType)
    case proxy(ProxyEventType)
    case wire(WireEventType)
    case runner(RunnerEventType)
    /// A type the catalog does not declare, as an external program printed it: it is kept for the
    /// timeline, and no check can name it.
    case undeclared(EventSource, String)

    /// The declared type of `source` called `name`, or `.undeclared`.
    public init(source: EventSource, name: String) {
        let declared: EventType? =
            switch source {
            case .client: ClientEventType(rawValue: name).map(EventType.client)
            case .server: ServerEventType(rawValue: name).map(EventType.server)
            case .proxy: ProxyEventType(rawValue: name).map(EventType.proxy)
            case .wire: WireEventType(rawValue: name).map(EventType.wire)
            case .runner: RunnerEventType(rawValue: name).map(EventType.runner)
            }
        self = declared ?? .undeclared(source, name)
    }

    public var source: EventSource {
        switch self {
        case .client: .client
        case .server: .server
        case .proxy: .proxy
        case .wire: .wire
        case .runner: .runner
        case .undeclared(let source, _): source
        }
    }

    /// The type's name in the schema.
    public var name: String {
        switch self {
        case .client(let type): type.rawValue
        case .server(let type): type.rawValue
        case .proxy(let type): type.rawValue
        case .wire(let type): type.rawValue
        case .runner(let type): type.rawValue
        case .undeclared(_, let name): name
        }
    }

    /// The type's own fields (none for an undeclared one).
    public var fields: [String] {
        switch self {
        case .client(let type): type.fields
        case .server(let type): type.fields
        case .proxy(let type): type.fields
        case .wire(let type): type.fields
        case .runner(let type): type.fields
        case .undeclared: []
        }
    }

    /// `client heartbeat-sent`: source and name, as the timeline and patterns write them.
    public var description: String { "\(source.rawValue) \(name)" }

    /// The client's heartbeat events (`heartbeat-sent`, `-acked`, `-received`): a client that
    /// prints its connections may still leave its heartbeats to be observed.
    public var isClientHeartbeat: Bool {
        switch self {
        case .client(.heartbeatSent), .client(.heartbeatAcked), .client(.heartbeatReceived): true
        default: false
        }
    }
}

extension ClientEventType { public var eventType: EventType { .client(self) } }
extension ServerEventType { public var eventType: EventType { .server(self) } }
extension ProxyEventType { public var eventType: EventType { .proxy(self) } }
extension WireEventType { public var eventType: EventType { .wire(self) } }
extension RunnerEventType { public var eventType: EventType { .runner(self) } }
