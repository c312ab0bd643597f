import EventSchema
import FaultModel
import NIOCore
import WebSocketSupport
import NetworkSupport

/// What travels through a flow: bytes, or the end of the stream as FIN or RST.
enum PipeItem {
    case data(ByteBuffer)
    case eof
    case reset

    var byteCount: Int {
        if case .data(let buffer) = self { return buffer.readableBytes }
        return 0
    }
}

/// One fault acting on one flow of one connection. Stages form a chain in the order faults were
/// added; each hands what it lets through to `next`. All of it runs on the connection's loop.
class FaultStage {
    let fault: Fault
    unowned let pipe: FlowPipe
    var next: (PipeItem) -> Void = { _ in }

    init(fault: Fault, pipe: FlowPipe) {
        self.fault = fault
        self.pipe = pipe
    }

    var loop: any EventLoop { pipe.connection.loop }
    var now: NIODeadline { loop.now }

    func push(_ item: PipeItem) { next(item) }

    /// The fault was removed: deliver or drop what is held, cancel timers.
    func remove() {}

    /// Bytes held inside the stage.
    var bufferedBytes: Int { 0 }

    /// Whether the sender must be paused (back-pressure) because the stage holds enough.
    var wantsPause: Bool { bufferedBytes >= ProxiedConnection.stageBufferLimit }

    /// Whether the stage keeps every byte from reaching the peer (no need to dial upstream).
    var isSilent: Bool { false }

    /// Runs `body` as a timer on the loop at `deadline`.
    func schedule(at deadline: NIODeadline, _ body: @escaping () -> Void) -> Scheduled<Void> {
        let bound = NIOLoopBound(body, eventLoop: loop)
        return loop.scheduleTask(deadline: deadline) { bound.value() }
    }
}

// MARK: - Silent faults

/// The flows of a connection that lost power: silent for good. After the fault is healed the
/// "rebooted" server knows nothing of the connection: the client's next byte is answered by RST.
final class DeadStage: FaultStage {
    var rebooted = false
    /// The client closed its end while the host was down (its FIN is unanswered).
    private var clientClosed = false
    override var isSilent: Bool { true }

    override func push(_ item: PipeItem) {
        switch item {
        case .data(let buffer):
            pipe.recordDropped(buffer.readableBytes, by: fault)
            if rebooted, pipe.flow == .upstream {
                pipe.connection.resetByProxy(.client, fault: fault.name)
            }
        case .eof, .reset:
            if pipe.flow == .downstream {
                // The server closed the abandoned leg itself: nobody will use it, let it go.
                pipe.connection.dropLeg(.server)
                return
            }
            clientClosed = true
            if rebooted { pipe.connection.resetByProxy(.client, fault: fault.name) }
        }
    }

    /// Dead connections stay dead: the host comes back knowing nothing of them. Their server legs
    /// stay abandoned (no FIN, no RST), and a client that closed meanwhile gets the rebooted host's
    /// RST for its FIN, so its socket does not linger half-closed.
    override func remove() {
        rebooted = true
        if pipe.flow == .upstream, clientClosed { pipe.connection.resetByProxy(.client, fault: fault.name) }
    }
}

/// The flows of a connection a NAT forgot (`nat-expiry`): what either peer sends vanishes, or is
/// answered with RST to that peer (`then: reset`), as by a NAT without a mapping for it. For good:
/// removing the fault revives nothing. A peer that closes gets its leg released (drop: its FIN is
/// lost, but it has already let the socket go) or reset.
final class ForgottenStage: FaultStage {
    let reset: Bool
    override var isSilent: Bool { true }

    init(fault: Fault, pipe: FlowPipe, reset: Bool) {
        self.reset = reset
        super.init(fault: fault, pipe: pipe)
    }

    private var sender: Side { pipe.flow == .upstream ? .client : .server }

    override func push(_ item: PipeItem) {
        switch item {
        case .data(let buffer):
            pipe.recordDropped(buffer.readableBytes, by: fault)
            if reset { pipe.connection.resetByProxy(sender, fault: fault.name) }
        case .eof, .reset:
            if reset { pipe.connection.resetByProxy(sender, fault: fault.name) } else { pipe.connection.dropLeg(sender) }
        }
    }
}

/// Toxiproxy's `timeout`: drop all data and close the connection after the timeout. Removing it
/// closes the connection too, as Toxiproxy does.
final class TimeoutStage: FaultStage {
    private var timer: Scheduled<Void>?
    override var isSilent: Bool { true }

