import EventSchema
public import FaultModel
public import NIOCore
import NIOConcurrencyHelpers
public import NIOPosix
import WebSocketSupport
import NetworkSupport

/// The state of one named proxy, shared by its connections (which live on their own loops).
final class ProxyCore: Sendable {
    struct State {
        var listener: (any Channel)?
        var listen: HostPort
        var upstream: HostPort
        var enabled = true
        var faults: [Fault] = []
        var connections: [UInt64: ProxiedConnection] = [:]
        var nextConnection: UInt64 = 1
        var droppedByFault: [String: Int] = [:]
        var random: SplitMix64
        var stopped = false
        /// The server behind the proxy is down (stopped or killed): its host refuses connections,
        /// and so does the listener.
        var serverDown = false

        /// Whether the listener should be open now (and is not): enabled, not stopped, the server
        /// up, no fault on the listener. One rule for every path that listens again.
        var wantsListener: Bool {
            listener == nil && enabled && !stopped && !serverDown && !faults.contains { $0.kind.scope == .listener }
        }
    }

    /// Reads grow to 1 MiB on busy streams and shrink back on idle ones (idle memory stays small).
    static let readSizing = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16 * 1024, maximum: 1024 * 1024)
    /// Stop reading from the sender once 1 MiB waits for the receiver; resume below 256 KiB.
    static let writeWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 256 * 1024, high: 1024 * 1024)

    let name: String
    let group: any EventLoopGroup
    let hub: EventHub<ProxyEvent>
    let state: NIOLockedValueBox<State>
    /// Connections accepted and not yet active (see ``closeListener(reason:)``).
    let accepting = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    /// Fixed at creation, so the forwarding path reads it without a lock.
    let observeFrames: Bool

    init(name: String, listen: HostPort, upstream: HostPort, group: any EventLoopGroup, hub: EventHub<ProxyEvent>, seed: UInt64, observeFrames: Bool) {
        self.name = name
        self.group = group
        self.hub = hub
        self.state = NIOLockedValueBox(State(listen: listen, upstream: upstream, random: SplitMix64(seed: seed)))
        self.observeFrames = observeFrames
    }

    func emit(_ event: ProxyEvent) {
        var event = event
        event.fields["proxy"] = .string(name)
        hub.publish(event)
    }

    func emit(_ type: ProxyEventType, _ fields: JSONObject = [:]) {
        emit(ProxyEvent(at: .now, type: type, fields: fields))
    }

    // MARK: Listener

    func bind() async throws(ProxyError) {
        let address = state.withLockedValue { $0.listen }
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 4096)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(AcceptTracker(accepting: self.accepting)) }
                }
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.recvAllocator, value: ProxyCore.readSizing)
                .childChannelOption(.writeBufferWaterMark, value: ProxyCore.writeWaterMark)
                .childChannelInitializer { channel in self.accept(channel) }
                .bind(host: address.host, port: address.port)
                .get()
        } catch {
            throw ProxyError(.conflict, "cannot listen on \(address): \(error)")
        }
        await ListenerHardening.watch(channel) { [weak self] detail in
            self?.emit(.acceptFailed, ["detail": .string(detail)])
        } exhausted: { [weak self] in
            Task { await self?.relisten(after: ListenerHardening.pause) }
        }
        let bound = HostPort(host: address.host, port: channel.localAddress?.port ?? address.port)
        state.withLockedValue {
            $0.listener = channel
            $0.listen = bound
        }
        var fields: JSONObject = ["listen": .string(bound.description), "upstream": .string(state.withLockedValue { $0.upstream.description })]
        if let exposure = bound.exposure { fields["warning"] = .string(exposure) }
        emit(.listening, fields)
    }

    /// Out of descriptors: the listener closes (new connections are refused, as by a full server)
    /// and listens again after `pause`, until it can.
    func relisten(after pause: TimeAmount) async {
        await closeListener(reason: "out of file descriptors")
        while true {
            try? await Task.sleep(for: .nanoseconds(pause.nanoseconds))
            guard state.withLockedValue({ $0.wantsListener }) else { return }
            do {
                try await bind()
                return
            } catch {
                continue
            }
        }
    }

    func closeListener(reason: String) async {
        let listener = state.withLockedValue { state -> (any Channel)? in
            defer { state.listener = nil }
            return state.listener
        }
        guard let listener else { return }
        // NIO closes an accepted connection whose listener is gone before the connection was handed
        // over (its setup done, not yet active): connections accepted before this point must live
        // on. Stop accepting, let those become active (bounded), then close.
        try? await listener.setOption(.autoRead, value: false).get()
        let deadline = ContinuousClock.now + .milliseconds(500)
        while ContinuousClock.now < deadline {
            let pending = accepting.withLockedValue { accepting in
                accepting = accepting.filter { !$0.value.isActive }
                return !accepting.isEmpty
            }
            if !pending { break }
            try? await Task.sleep(for: .milliseconds(1))
        }
        try? await listener.close()
        emit(.listenerClosed, ["reason": .string(reason)])
    }

    // MARK: Connections

    /// An accepted connection became active (or was torn down): closing the listener need not
    /// wait for it.
    func handedOver(_ channel: any Channel) {
        _ = accepting.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    private func accept(_ channel: any Channel) -> EventLoopFuture<Void> {
        // Registering the connection and reading the fault list is one decision under one lock:
        // a fault added concurrently either is in this list or finds the connection registered
        // (its installation is queued on the connection's loop, after this initializer).
        let (connection, faults, upstream) = state.withLockedValue { state in
            let id = state.nextConnection
            state.nextConnection += 1
            let connection = ProxiedConnection(id: id, clientChannel: channel, owner: self, seed: state.random.next())
            state.connections[id] = connection
            return (connection, state.faults, state.upstream)
        }
        let id = connection.id
        var applied: [Fault] = []
        var random = SplitMix64(seed: connection.seed ^ 0x5DEE_CE66_D1CE_4E5B)
        for fault in faults where Self.targets(fault, connection: id, existing: false) {
            if fault.takes(using: &random) {
                applied.append(fault)
            } else {
                emit(.faultSkipped, ["fault": .string(fault.name), "conn": .int(Int64(id))])
            }
        }
        return channel.eventLoop.makeCompletedFuture {
            let handler = RelaySideHandler(side: .client, connection: connection)
            do {
                try channel.pipeline.syncOperations.addHandler(handler)
            } catch {
                self.state.withLockedValue { _ = $0.connections.removeValue(forKey: id) }
                throw error
            }
            connection.client = handler
            let remote = channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
            connection.emit(.connOpened, ["client": .string(remote)])
            for fault in applied { connection.install(fault, accepted: true) }
            if connection.shouldDial { self.dial(connection, upstream: upstream) }
        }
    }

    func dial(_ connection: ProxiedConnection, upstream: HostPort) {
        connection.markDialing()
        let handler = connection.makeServerHandler()
        // The upstream channel is on the connection's own loop: the handler never leaves it.
        let bound = NIOLoopBound(handler, eventLoop: connection.loop)
        ClientBootstrap(group: connection.loop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: ProxyCore.readSizing)
            .channelOption(.writeBufferWaterMark, value: ProxyCore.writeWaterMark)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(bound.value) }
            }
            .connect(hostOrAddress: upstream.host, port: upstream.port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    connection.attachServer(channel, handler: bound.value)
                    connection.emit(.upstreamConnected)
                case .failure(let error):
                    let (_, detail) = classify(error)
                    connection.upstreamFailed("cannot reach upstream \(upstream): \(detail)", refused: isConnectionRefused(error))
                }
            }
    }

    func connectionEnded(_ connection: ProxiedConnection) {
        _ = state.withLockedValue { $0.connections.removeValue(forKey: connection.id) }
    }

    func recordDropped(_ bytes: Int, faultName: String) {
        state.withLockedValue { $0.droppedByFault[faultName, default: 0] += bytes }
    }

    static func targets(_ fault: Fault, connection id: UInt64, existing: Bool) -> Bool {
        switch fault.target {
        case .all: true
        case .existing: existing
        case .new: !existing
        case .connection(let n): n == id
        }
    }

    /// Runs `body` on every live connection's loop and waits until all have run. Each loop takes
    /// its connections a slice at a time, one slice per turn of the loop (a timer just ahead ends
    /// the turn; a task enqueued by a task would run in the same turn), so that the reads and
    /// timers of the connections that are already flowing are not kept waiting behind thousands of
    /// connections healed at once.
    func forEachConnection(_ body: @escaping @Sendable (ProxiedConnection) -> Void) async {
        let connections = state.withLockedValue { $0.connections.values.sorted { $0.id < $1.id } }
        var byLoop: [ObjectIdentifier: (any EventLoop, [ProxiedConnection])] = [:]
        for connection in connections {
            byLoop[ObjectIdentifier(connection.loop), default: (connection.loop, [])].1.append(connection)
        }
        // Each slice is a task of its own; a loop that is shutting down fails the chain (nothing waits forever).
        @Sendable func slices(_ connections: [ProxiedConnection], on loop: any EventLoop, from start: Int, after delay: TimeAmount) -> EventLoopFuture<Void> {
            loop.scheduleTask(in: delay) { () -> Int in
                let end = min(start + Self.sliceSize, connections.count)
                for connection in connections[start..<end] { body(connection) }
                return end
            }.futureResult.flatMap { end in
                end == connections.count ? loop.makeSucceededVoidFuture() : slices(connections, on: loop, from: end, after: .microseconds(50))
            }
        }
        let futures = byLoop.values.map { loop, connections in slices(connections, on: loop, from: 0, after: .zero) }
        for future in futures { _ = try? await future.get() }
    }

    /// Connections a loop handles in one turn when a fault goes.
    static let sliceSize = 64

    // MARK: Faults

    func add(_ fault: Fault) async throws(ProxyError) {
        do {
            try fault.validate()
        } catch {
            throw ProxyError(.badRequest, error.message)
        }
        if case .loss = fault.kind {
            throw ProxyError(.badRequest, "loss drops packets, which a userland proxy never sees (it would only delay bytes TCP retransmits): it needs packet mode (a scenario with network: packet)")
        }
        let outcome: Result<([ProxiedConnection], [UInt64: Bool]), ProxyError> = state.withLockedValue { state in
            guard !state.faults.contains(where: { $0.name == fault.name }) else {
                return .failure(ProxyError(.conflict, "toxic \(fault.name) already exists on proxy \(name)"))
            }
            state.faults.append(fault)
            state.droppedByFault[fault.name] = 0
            let connections = state.connections.values.sorted { $0.id < $1.id }
            var rolls: [UInt64: Bool] = [:]
            for connection in connections {
                rolls[connection.id] = fault.takes(using: &state.random)
            }
            return .success((connections, rolls))
        }
        let (connections, rolls) = try outcome.get()
        emit(.faultOn, fault.onFields())
        if fault.kind.scope == .listener {
            await closeListener(reason: "\(fault.kind.typeName) fault \(fault.name)")
        }
        var futures: [EventLoopFuture<Void>] = []
        for connection in connections where Self.targets(fault, connection: connection.id, existing: true) {
            guard rolls[connection.id] == true else {
                emit(.faultSkipped, ["fault": .string(fault.name), "conn": .int(Int64(connection.id))])
                continue
            }
            futures.append(connection.loop.submit { connection.install(fault) })
        }
        for future in futures { _ = try? await future.get() }
    }

    func remove(_ name: String) async throws(ProxyError) {
        let removed: Fault? = state.withLockedValue { state in
            guard let index = state.faults.firstIndex(where: { $0.name == name }) else { return nil }
            return state.faults.remove(at: index)
        }
        guard let fault = removed else {
            throw ProxyError(.notFound, "toxic not found: no toxic \(name) on proxy \(self.name)")
        }
        let upstream = state.withLockedValue { $0.upstream }
        await forEachConnection { connection in
            connection.uninstall(name)
            if connection.shouldDial { self.dial(connection, upstream: upstream) }
        }
        let dropped = state.withLockedValue { $0.droppedByFault.removeValue(forKey: name) ?? 0 }
        emit(.faultOff, ["fault": .string(name), "dropped_bytes": .int(Int64(dropped))])
        if fault.kind.scope == .listener { try await listenIfWanted() }
    }

    func removeAll() async {
        for fault in faults.reversed() { try? await remove(fault.name) }
    }

    var faults: [Fault] { state.withLockedValue { $0.faults } }
    /// Sets a switch of the state and returns what it was, in one step.
    private func exchange(_ path: WritableKeyPath<State, Bool>, _ value: Bool) -> Bool {
        state.withLockedValue { state in
            defer { state[keyPath: path] = value }
            return state[keyPath: path]
        }
    }

    /// Listens again unless the proxy is disabled or stopped, or something keeps the listener shut.
    func listenIfWanted() async throws(ProxyError) {
        guard state.withLockedValue({ $0.wantsListener }) else { return }
        try await bind()
    }

    /// The server went down (its host now refuses connections: the listener closes, as with the
    /// refuse fault) or came back (the listener opens again unless something else keeps it shut).
    func setServerDown(_ down: Bool) async throws(ProxyError) {
        guard exchange(\.serverDown, down) != down else { return }
        if down {
            await closeListener(reason: "the server is down: its host refuses connections")
        } else {
            try await listenIfWanted()
        }
    }

    var enabled: Bool { state.withLockedValue { $0.enabled } }

    /// Toxiproxy's disable: close the listener and every connection (peers see FIN).
    func setEnabled(_ enabled: Bool) async throws(ProxyError) {
        guard exchange(\.enabled, enabled) != enabled else { return }
        if enabled {
            try await listenIfWanted()
        } else {
            await closeListener(reason: "proxy disabled")
            await forEachConnection { $0.closeByProxy(fault: "proxy-disabled", how: .fin) }
        }
    }

    func setUpstream(_ upstream: HostPort) {
        state.withLockedValue { $0.upstream = upstream }
    }

    func stop() async {
        state.withLockedValue { $0.stopped = true }
        await closeListener(reason: "proxy stopped")
        await forEachConnection { $0.closeByProxy(fault: "proxy-stopped", how: .fin) }
    }
}

