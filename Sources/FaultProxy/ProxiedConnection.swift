import EventSchema
import FaultModel
import NIOCore
import NIOPosix
import WebSocketSupport
import NetworkSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A client connection and its upstream leg, on one event loop, with a fault pipe per direction.
/// Confined to `loop`; other threads only hand work to the loop (`loop.submit { connection… }`).
// @unchecked Sendable: every `var` is touched on `loop` alone, and every entry point asserts it runs there.
final class ProxiedConnection: @unchecked Sendable {
    let id: UInt64
    let loop: any EventLoop
    weak var owner: ProxyCore?
    weak var client: RelaySideHandler?
    private(set) weak var server: RelaySideHandler?
    let clientChannel: any Channel
    private(set) var serverChannel: (any Channel)?
    private(set) var upstreamPipe: FlowPipe!
    private(set) var downstreamPipe: FlowPipe!

    /// Which legs exist and how far each is closed (the decisions; this class does the I/O).
    private(set) var life = ConnectionLife()
    private var pendingToServer: [PipeItem] = []
    private var pendingBytes = 0
    private var random: SplitMix64
    /// Faults installed on this connection (after target and toxicity), by name.
    private(set) var appliedFaults: [String: Fault] = [:]
    /// The idle-based faults watching this connection (nat-expiry, idle-close), by name, and when
    /// a byte last came in from either peer while one of them watched.
    private var idleWatches: [String: Scheduled<Void>] = [:]
    private var lastActivity = NIODeadline.uptimeNanoseconds(0)

    static let stageBufferLimit = 4 << 20
    static let pendingLimit = 256 << 10

    /// The seed of this connection's random decisions (toxicity, jitter).
    let seed: UInt64

    init(id: UInt64, clientChannel: any Channel, owner: ProxyCore?, seed: UInt64) {
        self.id = id
        self.seed = seed
        self.clientChannel = clientChannel
        self.loop = clientChannel.eventLoop
        self.owner = owner
        self.random = SplitMix64(seed: seed)
        self.upstreamPipe = FlowPipe(flow: .upstream, connection: self)
        self.downstreamPipe = FlowPipe(flow: .downstream, connection: self)
    }

    func pipe(_ flow: Flow) -> FlowPipe { flow == .upstream ? upstreamPipe : downstreamPipe }

    func unitRandom() -> Double { random.nextUnit() }

    /// Receives events when the connection has no owning proxy (handler-level tests).
    var eventSink: ((ProxyEvent) -> Void)?

    func emit(_ type: ProxyEventType, _ fields: JSONObject = [:]) {
        var all: JSONObject = ["conn": .int(Int64(id))]
        for (key, value) in fields { all[key] = value }
        let event = ProxyEvent(at: Instant.now(on: loop), type: type, fields: all)
        if let owner { owner.emit(event) } else { eventSink?(event) }
    }

    // MARK: Legs

    /// The handler for the server leg, added before the upstream connects so no byte is missed.
    func makeServerHandler() -> RelaySideHandler { RelaySideHandler(side: .server, connection: self) }

    /// The upstream connected: flush what waited for it.
    func attachServer(_ channel: any Channel, handler: RelaySideHandler) {
        loop.assertInEventLoop()
        server = handler
        serverChannel = channel
        switch life.attached() {
        case .close(let fault, let how):
            emit(.closedByProxy, ["side": "server", "how": .string(how.rawValue), "fault": .string(fault)])
            handler.close(how: how)
        case .relay:
            let pending = pendingToServer
            pendingToServer.removeAll()
            pendingBytes = 0
            for item in pending { deliver(item, flow: .upstream) }
            server?.flush()
            resumeReading(from: .client)
        }
    }

    /// Whether the upstream must be dialled now: not while both flows are silenced.
    var shouldDial: Bool { life.shouldDial(silenced: upstreamPipe.isSilent && downstreamPipe.isSilent) }

    func markDialing() { life.dialling() }

    // MARK: Reading

    func received(_ buffer: ByteBuffer, from side: Side) {
        loop.assertInEventLoop()
        if !idleWatches.isEmpty { lastActivity = loop.now }
        pipe(side.outgoingFlow).input(.data(buffer))
    }

    func mayRead(from side: Side) -> Bool {
        let flow = side.outgoingFlow
        guard !pipe(flow).isBackedUp else { return false }
        switch side {
        case .client:
            if life.serverAttached { return server?.isWritable ?? true || !life.writable(.server) }
            return pendingBytes < Self.pendingLimit
        case .server:
            return client?.isWritable ?? true || !life.writable(.client)
        }
    }

    func resumeReading(from side: Side) {
        switch side {
        case .client: client?.resumeReading()
        case .server: server?.resumeReading()
        }
    }

