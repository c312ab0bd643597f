import EventSchema
import HeartbeatClient
import HeartbeatCore
import HeartbeatServer
import TestSupport
import Testing

/// The built-in client frozen as a sleeping laptop's process is: no timer fires, nothing is read
/// or sent, the socket stays open; at resume the overdue work runs at once, late.
@Suite("Client freeze and resume")
struct FreezeTests {
    @Test func aFrozenClientDecidesNothingAndCatchesUpAtResume() async throws {
        let (server, port, _) = try await startServer()
        let interval = Duration.ms(200)
        let sut = try ClientUnderTest(port: port, heartbeat: HeartbeatPolicy(interval: interval, timeout: .ms(150)))
        try await sut.wait(.heartbeatAcked)
        sut.client.freeze()
        let mark = sut.events.count
        // Asleep for three intervals (driving the scenario, not waiting for an outcome).
        try await Task.sleep(for: interval * 3)
        #expect(sut.events.count == mark, "a frozen client sent or decided something: \(sut.events.events.dropFirst(mark).map(\.summary))")
        sut.client.resume()
        // Its overdue heartbeat goes out at once, late by most of the sleep; the live server answers.
        let sent = try await sut.wait(.heartbeatSent, from: mark)
        guard case .heartbeatSent(_, _, let late) = sent.kind else { Issue.record("not a heartbeat-sent"); return }
        #expect(late >= interval, "the heartbeat timer fired \(late) late; it was due during the sleep")
        try await sut.wait(.heartbeatAcked, from: mark)
        #expect(!sut.events.events.dropFirst(mark).contains { $0.type == .disconnected }, "the socket stayed open through the sleep")
        try await sut.close()
        await server.stop()
    }

    @Test func aDeadLinkFoundAtWakeIsDetectedWithinTheTimeout() async throws {
        let (server, port, _) = try await startServer()
        let timeout = Duration.ms(150)
        let sut = try ClientUnderTest(port: port, heartbeat: HeartbeatPolicy(interval: .ms(200), timeout: timeout))
        try await sut.wait(.heartbeatAcked)
        sut.client.freeze()
        server.setMuted(true)   // what the sleeping client will find: nobody answers any more
        try await Task.sleep(for: .ms(500))
        let mark = sut.events.count
        let wokeAt = Instant.now
        sut.client.resume()
        let dead = try await sut.wait(.disconnected, from: mark, timeout: .seconds(5))
        #expect(dead.disconnectReason == .heartbeatTimeout)
        #expect(dead.at - wokeAt <= timeout + .ms(150), "detected \(dead.at - wokeAt) after waking")
        #expect(dead.at - wokeAt >= timeout, "a reply deadline starts when the heartbeat goes out, at the wake")
        try await sut.close()
        await server.stop()
    }
}