/// A TCP proxy between a client and its server that can drop, hold, delay, reset or close the
/// traffic on demand — the way a pulled cable, a server's power loss or a flaky network does.
///
/// ```swift
/// let proxy = try await FaultProxy.start(upstream: HostPort(host: "127.0.0.1", port: serverPort))
/// // connect the client to proxy.port …
/// try await proxy.withFault(Fault(.blackhole)) {
///     // the link is silent here: no data, no FIN, no RST
/// }
/// // healed, even if the closure threw
/// ```
public final class FaultProxy: Sendable {
    let core: ProxyCore

    init(core: ProxyCore) { self.core = core }

    /// Starts a proxy listening on `listen` (port 0 picks a free port) in front of `upstream`.
    /// - Parameters:
    ///   - observeFrames: also emit a `frame` event for every WebSocket frame.
    ///   - seed: seed for toxicity decisions and jitter, for repeatable runs.
    public static func start(
        name: String = "flatline",
        listen: HostPort = HostPort(host: "127.0.0.1", port: 0),
        upstream: HostPort,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        observeFrames: Bool = false,
        seed: UInt64? = nil,
        hub: EventHub<ProxyEvent> = EventHub()
    ) async throws(ProxyError) -> FaultProxy {
        var system = SystemRandomNumberGenerator()
        let core = ProxyCore(
            name: name, listen: listen, upstream: upstream, group: group, hub: hub,
            seed: seed ?? system.next(), observeFrames: observeFrames
        )
        try await core.bind()
        return FaultProxy(core: core)
    }

