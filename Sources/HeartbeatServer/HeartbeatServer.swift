public import EventSchema
public import HeartbeatCore
public import NIOCore
import NIOConcurrencyHelpers
import NIOHTTP1
public import NIOPosix
import NIOWebSocket
import HeartbeatWebSocket
import WebSocketSupport
import NetworkSupport

/// A WebSocket server speaking every heartbeat dialect, with a switch that mutes its answers
/// (a server that is up but no longer answering) and optional reaping of silent clients.
public final class HeartbeatServer: Sendable {
    public let configuration: HeartbeatServerConfiguration
    public let group: any EventLoopGroup
    public let events: AsyncStream<ServerEvent>
    private let continuation: AsyncStream<ServerEvent>.Continuation
    private let onEvent: (@Sendable (ServerEvent) -> Void)?

    private struct State {
        var listener: (any Channel)?
        var boundPort: Int?
        /// Upgraded WebSocket connections.
        var connections: [UInt64: any Channel] = [:]
        /// Every accepted socket, upgraded or not yet: stopping must close them all.
        var accepted: [ObjectIdentifier: any Channel] = [:]
        var nextConnection: UInt64 = 1
        var muted = false
        var frozen = false
        /// Between start and stop/kill; sockets accepted outside it are closed at once.
        var running = false
    }

    private let state = NIOLockedValueBox(State())

