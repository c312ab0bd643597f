import Dispatch
import NIOConcurrencyHelpers

/// Collects events from any thread and lets a test wait for one with a deadline, failing with
/// everything that was seen. Tests never sleep for an outcome: they wait on the event.
public final class EventWaiter<Event: Sendable>: Sendable {
    private struct Waiter {
        var id: Int
        var predicate: @Sendable (Event) -> Bool
        var from: Int
        var continuation: CheckedContinuation<Event, any Error>
    }

    private struct State {
        var events: [Event] = []
        var waiters: [Waiter] = []
        var nextWaiter = 0
    }

    private let state = NIOLockedValueBox(State())
    private let describe: @Sendable (Event) -> String

    public init(describe: @escaping @Sendable (Event) -> String = { "\($0)" }) {
        self.describe = describe
    }

    public func record(_ event: Event) {
        let ready: [(CheckedContinuation<Event, any Error>, Event)] = state.withLockedValue { state in
            state.events.append(event)
            let index = state.events.count - 1
            var ready: [(CheckedContinuation<Event, any Error>, Event)] = []
            state.waiters.removeAll { waiter in
                guard index >= waiter.from, waiter.predicate(event) else { return false }
                ready.append((waiter.continuation, event))
                return true
            }
            return ready
        }
        for (continuation, event) in ready { continuation.resume(returning: event) }
    }

    public var events: [Event] { state.withLockedValue { $0.events } }
    public var count: Int { state.withLockedValue { $0.events.count } }

    /// The first event at or after index `from` matching `predicate`, waiting up to `timeout`.
    /// Registration happens under the lock, and exactly one of "event recorded" or "timeout"
    /// resumes the waiter, so a wait can never be left hanging.
    @discardableResult
    public func wait(
        for what: String,
        from: Int = 0,
        timeout: Duration = .seconds(10),
        where predicate: @escaping @Sendable (Event) -> Bool
    ) async throws -> Event {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Event, any Error>) in
            let id: Int? = state.withLockedValue { state in
                if let match = state.events.dropFirst(from).first(where: predicate) {
                    continuation.resume(returning: match)
                    return nil
                }
                state.nextWaiter += 1
                state.waiters.append(Waiter(id: state.nextWaiter, predicate: predicate, from: from, continuation: continuation))
                return state.nextWaiter
            }
            guard let id else { return }
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))) {
                let waiter = self.state.withLockedValue { state -> Waiter? in
                    guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.waiters.remove(at: index)
                }
                guard let waiter else { return }
                let seen = self.events.map(self.describe).joined(separator: "\n  ")
                waiter.continuation.resume(throwing: WaitTimeout(message: "no \(what) within \(timeout); saw:\n  \(seen)"))
            }
        }
    }
}

public struct WaitTimeout: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
