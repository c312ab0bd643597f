// Benchmarks the fault proxy against direct loopback and socat, in one run:
// single-stream throughput, 64-byte round trips, memory per idle connection, and how soon a fault
// takes effect after the API call returns. Prints figures; judges nothing (see scripts/bench-proxy.sh).
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Sockets

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("flatline-bench: \(message)\n".utf8))
    Children.endAll()
    exit(2)
}

/// The processes this benchmark started and has not stopped yet: ended by PID however the
/// benchmark ends (a failure, Ctrl-C, SIGTERM, SIGHUP), never left running behind it.
enum Children {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var running: [Int32: Process] = [:]
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func add(_ process: Process) { lock.withLock { running[process.processIdentifier] = process } }
    static func remove(_ process: Process) { lock.withLock { _ = running.removeValue(forKey: process.processIdentifier) } }

    /// Only processes still running (not yet reaped), so a recycled PID is never signalled.
    static func endAll() {
        for (pid, process) in lock.withLock({ running }) where process.isRunning { kill(pid, SIGTERM) }
    }

    /// A closed stdout (`| head`) no longer kills the benchmark mid-run; signals end the children first.
    static func installHandlers() {
        signal(SIGPIPE, SIG_IGN)
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                endAll()
                exit(128 + number)
            }
            source.resume()
            sources.append(source)
        }
    }
}

func loopbackAddress(_ port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}

func connectTo(_ port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = loopbackAddress(port)
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if result != 0 {
        close(fd)
        return nil
    }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    return fd
}

func listenSocket() -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var address = loopbackAddress(0)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    listen(fd, 8192)
    var actual = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &actual) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: actual.sin_port)))
}

func writeAll(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Bool {
    var offset = 0
    while offset < count {
        let n = send(fd, pointer + offset, count - offset, Int32(MSG_NOSIGNAL))
        if n <= 0 {
            if n < 0 && errno == EINTR { continue }
            return false
        }
        offset += n
    }
    return true
}

func readExactly(_ fd: Int32, _ pointer: UnsafeMutableRawPointer, _ count: Int) -> Bool {
    var offset = 0
    while offset < count {
        let n = recv(fd, pointer + offset, count - offset, 0)
        if n <= 0 {
            if n < 0 && errno == EINTR { continue }
            return false
        }
        offset += n
    }
    return true
}

func spawnThread(_ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.stackSize = 1 << 20
    thread.start()
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A server on port 0 that, per connection, either echoes or discards (counting bytes).
final class TestServer: Sendable {
    enum Mode { case echo, sink, hold }
    let port: Int
    private let fd: Int32
    /// Bytes the sink connections received, and the held sockets.
    private let state = Mutex((totalReceived: 0, held: [Int32]()))
    private let doneSemaphore = DispatchSemaphore(value: 0)

    init(mode: Mode) {
        (fd, port) = listenSocket()
        let fd = self.fd
        spawnThread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                var one: Int32 = 1
                setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                switch mode {
                case .hold:
                    state.withLock { $0.held.append(client) }
                case .echo:
                    spawnThread {
                        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 8)
                        while true {
                            let n = recv(client, buffer, 65536, 0)
                            if n <= 0 || !writeAll(client, buffer, n) { break }
                        }
                        close(client)
                        buffer.deallocate()
                    }
                case .sink:
                    spawnThread { [self] in
                        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 8)
                        var total = 0
                        while true {
                            let n = recv(client, buffer, 1 << 20, 0)
                            if n <= 0 { break }
                            total += n
                        }
                        close(client)
                        buffer.deallocate()
                        state.withLock { $0.totalReceived += total }
                        doneSemaphore.signal()
                    }
                }
            }
        }
    }

    /// Waits for `connections` sink connections to end; returns the bytes they received together.
    func waitForSink(connections: Int = 1) -> Int {
        for _ in 0..<connections { doneSemaphore.wait() }
        return state.withLock { state in
            defer { state.totalReceived = 0 }
            return state.totalReceived
        }
    }

    var heldCount: Int { state.withLock { $0.held.count } }

    func closeHeld() {
        state.withLock { state in
            for fd in state.held { close(fd) }
            state.held.removeAll()
        }
    }
}

// MARK: - Children (flatline proxy, socat)

final class Child: Sendable {
    let process = Process()
    let output = Pipe()
    private let lines = Mutex<[String]>([])

