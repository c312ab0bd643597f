import EventSchema
import HeartbeatCore
import Testing

typealias Config = HeartbeatStateMachine.Configuration

private func json(interval: Int64 = 400, timeout: Int64 = 200, any: Bool = false, delay: Int64 = 300, max: Int? = nil) -> Config {
    Config(
        heartbeat: HeartbeatPolicy(dialect: .json, interval: .ms(interval), timeout: .ms(timeout), anyMessageCountsAsAlive: any),
        reconnect: ReconnectPolicy(backoff: .fixed(.ms(delay)), maxAttempts: max, connectTimeout: .ms(1000))
    )
}

@Suite("Heartbeat timing")
struct HeartbeatTimingTests {
    @Test func heartbeatGoesOutExactlyAtInterval() {
        var h = ManualClockHarness(json())
        h.startConnected()
        #expect(h.advance(to: .ms(400) - .nanoseconds(1)).heartbeatsSent.isEmpty)
        #expect(h.advance(to: .ms(400)).heartbeatsSent == [1])
        #expect(h.events(ofType: .heartbeatSent).first?.at == .ms(400))
    }

    @Test func deathIsDeclaredAtIntervalPlusTimeoutAndNotBefore() {
        var h = ManualClockHarness(json())
        let id = h.startConnected()
        h.advance(to: .ms(599))
        #expect(h.machine.phase == .open)
        #expect(h.events(ofType: .disconnected).isEmpty)
        h.advance(to: .ms(600) - .nanoseconds(1))
        #expect(h.events(ofType: .disconnected).isEmpty)

        let actions = h.advance(to: .ms(600))
        let disconnected = h.events(ofType: .disconnected)
        #expect(disconnected.count == 1)
        #expect(disconnected.first?.at == .ms(600))
        #expect(disconnected.first?.kind == .disconnected(id, reason: .heartbeatTimeout, detail: "no reply to heartbeat #1 within 200ms"))
        // Reconnecting is scheduled in the same step: nothing waits for a close handshake.
        #expect(actions.eventTypes == [.disconnected, .reconnectScheduled])
        #expect(h.machine.phase == .waitingToReconnect)
        let close = actions.compactMap { if case .close(let c, let request) = $0, c == id { request } else { nil } }.first
        #expect(close?.code == 1001)
        #expect(close.map { $0.grace < .ms(200) } == true, "the close grace must be well under the timeout")

        // The reconnect happens at 600 + delay, even though the old connection never reported closed.
        #expect(h.advance(to: .ms(900) - .nanoseconds(1)).isEmpty)
        h.advance(to: .ms(900))
        #expect(h.connects.count == 2)
        #expect(h.machine.phase == .connecting)
    }

