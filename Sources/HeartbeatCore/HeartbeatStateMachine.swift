public import EventSchema
/// The heartbeat and reconnect logic of one client, free of I/O and clocks.
///
/// Feed it what happened (a connection opened, a frame arrived, a timer fired…) together with the
/// instant it happened; it answers with the actions to perform. The I/O layer (``HeartbeatClient``)
/// performs them and reports back. Because every report names the connection it is about, news
/// from a connection that was already given up — an `error` followed by its `close`, a late
/// upgrade after a connect timeout, the close of a link declared dead — is recognised and ignored:
/// that is the reconnect lock, and it is why a loss always schedules exactly one reconnect.
public struct HeartbeatStateMachine: Sendable {
    public struct Configuration: Sendable, Hashable {
        public var heartbeat: HeartbeatPolicy
        public var reconnect: ReconnectPolicy

        public init(heartbeat: HeartbeatPolicy = HeartbeatPolicy(), reconnect: ReconnectPolicy = ReconnectPolicy()) {
            self.heartbeat = heartbeat
            self.reconnect = reconnect
        }

        public func validate() throws(ConfigurationError) {
            try heartbeat.validate()
            try reconnect.validate()
        }
    }

    /// The timers the machine asks for. At most one of each kind is pending; scheduling one replaces it.
    public enum Timer: String, Sendable, Hashable, CaseIterable {
        /// Time to send the next heartbeat.
        case heartbeat
        /// The reply to the outstanding heartbeat (or the next server heartbeat) is due.
        case livenessDeadline
        /// TCP connect plus upgrade must have finished.
        case connectTimeout
        /// Time for the next connection attempt.
        case reconnect
    }

    /// How to close a connection.
    public struct CloseRequest: Sendable, Hashable {
        /// The close code to send in a close frame, or nil to drop the socket without one.
        public var code: UInt16?
        public var reason: String
        /// How long the close handshake may take before the socket is dropped. Nothing waits for it.
        public var grace: Duration

        public init(code: UInt16?, reason: String, grace: Duration) {
            self.code = code
            self.reason = reason
            self.grace = grace
        }
    }

    public enum Action: Sendable, Hashable {
        /// Open connection `id` (TCP connect and WebSocket upgrade).
        case connect(ConnectionID)
        /// Send heartbeat number `seq`, built with ``HeartbeatDialect/heartbeatFrame(seq:epochMilliseconds:)``.
        case sendHeartbeat(ConnectionID, seq: UInt64)
        /// Send a frame (a pong answering the server's ping).
        case send(ConnectionID, OutboundFrame)
        /// Close (or abandon) a connection. Later reports about it are ignored.
        case close(ConnectionID, CloseRequest)
        case scheduleTimer(Timer, at: Instant)
        case cancelTimer(Timer)
        case emit(ClientEvent)
        /// The client has stopped for good (closed by the user, or gave up).
        case finished
    }

    /// Where the client is in its life.
    public enum Phase: String, Sendable, Hashable {
        case idle, connecting, open, waitingToReconnect = "waiting-to-reconnect", stopped, gaveUp = "gave-up"
    }

    private struct Outstanding {
        var seq: UInt64
        var sentAt: Instant
        var payload: [UInt8]?
    }

    private struct Open {
        var id: ConnectionID
        var attempt: Int
        var openedAt: Instant
        var outstanding: Outstanding?
    }

    private enum State {
        /// Not started yet.
        case idle
        /// Connection `id` is being made; `attempt` 0 is the first connection, n the n-th reconnect.
        case connecting(id: ConnectionID, attempt: Int)
        /// Upgraded and exchanging heartbeats.
        case open(Open)
        /// Lost; a reconnect timer is pending.
        case waitingToReconnect(attempt: Int)
        /// Closed by the user. Terminal.
        case stopped
        /// Max attempts exhausted. Terminal.
        case gaveUp
    }