    init(_ path: String, _ arguments: [String]) {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { fail("cannot start \(path): \(error)") }
        Children.add(process)
        let handle = output.fileHandleForReading
        spawnThread { [self] in
            var pending = Data()
            while true {
                let data = handle.availableData
                if data.isEmpty { return }
                pending.append(data)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    lines.withLock { $0.append(line) }
                }
            }
        }
    }

    /// The first event line of `type`, waiting up to 20 s.
    func event(_ type: String) -> [String: Any] {
        let deadline = now() + 20
        while now() < deadline {
            let copy = lines.withLock { $0 }
            for line in copy {
                if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], object["type"] as? String == type {
                    return object
                }
            }
            usleep(5000)
        }
        fail("no \(type) event from \(process.executableURL!.path)")
    }

    var firstLine: String? { lines.withLock { $0.first } }

    var residentKiB: Int {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return 0
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        Children.remove(process)
    }
}

func waitUntilAccepting(_ port: Int) {
    let deadline = now() + 10
    while now() < deadline {
        if let fd = connectTo(port) {
            close(fd)
            return
        }
        usleep(10_000)
    }
    fail("nothing accepts on port \(port)")
}

func freePort() -> Int {
    let (fd, port) = listenSocket()
    close(fd)
    return port
}

// MARK: - Measurements

/// `streams` connections at once, each sending its share of `bytes`; MB/s of them together.
func throughput(port: Int, sink: TestServer, bytes: Int, streams: Int = 1) -> Double {
    let chunk = 1 << 20
    let share = bytes / streams / chunk * chunk
    let fds = (0..<streams).map { _ -> Int32 in
        guard let fd = connectTo(port) else { fail("cannot connect to \(port)") }
        return fd
    }
    let group = DispatchGroup()
    let start = now()
    for fd in fds {
        group.enter()
        spawnThread {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 8)
            memset(buffer, 0x5A, chunk)
            var sent = 0
            while sent < share {
                guard writeAll(fd, buffer, chunk) else { fail("send failed") }
                sent += chunk
            }
            shutdown(fd, Int32(SHUT_WR))
            buffer.deallocate()
            group.leave()
        }
    }
    group.wait()
    let received = sink.waitForSink(connections: streams)
    let elapsed = now() - start
    for fd in fds { close(fd) }
    guard received == share * streams else { fail("sink received \(received) of \(share * streams) bytes") }
    return Double(received) / elapsed / 1e6
}

func roundTrips(port: Int, count: Int) -> (p50: Double, p99: Double) {
    guard let fd = connectTo(port) else { fail("cannot connect to \(port)") }
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
    memset(buffer, 0x42, 64)
    var samples: [Double] = []
    samples.reserveCapacity(count)
    for i in 0..<(count + 500) {
        let start = now()
        guard writeAll(fd, buffer, 64), readExactly(fd, buffer, 64) else { fail("round trip failed") }
        if i >= 500 { samples.append((now() - start) * 1e6) }  // after a warm-up
    }
    close(fd)
    buffer.deallocate()
    samples.sort()
    return (samples[samples.count / 2], samples[samples.count * 99 / 100])
}

/// Opens `count` idle connections through the proxy; returns resident KiB per connection.
func idleMemory(proxy: Child, proxyPort: Int, holder: TestServer, count: Int) -> (perConnection: Double, baseline: Int, loaded: Int) {
    let before = proxy.residentKiB
    var fds: [Int32] = []
    for _ in 0..<count {
        guard let fd = connectTo(proxyPort) else { fail("connection \(fds.count) failed (open-file limit?)") }
        fds.append(fd)
    }
    let deadline = now() + 30
    while holder.heldCount < count, now() < deadline { usleep(10_000) }
    guard holder.heldCount >= count else { fail("only \(holder.heldCount) of \(count) connections reached the upstream") }
    usleep(300_000)
    let after = proxy.residentKiB
    for fd in fds { close(fd) }
    holder.closeHeld()
    return (Double(after - before) / Double(count), before, after)
}

/// The last arrival seen by the sending thread, and whether it should stop.
final class Arrivals: Sendable {
    private let state = Mutex((last: 0.0, stopping: false))

    var stopped: Bool { state.withLock { $0.stopping } }
    func arrived(at time: Double) { state.withLock { $0.last = time } }

    /// Stops the sender; returns the last arrival.
    func stop() -> Double {
        state.withLock {
            $0.stopping = true
            return $0.last
        }
    }
}