    func start(_ timeout: Duration) {
        timer = schedule(at: now + timeout.timeAmount) { [weak self] in
            guard let self else { return }
            self.pipe.connection.closeByProxy(fault: self.fault.name, how: .fin)
        }
    }

    override func push(_ item: PipeItem) {
        switch item {
        case .data(let buffer): pipe.recordDropped(buffer.readableBytes, by: fault)
        // A peer's close goes through, as Toxiproxy's timeout closes its stub at the end of the input.
        case .eof, .reset: next(item)
        }
    }

    override func remove() {
        timer?.cancel()
        pipe.connection.closeByProxy(fault: fault.name, how: .fin)
    }
}

// MARK: - Holding and delaying

/// A pulled cable (`blackhole`, `hold`): nothing is delivered in the affected direction, no FIN or
/// RST reaches the peer, and everything — bytes, then the FIN or RST — is kept in order and delivered
/// when the fault is removed, as TCP retransmits what a cable outage held up. At the cap the proxy
/// stops reading from the sender (back-pressure, as a full window stops it) and reports `hold-full`;
/// nothing is lost. Silent: a connection opened during the outage is not dialled until it heals.
final class HoldStage: FaultStage {
    private var held: [PipeItem] = []
    private var heldBytes = 0
    private var reportedFull = false

    override var bufferedBytes: Int { heldBytes }
    override var wantsPause: Bool { heldBytes >= cap }
    override var isSilent: Bool { true }

    /// The default bound of what one flow keeps during an outage.
    static let defaultCap = 4 << 20

    var cap: Int {
        if case .hold(let cap) = fault.kind { return cap }
        return Self.defaultCap
    }

    override func push(_ item: PipeItem) {
        held.append(item)
        heldBytes += item.byteCount
        if heldBytes >= cap, !reportedFull {
            reportedFull = true
            pipe.connection.emit(.holdFull,
                ["flow": .string(pipe.flow.rawValue), "bytes": .int(Int64(heldBytes)), "fault": .string(fault.name)]
            )
        }
    }

    override func remove() {
        let items = held
        held.removeAll()
        heldBytes = 0
        for item in items { next(item) }
    }
}

/// Delays items until a due time each, keeping their order; shared by latency, slicer and bandwidth.
class TimedQueueStage: FaultStage {
    private var queue: [(item: PipeItem, due: NIODeadline)] = []
    private var head = 0
    private var queuedBytes = 0
    private var timer: Scheduled<Void>?
    /// The due time of the last queued item: later items never overtake it.
    var lastDue = NIODeadline.uptimeNanoseconds(0)

    override var bufferedBytes: Int { queuedBytes }

    func enqueue(_ item: PipeItem, due: NIODeadline) {
        let due = max(due, lastDue)
        lastDue = due
        if head == queue.count, due <= now {
            next(item)
            pipe.didEmitFromTimer()
            return
        }
        queue.append((item, due))
        queuedBytes += item.byteCount
        if timer == nil { arm() }
    }

    private func arm() {
        guard head < queue.count else { return }
        timer = schedule(at: queue[head].due) { [weak self] in
            guard let self else { return }
            self.timer = nil
            self.release(upTo: self.now)
        }
    }

    private func release(upTo instant: NIODeadline) {
        while head < queue.count, queue[head].due <= instant {
            let item = queue[head].item
            head += 1
            queuedBytes -= item.byteCount
            next(item)
        }
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        }
        pipe.didEmitFromTimer()
        arm()
    }

    override func remove() {
        timer?.cancel()
        timer = nil
        release(upTo: .distantFuture)
    }
}

/// A stage that releases items at due times through a `TimedQueueStage`.
class PacedStage: FaultStage {
    let queue: TimedQueueStage

    override init(fault: Fault, pipe: FlowPipe) {
        queue = TimedQueueStage(fault: fault, pipe: pipe)
        super.init(fault: fault, pipe: pipe)
    }

    override var next: (PipeItem) -> Void {
        didSet { queue.next = next }
    }

    override var bufferedBytes: Int { queue.bufferedBytes }

    override func remove() { queue.remove() }
}

/// Toxiproxy's `latency`: each chunk is delayed by latency ± random(jitter), never reordered.
final class LatencyStage: PacedStage {
    private let latency: Duration
    private let jitter: Duration

