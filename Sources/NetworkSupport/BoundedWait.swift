import Dispatch
import NIOConcurrencyHelpers

/// Waits until `start` reports done or `limit` passes, whichever comes first, and never longer:
/// `start` receives a callback to call when the awaited thing happened. Returns whether it did.
public func finishesWithin(_ limit: Duration, _ start: (@escaping @Sendable () -> Void) -> Void) async -> Bool {
    let once = NIOLockedValueBox(false)
    return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        @Sendable func finish(_ value: Bool) {
            let first = once.withLockedValue { done -> Bool in
                defer { done = true }
                return !done
            }
            if first { continuation.resume(returning: value) }
        }
        start { finish(true) }
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(max(limit, .zero).nanoseconds))) { finish(false) }
    }
}