    func flush(flow: Flow) {
        switch flow {
        case .upstream: server?.flush()
        case .downstream: client?.flush()
        }
    }

    // MARK: Writing

    /// Delivers an item that made it through a flow's faults to the receiving leg.
    func deliver(_ item: PipeItem, flow: Flow) {
        loop.assertInEventLoop()
        let target: Side = flow == .upstream ? .server : .client
        if target == .server, !life.serverAttached {
            pendingToServer.append(item)
            pendingBytes += item.byteCount
            return
        }
        guard let handler = handler(target) else { return }
        switch item {
        case .data(let buffer):
            if life.writable(target) { handler.write(buffer) }
        case .eof:
            switch life.forwardFIN(to: target) {
            case .none: break
            case .halfClose: handler.shutdownOutput(inputAlreadyClosed: false)
            case .close: handler.shutdownOutput(inputAlreadyClosed: true)
            }
        case .reset:
            if life.forwardRST(to: target) { handler.close(how: .rst) }
        }
    }

    private func handler(_ side: Side) -> RelaySideHandler? { side == .client ? client : server }

    // MARK: Closing

    /// The peer of `side` closed its end (FIN) or reset (RST).
    func peerClosed(_ side: Side, how: CloseHow, detail: String? = nil) {
        loop.assertInEventLoop()
        guard life.peerClosed(side, how: how) else { return }
        let pipe = pipe(side.outgoingFlow)
        var fields: JSONObject = ["side": .string(side.rawValue), "how": .string(how.rawValue), "forwarded": .bool(!pipe.isSilent)]
        if let detail { fields["detail"] = .string(detail) }
        emit(.connClosed, fields)
        pipe.input(how == .fin ? .eof : .reset)
        if life.finishedBothWays(side) { handler(side)?.close(how: .fin) }
        releaseIfNothingCanReach(side)
    }

    /// A leg whose peer has closed, when the other leg is gone and nothing is on its way to it (a
    /// stage swallowed the other side's close, e.g. `timeout`): nothing will ever reach it, so it
    /// is closed rather than kept half-closed for good. Not while a silent fault holds that flow.
    private func releaseIfNothingCanReach(_ side: Side) {
        guard !life.ended else { return }
        let toward = pipe(side == .server ? .upstream : .downstream)
        guard life.leg(side).peerClosed != nil, life.leg(side.opposite).gone, !toward.isSilent, toward.bufferedBytes == 0 else { return }
        dropLeg(side)
    }

    /// The proxy closes both legs because of a fault.
    func closeByProxy(fault: String, how: CloseHow) {
        loop.assertInEventLoop()
        for side in life.closeByProxy(fault: fault, how: how) {
            guard let handler = handler(side) else { continue }
            emit(.closedByProxy, ["side": .string(side.rawValue), "how": .string(how.rawValue), "fault": .string(fault)])
            handler.close(how: how)
        }
        checkEnded()
    }

    /// The proxy resets one leg (a rebooted host answering a dead connection).
    func resetByProxy(_ side: Side, fault: String) {
        guard let handler = handler(side), life.forwardRST(to: side) else { return }
        emit(.closedByProxy, ["side": .string(side.rawValue), "how": "rst", "fault": .string(fault)])
        handler.close(how: .rst)
    }

    /// Closes a leg whose peer already closed it and that nothing will use again (a dead
    /// connection's server leg): it tells the peer nothing new.
    func dropLeg(_ side: Side) {
        loop.assertInEventLoop()
        guard let handler = handler(side), life.forwardRST(to: side) else { return }
        handler.close(how: .fin)
    }

    func legInactive(_ side: Side) {
        loop.assertInEventLoop()
        if life.legInactive(side) { peerClosed(side, how: .fin) }
        releaseIfNothingCanReach(side.opposite)
        checkEnded()
    }

    /// The upstream could not be reached: the client is told by a close, the event says why.
    /// The server leg could not be made. A refused dial resets the client leg at once: the client
    /// learns what it would have learnt from the server's host (ECONNREFUSED), one connection
    /// later; any other failure (a time-out, no route) closes it with a FIN.
    func upstreamFailed(_ detail: String, refused: Bool = false) {
        loop.assertInEventLoop()
        emit(.upstreamFailed, ["detail": .string(detail)])
        pendingToServer.removeAll()
        if life.upstreamFailed() {
            let how: CloseHow = refused ? .rst : .fin
            emit(.closedByProxy, ["side": "client", "how": .string(how.rawValue), "fault": "upstream-unreachable"])
            client?.close(how: how)
        }
        checkEnded()
    }