    public let configuration: Configuration
    private var state: State = .idle
    /// Consecutive losses since the last stable connection: the number of the next reconnect attempt.
    private var failures = 0
    private var nextConnection: UInt64 = 1
    private var nextSeq: UInt64 = 1
    private var timers: [Timer: Instant] = [:]
    private var random: any RandomNumberGenerator & Sendable

    /// - Parameter random: the source for reconnect jitter; inject a seeded one for repeatable runs.
    public init(configuration: Configuration, random: any RandomNumberGenerator & Sendable = SplitMix64()) {
        self.configuration = configuration
        self.random = random
    }

    public var phase: Phase {
        switch state {
        case .idle: .idle
        case .connecting: .connecting
        case .open: .open
        case .waitingToReconnect: .waitingToReconnect
        case .stopped: .stopped
        case .gaveUp: .gaveUp
        }
    }

    /// The connection currently being made or in use, if any.
    public var currentConnection: ConnectionID? {
        switch state {
        case .connecting(let id, _): id
        case .open(let open): open.id
        default: nil
        }
    }

    /// When a pending timer is due, if it is pending.
    public func deadline(of timer: Timer) -> Instant? { timers[timer] }

    private var heartbeat: HeartbeatPolicy { configuration.heartbeat }

    // MARK: - Inputs

    /// Starts the first connection.
    public mutating func start(now: Instant) -> [Action] {
        guard case .idle = state else { return [] }
        return startAttempt(attempt: 0, now: now)
    }

    /// The WebSocket upgrade of connection `id` completed.
    public mutating func connectionEstablished(_ id: ConnectionID, now: Instant) -> [Action] {
        guard case .connecting(let current, let attempt) = state, current == id else {
            // A connection we no longer want (timed out, or the user closed meanwhile).
            return [.close(id, CloseRequest(code: 1001, reason: "going away", grace: .zero))]
        }
        var actions = [cancel(.connectTimeout)]
        state = .open(Open(id: id, attempt: attempt, openedAt: now))
        if configuration.reconnect.stableAfter == .zero { failures = 0 }
        actions.append(emit(.connected(id, attempt: attempt), now))
        switch heartbeat.dialect {
        case .serverPush(let interval, let tolerance):
            actions.append(schedule(.livenessDeadline, at: now + interval.scaled(by: tolerance)))
        default:
            actions.append(schedule(.heartbeat, at: now + heartbeat.interval))
        }
        return actions
    }

    /// A frame arrived on connection `id`.
    public mutating func received(_ frame: InboundFrame, on id: ConnectionID, now: Instant) -> [Action] {
        guard case .open(var open) = state, open.id == id else { return [] }
        var actions: [Action] = []

        switch frame {
        case .ping(let payload):
            actions.append(.send(id, .pong(payload)))
        case .close(let code, let reason):
            let detail = "server sent close frame" + (code.map { " \($0)" } ?? "") + (reason.isEmpty ? "" : " '\(reason)'")
            actions.append(.close(id, CloseRequest(code: code ?? 1000, reason: "", grace: heartbeat.effectiveCloseGrace)))
            actions += lose(open, reason: .peerClosed, detail: detail, now: now, closeAction: nil)
            return actions
        default:
            break
        }

        switch heartbeat.dialect.classify(frame, expectedPong: open.outstanding?.payload) {
        case .heartbeatReply:
            if let outstanding = open.outstanding {
                open.outstanding = nil
                actions.append(cancel(.livenessDeadline))
                actions.append(emit(.heartbeatAcked(id, seq: outstanding.seq, rtt: now - outstanding.sentAt), now))
            }
        case .serverHeartbeat:
            if case .serverPush(let interval, let tolerance) = heartbeat.dialect {
                actions.append(schedule(.livenessDeadline, at: now + interval.scaled(by: tolerance)))
            }
            actions.append(emit(.serverHeartbeat(id), now))
        case .malformed(let detail):
            actions.append(emit(.protocolError(id, detail: detail), now))
            actions += messageReceived(frame, on: id, now: now)
        case .ordinary:
            actions += messageReceived(frame, on: id, now: now)
        }

        if heartbeat.anyMessageCountsAsAlive {
            switch heartbeat.dialect {
            case .serverPush(let interval, let tolerance):
                actions.append(schedule(.livenessDeadline, at: now + interval.scaled(by: tolerance)))
            default:
                if open.outstanding != nil {
                    open.outstanding = nil
                    actions.append(cancel(.livenessDeadline))
                }
                // Traffic proves the link alive: the next heartbeat is due after `interval` of silence.
                actions.append(schedule(.heartbeat, at: now + heartbeat.interval))
            }
        }
        state = .open(open)
        return actions
    }