    init(fault: Fault, pipe: FlowPipe, latency: Duration, jitter: Duration) {
        self.latency = latency
        self.jitter = jitter
        super.init(fault: fault, pipe: pipe)
    }

    override func push(_ item: PipeItem) {
        var delay = latency
        if jitter > .zero {
            let spread = Double(jitter.nanoseconds) * (2 * pipe.connection.unitRandom() - 1)
            delay = max(.zero, latency + .nanoseconds(Int64(spread)))
        }
        queue.enqueue(item, due: now + delay.timeAmount)
    }
}

/// Toxiproxy's `slicer`: cuts data into small writes, `delay` apart.
final class SlicerStage: PacedStage {
    private let average: Int
    private let variation: Int
    private let delay: Duration

    init(fault: Fault, pipe: FlowPipe, average: Int, variation: Int, delay: Duration) {
        self.average = average
        self.variation = variation
        self.delay = delay
        super.init(fault: fault, pipe: pipe)
    }

    override func push(_ item: PipeItem) {
        guard case .data(var buffer) = item else {
            queue.enqueue(item, due: now)
            return
        }
        var due = max(now, queue.lastDue)
        while buffer.readableBytes > 0 {
            let spread = variation == 0 ? 0 : Int(pipe.connection.unitRandom() * Double(2 * variation + 1)) - variation
            let size = min(buffer.readableBytes, max(1, average + spread))
            let slice = buffer.readSlice(length: size)!
            queue.enqueue(.data(slice), due: due)
            due = due + delay.timeAmount
        }
    }
}

/// Toxiproxy's `bandwidth`: at most `rate` KB/s, in chunks of at most 100 ms worth.
final class BandwidthStage: PacedStage {
    private let bytesPerSecond: Int

    init(fault: Fault, pipe: FlowPipe, kilobytesPerSecond: Int) {
        bytesPerSecond = kilobytesPerSecond * 1000
        super.init(fault: fault, pipe: pipe)
    }

    override func push(_ item: PipeItem) {
        guard case .data(var buffer) = item else {
            queue.enqueue(item, due: max(now, queue.lastDue))
            return
        }
        let chunk = max(1, bytesPerSecond / 10)
        var due = max(now, queue.lastDue)
        while buffer.readableBytes > 0 {
            let slice = buffer.readSlice(length: min(chunk, buffer.readableBytes))!
            due = due + .nanoseconds(Int64(slice.readableBytes) * 1_000_000_000 / Int64(bytesPerSecond))
            queue.enqueue(.data(slice), due: due)
        }
    }
}

// MARK: - Closing faults

/// Toxiproxy's `limit_data`: close the connection once `limit` bytes went through.
final class LimitDataStage: FaultStage {
    private var remaining: Int
    private var closed = false

    init(fault: Fault, pipe: FlowPipe, limit: Int) {
        remaining = limit
        super.init(fault: fault, pipe: pipe)
    }

    override func push(_ item: PipeItem) {
        guard !closed else {
            if case .data(let buffer) = item { pipe.recordDropped(buffer.readableBytes, by: fault) }
            return
        }
        guard case .data(var buffer) = item else {
            next(item)
            return
        }
        if buffer.readableBytes <= remaining {
            remaining -= buffer.readableBytes
            next(item)
        } else {
            let allowed = buffer.readSlice(length: remaining)!
            pipe.recordDropped(buffer.readableBytes, by: fault)
            remaining = 0
            if allowed.readableBytes > 0 { next(.data(allowed)) }
        }
        if remaining == 0 {
            closed = true
            pipe.connection.closeByProxy(fault: fault.name, how: .fin)
        }
    }
}

/// Toxiproxy's `slow_close`: a FIN is forwarded only after `delay`.
final class SlowCloseStage: FaultStage {
    private let delay: Duration
    private var timer: Scheduled<Void>?
    private var pendingClose: PipeItem?

    init(fault: Fault, pipe: FlowPipe, delay: Duration) {
        self.delay = delay
        super.init(fault: fault, pipe: pipe)
    }

    override func push(_ item: PipeItem) {
        guard case .eof = item else {
            next(item)
            return
        }
        pendingClose = item
        timer = schedule(at: now + delay.timeAmount) { [weak self] in
            guard let self else { return }
            self.timer = nil
            if let item = self.pendingClose {
                self.pendingClose = nil
                self.next(item)
                self.pipe.didEmitFromTimer()
            }
        }
    }

