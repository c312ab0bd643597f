public import EventSchema
/// How heartbeats look on the wire. Client and server must agree on it.
public enum HeartbeatDialect: Sendable, Hashable {
    /// `{"ModeCode":"heart_beat","msg":<epoch ms>}` echoed back by the server.
    case json
    /// A text payload (`heart_beat`, `HeartBeat`, `666`…) answered by `reply`, or by any text when `reply` is nil.
    case text(payload: String, reply: String?)
    /// RFC 6455 ping frames; the pong must echo the ping's payload.
    case ping
    /// The server sends `{"heartbeat": <timestamp>}` every `interval`; the client declares the link dead
    /// when none arrived within `interval × tolerance`. The client sends no heartbeats of its own.
    case serverPush(interval: Duration, tolerance: Double)

    public static let defaultTextPayload = "heart_beat"
    /// The text dialect's reply when none is given (the Tornado-style server of the seeds).
    public static let defaultTextReply = "ok"
    /// The server-push dialect's period and tolerance when none are given.
    public static let defaultPushInterval = Duration.seconds(1)
    public static let defaultPushTolerance = 1.5

    /// A dialect's name, as written on the command line and in scenario files.
    public enum Name: String, Sendable, CaseIterable {
        case json, text, ping
        case serverPush = "server-push"
    }

    public var kind: Name {
        switch self {
        case .json: .json
        case .text: .text
        case .ping: .ping
        case .serverPush: .serverPush
        }
    }

    /// The dialect's name as written on the command line and in scenario files.
    public var name: String { kind.rawValue }

    public static let names = Name.allCases.map(\.rawValue)

    /// Whether the client sends heartbeats itself (every dialect but server-push).
    public var clientSendsHeartbeats: Bool {
        if case .serverPush = self { return false }
        return true
    }

    /// The frame a client sends as heartbeat number `seq`. `epochMilliseconds` is the wall-clock
    /// time the JSON dialect carries in `msg`; the caller reads it, since this module has no clock.
    public func heartbeatFrame(seq: UInt64, epochMilliseconds: Int64) -> OutboundFrame {
        switch self {
        case .json:
            let object: JSONObject = ["ModeCode": "heart_beat", "msg": .int(epochMilliseconds)]
            return .text(object.description)
        case .text(let payload, _):
            return .text(payload)
        case .ping:
            return .ping(Self.pingPayload(seq: seq))
        case .serverPush:
            // Never asked for: server-push clients send no heartbeats. Sending nothing harmful anyway.
            return .text("{}")
        }
    }

    /// Ping payloads carry the sequence number so a pong can be matched to its ping.
    public static func pingPayload(seq: UInt64) -> [UInt8] { Array("flatline-\(seq)".utf8) }

    /// What an inbound frame means to a client speaking this dialect.
    public enum Classification: Sendable, Equatable {
        /// The answer to the client's outstanding heartbeat.
        case heartbeatReply
        /// A heartbeat pushed by the server (server-push dialect).
        case serverHeartbeat
        /// Application traffic (or control frames that are not heartbeat replies).
        case ordinary
        /// Looked like a heartbeat message but could not be understood; the detail says why.
        case malformed(String)
    }

    /// Classifies an inbound frame. `expectedPong` is the payload of the outstanding ping, if any.
    public func classify(_ frame: InboundFrame, expectedPong: [UInt8]?) -> Classification {
        switch (self, frame) {
        case (.json, .text(let text)):
            guard let value = try? JSONValue(parsing: text), let object = value.objectValue else {
                return .malformed("malformed JSON message (not a JSON object): \(text.prefixForDisplay)")
            }
            guard let mode = object["ModeCode"] else {
                return .malformed("JSON message without \"ModeCode\": \(text.prefixForDisplay)")
            }
            guard let modeName = mode.stringValue else {
                return .malformed("\"ModeCode\" is not a string: \(text.prefixForDisplay)")
            }
            return modeName == "heart_beat" ? .heartbeatReply : .ordinary
        case (.text(_, let reply), .text(let text)):
            if let reply { return text == reply ? .heartbeatReply : .ordinary }
            return .heartbeatReply
        case (.ping, .pong(let payload)):
            guard let expectedPong else { return .ordinary }
            if payload == expectedPong { return .heartbeatReply }
            return .malformed("pong payload \(String(decoding: payload, as: UTF8.self).prefixForDisplay) does not echo the ping's \(String(decoding: expectedPong, as: UTF8.self))")
        case (.serverPush, .text(let text)):
            if let object = (try? JSONValue(parsing: text))?.objectValue, object["heartbeat"] != nil {
                return .serverHeartbeat
            }
            return .ordinary
        default:
            return .ordinary
        }
    }
}

extension String {
    /// At most 64 characters of a message, for error details.
    var prefixForDisplay: String {
        count <= 64 ? "'\(self)'" : "'\(prefix(64))…' (\(utf8.count) bytes)"
    }
}

/// A WebSocket message or control frame as the heartbeat logic sees it.
public enum InboundFrame: Sendable, Hashable {
    case text(String)
    case binary(count: Int)
    case ping([UInt8])
    case pong([UInt8])
    case close(code: UInt16?, reason: String)
}

/// A frame the heartbeat logic asks the I/O layer to send.
public enum OutboundFrame: Sendable, Hashable {
    case text(String)
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
}

extension HeartbeatDialect {
    /// Builds a dialect from its name and the options that apply to it (command line, scenario files).
    public static func named(
        _ name: String,
        textPayload: String? = nil,
        textReply: String?? = nil,
        pushInterval: Duration? = nil,
        tolerance: Double? = nil
    ) throws(ConfigurationError) -> HeartbeatDialect {
        guard let kind = Name(rawValue: name) else {
            let suggestion = closestMatch(to: name, in: names).map { " (did you mean '\($0)'?)" } ?? ""
            throw ConfigurationError("unknown dialect '\(name)'\(suggestion); use one of \(names.joined(separator: ", "))")
        }
        return named(kind, textPayload: textPayload, textReply: textReply, pushInterval: pushInterval, tolerance: tolerance)
    }

    /// The dialect `kind` with its settings; defaults for those not given. `textReply: .some(nil)`
    /// accepts any text.
    public static func named(
        _ kind: Name, textPayload: String? = nil, textReply: String?? = nil, pushInterval: Duration? = nil, tolerance: Double? = nil
    ) -> HeartbeatDialect {
        switch kind {
        case .json: .json
        case .text: .text(payload: textPayload ?? defaultTextPayload, reply: textReply ?? defaultTextReply)
        case .ping: .ping
        case .serverPush: .serverPush(interval: pushInterval ?? defaultPushInterval, tolerance: tolerance ?? defaultPushTolerance)
        }
    }
}

