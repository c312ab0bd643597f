public import EventSchema
public import HeartbeatCore
public import NIOCore
import NIOHTTP1
public import NIOPosix
import NIOWebSocket
import HeartbeatWebSocket
import WebSocketSupport
import NetworkSupport

/// A WebSocket client that keeps its connection alive with heartbeats and reconnects when it dies.
///
/// It drives a ``HeartbeatStateMachine`` with timers of its event loop. All of its state lives on
/// that loop; the public methods may be called from anywhere. Events are published on ``events``
/// and, synchronously on the loop, to the `onEvent` callback.
// @unchecked Sendable: its `let`s are Sendable and its `var`s are touched only on `eventLoop` (each public method hops there first).
public final class HeartbeatClient: @unchecked Sendable {
    public let configuration: HeartbeatClientConfiguration
    public let eventLoop: any EventLoop
    /// Every event, in order. The stream finishes when the client stops (closed or gave up).
    public let events: AsyncStream<ClientEvent>
    /// The instant the client was created; event times are usually shown relative to it.
    public let origin: Instant

    private let continuation: AsyncStream<ClientEvent>.Continuation
    private let onEvent: (@Sendable (ClientEvent) -> Void)?
    private let finishedPromise: EventLoopPromise<Void>

    // Loop-confined state.
    private var machine: HeartbeatStateMachine
    private var channels: [ConnectionID: any Channel] = [:]
    private var tcpConnected: Set<ConnectionID> = []
    private var upgraded: Set<ConnectionID> = []
    private var abandoned: Set<ConnectionID> = []
    /// The armed timers, each by the generation of its scheduled task. Timers are cancelled
    /// lazily: a task whose generation is no longer current does nothing when it fires. (Cancelling
    /// a task of a NIO event loop searches its whole timer heap: with thousands of clients that
    /// search, once per acknowledged heartbeat, took a third of the process's CPU.)
    private var timers: [HeartbeatStateMachine.Timer: UInt64] = [:]
    private var timerGeneration: UInt64 = 0
    private var messageTask: RepeatedTask?
    private var isFinishing = false
    private var completed = false
    /// Frozen as a stopped process is (a sleeping laptop): no timer fires, nothing is read or
    /// sent; the sockets stay open and the kernel keeps ACKing until their buffers fill. What came
    /// due meanwhile runs at resume, in order, late — as a process's overdue timers do on SIGCONT.
    private var frozen = false
    private var dueAtResume: [() -> Void] = []

