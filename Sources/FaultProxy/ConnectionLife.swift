/// The life of a proxied connection's two legs, as a value: whether the server leg is dialled,
/// which directions are closed, which sockets are gone, and who closed how. The I/O layer
/// (``ProxiedConnection``) reports what happened and performs what the answers say; this type holds
/// no sockets and reads no clock, so every transition is tested on its own.
struct ConnectionLife: Sendable, Hashable {
    enum ServerLeg: Sendable, Hashable {
        /// Not dialled yet: bytes for the server wait (a fault silences both ways, or just accepted).
        case notDialled
        case dialling
        case attached
        /// Never connected (unreachable, or given up before it was needed).
        case none
    }

    struct Leg: Sendable, Hashable {
        /// The peer's FIN or RST arrived on this leg (its input is closed).
        var peerClosed: CloseHow?
        /// Flatline forwarded a FIN to this leg (its output is shut).
        var outputShut = false
        /// The socket is closed (or was never there).
        var gone = false
    }

    private(set) var server: ServerLeg = .notDialled
    private(set) var client = Leg()
    private(set) var serverSide = Leg()
    /// A close the proxy decided on while the server leg was being dialled.
    private(set) var closeOnAttach: (fault: String, how: CloseHow)?
    private(set) var ended = false

    static func == (lhs: ConnectionLife, rhs: ConnectionLife) -> Bool {
        lhs.server == rhs.server && lhs.client == rhs.client && lhs.serverSide == rhs.serverSide
            && lhs.closeOnAttach?.fault == rhs.closeOnAttach?.fault && lhs.closeOnAttach?.how == rhs.closeOnAttach?.how
            && lhs.ended == rhs.ended
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(server)
        hasher.combine(client)
        hasher.combine(serverSide)
        hasher.combine(ended)
    }

    func leg(_ side: Side) -> Leg { side == .client ? client : serverSide }

    private mutating func update(_ side: Side, _ body: (inout Leg) -> Void) {
        if side == .client { body(&client) } else { body(&serverSide) }
    }

    var serverAttached: Bool { server == .attached }

    /// Whether the server leg should be dialled now. `silenced`: faults keep both directions quiet,
    /// so nothing may reach the server yet (a pulled cable: not even the SYN).
    func shouldDial(silenced: Bool) -> Bool {
        server == .notDialled && !client.gone && !silenced
    }

    mutating func dialling() {
        precondition(server == .notDialled, "dialled twice")
        server = .dialling
    }

    enum Attach: Equatable {
        /// Deliver what waited for the server and start relaying.
        case relay
        /// A fault closed the connection while it was being dialled: close the new leg so.
        case close(fault: String, how: CloseHow)
    }

    /// The server leg connected.
    mutating func attached() -> Attach {
        server = .attached
        if let pending = closeOnAttach {
            closeOnAttach = nil
            serverSide.gone = true
            return .close(fault: pending.fault, how: pending.how)
        }
        return .relay
    }

    /// The server could not be reached. Returns whether the client leg must be closed (FIN).
    mutating func upstreamFailed() -> Bool {
        server = .none
        serverSide.gone = true
        closeOnAttach = nil
        guard !client.gone else { return false }
        client.gone = true
        return true
    }

    /// The peer of `side` closed its end. Returns false for a repeated report (only the first counts).
    mutating func peerClosed(_ side: Side, how: CloseHow) -> Bool {
        guard leg(side).peerClosed == nil else { return false }
        update(side) { leg in
            leg.peerClosed = how
            if how == .rst { leg.gone = true }
        }
        return true
    }

    /// Whether bytes can still be written to `side`.
    func writable(_ side: Side) -> Bool { !leg(side).gone }

    enum ShutOutput: Equatable {
        case none
        /// Half-close the leg (its peer may still send).
        case halfClose
        /// The peer already closed its end: close the socket (after the writes drain).
        case close
    }

    /// A FIN is to be forwarded to `side`.
    mutating func forwardFIN(to side: Side) -> ShutOutput {
        guard !leg(side).gone, !leg(side).outputShut else { return .none }
        update(side) { $0.outputShut = true }
        return leg(side).peerClosed != nil ? .close : .halfClose
    }

    /// A RST is to be forwarded to `side`. Returns whether the leg must be reset.
    mutating func forwardRST(to side: Side) -> Bool {
        guard !leg(side).gone else { return false }
        update(side) { $0.gone = true }
        return true
    }

    /// Whether `side` is closed both ways after a FIN from its peer, so its socket can go.
    func finishedBothWays(_ side: Side) -> Bool {
        let leg = leg(side)
        return leg.peerClosed == .fin && leg.outputShut
    }

    /// The proxy closes the connection because of a fault: the legs to close now (the server leg,
    /// if still being dialled, is closed when it attaches).
    mutating func closeByProxy(fault: String, how: CloseHow) -> [Side] {
        var closing: [Side] = []
        if !client.gone {
            client.gone = true
            closing.append(.client)
        }
        switch server {
        case .attached:
            if !serverSide.gone {
                serverSide.gone = true
                closing.append(.server)
            }
        case .dialling:
            closeOnAttach = (fault, how)
        case .notDialled, .none:
            server = .none
            serverSide.gone = true
        }
        return closing
    }

    /// A leg's socket closed. Returns whether a FIN must be synthesised for it: NIO closes a
    /// half-closed channel outright when the peer's FIN arrives, without an inputClosed event, and
    /// that FIN still has to be forwarded.
    mutating func legInactive(_ side: Side) -> Bool {
        let synthesiseFIN = !leg(side).gone && leg(side).peerClosed == nil
        update(side) { $0.gone = true }
        if side == .client, server == .notDialled {
            // Nothing will ever be dialled for a client that left.
            server = .none
            serverSide.gone = true
        }
        return synthesiseFIN
    }

    /// Whether the connection just ended: both legs gone (and the server socket really closed).
    /// True once.
    mutating func end(serverSocketOpen: Bool) -> Bool {
        guard !ended, client.gone, serverSide.gone, !serverSocketOpen, server != .dialling else { return false }
        ended = true
        return true
    }
}