    override func remove() {
        timer?.cancel()
        if let item = pendingClose {
            pendingClose = nil
            next(item)
        }
    }
}

// MARK: - WebSocket-aware

/// Drops WebSocket frames by opcode, or text messages by substring, and lets everything else
/// through untouched. It follows the stream from the HTTP upgrade on, through fragmentation and masking.
final class DropFramesStage: FaultStage {
    private let matcher: FrameMatcher
    private var tracker: WebSocketStreamTracker
    /// Decision for the data message in progress (fragments follow their first frame).
    private var messageDecision: Bool?
    /// A text message being buffered to match the pattern: its bytes and unmasked text so far.
    private var pendingMessage: (bytes: [ByteBuffer], text: [UInt8])?
    /// Decision for the frame in progress (control frames and unbuffered data frames).
    private var frameDrop = false
    private static let maxMatchBytes = 1 << 20

    init(fault: Fault, pipe: FlowPipe, matcher: FrameMatcher, tracker: WebSocketStreamTracker) {
        self.matcher = matcher
        self.tracker = tracker
        super.init(fault: fault, pipe: pipe)
    }

    override var bufferedBytes: Int {
        pendingMessage?.bytes.reduce(0) { $0 + $1.readableBytes } ?? 0
    }

    override func push(_ item: PipeItem) {
        guard case .data(let buffer) = item else {
            next(item)
            return
        }
        tracker.split(buffer, onHead: { _ in }) { segment in
            switch segment {
            case .http(let bytes), .opaque(let bytes):
                next(.data(bytes))
            case .frameHeader(let frame, let bytes):
                beginFrame(frame)
                emit(bytes, frame: frame, payloadOffset: nil, last: false)
            case .payload(let frame, let bytes, let offset, let last):
                emit(bytes, frame: frame, payloadOffset: offset, last: last)
            }
        }
    }

    private func beginFrame(_ frame: FrameInfo) {
        if frame.isControl {
            frameDrop = matcher.opcodes.contains(frame.opcodeName)
            return
        }
        if frame.opcode != 0 {
            // The first frame of a data message decides for all of its fragments.
            if matcher.opcodes.contains(frame.opcodeName) {
                messageDecision = true
            } else if frame.opcode == 1, matcher.textPattern != nil {
                messageDecision = nil
                pendingMessage = ([], [])
            } else {
                messageDecision = false
            }
        }
        frameDrop = messageDecision ?? false
    }

    private func emit(_ bytes: ByteBuffer, frame: FrameInfo, payloadOffset: UInt64?, last: Bool) {
        if !frame.isControl, var pending = pendingMessage {
            pending.bytes.append(bytes)
            if let offset = payloadOffset {
                var payload = Array(bytes.readableBytesView)
                frame.unmask(&payload, offset: offset)
                pending.text += payload
            }
            pendingMessage = pending
            if last && frame.fin {
                finishPendingMessage(matched: String(decoding: pending.text, as: UTF8.self).contains(matcher.textPattern!))
            } else if pending.text.count > Self.maxMatchBytes {
                finishPendingMessage(matched: false)
            }
            return
        }
        if frameDrop {
            pipe.recordDropped(bytes.readableBytes, by: fault)
            if last { reportDrop(frame) }
        } else if bytes.readableBytes > 0 || payloadOffset == nil {
            next(.data(bytes))
        }
        if last && !frame.isControl && frame.fin { messageDecision = nil }
    }

    private func finishPendingMessage(matched: Bool) {
        guard let pending = pendingMessage else { return }
        pendingMessage = nil
        messageDecision = matched
        frameDrop = matched
        if matched {
            pipe.recordDropped(pending.bytes.reduce(0) { $0 + $1.readableBytes }, by: fault)
            pipe.connection.emit(.frameDropped,
                ["flow": .string(pipe.flow.rawValue), "opcode": "text", "length": .int(Int64(pending.text.count)), "fault": .string(fault.name)]
            )
        } else {
            for bytes in pending.bytes { next(.data(bytes)) }
        }
    }

    private func reportDrop(_ frame: FrameInfo) {
        pipe.connection.emit(.frameDropped,
            ["flow": .string(pipe.flow.rawValue), "opcode": .string(frame.opcodeName), "length": .int(Int64(frame.payloadLength)), "fault": .string(fault.name)]
        )
    }

    override func remove() {
        if let pending = pendingMessage {
            pendingMessage = nil
            for bytes in pending.bytes { next(.data(bytes)) }
        }
    }
}
