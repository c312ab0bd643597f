import EventSchema
import NIOCore
import NIOConcurrencyHelpers
import NIOPosix
import WebSocketSupport
import NetworkSupport

/// Fans events out to any number of subscribers.
public final class EventHub<Event: Sendable>: Sendable {
    private struct Subscriber: Sendable {
        var continuation: AsyncStream<Event>.Continuation
        var onDrop: (@Sendable () -> Void)?

        func yield(_ event: Event) {
            if case .dropped = continuation.yield(event) { onDrop?() }
        }
    }

    private let subscribers = NIOLockedValueBox<[UInt64: Subscriber]>([:])
    private let nextID = NIOLockedValueBox<UInt64>(0)
    private let callbacks = NIOLockedValueBox<[@Sendable (Event) -> Void]>([])

    public init() {}

    /// A stream of every event from now on; it ends when the consumer stops iterating. At most
    /// `limit` events wait for a slow consumer; `onDrop` is told of each older one given up.
    public func subscribe(limit: Int = 100_000, onDrop: (@Sendable () -> Void)? = nil) -> AsyncStream<Event> {
        let id = nextID.withLockedValue {
            $0 += 1
            return $0
        }
        let (stream, base) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(limit))
        let continuation = Subscriber(continuation: base, onDrop: onDrop)
        base.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLockedValue { $0.removeValue(forKey: id) }
        }
        subscribers.withLockedValue { $0[id] = continuation }
        return stream
    }

    /// Calls `body` synchronously (on the thread that publishes) for every event.
    public func onEvent(_ body: @escaping @Sendable (Event) -> Void) {
        callbacks.withLockedValue { $0.append(body) }
    }

    public func publish(_ event: Event) {
        for callback in callbacks.withLockedValue({ $0 }) { callback(event) }
        for subscriber in subscribers.withLockedValue({ Array($0.values) }) { subscriber.yield(event) }
    }

    public func finish() {
        for subscriber in subscribers.withLockedValue({ Array($0.values) }) { subscriber.continuation.finish() }
    }
}