    public var name: String { core.name }
    /// The address it listens on, with the real port.
    public var listen: HostPort { core.state.withLockedValue { $0.listen } }
    public var port: Int { listen.port }
    public var upstream: HostPort { core.state.withLockedValue { $0.upstream } }
    public var enabled: Bool { core.enabled }
    /// The faults that are on, in the order they were added.
    public var faults: [Fault] { core.faults }
    /// Connections currently open through the proxy.
    public var connectionCount: Int { core.state.withLockedValue { $0.connections.count } }

    /// Every event from now on (connections, faults, frames).
    public var events: AsyncStream<ProxyEvent> { core.hub.subscribe() }

    /// Calls `body` for every event, synchronously, on the thread that produced it.
    public func onEvent(_ body: @escaping @Sendable (ProxyEvent) -> Void) { core.hub.onEvent(body) }

    /// Adds a fault; it applies to live connections (per its target) before this returns.
    public func add(_ fault: Fault) async throws(ProxyError) { try await core.add(fault) }

    /// Removes a fault by name (heals it); held bytes are delivered before this returns.
    public func remove(_ name: String) async throws(ProxyError) { try await core.remove(name) }

    /// Removes every fault.
    public func heal() async { await core.removeAll() }

    /// Records a fault that something else carries out (packet mode: nftables rules on the legs),
    /// with the same `fault-on` event a fault of its own has, so every window and check keeps its
    /// meaning; the proxy itself only observes.
    public func announce(_ fault: Fault, enforcedBy enforcer: String) {
        core.emit(.faultOn, fault.onFields(enforcedBy: enforcer))
    }

