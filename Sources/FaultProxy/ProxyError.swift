import EventSchema
import NIOCore
import NIOConcurrencyHelpers
import NIOPosix
import WebSocketSupport
import NetworkSupport

/// A proxy error with the HTTP status the control API answers it with.
public struct ProxyError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case badRequest, notFound, conflict
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var status: Int {
        switch kind {
        case .badRequest: 400
        case .notFound: 404
        case .conflict: 409
        }
    }

    public var description: String { message }
}