    public init(
        configuration: HeartbeatClientConfiguration,
        eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next(),
        onEvent: (@Sendable (ClientEvent) -> Void)? = nil
    ) throws(ConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.onEvent = onEvent
        let random = configuration.randomSeed.map { SplitMix64(seed: $0) } ?? SplitMix64()
        self.machine = HeartbeatStateMachine(
            configuration: .init(heartbeat: configuration.heartbeat, reconnect: configuration.reconnect),
            random: random
        )
        (self.events, self.continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        self.finishedPromise = eventLoop.makePromise()
        self.origin = Instant.now(on: eventLoop)
    }

    /// Completes when the client has stopped and all of its sockets are closed.
    public var finished: EventLoopFuture<Void> { finishedPromise.futureResult }

    /// Starts connecting. Calling it again does nothing.
    public func start() {
        eventLoop.execute { self.perform(self.machine.start(now: self.now)) }
    }

    /// Starts connecting after `delay` (a ramp spreads thousands of first connections). A
    /// ``close()`` before then means it never starts.
    public func start(after delay: Duration) {
        guard delay > .zero else { return start() }
        eventLoop.scheduleTask(in: delay.timeAmount) { self.whenAwake { self.perform(self.machine.start(now: self.now)) } }
    }

    /// Closes the client for good: it sends a close frame, drops the socket after the close grace
    /// and never reconnects. The future completes when everything is closed.
    @discardableResult
    public func close() -> EventLoopFuture<Void> {
        eventLoop.execute { self.perform(self.machine.closeRequested(now: self.now)) }
        return finished
    }

    /// Stops the client as SIGSTOP stops a process (see `frozen`); ``resume()`` lets it go on.
    public func freeze() {
        eventLoop.execute { self.setFrozen(true) }
    }

    public func resume() {
        eventLoop.execute { self.setFrozen(false) }
    }

    private func setFrozen(_ on: Bool) {
        guard frozen != on else { return }
        frozen = on
        for channel in channels.values { channel.setOption(.autoRead, value: !on).whenFailure { _ in } }
        guard !on else { return }
        let due = dueAtResume
        dueAtResume.removeAll()
        for work in due where !frozen { work() }
    }

    /// Runs `work` now, or at resume while frozen.
    private func whenAwake(_ work: @escaping () -> Void) {
        if frozen { dueAtResume.append(work) } else { work() }
    }

    /// Starts the client and returns when it stops (closed by ``close()`` or gave up).
    public func run() async throws {
        start()
        try await finished.get()
    }

    /// Sends an application text message if connected; returns whether it was sent.
    @discardableResult
    public func send(text: String) -> EventLoopFuture<Bool> {
        eventLoop.submit { self.sendApplicationMessage(.text(text)) }
    }

    // MARK: - Performing the state machine's actions

    private var now: Instant { Instant.now(on: eventLoop) }

    private func perform(_ actions: [HeartbeatStateMachine.Action]) {
        eventLoop.assertInEventLoop()
        for action in actions {
            switch action {
            case .connect(let id):
                connect(id)
            case .sendHeartbeat(let id, let seq):
                write(configuration.heartbeat.dialect.heartbeatFrame(seq: seq, epochMilliseconds: epochMilliseconds()), on: id)
            case .send(let id, let frame):
                write(frame, on: id)
            case .close(let id, let request):
                closeConnection(id, request)
            case .scheduleTimer(let timer, let instant):
                timerGeneration &+= 1
                let generation = timerGeneration
                timers[timer] = generation
                eventLoop.scheduleTask(deadline: instant.nioDeadline) {
                    self.whenAwake {
                        guard self.timers[timer] == generation else { return }
                        self.timers[timer] = nil
                        self.perform(self.machine.timerFired(timer, now: max(self.now, instant)))
                    }
                }
            case .cancelTimer(let timer):
                timers[timer] = nil
            case .emit(let event):
                publish(event)
            case .finished:
                isFinishing = true
                stopMessages()
                // Connections that are not the current one (abandoned, or opened by a defect) are
                // dropped after the close grace at the latest, so that finishing always completes.
                let grace = configuration.heartbeat.effectiveCloseGrace
                for (_, channel) in channels {
                    eventLoop.scheduleTask(in: grace.timeAmount) { channel.close(promise: nil) }
                }
                completeIfDone()
            }
        }
    }

    private func publish(_ event: ClientEvent) {
        switch event.kind {
        case .connected(let id, _): startMessages(on: id)
        case .disconnected: stopMessages()
        default: break
        }
        onEvent?(event)
        continuation.yield(event)
    }

    private func completeIfDone() {
        guard isFinishing, channels.isEmpty, !completed else { return }
        completed = true
        timers.removeAll()
        continuation.finish()
        finishedPromise.succeed(())
    }

    // MARK: - Connections

    private func connect(_ id: ConnectionID) {
        let url = configuration.url
        let maxFrameSize = configuration.maxFrameSize
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.reconnect.connectTimeout.timeAmount)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    self.channels[id] = channel
                    if self.frozen { try channel.syncOptions?.setOption(.autoRead, value: false) }
                    channel.closeFuture.whenComplete { _ in self.channelClosed(id) }
                    let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(
                        maxFrameSize: maxFrameSize,
                        // Errors are reported before the connection closes, so they are handled here.
                        enableAutomaticErrorHandling: false,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addWebSocketMessageHandlers(
                                    maxMessageSize: maxFrameSize, handler: ClientFrameHandler(id: id, client: self)
                                )
                                return true
                            }
                        }
                    )
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: url.host.contains(":") ? "[\(url.host)]:\(url.port)" : "\(url.host):\(url.port)")
                    headers.add(name: "User-Agent", value: "flatline-heartbeat-client")
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: url.path, headers: headers)
                    let upgradeConfiguration = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
                        upgradeRequestHead: head,
                        upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(UpgradeRefusalHandler(id: id, client: self))
                                return false
                            }
                        }
                    )
                    let negotiation = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: upgradeConfiguration)
                    )
                    negotiation.whenComplete { result in self.upgradeFinished(id, result) }
                }
            }
        bootstrap.connect(hostOrAddress: url.host, port: url.port).whenComplete { result in
            switch result {
            case .success:
                self.tcpConnected.insert(id)
            case .failure(let error):
                let (reason, detail) = classify(error)
                let reasonForConnect = reason == .error ? DisconnectReason.connectFailed : reason
                self.whenAwake { self.perform(self.machine.error(on: id, reason: reasonForConnect, detail: "\(url): \(detail)", now: self.now)) }
            }
        }
    }

    private func upgradeFinished(_ id: ConnectionID, _ result: Result<Bool, any Error>) {
        guard !frozen else { return dueAtResume.append { self.upgradeFinished(id, result) } }
        switch result {
        case .success(true):
            upgraded.insert(id)
            perform(machine.connectionEstablished(id, now: now))
            if channels[id]?.isActive != true {
                // The server closed right behind its 101: the close went by before the frame
                // handler was in place, so nothing else will report it.
                perform(machine.closed(id, reason: .peerClosed, detail: "connection closed by the peer (FIN) right after the upgrade", now: now))
            }
        case .success(false):
            break  // UpgradeRefusalHandler reports what the server answered.
        case .failure(let error):
            if let channelError = error as? ChannelError, channelError == .inappropriateOperationForState {
                // The channel closed before the upgrade finished. If TCP never connected, the connect
                // failure reports the precise reason; otherwise the server hung up on the request.
                guard tcpConnected.contains(id) else { return }
                perform(machine.error(on: id, reason: .upgradeFailed, detail: "the server closed the connection before answering the WebSocket upgrade", now: now))
                return
            }
            let (reason, detail) = classify(error)
            perform(machine.error(on: id, reason: reason == .error ? .upgradeFailed : reason, detail: detail, now: now))
        }
    }

    fileprivate func upgradeRefused(_ id: ConnectionID, status: HTTPResponseStatus) {
        guard !frozen else { return dueAtResume.append { self.upgradeRefused(id, status: status) } }
        let detail = "the server answered the WebSocket upgrade with HTTP \(status.code) \(status.reasonPhrase) instead of 101 Switching Protocols; is \(configuration.url) a WebSocket endpoint?"
        perform(machine.error(on: id, reason: .upgradeFailed, detail: detail, now: now))
    }

    fileprivate func received(_ frame: InboundFrame, on id: ConnectionID) {
        guard !frozen else { return dueAtResume.append { self.received(frame, on: id) } }
        if abandoned.contains(id) {
            // The answer to our close frame: no need to wait out the grace.
            if case .close = frame { channels[id]?.close(promise: nil) }
            return
        }
        perform(machine.received(frame, on: id, now: now))
    }

    fileprivate func connectionError(_ id: ConnectionID, _ error: any Error) {
        guard !frozen else { return dueAtResume.append { self.connectionError(id, error) } }
        let (reason, detail) = classify(error)
        perform(machine.error(on: id, reason: reason, detail: detail, now: now))
    }

    fileprivate func connectionInactive(_ id: ConnectionID) {
        guard !frozen else { return dueAtResume.append { self.connectionInactive(id) } }
        perform(machine.closed(id, reason: .peerClosed, detail: "connection closed by the peer (FIN)", now: now))
    }

    private func channelClosed(_ id: ConnectionID) {
        channels[id] = nil
        tcpConnected.remove(id)
        upgraded.remove(id)
        abandoned.remove(id)
        completeIfDone()
    }

    private func closeConnection(_ id: ConnectionID, _ request: HeartbeatStateMachine.CloseRequest) {
        guard let channel = channels[id] else { return }
        abandoned.insert(id)
        if let code = request.code, upgraded.contains(id), channel.isActive {
            let frame = WebSocketFrame.close(code: code, reason: request.reason, allocator: channel.allocator, maskKey: .random())
            channel.writeAndFlush(frame, promise: nil)
            if request.grace > .zero {
                eventLoop.scheduleTask(in: request.grace.timeAmount) { self.whenAwake { channel.close(promise: nil) } }
                return
            }
        }
        channel.close(promise: nil)
    }

    private func write(_ frame: OutboundFrame, on id: ConnectionID) {
        guard let channel = channels[id], upgraded.contains(id), !abandoned.contains(id) else { return }
        channel.writeAndFlush(frame.webSocketFrame(allocator: channel.allocator, maskKey: .random()), promise: nil)
    }

    // MARK: - Application messages

    private func sendApplicationMessage(_ frame: OutboundFrame) -> Bool {
        guard !frozen, machine.phase == .open, let id = machine.currentConnection else { return false }
        write(frame, on: id)
        publish(ClientEvent(at: now, kind: .messageSent(id, bytes: frame.byteCount)))
        return true
    }

    private func startMessages(on id: ConnectionID) {
        stopMessages()
        guard let schedule = configuration.messages else { return }
        let text = Self.applicationMessage(bytes: schedule.bytes, dialect: configuration.heartbeat.dialect)
        messageTask = eventLoop.scheduleRepeatedTask(initialDelay: schedule.every.timeAmount, delay: schedule.every.timeAmount) { _ in
            _ = self.sendApplicationMessage(.text(text))
        }
    }

    private func stopMessages() {
        messageTask?.cancel()
        messageTask = nil
    }

    /// A message of exactly `bytes` bytes; in the JSON dialect shaped `{"ModeCode":"message","msg":"xxx…"}`.
    static func applicationMessage(bytes: Int, dialect: HeartbeatDialect) -> String {
        if dialect == .json {
            let envelope = #"{"ModeCode":"message","msg":""}"#
            let padding = max(bytes - envelope.utf8.count, 0)
            return #"{"ModeCode":"message","msg":""# + String(repeating: "x", count: padding) + #""}"#
        }
        return String(repeating: "x", count: bytes)
    }
}

