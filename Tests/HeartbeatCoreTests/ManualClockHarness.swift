import EventSchema
import HeartbeatCore

/// Drives a `HeartbeatStateMachine` with a manual clock: timers fire when time is moved past them,
/// in deadline order, exactly at their deadline. Nothing here sleeps.
struct ManualClockHarness {
    var machine: HeartbeatStateMachine
    var now: Instant = .zero
    /// Every action the machine returned, in order, with the instant it was returned.
    var log: [(at: Instant, action: HeartbeatStateMachine.Action)] = []
    private var timers = ManualTimers<HeartbeatStateMachine.Timer>()

    init(_ configuration: HeartbeatStateMachine.Configuration, seed: UInt64 = 1) {
        machine = HeartbeatStateMachine(configuration: configuration, random: SplitMix64(seed: seed))
    }

    @discardableResult
    mutating func apply(_ actions: [HeartbeatStateMachine.Action]) -> [HeartbeatStateMachine.Action] {
        for action in actions {
            log.append((now, action))
            switch action {
            case .scheduleTimer(let timer, let at): timers.schedule(timer, at: at)
            case .cancelTimer(let timer): timers.cancel(timer)
            default: break
            }
        }
        return actions
    }

    /// Moves time forward to `instant`, firing due timers in order at their own deadlines.
    @discardableResult
    mutating func advance(to instant: Instant) -> [HeartbeatStateMachine.Action] {
        var produced: [HeartbeatStateMachine.Action] = []
        while let (timer, due) = timers.takeNext(dueBy: instant) {
            now = max(now, due)
            produced += apply(machine.timerFired(timer, now: now))
        }
        now = max(now, instant)
        return produced
    }

    @discardableResult
    mutating func advance(by duration: Duration) -> [HeartbeatStateMachine.Action] {
        advance(to: now + duration)
    }

    @discardableResult
    mutating func start() -> [HeartbeatStateMachine.Action] { apply(machine.start(now: now)) }

    /// Starts and completes the first connection; returns its id.
    @discardableResult
    mutating func startConnected() -> ConnectionID {
        start()
        let id = machine.currentConnection!
        apply(machine.connectionEstablished(id, now: now))
        return id
    }

    @discardableResult
    mutating func receive(_ frame: InboundFrame) -> [HeartbeatStateMachine.Action] {
        apply(machine.received(frame, on: machine.currentConnection!, now: now))
    }

    var events: [ClientEvent] {
        log.compactMap { if case .emit(let event) = $0.action { event } else { nil } }
    }

    func events(ofType type: ClientEventType) -> [ClientEvent] { events.filter { $0.type == type } }

    var connects: [ConnectionID] {
        log.compactMap { if case .connect(let id) = $0.action { id } else { nil } }
    }

    var reconnectDelays: [Duration] {
        events.compactMap { if case .reconnectScheduled(_, let delay) = $0.kind { delay } else { nil } }
    }
}

/// Timers of a manual clock, by deadline: the server's and the client's harness share it.
struct ManualTimers<Timer: Hashable> {
    private var due: [Timer: Instant] = [:]

    mutating func schedule(_ timer: Timer, at instant: Instant) { due[timer] = instant }
    mutating func cancel(_ timer: Timer) { due[timer] = nil }

    /// The earliest timer due at or before `instant`, removed; nil when none is.
    mutating func takeNext(dueBy instant: Instant) -> (Timer, Instant)? {
        guard let (timer, at) = due.filter({ $0.value <= instant }).min(by: { $0.value < $1.value }) else { return nil }
        due[timer] = nil
        return (timer, at)
    }
}

extension Array where Element == HeartbeatStateMachine.Action {
    var heartbeatsSent: [UInt64] {
        compactMap { if case .sendHeartbeat(_, let seq) = $0 { seq } else { nil } }
    }

    var eventTypes: [ClientEventType] {
        compactMap { if case .emit(let event) = $0 { event.type } else { nil } }
    }
}

extension Duration {
    static func ms(_ value: Int64) -> Duration { .milliseconds(value) }
}

extension Instant {
    static func ms(_ value: Int64) -> Instant { .milliseconds(value) }
}