/// How long after the API call returns bytes still arrive: a stream of small timestamped
/// messages flows through the proxy; a blackhole is added; the last arrival is compared to
/// the instant the call returned.
func faultEffect(flatline: String, api: String, proxyPort: Int, echo: TestServer, rounds: Int) -> Double {
    var worst = 0.0
    for round in 0..<rounds {
        guard let fd = connectTo(proxyPort) else { fail("cannot connect") }
        var flags = fcntl(fd, F_GETFL)
        flags |= O_NONBLOCK
        _ = fcntl(fd, F_SETFL, flags)
        let shared = Arrivals()
        let done = DispatchSemaphore(value: 0)
        spawnThread {
            let message = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 8)
            let incoming = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 8)
            memset(message, 1, 16)
            while true {
                if shared.stopped { break }
                _ = send(fd, message, 16, Int32(MSG_NOSIGNAL))
                let n = recv(fd, incoming, 65536, 0)
                if n > 0 { shared.arrived(at: now()) }
                usleep(50)
            }
            message.deallocate()
            incoming.deallocate()
            done.signal()
        }
        usleep(50_000)
        let name = "effect\(round)"
        let add = Process()
        add.executableURL = URL(fileURLWithPath: flatline)
        add.arguments = ["fault", "add", "--api", api, "--proxy", "bench", "--type", "blackhole", "--stream", "both", "--name", name]
        add.standardOutput = FileHandle.nullDevice
        try? add.run()
        add.waitUntilExit()
        let returned = now()
        usleep(100_000)
        let last = shared.stop()
        done.wait()
        close(fd)
        worst = max(worst, max(0, last - returned) * 1000)
        let remove = Process()
        remove.executableURL = URL(fileURLWithPath: flatline)
        remove.arguments = ["fault", "remove", "--api", api, "--proxy", "bench", name]
        try? remove.run()
        remove.waitUntilExit()
    }
    return worst
}

// MARK: - Main

Children.installHandlers()
let arguments = CommandLine.arguments
guard arguments.count >= 2 else { fail("usage: flatline-bench FLATLINE_BINARY [--relay PATH] [--bytes N] [--rtt N] [--rounds N] [--idle N]") }
let flatline = arguments[1]
func option(_ name: String, _ fallback: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1]) else { return fallback }
    return value
}
let bytes = option("--bytes", 512 << 20)
let rttCount = option("--rtt", 20_000)
let idleCount = option("--idle", 8000)
let rounds = max(1, option("--rounds", 5))

/// Round trips measured `rounds` times, interleaved across candidates by the caller; medians reported.
func medianRoundTrips(port: Int) -> (p50: Double, p99: Double) {
    var p50s: [Double] = [], p99s: [Double] = []
    for _ in 0..<rounds {
        let r = roundTrips(port: port, count: rttCount)
        p50s.append(r.p50)
        p99s.append(r.p99)
    }
    p50s.sort()
    p99s.sort()
    return (p50s[p50s.count / 2], p99s[p99s.count / 2])
}
let socatPath = ["/usr/bin/socat", "/bin/socat"].first { FileManager.default.isExecutableFile(atPath: $0) }
let relayPath: String? = arguments.firstIndex(of: "--relay").flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }

print("flatline-bench: \(rounds) interleaved rounds; per round and path: a \(bytes >> 20) MiB stream, the same over 4 streams, \(rttCount) round trips of 64 B; medians of the rounds; then \(idleCount) idle connections")

let sink = TestServer(mode: .sink)
let echo = TestServer(mode: .echo)

