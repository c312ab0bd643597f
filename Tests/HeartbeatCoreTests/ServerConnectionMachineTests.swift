import EventSchema
import HeartbeatCore
import Testing

/// Drives one server connection with a manual clock: timers fire when time is moved past them,
/// exactly at their deadline, in order. Nothing sleeps, nothing is sent.
private struct ServerHarness {
    var machine: ServerConnectionMachine
    var now: Instant = .zero
    var mood: ServerConnectionMachine.Mood = .answering
    var log: [(at: Instant, action: ServerConnectionMachine.Action)] = []
    private var timers = ManualTimers<ServerConnectionMachine.Timer>()

    init(_ configuration: HeartbeatServerConfiguration) {
        machine = ServerConnectionMachine(id: 7, configuration: configuration)
        apply(machine.start(now: now))
    }

    @discardableResult
    mutating func apply(_ actions: [ServerConnectionMachine.Action]) -> [ServerConnectionMachine.Action] {
        for action in actions {
            log.append((now, action))
            if case .schedule(let timer, let at) = action { timers.schedule(timer, at: at) }
        }
        return actions
    }

    @discardableResult
    mutating func advance(to instant: Instant) -> [ServerConnectionMachine.Action] {
        var produced: [ServerConnectionMachine.Action] = []
        while let (timer, due) = timers.takeNext(dueBy: instant) {
            now = max(now, due)
            produced += apply(machine.timerFired(timer, mood: mood, now: now, epochMilliseconds: 1_700_000_000_000 + Int64(now.nanoseconds / 1_000_000)))
        }
        now = max(now, instant)
        return produced
    }

    @discardableResult
    mutating func receive(_ frame: InboundFrame, at instant: Instant) -> [ServerConnectionMachine.Action] {
        advance(to: instant)
        return apply(machine.received(frame, mood: mood, now: now))
    }

    /// When each event of a kind was emitted.
    func emitted(_ type: ServerEventType) -> [Instant] {
        log.compactMap { entry in
            if case .emit(let kind) = entry.action, ServerEvent(at: entry.at, kind: kind).type == type { entry.at } else { nil }
        }
    }

    var sent: [(at: Instant, frame: OutboundFrame)] {
        log.compactMap { if case .send(let frame) = $0.action { ($0.at, frame) } else { nil } }
    }

    var closes: [(at: Instant, code: UInt16, reason: String)] {
        log.compactMap { if case .closeWithFrame(let code, let reason) = $0.action { ($0.at, code, reason) } else { nil } }
    }
}

@Suite("Server connection machine (manual clock)")
struct ServerConnectionMachineTests {
    @Test func aSilentClientIsReapedExactlyAtItsDeadline() {
        var h = ServerHarness(HeartbeatServerConfiguration(reapAfter: .milliseconds(200)))
        h.advance(to: .ms(199))
        #expect(h.emitted(.reaped).isEmpty)
        h.advance(to: .ms(200))
        #expect(h.emitted(.reaped) == [.ms(200)])
        #expect(h.closes.map(\.code) == [1001] && h.closes.first?.reason == "no traffic for 200ms")
        #expect(h.machine.disconnected() == [.emit(.clientDisconnected(conn: 7, detail: "server closed (close frame 1001)"))])
        // Reaped once: later firings do nothing.
        h.advance(to: .ms(1000))
        #expect(h.emitted(.reaped).count == 1)
    }