    /// Connection `id` failed or reported an error. Only the first report about a connection counts.
    public mutating func error(on id: ConnectionID, reason: DisconnectReason = .error, detail: String, now: Instant) -> [Action] {
        connectionLost(id, reason: reason, detail: detail, now: now)
    }

    /// Connection `id` closed (channel inactive). Ignored when the connection was already given up.
    public mutating func closed(_ id: ConnectionID, reason: DisconnectReason = .peerClosed, detail: String, now: Instant) -> [Action] {
        connectionLost(id, reason: reason, detail: detail, now: now)
    }

    /// A timer the machine scheduled went off. Stale timers (replaced or cancelled) are ignored.
    public mutating func timerFired(_ timer: Timer, now: Instant) -> [Action] {
        guard let due = timers[timer], now >= due else { return [] }
        // The caller passes the later of the loop's clock and the due instant, so this is >= 0.
        let late = now - due
        timers[timer] = nil
        switch (timer, state) {
        case (.heartbeat, .open(var open)):
            var actions: [Action] = []
            if open.outstanding == nil {
                let seq = nextSeq
                nextSeq += 1
                let payload = heartbeat.dialect == .ping ? HeartbeatDialect.pingPayload(seq: seq) : nil
                open.outstanding = Outstanding(seq: seq, sentAt: now, payload: payload)
                actions.append(.sendHeartbeat(open.id, seq: seq))
                actions.append(emit(.heartbeatSent(open.id, seq: seq, late: late), now))
                actions.append(schedule(.livenessDeadline, at: now + heartbeat.timeout))
                state = .open(open)
            }
            actions.append(schedule(.heartbeat, at: now + heartbeat.interval))
            return actions

        case (.livenessDeadline, .open(let open)):
            let detail: String
            switch heartbeat.dialect {
            case .serverPush(let interval, let tolerance):
                detail = "no server heartbeat within \(interval.scaled(by: tolerance).flatlineDescription) (\(interval.flatlineDescription) × \(tolerance))"
            default:
                let seq = open.outstanding.map { "#\($0.seq)" } ?? ""
                detail = "no reply to heartbeat \(seq) within \(heartbeat.timeout.flatlineDescription)"
            }
            // Death is final now. A close frame may go out, but nothing waits for the handshake
            // over the dead link: the socket is dropped after the grace and reconnecting starts at once.
            let close = Action.close(
                open.id,
                CloseRequest(code: 1001, reason: "heartbeat timeout", grace: heartbeat.effectiveCloseGrace)
            )
            return lose(open, reason: .heartbeatTimeout, detail: detail, now: now, closeAction: close)

        case (.connectTimeout, .connecting(let id, _)):
            let detail = "no WebSocket connection within \(configuration.reconnect.connectTimeout.flatlineDescription) (TCP connect and upgrade)"
            var actions: [Action] = [.close(id, CloseRequest(code: nil, reason: "connect timeout", grace: .zero))]
            actions.append(emit(.disconnected(id, reason: .connectTimeout, detail: detail), now))
            actions += scheduleReconnect(now: now, wasStable: false)
            return actions

        case (.reconnect, .waitingToReconnect(let attempt)):
            return startAttempt(attempt: attempt, now: now)

        default:
            return []
        }
    }