    /// The end of an ``announce(_:enforcedBy:)``ed fault.
    public func retract(_ name: String, enforcedBy enforcer: String) {
        core.emit(.faultOff, ["fault": .string(name), "dropped_bytes": 0, "enforced": .string(enforcer)])
    }

    /// Runs `body` with `fault` on, and always removes it afterwards, also when `body` throws.
    public func withFault<T: Sendable>(_ fault: Fault, _ body: () async throws -> T) async throws -> T {
        try await add(fault)
        do {
            let result = try await body()
            try? await remove(fault.name)
            return result
        } catch {
            try? await remove(fault.name)
            throw error
        }
    }

    /// The server behind the proxy is down (stopped or killed) or back: while it is down, new
    /// connections are refused at the listener, as the server's host would refuse them.
    public func setServerDown(_ down: Bool) async throws(ProxyError) { try await core.setServerDown(down) }

    /// Toxiproxy's enable/disable: disabling closes the listener and every connection.
    public func setEnabled(_ enabled: Bool) async throws(ProxyError) { try await core.setEnabled(enabled) }

    /// Closes the listener and every connection.
    public func stop() async { await core.stop() }
}

/// Sees every accepted connection before the bootstrap sets it up (it sits before NIO's accept
/// handler), so that closing the listener can wait for the connections it already accepted.
final class AcceptTracker: ChannelInboundHandler {
    typealias InboundIn = any Channel
    private let accepting: NIOLockedValueBox<[ObjectIdentifier: any Channel]>

    init(accepting: NIOLockedValueBox<[ObjectIdentifier: any Channel]>) { self.accepting = accepting }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        let key = ObjectIdentifier(child)
        // Until it is active (or its pipeline is torn down): see `ProxyCore.handedOver`. Held for
        // that short while only, so that thousands of idle connections do not keep an entry each.
        accepting.withLockedValue { $0[key] = child }
        context.fireChannelRead(data)
    }
}
