public import EventSchema

/// One upgraded connection of the heartbeat server, decided without I/O or a clock: which
/// frames answer which, when to push, ping and reap, and who closed. The NIO handler feeds it
/// frames and timer firings with the time, and carries out the actions — the server's twin of
/// ``HeartbeatStateMachine``.
public struct ServerConnectionMachine: Sendable {
    /// The server's state as a whole (set by its controls, shared by every connection).
    public enum Mood: Sendable, Hashable {
        /// Answering heartbeats.
        case answering
        /// Up, but heartbeats are not answered and none are pushed or pinged; messages still echo.
        case muted
        /// Stopped like SIGSTOP: nothing is read (the handler turns reading off), sent or reaped.
        case frozen
    }

    public enum Timer: Sendable, Hashable {
        case push, ping, reap
    }

    public enum Action: Sendable, Hashable {
        case send(OutboundFrame)
        case emit(ServerEvent.Kind)
        /// Set the timer to fire at the instant (replacing the one set before).
        case schedule(Timer, at: Instant)
        /// Send a close frame, then close the socket.
        case closeWithFrame(code: UInt16, reason: String)
        /// Close the socket now (an I/O error).
        case closeNow
    }

    public let id: UInt64
    public let configuration: HeartbeatServerConfiguration
    private var reaper: PeerReaper?
    private var pings: UInt64 = 0
    /// Set when either side began to close, so that the disconnect event says who did.
    public private(set) var closeInitiator: String?

    public init(id: UInt64, configuration: HeartbeatServerConfiguration) {
        self.id = id
        self.configuration = configuration
    }

    /// The connection is up: the first push, ping and reap deadlines.
    public mutating func start(now: Instant) -> [Action] {
        var actions: [Action] = []
        if let reapAfter = configuration.reapAfter {
            reaper = PeerReaper(reapAfter: reapAfter, now: now)
            actions.append(.schedule(.reap, at: now + reapAfter))
        }
        if case .serverPush(let interval, _) = configuration.dialect { actions.append(.schedule(.push, at: now + interval)) }
        if let interval = configuration.pingInterval { actions.append(.schedule(.ping, at: now + interval)) }
        return actions
    }

    /// A frame from the client: heartbeats answered unless muted, messages echoed when configured.
    public mutating func received(_ frame: InboundFrame, mood: Mood, now: Instant) -> [Action] {
        reaper?.trafficReceived(now: now)
        let answering = mood == .answering
        switch frame {
        case .text(let text):
            if let (payload, reply) = configuration.textHeartbeat, text == payload {
                return [.emit(.heartbeatReceived(conn: id))] + (answering ? [.send(.text(reply ?? text))] : [])
            }
            if let object = (try? JSONValue(parsing: text))?.objectValue, object["ModeCode"]?.stringValue == "heart_beat" {
                return [.emit(.heartbeatReceived(conn: id))] + (answering ? [.send(.text(text))] : [])
            }
            return [.emit(.messageReceived(conn: id, bytes: text.utf8.count))] + (configuration.echoMessages ? [.send(.text(text))] : [])
        case .binary(let count):
            return [.emit(.messageReceived(conn: id, bytes: count))] + (configuration.echoMessages ? [.send(.binary([UInt8](repeating: 0, count: count)))] : [])
        case .ping(let payload):
            return [.emit(.heartbeatReceived(conn: id))] + (answering ? [.send(.pong(payload))] : [])
        case .pong:
            return []
        case .close(let code, _):
            // Answer the close handshake and hang up.
            return close(code: code ?? 1000, reason: "", initiator: "client")
        }
    }

    /// A frame that breaks RFC 6455 (unmasked, reserved bits…), or one too large (`tooLarge`: 1009).
    public mutating func protocolError(_ detail: String, tooLarge: Bool = false) -> [Action] {
        [.emit(.protocolError(conn: id, detail: detail))] + close(code: tooLarge ? 1009 : 1002, reason: "protocol error")
    }

    /// The socket failed (a reset…): closed without a frame.
    public mutating func failed(_ detail: String) -> [Action] {
        if closeInitiator == nil { closeInitiator = detail }
        return [.closeNow]
    }

    /// A timer fired at `now`. `epochMilliseconds`: the wall-clock time a pushed heartbeat carries.
    public mutating func timerFired(_ timer: Timer, mood: Mood, now: Instant, epochMilliseconds: Int64) -> [Action] {
        switch timer {
        case .push:
            guard case .serverPush(let interval, _) = configuration.dialect else { return [] }
            let next = Action.schedule(.push, at: now + interval)
            guard mood == .answering, closeInitiator == nil else { return [next] }
            let text = (["heartbeat": .int(epochMilliseconds)] as JSONObject).description
            return [.send(.text(text)), .emit(.heartbeatPushed(conn: id)), next]
        case .ping:
            guard let interval = configuration.pingInterval else { return [] }
            let next = Action.schedule(.ping, at: now + interval)
            guard mood == .answering, closeInitiator == nil else { return [next] }
            pings += 1
            return [.send(.ping(Array("server-\(pings)".utf8))), .emit(.pingSent(conn: id)), next]
        case .reap:
            guard var reaper else { return [] }
            // A frozen server reads nothing and decides nothing: it looks again when its period is up.
            if mood == .frozen { return [.schedule(.reap, at: now + reaper.reapAfter)] }
            let decision = reaper.timerFired(now: now)
            self.reaper = reaper
            switch decision {
            case .reap(let silent):
                return [.emit(.reaped(conn: id, silentFor: silent))] + close(code: 1001, reason: "no traffic for \(silent.flatlineDescription)")
            case .checkAgain(let next):
                return [.schedule(.reap, at: next)]
            case .none:
                return []
            }
        }
    }

    /// The socket is gone: who ended it.
    public func disconnected() -> [Action] {
        [.emit(.clientDisconnected(conn: id, detail: closeInitiator ?? "client closed the connection (FIN)"))]
    }

    private mutating func close(code: UInt16, reason: String, initiator: String = "server") -> [Action] {
        guard closeInitiator == nil else { return [] }
        closeInitiator = "\(initiator) closed (close frame \(code))"
        return [.closeWithFrame(code: code, reason: reason)]
    }
}