    /// The user closed the client. It never reconnects after this.
    public mutating func closeRequested(now: Instant) -> [Action] {
        var actions: [Action] = []
        switch state {
        case .stopped, .gaveUp:
            return []
        case .connecting(let id, _):
            actions.append(.close(id, CloseRequest(code: nil, reason: "closed by user", grace: .zero)))
        case .open(let open):
            actions.append(.close(open.id, CloseRequest(code: 1000, reason: "closed by user", grace: heartbeat.effectiveCloseGrace)))
        case .idle, .waitingToReconnect:
            break
        }
        actions += cancelAllTimers()
        state = .stopped
        actions.append(emit(.closed, now))
        actions.append(.finished)
        return actions
    }

    // MARK: - Transitions

    private mutating func connectionLost(_ id: ConnectionID, reason: DisconnectReason, detail: String, now: Instant) -> [Action] {
        switch state {
        case .connecting(let current, _) where current == id:
            var actions: [Action] = [cancel(.connectTimeout)]
            actions.append(.close(id, CloseRequest(code: nil, reason: "", grace: .zero)))
            actions.append(emit(.disconnected(id, reason: reason, detail: detail), now))
            actions += scheduleReconnect(now: now, wasStable: false)
            return actions
        case .open(let open) where open.id == id:
            return lose(open, reason: reason, detail: detail, now: now, closeAction: .close(id, CloseRequest(code: nil, reason: "", grace: .zero)))
        default:
            // Already given up (the lock), or about a connection we abandoned.
            return []
        }
    }

    private mutating func lose(_ open: Open, reason: DisconnectReason, detail: String, now: Instant, closeAction: Action?) -> [Action] {
        var actions = [cancel(.heartbeat), cancel(.livenessDeadline)]
        if let closeAction { actions.append(closeAction) }
        actions.append(emit(.disconnected(open.id, reason: reason, detail: detail), now))
        let stable = now - open.openedAt >= configuration.reconnect.stableAfter
        actions += scheduleReconnect(now: now, wasStable: stable)
        return actions
    }

    private mutating func scheduleReconnect(now: Instant, wasStable: Bool) -> [Action] {
        if wasStable { failures = 0 }
        failures += 1
        let policy = configuration.reconnect
        if let maxAttempts = policy.maxAttempts, failures > maxAttempts {
            state = .gaveUp
            var actions = cancelAllTimers()
            actions.append(emit(.gaveUp(attempts: maxAttempts), now))
            actions.append(.finished)
            return actions
        }
        let unit = random.nextUnit()
        let delay = policy.delay(attempt: failures, unitRandom: unit)
        state = .waitingToReconnect(attempt: failures)
        return [
            emit(.reconnectScheduled(attempt: failures, delay: delay), now),
            schedule(.reconnect, at: now + delay),
        ]
    }

    private mutating func startAttempt(attempt: Int, now: Instant) -> [Action] {
        let id = ConnectionID(nextConnection)
        nextConnection += 1
        state = .connecting(id: id, attempt: attempt)
        return [
            emit(.connecting(id, attempt: attempt), now),
            .connect(id),
            schedule(.connectTimeout, at: now + configuration.reconnect.connectTimeout),
        ]
    }

    private func messageReceived(_ frame: InboundFrame, on id: ConnectionID, now: Instant) -> [Action] {
        switch frame {
        case .text(let text): [emit(.messageReceived(id, bytes: text.utf8.count), now)]
        case .binary(let count): [emit(.messageReceived(id, bytes: count), now)]
        default: []
        }
    }

    // MARK: - Helpers

    private func emit(_ kind: ClientEvent.Kind, _ now: Instant) -> Action {
        .emit(ClientEvent(at: now, kind: kind))
    }

    private mutating func schedule(_ timer: Timer, at instant: Instant) -> Action {
        timers[timer] = instant
        return .scheduleTimer(timer, at: instant)
    }

    private mutating func cancel(_ timer: Timer) -> Action {
        timers[timer] = nil
        return .cancelTimer(timer)
    }

    private mutating func cancelAllTimers() -> [Action] {
        let pending = Timer.allCases.filter { timers[$0] != nil }
        return pending.map { cancel($0) }
    }
}