    private func checkEnded() {
        guard life.end(serverSocketOpen: serverChannel?.isActive ?? false) else { return }
        for watch in idleWatches.values { watch.cancel() }
        idleWatches.removeAll()
        // Gone from the proxy's books before anyone hears of it.
        owner?.connectionEnded(self)
        emit(.connEnded, [
            "up_bytes": .int(Int64(upstreamPipe.forwardedBytes)),
            "down_bytes": .int(Int64(downstreamPipe.forwardedBytes)),
            "up_dropped": .int(Int64(upstreamPipe.droppedBytes)),
            "down_dropped": .int(Int64(downstreamPipe.droppedBytes)),
        ])
    }

    func recordDropped(_ bytes: Int, faultName: String) {
        owner?.recordDropped(bytes, faultName: faultName)
    }

    // MARK: Observation

    /// Text messages up to this size carry their text in `frame` events (heartbeats are short).
    static let textSampleLimit: UInt64 = 512

    func observe(_ buffer: ByteBuffer, pipe: FlowPipe) {
        let frames = owner?.observeFrames ?? false
        pipe.tracker.split(buffer, onHead: { outcome in
            switch outcome {
            case .switchingProtocols:
                emit(.upgraded)
                upstreamPipe.tracker.startFrames()
            case .otherHTTP(let status) where pipe.flow == .downstream:
                emit(.httpResponse, ["status": .int(Int64(status))])
                upstreamPipe.tracker.giveUp()
            case .upgradeRequest, .otherHTTP:
                break
            }
        }) { segment in
            guard frames else { return }
            func frameEvent(_ frame: FrameInfo, text: [UInt8]?) {
                var fields: JSONObject = [
                    "flow": .string(pipe.flow.rawValue), "opcode": .string(frame.opcodeName),
                    "length": .int(Int64(frame.payloadLength)), "fin": .bool(frame.fin),
                ]
                if let text { fields["text"] = .string(String(decoding: text, as: UTF8.self)) }
                emit(.frame, fields)
            }
            switch segment {
            case .frameHeader(let frame, _):
                // A short whole text message (a heartbeat, typically) is reported with its text,
                // once its payload is in; anything else at its header.
                if frame.opcode == 1, frame.fin, frame.payloadLength > 0, frame.payloadLength <= Self.textSampleLimit {
                    pipe.textSample = []
                } else {
                    frameEvent(frame, text: frame.opcode == 1 && frame.fin && frame.payloadLength == 0 ? [] : nil)
                }
            case .payload(let frame, let bytes, let offset, let last):
                guard var sample = pipe.textSample else { return }
                var payload = Array(bytes.readableBytesView)
                frame.unmask(&payload, offset: offset)
                sample += payload
                if last {
                    pipe.textSample = nil
                    frameEvent(frame, text: sample)
                } else {
                    pipe.textSample = sample
                }
            default:
                break
            }
        }
    }

    // MARK: Faults

    /// Installs `fault` on this connection (target and toxicity already decided); `accepted` when
    /// the connection was accepted while the fault was on.
    func install(_ fault: Fault, accepted: Bool = false) {
        loop.assertInEventLoop()
        guard appliedFaults[fault.name] == nil else { return }
        appliedFaults[fault.name] = fault
        switch fault.kind.scope {
        case .listener:
            break  // the proxy's listener, not its connections
        case .connection:
            actOnConnection(fault, accepted: accepted)
        case .flow:
            for flow in Flow.allCases where fault.direction.includes(flow) {
                let pipe = pipe(flow)
                guard let stage = makeStage(fault, pipe: pipe) else { continue }
                pipe.install(stage, first: stage is DropFramesStage)
                if case .timeout(let timeout) = fault.kind, timeout > .zero, let timeoutStage = stage as? TimeoutStage {
                    timeoutStage.start(timeout)
                }
            }
        }
    }

    /// What a connection-scope fault does to this connection.
    private func actOnConnection(_ fault: Fault, accepted: Bool) {
        switch fault.kind {
        case .powerLoss where accepted:
            // Opened while the host is down: its SYN would be retransmitted until the host is back.
            // Held (not dialled), its bytes kept, dialled at the heal, as after a blackhole.
            for flow in Flow.allCases { pipe(flow).install(HoldStage(fault: fault, pipe: pipe(flow))) }
        case .powerLoss:
            // Both ways silent for good: the host is gone (its "reboot" answers with RST, DeadStage).
            for flow in Flow.allCases { pipe(flow).install(DeadStage(fault: fault, pipe: pipe(flow))) }
        case .reset(let after):
            let bound = NIOLoopBound(self, eventLoop: loop)
            loop.scheduleTask(in: after.timeAmount) {
                let connection = bound.value
                guard connection.appliedFaults[fault.name] != nil else { return }
                connection.closeByProxy(fault: fault.name, how: .rst)
            }
        case .close:
            closeByProxy(fault: fault.name, how: .fin)
        case .natExpiry(let idle, _), .idleClose(let idle, _):
            // A new mapping (or the middlebox just put in the path): idle from now.
            lastActivity = loop.now
            watchIdle(fault, idle: idle, due: lastActivity + idle.timeAmount)
        default:
            assertionFailure("\(fault.kind.typeName) is not a connection fault")
        }
    }