/// Feeds frames of one upgraded connection to the client.
private final class ClientFrameHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let id: ConnectionID
    private let client: HeartbeatClient

    init(id: ConnectionID, client: HeartbeatClient) {
        self.id = id
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if let violation = frame.protocolViolation {
            client.connectionError(id, WebSocketProtocolViolation(detail: violation))
            failConnection(context: context, code: .protocolError)
            return
        }
        if let inbound = InboundFrame(frame) { client.received(inbound, on: id) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Report first: the close below may complete at once and fire channelInactive.
        client.connectionError(id, error)
        if let error = error as? NIOWebSocketError {
            failConnection(context: context, code: error == .invalidFrameLength ? .messageTooLarge : .protocolError)
        } else {
            context.close(promise: nil)
        }
    }

    /// RFC 6455 §7.1.7: send a close frame with the error's code, then drop the connection.
    private func failConnection(context: ChannelHandlerContext, code: WebSocketErrorCode) {
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.connectionInactive(id)
        context.fireChannelInactive()
    }
}

/// Installed when the server answered the upgrade request without upgrading: reports its status.
private final class UpgradeRefusalHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let id: ConnectionID
    private let client: HeartbeatClient

    init(id: ConnectionID, client: HeartbeatClient) {
        self.id = id
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            client.upgradeRefused(id, status: head.status)
            context.close(promise: nil)
        }
    }
}