func startFlatline(upstream: Int) -> (Child, Int, String) {
    let child = Child(flatline, ["proxy", "--name", "bench", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(upstream)", "--api", "127.0.0.1:0", "--events", "jsonl"])
    let listening = child.event("listening")
    let api = child.event("api-listening")["address"] as! String
    let port = Int((listening["listen"] as! String).split(separator: ":").last!)!
    return (child, port, api)
}

func startSocat(upstream: Int) -> (Child, Int)? {
    guard let socatPath else { return nil }
    let port = freePort()
    let child = Child(socatPath, ["TCP-LISTEN:\(port),bind=127.0.0.1,fork,reuseaddr", "TCP:127.0.0.1:\(upstream),nodelay"])
    waitUntilAccepting(port)
    return (child, port)
}

func startRelay(upstream: Int) -> (Child, Int)? {
    guard let relayPath else { return nil }
    let child = Child(relayPath, [String(upstream)])
    let deadline = now() + 10
    while now() < deadline {
        if let line = child.firstLine, let port = Int(line) { return (child, port) }
        usleep(5000)
    }
    fail("the relay printed no port")
}

/// A path under test: its name and the ports that lead to the sink and to the echo server.
struct Path {
    var name: String
    var sinkPort: Int
    var echoPort: Int
    var children: [Child] = []
    var single: [Double] = [], four: [Double] = [], p50: [Double] = [], p99: [Double] = []
}

var paths = [Path(name: "direct loopback", sinkPort: sink.port, echoPort: echo.port)]
if let (a, sinkPort) = startSocat(upstream: sink.port), let (b, echoPort) = startSocat(upstream: echo.port) {
    _ = sink.waitForSink()  // waitUntilAccepting's probe reached the sink
    paths.append(Path(name: "socat", sinkPort: sinkPort, echoPort: echoPort, children: [a, b]))
} else {
    print("socat not installed: skipped (apt-get install socat)")
}
if let (a, sinkPort) = startRelay(upstream: sink.port), let (b, echoPort) = startRelay(upstream: echo.port) {
    paths.append(Path(name: "C relay", sinkPort: sinkPort, echoPort: echoPort, children: [a, b]))
} else {
    print("no C relay given (--relay PATH; scripts/bench-proxy.sh builds it): skipped")
}
let (flatSink, flatSinkPort, _) = startFlatline(upstream: sink.port)
let (flatEcho, flatEchoPort, flatAPI) = startFlatline(upstream: echo.port)
paths.append(Path(name: "flatline proxy", sinkPort: flatSinkPort, echoPort: flatEchoPort, children: [flatSink, flatEcho]))

// Interleaved: every round measures every path, starting each round with the next one, so a slow
// spell of the machine falls on all of them alike.
for round in 0..<rounds {
    for offset in paths.indices {
        let index = (round + offset) % paths.count
        paths[index].single.append(throughput(port: paths[index].sinkPort, sink: sink, bytes: bytes))
        paths[index].four.append(throughput(port: paths[index].sinkPort, sink: sink, bytes: bytes, streams: 4))
        let rtt = roundTrips(port: paths[index].echoPort, count: rttCount)
        paths[index].p50.append(rtt.p50)
        paths[index].p99.append(rtt.p99)
    }
}
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

print("")
print("path                1 stream     ×direct  4 streams    ×direct  rtt p50    ×direct  rtt p99    ×direct")
let base = paths[0]
for path in paths {
    print(
        path.name.padding(toLength: 18, withPad: " ", startingAt: 0),
        String(
            format: "%6.2f GB/s  %5.2f    %6.2f GB/s  %5.2f    %6.1f µs  %5.2f    %6.1f µs  %5.2f",
            median(path.single) / 1000, median(path.single) / median(base.single), median(path.four) / 1000, median(path.four) / median(base.four),
            median(path.p50), median(path.p50) / median(base.p50), median(path.p99), median(path.p99) / median(base.p99)
        )
    )
}
if let relay = paths.first(where: { $0.name == "C relay" }), let flat = paths.last {
    let checks: [(String, Double, Bool)] = [
        ("1 stream, flatline ÷ C relay (target ≥ 1.00)", median(flat.single) / median(relay.single), median(flat.single) >= median(relay.single)),
        ("4 streams, flatline ÷ C relay (target ≥ 1.00)", median(flat.four) / median(relay.four), median(flat.four) >= median(relay.four)),
        ("rtt p50, flatline ÷ C relay (target ≤ 1.00)", median(flat.p50) / median(relay.p50), median(flat.p50) <= median(relay.p50)),
        ("rtt p99, flatline ÷ C relay (target ≤ 1.00)", median(flat.p99) / median(relay.p99), median(flat.p99) <= median(relay.p99)),
    ]
    print("")
    for (label, ratio, met) in checks { print(String(format: "%@ %.2f  %@", label.padding(toLength: 48, withPad: " ", startingAt: 0), ratio, met ? "met" : "NOT MET")) }
}
for path in paths { for child in path.children where child !== flatEcho { child.stop() } }

// Fault effect.
let effect = faultEffect(flatline: flatline, api: flatAPI, proxyPort: flatEchoPort, echo: echo, rounds: 20)
flatEcho.stop()
print("")
print(String(format: "fault effect: last byte delivered %.3f ms after the API call returned (worst of 20)", effect))

// Idle memory.
let holder = TestServer(mode: .hold)
let (flatIdle, flatIdlePort, _) = startFlatline(upstream: holder.port)
let memory = idleMemory(proxy: flatIdle, proxyPort: flatIdlePort, holder: holder, count: idleCount)
flatIdle.stop()
print(String(format: "idle connections: %d held through flatline: RSS %d KiB → %d KiB, %.2f KiB per proxied connection (target ≤ 5): %@", idleCount, memory.baseline, memory.loaded, memory.perConnection, memory.perConnection <= 5 ? "met" : "NOT MET"))
