import EventSchema
@testable import Scenario
import ScenarioModel
import Testing

/// A finished run's events go when the run does: a check met early leaves its deadline timer
/// pending, and that timer must not hold the log (a suite's next scenario would run beside the
/// last one's events).
@Suite("Event log lifetime")
struct EventLogLifetimeTests {
    @Test func aWaitMetEarlyDoesNotKeepTheLogAlive() async throws {
        weak var weakLog: EventLog?
        do {
            let log = EventLog(origin: .now)
            weakLog = log
            // The wait registers (and starts its 10-minute deadline timer) before its event comes.
            let waiting = Task { await log.wait(for: EventPattern(ServerEventType.stopped), from: .zero, until: .seconds(600)) }
            let deadline = ContinuousClock.now + .seconds(10)
            while log.pendingWaits == 0, ContinuousClock.now < deadline { await Task.yield() }
            try #require(log.pendingWaits == 1)
            log.record(ServerEventType.stopped)
            #expect(await waiting.value != nil)
        }
        #expect(weakLog == nil, "the pending deadline timer still holds the finished log and its events")
    }
}

extension EventLogLifetimeTests {
    @Test func aClosedLogKeepsNothingAndAnswersNoWait() async {
        let log = EventLog(origin: .now)
        log.record(ServerEventType.listening, fields: ["port": 1])
        let pending = Task { await log.wait(for: EventPattern(ServerEventType.stopped), from: .zero, until: .seconds(600)) }
        let deadline = ContinuousClock.now + .seconds(10)
        while log.pendingWaits == 0, ContinuousClock.now < deadline { await Task.yield() }
        log.close()
        #expect(await pending.value == nil, "a wait pending at the close is answered with nothing")
        #expect(log.events.isEmpty)
        log.record(ServerEventType.stopped)
        #expect(log.events.isEmpty, "an event after the close is dropped")
        #expect(await log.wait(for: EventPattern(ServerEventType.stopped), from: .zero, until: .seconds(600)) == nil)
    }
}