    @Test func trafficPostponesReapingAndPongsCount() {
        var h = ServerHarness(HeartbeatServerConfiguration(reapAfter: .milliseconds(300)))
        h.receive(.text(#"{"ModeCode":"heart_beat","msg":1}"#), at: .ms(250))
        h.receive(.pong([1]), at: .ms(500))
        // The first timer at 300 ms finds 50 ms of silence and looks again at 550, then at 800.
        h.advance(to: .ms(799))
        #expect(h.emitted(.reaped).isEmpty)
        h.advance(to: .ms(800))
        #expect(h.emitted(.reaped) == [.ms(800)])
    }

    @Test func heartbeatsOfEveryDialectAreAnsweredUnlessMuted() {
        var json = ServerHarness(HeartbeatServerConfiguration(dialect: .json))
        let beat = #"{"ModeCode":"heart_beat","msg":42}"#
        #expect(json.receive(.text(beat), at: .ms(1)) == [.emit(.heartbeatReceived(conn: 7)), .send(.text(beat))])
        #expect(json.receive(.ping([9]), at: .ms(2)) == [.emit(.heartbeatReceived(conn: 7)), .send(.pong([9]))])

        var text = ServerHarness(HeartbeatServerConfiguration(dialect: .text(payload: "HeartBeat", reply: "ok")))
        #expect(text.receive(.text("HeartBeat"), at: .ms(1)) == [.emit(.heartbeatReceived(conn: 7)), .send(.text("ok"))])
        var echo = ServerHarness(HeartbeatServerConfiguration(dialect: .text(payload: "666", reply: nil)))
        #expect(echo.receive(.text("666"), at: .ms(1)) == [.emit(.heartbeatReceived(conn: 7)), .send(.text("666"))])

        text.mood = .muted
        #expect(text.receive(.text("HeartBeat"), at: .ms(2)) == [.emit(.heartbeatReceived(conn: 7))])
        #expect(text.receive(.ping([]), at: .ms(3)) == [.emit(.heartbeatReceived(conn: 7))])
        // A muted server still echoes application messages: only the heartbeat logic is silenced.
        #expect(text.receive(.text("hello"), at: .ms(4)) == [.emit(.messageReceived(conn: 7, bytes: 5)), .send(.text("hello"))])
    }

    @Test func messagesAreEchoedOnlyWhenConfigured() {
        var quiet = ServerHarness(HeartbeatServerConfiguration(echoMessages: false))
        #expect(quiet.receive(.text("hi"), at: .ms(1)) == [.emit(.messageReceived(conn: 7, bytes: 2))])
        #expect(quiet.receive(.binary(count: 3), at: .ms(2)) == [.emit(.messageReceived(conn: 7, bytes: 3))])
        var loud = ServerHarness(HeartbeatServerConfiguration())
        #expect(loud.receive(.binary(count: 3), at: .ms(1)) == [.emit(.messageReceived(conn: 7, bytes: 3)), .send(.binary([0, 0, 0]))])
    }

    @Test func pushesKeepTheirPeriodAndStopWhileMuted() {
        var h = ServerHarness(HeartbeatServerConfiguration(dialect: .serverPush(interval: .milliseconds(250), tolerance: 1.5)))
        h.advance(to: .ms(1000))
        #expect(h.emitted(.heartbeatPushed) == [.ms(250), .ms(500), .ms(750), .ms(1000)])
        #expect(h.sent.first?.frame == .text(#"{"heartbeat":1700000000250}"#))
        h.mood = .muted
        h.advance(to: .ms(1600))
        #expect(h.emitted(.heartbeatPushed).count == 4)
        h.mood = .answering
        h.advance(to: .ms(1750))
        #expect(h.emitted(.heartbeatPushed).suffix(1) == [.ms(1750)])
    }

    @Test func pingsAreNumberedAndStopWhenClosing() {
        var h = ServerHarness(HeartbeatServerConfiguration(pingInterval: .milliseconds(30)))
        h.advance(to: .ms(90))
        #expect(h.emitted(.pingSent) == [.ms(30), .ms(60), .ms(90)])
        #expect(h.sent.map(\.frame) == [.ping(Array("server-1".utf8)), .ping(Array("server-2".utf8)), .ping(Array("server-3".utf8))])
        // The client starts the close: answered with its own code, and no ping after it.
        #expect(h.receive(.close(code: 1000, reason: ""), at: .ms(100)) == [.closeWithFrame(code: 1000, reason: "")])
        h.advance(to: .ms(300))
        #expect(h.emitted(.pingSent).count == 3)
        #expect(h.machine.disconnected() == [.emit(.clientDisconnected(conn: 7, detail: "client closed (close frame 1000)"))])
    }

    @Test func aFrozenServerNeitherSendsNorReaps() {
        var h = ServerHarness(HeartbeatServerConfiguration(dialect: .serverPush(interval: .milliseconds(100), tolerance: 1), reapAfter: .milliseconds(150)))
        h.mood = .frozen
        h.advance(to: .ms(1000))
        #expect(h.emitted(.heartbeatPushed).isEmpty && h.emitted(.reaped).isEmpty)
        h.mood = .answering
        h.receive(.text("back"), at: .ms(1010))
        h.advance(to: .ms(1159))
        #expect(h.emitted(.reaped).isEmpty)
        h.advance(to: .ms(1200))
        #expect(h.emitted(.reaped).count == 1)
    }

    @Test func protocolErrorsCloseWithTheirCodeOnce() {
        var h = ServerHarness(HeartbeatServerConfiguration())
        #expect(h.apply(h.machine.protocolError("unmasked frame")) == [.emit(.protocolError(conn: 7, detail: "unmasked frame")), .closeWithFrame(code: 1002, reason: "protocol error")])
        // Already closing: a second error emits but sends no second close frame.
        #expect(h.apply(h.machine.protocolError("too big", tooLarge: true)) == [.emit(.protocolError(conn: 7, detail: "too big"))])
        var big = ServerHarness(HeartbeatServerConfiguration())
        #expect(big.apply(big.machine.protocolError("too big", tooLarge: true)).last == .closeWithFrame(code: 1009, reason: "protocol error"))
        var reset = ServerHarness(HeartbeatServerConfiguration())
        #expect(reset.apply(reset.machine.failed("connection reset by peer (RST)")) == [.closeNow])
        #expect(reset.machine.disconnected() == [.emit(.clientDisconnected(conn: 7, detail: "connection reset by peer (RST)"))])
        #expect(ServerHarness(HeartbeatServerConfiguration()).machine.disconnected() == [.emit(.clientDisconnected(conn: 7, detail: "client closed the connection (FIN)"))])
    }
}
