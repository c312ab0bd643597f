import FaultProxy
import FaultModel
import EventSchema
import HeartbeatCore
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Sends `count` pseudo-random bytes, then FIN; returns the SHA-256 of what was sent.
private func sendStream(_ socket: RawSocket, seed: UInt64, count: Int) throws -> String {
    var generator = RandomByteStream(seed: seed)
    var hash = SHA256()
    let chunk = 256 * 1024
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 8)
    defer { buffer.deallocate() }
    var remaining = count
    while remaining > 0 {
        let size = min(chunk, remaining)
        let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size])
        generator.fill(slice)
        hash.update(UnsafeRawBufferPointer(slice))
        var offset = 0
        while offset < size {
            let n = Glibc.send(socket.fd, slice.baseAddress! + offset, size - offset, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                throw SocketError(code: errno)
            }
            offset += n
        }
        remaining -= size
    }
    socket.shutdownWrite()
    return hash.finalize()
}

/// Reads until EOF; returns the byte count and SHA-256 of what arrived.
private func receiveStream(_ socket: RawSocket) throws -> (Int, String) {
    var timeout = timeval(tv_sec: 30, tv_usec: 0)
    setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var hash = SHA256()
    var total = 0
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 8)
    defer { buffer.deallocate() }
    while true {
        let n = recv(socket.fd, buffer.baseAddress, buffer.count, 0)
        if n == 0 { break }
        if n < 0 {
            if errno == EINTR { continue }
            throw SocketError(code: errno)
        }
        hash.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        total += n
    }
    return (total, hash.finalize())
}

/// 64 MiB each way, concurrently, through the proxy; `during` runs while the data flows.
private func transfer(_ fixture: ProxyFixture, bytes: Int = 64 << 20, during: @Sendable () async throws -> Void = {}) async throws {
    let (client, server) = try await fixture.connect()
    async let upSent = onThread { try sendStream(client, seed: 1, count: bytes) }
    async let upReceived = onThread { try receiveStream(server) }
    async let downSent = onThread { try sendStream(server, seed: 2, count: bytes) }
    async let downReceived = onThread { try receiveStream(client) }
    try await during()
    let (upCount, upHash) = try await upReceived
    let (downCount, downHash) = try await downReceived
    #expect(upCount == bytes)
    #expect(downCount == bytes)
    #expect(try await upSent == upHash, "client → server bytes differ")
    #expect(try await downSent == downHash, "server → client bytes differ")
}

@Suite("Proxy integrity: 64 MiB each way, SHA-256 at both ends", .serialized)
struct IntegrityTests {
    @Test func noFault() async throws {
        let fixture = try await ProxyFixture.make()
        try await transfer(fixture)
        await fixture.proxy.stop()
    }

    @Test func withLatency() async throws {
        let fixture = try await ProxyFixture.make()
        try await fixture.proxy.add(Fault(.latency(latency: .milliseconds(2), jitter: .milliseconds(1)), direction: .both))
        try await transfer(fixture)
        await fixture.proxy.stop()
    }

    @Test func withSlicer() async throws {
        let fixture = try await ProxyFixture.make()
        try await fixture.proxy.add(Fault(.slicer(averageSize: 8192, sizeVariation: 4096, delay: .zero), direction: .both))
        try await transfer(fixture)
        await fixture.proxy.stop()
    }

    @Test func acrossHoldAndRelease() async throws {
        let fixture = try await ProxyFixture.make()
        let proxy = fixture.proxy
        try await transfer(fixture) {
            try await proxy.add(Fault(.hold(capBytes: 1 << 20), name: "hold", direction: .both))
            // Both directions fill the hold to its cap (the senders are then paused), then it is released.
            try await fixture.events.wait(for: "hold-full upstream", timeout: .seconds(30)) { $0.type == .holdFull && $0.fields["flow"] == "upstream" }
            try await fixture.events.wait(for: "hold-full downstream", timeout: .seconds(30)) { $0.type == .holdFull && $0.fields["flow"] == "downstream" }
            try await proxy.remove("hold")
        }
        await fixture.proxy.stop()
    }

    /// A pulled cable in the middle of a transfer loses nothing: 64 MiB each way arrive whole once
    /// it is healed (the held bytes first, in order).
    @Test func acrossABlackholeHealedMidTransfer() async throws {
        let fixture = try await ProxyFixture.make()
        let proxy = fixture.proxy
        try await transfer(fixture) {
            try await proxy.add(Fault(.blackhole, name: "cable", direction: .both))
            try await fixture.events.wait(for: "hold-full upstream", timeout: .seconds(30)) { $0.type == .holdFull && $0.fields["flow"] == "upstream" }
            try await fixture.events.wait(for: "hold-full downstream", timeout: .seconds(30)) { $0.type == .holdFull && $0.fields["flow"] == "downstream" }
            try await proxy.remove("cable")
        }
        await fixture.proxy.stop()
    }
}
