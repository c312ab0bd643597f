import HeartbeatClient
import EventSchema
import HeartbeatCore
import NIOCore
import NIOPosix
import TestSupport
import Testing

@Suite("Client against broken servers")
struct BadInputTests {
    let heartbeat = HeartbeatPolicy(interval: .ms(200), timeout: .ms(100))

    @Test func refusedConnectionIsReportedAndRetriedUntilGaveUp() async throws {
        let probe = try await RawTCPServer.silent()
        let port = probe.port
        await probe.close()
        let sut = try ClientUnderTest(port: port, heartbeat: heartbeat, reconnect: ReconnectPolicy(backoff: .fixed(.ms(20)), maxAttempts: 2))
        let failed = try await sut.wait(.disconnected)
        #expect(failed.disconnectReason == .connectFailed)
        #expect(failed.detail?.contains("connection refused") == true, "\(failed.summary)")
        try await sut.wait(.gaveUp)
        try await sut.client.finished.get()
        #expect(sut.events.events.filter { $0.type == .connecting }.count == 3)
    }

    @Test func plainHTTPServerIsNamedInTheError() async throws {
        let server = try await RawTCPServer.plainHTTP(response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
        let sut = try ClientUnderTest(port: server.port, heartbeat: heartbeat)
        let failed = try await sut.wait(.disconnected)
        #expect(failed.disconnectReason == .upgradeFailed)
        #expect(failed.detail?.contains("HTTP 200 OK instead of 101 Switching Protocols") == true, "\(failed.summary)")
        try await sut.wait(.reconnectScheduled)
        try await sut.close()
        await server.close()
    }

    @Test func serverThatNeverAnswersTheUpgradeHitsTheConnectTimeout() async throws {
        let server = try await RawTCPServer.silent()
        let sut = try ClientUnderTest(port: server.port, heartbeat: heartbeat, reconnect: ReconnectPolicy(backoff: .fixed(.ms(50)), connectTimeout: .ms(150)))
        let connecting = try await sut.wait(.connecting)
        let failed = try await sut.wait(.disconnected)
        #expect(failed.disconnectReason == .connectTimeout)
        #expect(failed.at - connecting.at >= .ms(150))
        try await sut.wait(.connecting, from: 3)
        try await sut.close()
        await server.close()
    }

    @Test func garbageFramesAreAProtocolError() async throws {
        let server = try await ScriptedWebSocketServer(onFrame: { _, connection in connection.sendRaw([0x8F, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]) })
        // The garbage answers the first heartbeat; a long reply deadline keeps it ahead of the timeout under load.
        let sut = try ClientUnderTest(port: server.port, heartbeat: HeartbeatPolicy(interval: .ms(300), timeout: .ms(250)))
        let failed = try await sut.wait(.disconnected)
        #expect(failed.disconnectReason == .protocolError, "\(failed.summary)")
        try await sut.wait(.reconnectScheduled)
        try await sut.close()
        await server.close()
    }

    @Test func oversizedFramesAreAProtocolError() async throws {
        let server = try await ScriptedWebSocketServer(onFrame: { _, connection in connection.send(.text(String(repeating: "x", count: 10_000))) })
        let sut = try ClientUnderTest(port: server.port, heartbeat: HeartbeatPolicy(interval: .ms(300), timeout: .ms(250)), maxFrameSize: 1024)
        let failed = try await sut.wait(.disconnected)
        #expect(failed.disconnectReason == .protocolError, "\(sut.events.events.map(\.summary))")
        #expect(failed.detail?.contains("larger than the maximum frame size") == true, "\(failed.summary)")
        try await sut.close()
        await server.close()
    }

    @Test func malformedJSONHeartbeatReplyIsReported() async throws {
        let server = try await ScriptedWebSocketServer(onFrame: { frame, connection in
            if case .text = frame { connection.send(.text(#"{"ModeCode": heart_beat"#)) }
        })
        let sut = try ClientUnderTest(port: server.port, heartbeat: heartbeat)
        let error = try await sut.wait(.protocolError)
        #expect(error.detail?.contains("malformed JSON") == true, "\(error.summary)")
        // Not a reply: the link is declared dead at the deadline, and the client reconnects.
        let dead = try await sut.wait(.disconnected)
        #expect(dead.disconnectReason == .heartbeatTimeout)
        try await sut.close()
        await server.close()
    }

    @Test func invalidURLsAreRejectedWithTheReason() {
        for (text, fragment) in [
            ("http://127.0.0.1:80/", "the scheme must be ws://"), ("wss://x:1/", "TLS"), ("ws://:80/", "missing host"),
            ("ws://host/", "missing host or port"), ("ws://host:99999/", "outside 1–65535"), ("ws://host:abc/", "not a number"),
        ] {
            #expect(throws: ConfigurationError.self) { try WebSocketURL(parsing: text) }
            do { _ = try WebSocketURL(parsing: text) } catch { #expect(error.message.contains(fragment), "\(text): \(error.message)") }
        }
        #expect((try? WebSocketURL(parsing: "ws://[::1]:8080/ws")) == WebSocketURL(host: "::1", port: 8080, path: "/ws"))
    }

    @Test func invalidConfigurationIsRejectedBeforeConnecting() {
        let bad = HeartbeatClientConfiguration(url: WebSocketURL(host: "127.0.0.1", port: 1), heartbeat: HeartbeatPolicy(interval: .ms(100), timeout: .ms(100)))
        #expect(throws: ConfigurationError.self) { try HeartbeatClient(configuration: bad) }
    }
}
