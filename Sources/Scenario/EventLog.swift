import ScenarioJudging
public import ScenarioModel
import Dispatch
public import EventSchema
import NIOConcurrencyHelpers

/// The ordered recording of a live run: events from every observer, stamped on one monotonic
/// clock relative to the run's start, with waiters for steps that wait on an event.
public final class EventLog: Sendable {
    public let origin: Instant
    private struct Waiter {
        var id: Int
        var pattern: EventPattern
        var from: Duration
        /// Clients that still owe a matching event (nil: any one event will do).
        var owing: Set<String>?
        var continuation: CheckedContinuation<EventRecord?, Never>

        /// Takes a matching event; true when the waiter is satisfied.
        mutating func take(_ event: EventRecord) -> Bool {
            guard owing != nil else { return true }
            owing!.remove(ClientSources.clientKey(event))
            return owing!.isEmpty
        }
    }

    private struct State {
        var events: [EventRecord] = []
        var waiters: [Waiter] = []
        var nextWaiter = 0
        var listeners: [@Sendable (EventRecord) -> Void] = []
        /// (client, type) pairs reported by the clients themselves: observed ones do not count (``ClientSources``).
        var selfReporting: Set<String> = []
        /// ``close()`` was called: events are no longer kept.
        var closed = false

        func counts(_ event: EventRecord) -> Bool {
            !ClientSources.isObserved(event) || !selfReporting.contains(ClientSources.key(event))
        }
    }

    private let state = NIOLockedValueBox(State())

    public init(origin: Instant) { self.origin = origin }

    /// Time since the start of the run.
    public var now: Duration { Instant.now - origin }

    public var events: [EventRecord] { state.withLockedValue { $0.events } }

    /// Ends the log once its run is judged and written: its events are let go (and any later one is
    /// dropped) even if something still holds the log for a while — a torn-down client's last timer,
    /// a reader thread — so a suite's next scenario does not run beside this one's events.
    public func close() {
        let waiters = state.withLockedValue { state -> [Waiter] in
            state.closed = true
            state.events = []
            state.listeners = []
            let waiters = state.waiters
            state.waiters = []
            return waiters
        }
        for waiter in waiters { waiter.continuation.resume(returning: nil) }
    }

    /// Waits registered and not yet resumed.
    var pendingWaits: Int { state.withLockedValue { $0.waiters.count } }

    /// Calls `body` for every event recorded from now on (on the recording thread).
    public func onRecord(_ body: @escaping @Sendable (EventRecord) -> Void) {
        state.withLockedValue { $0.listeners.append(body) }
    }

    /// Records `event` and returns it as recorded (its time rounded to microseconds).
    @discardableResult
    public func record(_ event: EventRecord) -> EventRecord {
        // Recordings keep microseconds; rounding here makes a live run and its replay identical.
        var event = event
        event.t = .nanoseconds((event.t.nanoseconds + 500) / 1000 * 1000)
        let (ready, listeners): ([CheckedContinuation<EventRecord?, Never>], [@Sendable (EventRecord) -> Void]) = state.withLockedValue { state in
            guard !state.closed else { return ([], []) }
            // Keep the log ordered by time even when observers on different threads race.
            var index = state.events.endIndex
            while index > state.events.startIndex, state.events[index - 1].t > event.t { index -= 1 }
            state.events.insert(event, at: index)
            if ClientSources.isOwn(event) { state.selfReporting.insert(ClientSources.key(event)) }
            var ready: [CheckedContinuation<EventRecord?, Never>] = []
            let counts = state.counts(event)
            if counts {
                for index in state.waiters.indices.reversed() {
                    let waiter = state.waiters[index]
                    guard event.t >= waiter.from, waiter.pattern.matches(event), state.waiters[index].take(event) else { continue }
                    ready.append(waiter.continuation)
                    state.waiters.remove(at: index)
                }
            }
            return (ready, state.listeners)
        }
        for continuation in ready { continuation.resume(returning: event) }
        for listener in listeners { listener(event) }
        return event
    }

    public func record<T: CataloguedEvent>(_ type: T, fields: JSONObject = [:], at instant: Instant? = nil) {
        record(EventRecord(t: (instant ?? .now) - origin, type, fields: fields))
    }

    /// The first event matching `pattern` at or after `from`, waiting until `deadline` (run time); nil if none came,
    /// or if the waiting task is cancelled (a run's time limit).
    /// The waiter is registered under the log's lock before anything can time it out, and exactly
    /// one of "event recorded", "deadline passed" or "cancelled" resumes it.
    ///
    /// With `eachOf` (client numbers 1…N): the event that completed the set, once each of those
    /// clients has produced a matching event.
    public func wait(for pattern: EventPattern, from: Duration, until deadline: Duration, eachOf clients: Int? = nil) async -> EventRecord? {
        let id = state.withLockedValue { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<EventRecord?, Never>) in
                let registered: Bool = state.withLockedValue { state in
                    var waiter = Waiter(id: id, pattern: pattern, from: from, owing: clients.map { Set((1...max($0, 1)).map(String.init)) }, continuation: continuation)
                    for event in state.events where event.t >= from && state.counts(event) && pattern.matches(event) {
                        if waiter.take(event) {
                            continuation.resume(returning: event)
                            return false
                        }
                    }
                    if Task.isCancelled || state.closed {
                        continuation.resume(returning: nil)
                        return false
                    }
                    state.waiters.append(waiter)
                    return true
                }
                guard registered else { return }
                let remaining = max(deadline - now, .zero)
                // Weakly: a check met early leaves its deadline timer pending for up to its `within`,
                // and a strong capture kept the whole finished run's events alive that long — into the
                // next scenario of a suite, past its trim (a soak's heap after each scenario was the
                // last one's events).
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(remaining.nanoseconds))) { [weak self] in
                    self?.resumeWaiter(id)
                }
            }
        } onCancel: {
            resumeWaiter(id)
        }
    }

    /// Resumes waiter `id` with nothing, if it is still waiting.
    private func resumeWaiter(_ id: Int) {
        let waiter = state.withLockedValue { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(returning: nil)
    }
}