    @Test func replyInTimeKeepsTheLinkAlive() {
        var h = ManualClockHarness(json())
        h.startConnected()
        h.advance(to: .ms(400))
        h.advance(to: .ms(450))
        let acked = h.receive(.text(#"{"ModeCode":"heart_beat","msg":1700000000000}"#))
        #expect(acked.eventTypes == [.heartbeatAcked])
        #expect(h.events(ofType: .heartbeatAcked).first?.kind == .heartbeatAcked(ConnectionID(1), seq: 1, rtt: .ms(50)))
        h.advance(to: .ms(799))
        #expect(h.events(ofType: .disconnected).isEmpty)
        // The cadence is fixed: the second heartbeat goes out at 800.
        #expect(h.advance(to: .ms(800)).heartbeatsSent == [2])
    }

    @Test func ordinaryMessageDoesNotCountUnlessConfigured() {
        var strict = ManualClockHarness(json(any: false))
        strict.startConnected()
        strict.advance(to: .ms(500))
        strict.receive(.text(#"{"ModeCode":"message","msg":"hello"}"#))
        strict.advance(to: .ms(600))
        #expect(strict.events(ofType: .disconnected).count == 1)

        var lenient = ManualClockHarness(json(any: true))
        lenient.startConnected()
        lenient.advance(to: .ms(500))
        lenient.receive(.text(#"{"ModeCode":"message","msg":"hello"}"#))
        lenient.advance(to: .ms(600))
        #expect(lenient.events(ofType: .disconnected).isEmpty)
    }

    @Test func anyMessagePostponesTheNextHeartbeatAndDeath() {
        var h = ManualClockHarness(json(any: true))
        h.startConnected()
        h.advance(to: .ms(300))
        h.receive(.text(#"{"ModeCode":"message","msg":1}"#))
        #expect(h.advance(to: .ms(699)).heartbeatsSent.isEmpty, "traffic at 300 postpones the heartbeat to 700")
        #expect(h.advance(to: .ms(700)).heartbeatsSent == [1])
        h.advance(to: .ms(899))
        #expect(h.events(ofType: .disconnected).isEmpty)
        h.advance(to: .ms(900))
        #expect(h.events(ofType: .disconnected).map(\.at) == [.ms(900)])
    }

    @Test func serverPingIsAnsweredWithPong() {
        var h = ManualClockHarness(json())
        let id = h.startConnected()
        #expect(h.receive(.ping([1, 2, 3])) == [.send(id, .pong([1, 2, 3]))])
    }
}

@Suite("Dialects")
struct DialectTests {
    @Test func textDialectNeedsTheConfiguredReply() {
        let config = Config(
            heartbeat: HeartbeatPolicy(dialect: .text(payload: "heart_beat", reply: "ok"), interval: .ms(400), timeout: .ms(200)),
            reconnect: ReconnectPolicy(backoff: .fixed(.ms(100)))
        )
        var h = ManualClockHarness(config)
        h.startConnected()
        h.advance(to: .ms(400))
        #expect(h.receive(.text("nope")).eventTypes == [.messageReceived])
        #expect(h.receive(.text("ok")).eventTypes == [.heartbeatAcked])
        #expect(HeartbeatDialect.text(payload: "666", reply: nil).heartbeatFrame(seq: 1, epochMilliseconds: 0) == .text("666"))
    }

    @Test func textDialectWithoutReplyAcceptsAnyText() {
        let dialect = HeartbeatDialect.text(payload: "HeartBeat", reply: nil)
        #expect(dialect.classify(.text("whatever"), expectedPong: nil) == .heartbeatReply)
    }

    @Test func pingPongMustEchoThePayload() {
        let config = Config(
            heartbeat: HeartbeatPolicy(dialect: .ping, interval: .ms(400), timeout: .ms(200)),
            reconnect: ReconnectPolicy(backoff: .fixed(.ms(100)))
        )
        var h = ManualClockHarness(config)
        h.startConnected()
        h.advance(to: .ms(400))
        #expect(h.receive(.pong(Array("wrong".utf8))).eventTypes == [.protocolError])
        h.advance(to: .ms(600))
        #expect(h.events(ofType: .disconnected).count == 1, "a pong with the wrong payload is not a reply")

        var good = ManualClockHarness(config)
        good.startConnected()
        good.advance(to: .ms(400))
        #expect(good.receive(.pong(HeartbeatDialect.pingPayload(seq: 1))).eventTypes == [.heartbeatAcked])
        good.advance(to: .ms(799))
        #expect(good.events(ofType: .disconnected).isEmpty)
    }

    @Test func jsonHeartbeatFrameCarriesModeCodeAndEpoch() {
        let frame = HeartbeatDialect.json.heartbeatFrame(seq: 7, epochMilliseconds: 1_700_000_000_123)
        #expect(frame == .text(#"{"ModeCode":"heart_beat","msg":1700000000123}"#))
    }

    @Test func malformedJSONReplyIsReportedNotFatal() {
        var h = ManualClockHarness(json())
        h.startConnected()
        h.advance(to: .ms(400))
        let actions = h.receive(.text("{\"ModeCode\": heart_beat"))
        #expect(actions.eventTypes == [.protocolError, .messageReceived])
        #expect(h.machine.phase == .open)
        #expect(HeartbeatDialect.json.classify(.text(#"{"msg":1}"#), expectedPong: nil) == .malformed(#"JSON message without "ModeCode": '{"msg":1}'"#))
    }

    @Test func serverPushToleranceIsExact() {
        let config = Config(
            heartbeat: HeartbeatPolicy(dialect: .serverPush(interval: .ms(100), tolerance: 1.5)),
            reconnect: ReconnectPolicy(backoff: .fixed(.ms(100)))
        )
        var h = ManualClockHarness(config)
        h.startConnected()
        for t in stride(from: Int64(100), through: 500, by: 100) {
            h.advance(to: .ms(t))
            #expect(h.receive(.text(#"{"heartbeat": 1700000000000}"#)).eventTypes == [.heartbeatReceived])
        }
        #expect(h.log.map(\.action).heartbeatsSent.isEmpty, "server-push clients send no heartbeats")
        h.advance(to: .ms(650) - .nanoseconds(1))
        #expect(h.events(ofType: .disconnected).isEmpty)
        h.advance(to: .ms(650))
        let dead = h.events(ofType: .disconnected)
        #expect(dead.map(\.at) == [.ms(650)])
        #expect(dead.first?.kind == .disconnected(ConnectionID(1), reason: .heartbeatTimeout, detail: "no server heartbeat within 150ms (100ms × 1.5)"))
    }
}

@Suite("Reconnect policy")
struct ReconnectTests {
    @Test func errorThenCloseGivesOneReconnect() {
        var h = ManualClockHarness(json())
        let id = h.startConnected()
        h.advance(to: .ms(100))
        h.apply(h.machine.error(on: id, detail: "ECONNRESET", now: h.now))
        h.apply(h.machine.closed(id, detail: "channel inactive", now: h.now))
        h.apply(h.machine.error(on: id, detail: "again", now: h.now))
        #expect(h.events(ofType: .disconnected).count == 1)
        #expect(h.events(ofType: .reconnectScheduled).count == 1)
        h.advance(by: .seconds(1))
        #expect(h.connects.count == 2)
    }

    @Test func lateCloseOfAbandonedConnectionIsIgnored() {
        var h = ManualClockHarness(json())
        let first = h.startConnected()
        h.advance(to: .ms(600))
        h.advance(to: .ms(900))
        let second = h.machine.currentConnection!
        #expect(second != first)
        h.apply(h.machine.connectionEstablished(second, now: h.now))
        // The dead link's close finally arrives: it must not disturb the new connection.
        #expect(h.machine.closed(first, detail: "late", now: h.now).isEmpty)
        #expect(h.machine.phase == .open)
    }

    @Test func maxAttemptsThenGaveUpAndNeverAgain() {
        var h = ManualClockHarness(json(delay: 100, max: 3))
        h.start()
        for _ in 0..<10 {
            guard let id = h.machine.currentConnection else { break }
            h.apply(h.machine.error(on: id, reason: .connectFailed, detail: "refused", now: h.now))
            h.advance(by: .ms(100))
        }
        #expect(h.connects.count == 4, "the first connect plus 3 reconnect attempts")
        #expect(h.events(ofType: .gaveUp).map(\.kind) == [.gaveUp(attempts: 3)])
        #expect(h.machine.phase == .gaveUp)
        h.advance(by: .seconds(60))
        #expect(h.connects.count == 4)
        #expect(h.log.last.map { $0.action == .finished } == true)
    }

    @Test func manualCloseNeverReconnects() {
        var h = ManualClockHarness(json())
        let id = h.startConnected()
        h.advance(to: .ms(100))
        let actions = h.apply(h.machine.closeRequested(now: h.now))
        #expect(actions.contains(.close(id, .init(code: 1000, reason: "closed by user", grace: .ms(100)))))
        #expect(actions.eventTypes == [.closed])
        h.apply(h.machine.closed(id, detail: "closed", now: h.now))
        h.advance(by: .seconds(60))
        #expect(h.connects.count == 1)
        #expect(h.events(ofType: .reconnectScheduled).isEmpty)
        #expect(h.machine.phase == .stopped)
    }

    @Test func manualCloseWhileWaitingCancelsTheReconnect() {
        var h = ManualClockHarness(json())
        let id = h.startConnected()
        h.apply(h.machine.closed(id, detail: "FIN", now: h.now))
        #expect(h.machine.phase == .waitingToReconnect)
        h.apply(h.machine.closeRequested(now: h.now))
        h.advance(by: .seconds(10))
        #expect(h.connects.count == 1)
    }

    @Test func exponentialBackoffGrowsAndIsCapped() {
        let policy = ReconnectPolicy(backoff: .exponential(initial: .ms(100), multiplier: 2, cap: .ms(1000)))
        #expect((1...7).map { policy.baseDelay(attempt: $0) } == [.ms(100), .ms(200), .ms(400), .ms(800), .ms(1000), .ms(1000), .ms(1000)])

        var h = ManualClockHarness(Config(reconnect: policy))
        h.start()
        for _ in 0..<6 {
            h.apply(h.machine.error(on: h.machine.currentConnection!, reason: .connectFailed, detail: "refused", now: h.now))
            h.advance(by: .seconds(2))
        }
        #expect(h.reconnectDelays == [.ms(100), .ms(200), .ms(400), .ms(800), .ms(1000), .ms(1000)])
    }

    @Test(arguments: [UInt64(1), 2, 3, 42, 9999])
    func jitteredDelaysStayInsideBounds(seed: UInt64) {
        let policy = ReconnectPolicy(backoff: .exponential(initial: .ms(100), multiplier: 2, cap: .ms(1000)), jitter: 0.5)
        var h = ManualClockHarness(Config(reconnect: policy), seed: seed)
        h.start()
        for _ in 0..<8 {
            h.apply(h.machine.error(on: h.machine.currentConnection!, reason: .connectFailed, detail: "refused", now: h.now))
            h.advance(by: .seconds(2))
        }
        let delays = h.reconnectDelays
        #expect(delays.count == 8)
        for (index, delay) in delays.enumerated() {
            #expect(policy.delayBounds(attempt: index + 1).contains(delay), "attempt \(index + 1): \(delay)")
        }
        #expect(Set(delays).count > 1, "jitter must spread the delays")
    }

    @Test func jitterActuallySpreadsClients() {
        let policy = ReconnectPolicy(backoff: .fixed(.ms(1000)), jitter: 0.5)
        var random = SplitMix64(seed: 7)
        let delays = (0..<200).map { _ in policy.delay(attempt: 1, unitRandom: Double(random.next() >> 11) * 0x1.0p-53) }
        #expect(delays.min()! < .ms(600))
        #expect(delays.max()! > .ms(1400))
        #expect(delays.allSatisfy { (Duration.ms(500)...Duration.ms(1500)).contains($0) })
    }

    @Test func connectTimeoutCoversConnectAndUpgrade() {
        var h = ManualClockHarness(json())
        h.start()
        let first = h.machine.currentConnection!
        h.advance(to: .ms(999))
        #expect(h.events(ofType: .disconnected).isEmpty)
        let actions = h.advance(to: .ms(1000))
        #expect(actions.contains(.close(first, .init(code: nil, reason: "connect timeout", grace: .zero))))
        #expect(h.events(ofType: .disconnected).first?.kind == .disconnected(first, reason: .connectTimeout, detail: "no WebSocket connection within 1s (TCP connect and upgrade)"))
        // The upgrade completing late is refused, and does not count as the new connection.
        let late = h.machine.connectionEstablished(first, now: h.now)
        #expect(late == [.close(first, .init(code: 1001, reason: "going away", grace: .zero))])
        #expect(h.machine.phase == .waitingToReconnect)
    }

    @Test func attemptsResetOnlyAfterAStableConnection() {
        let policy = ReconnectPolicy(backoff: .exponential(initial: .ms(100), multiplier: 2, cap: .ms(10_000)), stableAfter: .ms(1000))
        var h = ManualClockHarness(Config(reconnect: policy))
        h.start()
        // Flapping: each connection opens and dies at once; the attempt count keeps growing.
        for _ in 0..<3 {
            let id = h.machine.currentConnection!
            h.apply(h.machine.connectionEstablished(id, now: h.now))
            h.apply(h.machine.closed(id, detail: "FIN", now: h.now))
            h.advance(by: .seconds(1))
        }
        #expect(h.reconnectDelays == [.ms(100), .ms(200), .ms(400)])
        // A connection that stays up past stableAfter resets it.
        let id = h.machine.currentConnection!
        h.apply(h.machine.connectionEstablished(id, now: h.now))
        h.advance(by: .ms(1000))
        h.apply(h.machine.closed(id, detail: "FIN", now: h.now))
        #expect(h.reconnectDelays.last == .ms(100))
    }

    @Test func serverCloseFrameIsPeerClosed() {
        var h = ManualClockHarness(json())
        let id = h.startConnected()
        let actions = h.receive(.close(code: 1001, reason: "restart"))
        #expect(actions.first == .close(id, .init(code: 1001, reason: "", grace: .ms(100))))
        #expect(h.events(ofType: .disconnected).first?.kind == .disconnected(id, reason: .peerClosed, detail: "server sent close frame 1001 'restart'"))
        #expect(h.events(ofType: .reconnectScheduled).count == 1)
    }
}

@Suite("Validation")
struct ValidationTests {
    @Test func timeoutNotBelowIntervalIsRejected() {
        let policy = HeartbeatPolicy(dialect: .json, interval: .seconds(2), timeout: .seconds(2))
        #expect(throws: ConfigurationError.self) { try policy.validate() }
        do {
            try policy.validate()
        } catch {
            #expect(error.message.contains("timeout 2s is not shorter than the interval 2s"))
        }
        // Server push ignores the client's interval and timeout: zeros are valid there.
        #expect(throws: Never.self) {
            try HeartbeatPolicy(dialect: .serverPush(interval: .seconds(1), tolerance: 1.5), interval: .zero, timeout: .zero).validate()
        }
    }

    @Test func badReconnectSettingsAreRejected() {
        #expect(throws: ConfigurationError.self) { try ReconnectPolicy(jitter: 1.5).validate() }
        #expect(throws: ConfigurationError.self) {
            try ReconnectPolicy(backoff: .exponential(initial: .seconds(2), multiplier: 2, cap: .seconds(1))).validate()
        }
        #expect(throws: ConfigurationError.self) { try ReconnectPolicy(maxAttempts: -1).validate() }
        #expect(throws: ConfigurationError.self) {
            try HeartbeatPolicy(dialect: .serverPush(interval: .seconds(1), tolerance: 0.5)).validate()
        }
        #expect(throws: Never.self) { try Config().validate() }
    }
}

@Suite("Server reaping")
struct PeerReaperTests {
    @Test func reapsAfterSilenceAndNotBefore() {
        var reaper = PeerReaper(reapAfter: .ms(300), now: .zero)
        #expect(reaper.deadline == .ms(300))
        reaper.trafficReceived(now: .ms(200))
        #expect(reaper.timerFired(now: .ms(300)) == .checkAgain(at: .ms(500)))
        #expect(reaper.timerFired(now: .ms(499)) == .checkAgain(at: .ms(500)))
        #expect(reaper.timerFired(now: .ms(500)) == .reap(silentFor: .ms(300)))
        #expect(reaper.timerFired(now: .ms(900)) == .none)
        #expect(reaper.isReaped)
    }
}