    public init(
        configuration: HeartbeatServerConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onEvent: (@Sendable (ServerEvent) -> Void)? = nil
    ) throws(ConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        self.group = group
        self.onEvent = onEvent
        (self.events, self.continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    /// The port the server is (or was last) listening on.
    public var port: Int? { state.withLockedValue { $0.boundPort } }

    /// Whether heartbeat answers (echoes, `ok`, pongs, pushed heartbeats) are suppressed.
    public var isMuted: Bool { mood != .answering }

    /// Answering, muted or frozen: what every connection's machine is told.
    var mood: ServerConnectionMachine.Mood {
        state.withLockedValue { $0.frozen ? .frozen : $0.muted ? .muted : .answering }
    }

    /// Freezes the server like SIGSTOP would: it stops reading, answering, pushing and accepting
    /// (the kernel still completes handshakes and buffers bytes), and keeps every socket open.
    public func freeze() async {
        let channels = state.withLockedValue { state -> [any Channel] in
            state.frozen = true
            return Array(state.accepted.values) + (state.listener.map { [$0] } ?? [])
        }
        for channel in channels { try? await channel.setOption(.autoRead, value: false).get() }
        emit(.frozen(true))
    }

    /// Resumes a frozen server.
    public func resume() async {
        let channels = state.withLockedValue { state -> [any Channel] in
            state.frozen = false
            return Array(state.accepted.values) + (state.listener.map { [$0] } ?? [])
        }
        for channel in channels {
            try? await channel.setOption(.autoRead, value: true).get()
            channel.read()
        }
        emit(.frozen(false))
    }

    /// Kills the server like a crash the kernel cleans up after: the listener closes and every
    /// connection is reset (RST), with no close frame.
    public func kill() async {
        let (listener, connections) = state.withLockedValue { state in
            defer {
                state.listener = nil
                state.connections.removeAll()
                state.frozen = false
                state.running = false
            }
            return (state.listener, Array(state.accepted.values))
        }
        try? await listener?.close()
        for channel in connections {
            if let provider = channel as? any SocketOptionProvider {
                try? await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
            }
            try? await channel.close()
        }
        emit(.killed)
    }

    /// Mutes or unmutes heartbeat answers: a muted server keeps connections open and keeps
    /// echoing ordinary messages, but the heartbeat logic of its clients sees no replies.
    public func setMuted(_ muted: Bool) {
        state.withLockedValue { $0.muted = muted }
        emit(.muted(muted))
    }

    /// Binds and starts accepting. After ``stop()`` it binds the same port again, so clients can
    /// reconnect to a restarted server. Returns the port.
    @discardableResult
    public func start() async throws -> Int {
        // Running from before the bind, so that no early connection is mistaken for a late one.
        let port = state.withLockedValue { state in
            state.frozen = false
            state.running = true
            return state.boundPort
        } ?? configuration.port
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 4096)  // a herd of thousands reconnects at once
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in self.initializeConnection(channel) }
                .bind(host: configuration.host, port: port)
                .get()
        } catch {
            state.withLockedValue { $0.running = false }
            throw error
        }
        await ListenerHardening.watch(channel) { [weak self] detail in self?.emit(.acceptFailed(detail: detail)) } exhausted: {}
        let bound = channel.localAddress?.port ?? port
        state.withLockedValue {
            $0.listener = channel
            $0.boundPort = bound
        }
        emit(.listening(host: configuration.host, port: bound))
        return bound
    }

    /// Stops listening and closes every connection: a close frame (1001) and then FIN.
    public func stop() async {
        let (listener, connections, accepted) = state.withLockedValue { state in
            defer {
                state.listener = nil
                state.connections.removeAll()
                state.running = false
            }
            return (state.listener, Array(state.connections.values), Array(state.accepted.values))
        }
        try? await listener?.close()
        for channel in connections {
            let frame = WebSocketFrame.close(code: 1001, reason: "server stopping", allocator: channel.allocator, maskKey: nil)
            channel.writeAndFlush(frame).whenComplete { _ in channel.close(promise: nil) }
        }
        // Sockets still upgrading finish their upgrade and get the close frame (see register);
        // sockets that never upgrade, and close frames stuck behind a peer that no longer reads,
        // must not hold the stop up: they are closed after a bounded wait.
        await withTaskGroup(of: Void.self) { group in
            for channel in accepted + connections {
                group.addTask {
                    if await !finishesWithin(.milliseconds(500), { done in channel.closeFuture.whenComplete { _ in done() } }) { try? await channel.close() }
                }
            }
        }
        emit(.stopped)
    }

    /// Ends the event stream. Call after the last ``stop()``.
    public func finishEvents() { continuation.finish() }

    /// How many WebSocket connections are open.
    public var connectionCount: Int { state.withLockedValue { $0.connections.count } }

    func emit(_ kind: ServerEvent.Kind) {
        let event = ServerEvent(at: .now, kind: kind)
        onEvent?(event)
        continuation.yield(event)
    }

    // MARK: - Connections

    private func initializeConnection(_ channel: any Channel) -> EventLoopFuture<Void> {
        let key = ObjectIdentifier(channel)
        let running = state.withLockedValue { state -> Bool in
            if state.running { state.accepted[key] = channel }
            return state.running
        }
        guard running else {
            // Accepted just as the server stopped: it must not outlive the stop.
            return channel.close()
        }
        channel.closeFuture.whenComplete { _ in
            _ = self.state.withLockedValue { $0.accepted.removeValue(forKey: key) }
        }
        let maxFrameSize = configuration.maxFrameSize
        return channel.eventLoop.makeCompletedFuture {
            let upgrader = NIOTypedWebSocketServerUpgrader<Bool>(
                maxFrameSize: maxFrameSize,
                // Errors are reported before the connection closes, so they are handled here.
                enableAutomaticErrorHandling: false,
                shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        let (id, running) = self.register(channel)
                        try channel.pipeline.syncOperations.addWebSocketMessageHandlers(
                            maxMessageSize: maxFrameSize, handler: ServerConnectionHandler(id: id, server: self)
                        )
                        if !running {
                            // Upgraded just as the server stopped: it gets the same goodbye as the others.
                            channel.eventLoop.execute {
                                let frame = WebSocketFrame.close(code: 1001, reason: "server stopping", allocator: channel.allocator, maskKey: nil)
                                channel.writeAndFlush(frame).whenComplete { _ in channel.close(promise: nil) }
                            }
                        }
                        return true
                    }
                }
            )
            let configuration = NIOTypedHTTPServerUpgradeConfiguration<Bool>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UpgradeRequiredResponder())
                        return false
                    }
                }
            )
            _ = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
                configuration: .init(upgradeConfiguration: configuration)
            )
        }
    }

    private func register(_ channel: any Channel) -> (UInt64, running: Bool) {
        let (id, running) = state.withLockedValue { state in
            let id = state.nextConnection
            state.nextConnection += 1
            if state.running { state.connections[id] = channel }
            return (id, state.running)
        }
        channel.closeFuture.whenComplete { _ in
            _ = self.state.withLockedValue { $0.connections.removeValue(forKey: id) }
        }
        emit(.clientConnected(conn: id, remote: channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"))
        return (id, running)
    }
}

/// One upgraded connection: carries out what its ``ServerConnectionMachine`` decides — frames
/// in, answers out, its three timers, the close. Confined to its channel's event loop.
private final class ServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let server: HeartbeatServer
    private var machine: ServerConnectionMachine
    private var timers: [ServerConnectionMachine.Timer: Scheduled<Void>] = [:]

    init(id: UInt64, server: HeartbeatServer) {
        self.server = server
        machine = ServerConnectionMachine(id: id, configuration: server.configuration)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        perform(machine.start(now: Instant.now(on: context.eventLoop)), context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        for timer in timers.values { timer.cancel() }
        timers.removeAll()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let webSocketFrame = unwrapInboundIn(data)
        if let violation = webSocketFrame.protocolViolation {
            perform(machine.protocolError(violation), context: context)
        } else if let frame = InboundFrame(webSocketFrame) {
            perform(machine.received(frame, mood: server.mood, now: Instant.now(on: context.eventLoop)), context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let (reason, detail) = classify(error)
        let actions =
            reason == .protocolError
            ? machine.protocolError(detail, tooLarge: (error as? NIOWebSocketError) == .invalidFrameLength) : machine.failed(detail)
        perform(actions, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(machine.disconnected(), context: context)
        context.fireChannelInactive()
    }

    private func perform(_ actions: [ServerConnectionMachine.Action], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let frame):
                context.writeAndFlush(wrapOutboundOut(frame.webSocketFrame(allocator: context.channel.allocator, maskKey: nil)), promise: nil)
            case .emit(let kind):
                server.emit(kind)
            case .schedule(let timer, let instant):
                timers[timer]?.cancel()
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                timers[timer] = context.eventLoop.scheduleTask(deadline: instant.nioDeadline) {
                    let (handler, context) = loopBound.value
                    let now = max(Instant.now(on: context.eventLoop), instant)
                    handler.perform(handler.machine.timerFired(timer, mood: handler.server.mood, now: now, epochMilliseconds: epochMilliseconds()), context: context)
                }
            case .closeWithFrame(let code, let reason):
                let frame = WebSocketFrame.close(code: code, reason: reason, allocator: context.channel.allocator, maskKey: nil)
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in channel.close(promise: nil) }
            case .closeNow:
                context.close(promise: nil)
            }
        }
    }
}

/// Answers a plain HTTP request (no WebSocket upgrade) with 426 and closes.
private final class UpgradeRequiredResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let body = "This is a Flatline heartbeat server: connect with a WebSocket client.\n"
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Upgrade", value: "websocket")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .upgradeRequired, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