    // MARK: Idle faults

    /// Checks at `due` whether the connection was idle for `idle`; a byte since moves the check on
    /// (one timer per connection and fault, re-armed at most once per idle period).
    private func watchIdle(_ fault: Fault, idle: Duration, due: NIODeadline) {
        let bound = NIOLoopBound(self, eventLoop: loop)
        idleWatches[fault.name] = loop.scheduleTask(deadline: due) {
            let connection = bound.value
            guard connection.appliedFaults[fault.name] != nil, !connection.life.ended else { return }
            let next = connection.lastActivity + idle.timeAmount
            if next > connection.loop.now {
                connection.watchIdle(fault, idle: idle, due: next)
            } else {
                connection.idleWatches[fault.name] = nil
                connection.expire(fault, idle: idle)
            }
        }
    }

    /// The connection was idle for the fault's `idle`: forgotten by the NAT, or closed by the balancer.
    private func expire(_ fault: Fault, idle: Duration) {
        var fields: JSONObject = ["fault": .string(fault.name), "kind": .string(fault.kind.typeName), "idle_ms": .int(Int64(idle.milliseconds))]
        switch fault.kind {
        case .natExpiry(_, let then):
            fields["then"] = .string(then.rawValue)
            emit(.idleExpired, fields)
            for flow in Flow.allCases { pipe(flow).install(ForgottenStage(fault: fault, pipe: pipe(flow), reset: then == .reset)) }
        case .idleClose(_, let how):
            fields["then"] = .string(how.rawValue)
            emit(.idleExpired, fields)
            closeByProxy(fault: fault.name, how: how == .rst ? .rst : .fin)
        default:
            break
        }
    }

    /// The stage of a flow-scope fault.
    private func makeStage(_ fault: Fault, pipe: FlowPipe) -> FaultStage? {
        switch fault.kind {
        case .blackhole, .hold: HoldStage(fault: fault, pipe: pipe)
        case .timeout: TimeoutStage(fault: fault, pipe: pipe)
        case .latency(let latency, let jitter): LatencyStage(fault: fault, pipe: pipe, latency: latency, jitter: jitter)
        case .slicer(let average, let variation, let delay):
            SlicerStage(fault: fault, pipe: pipe, average: average, variation: variation, delay: delay)
        case .bandwidth(let rate): rate == 0 ? nil : BandwidthStage(fault: fault, pipe: pipe, kilobytesPerSecond: rate)
        case .limitData(let bytes): LimitDataStage(fault: fault, pipe: pipe, limit: bytes)
        case .slowClose(let delay): SlowCloseStage(fault: fault, pipe: pipe, delay: delay)
        case .dropFrames(let matcher): DropFramesStage(fault: fault, pipe: pipe, matcher: matcher, tracker: pipe.tracker)
        case .powerLoss, .reset, .close, .refuse, .loss, .natExpiry, .idleClose: nil
        }
    }

    /// Removes `name` from this connection; held bytes are delivered (hold) or the withheld close is.
    func uninstall(_ name: String) {
        loop.assertInEventLoop()
        guard let fault = appliedFaults.removeValue(forKey: name) else { return }
        idleWatches.removeValue(forKey: name)?.cancel()
        if pipe(.upstream).stage(named: name) is ForgottenStage {
            // What the NAT forgot stays forgotten: the removal only stops it forgetting more.
            return
        }
        if case .powerLoss = fault.kind, pipe(.upstream).stage(named: name) is DeadStage {
            // Old connections stay dead after the power comes back; the host just forgot them.
            for flow in Flow.allCases { pipe(flow).stage(named: name)?.remove() }
            return
        }
        for flow in Flow.allCases { pipe(flow).uninstall(name) }
        flush(flow: .upstream)
        flush(flow: .downstream)
        resumeReading(from: .client)
        resumeReading(from: .server)
        flowsChanged()
    }

    /// A fault went or a stage drained: a leg nothing can reach any more may now be released.
    func flowsChanged() {
        releaseIfNothingCanReach(.server)
        releaseIfNothingCanReach(.client)
        checkEnded()
    }
}
