import FaultProxy
import FaultModel
import Foundation
import HeartbeatClient
import EventSchema
import HeartbeatCore
import HeartbeatServer
import Synchronization
import NIOCore
import NIOPosix
import WebSocketSupport
import NetworkSupport
import WireCapture

/// Captures the scenario's traffic (both legs) into a pcap file and feeds `wire` events into the log.
final class WireRecorder: Sendable {
    private let capture: LiveCapture

    /// `onWire`: each wire event as recorded (packet mode feeds the client observers from it).
    init(log: EventLog, proxyPorts: [Int], serverPort: Int, path: String?, onWire: (@Sendable (WireEvent, Duration) -> Void)? = nil) throws {
        // Packet times are wall-clock; the log counts from the run's monotonic start.
        let originWallMicros = WireRecorder.wallMicros() - (log.now.nanoseconds / 1000)
        // Not thread-safe: fed on the capture thread, created here, always under its lock.
        let analyzer = Mutex<WireAnalyzer?>(nil)
        let roles = WireAnalyzer.Roles(proxyPorts: Set(proxyPorts), serverPort: serverPort)
        let filter = (proxyPorts + [serverPort]).map { "tcp port \($0)" }.joined(separator: " or ")
        capture = try LiveCapture(filter: filter, path: path) { packet in
            let events = analyzer.withLock { $0?.feed(packet) } ?? []
            for event in events {
                let recorded = log.record(EventRecord(t: .microseconds(event.timestampMicros - originWallMicros), event.kind, fields: event.fields))
                onWire?(event, recorded.t)
            }
        }
        let linkType = capture.linkType
        analyzer.withLock { $0 = WireAnalyzer(linkType: linkType, roles: roles) }
    }

    /// libpcap's activate and the capture's stop block: they run off Swift's cooperative pool
    /// (two threads here), so that other scenarios' timelines are never held up by them.
    static func start(
        log: EventLog, proxyPorts: [Int], serverPort: Int, path: String?, onWire: (@Sendable (WireEvent, Duration) -> Void)? = nil
    ) async throws -> WireRecorder {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try WireRecorder(log: log, proxyPorts: proxyPorts, serverPort: serverPort, path: path, onWire: onWire) })
            }
        }
    }

    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.capture.stop()
                continuation.resume()
            }
        }
    }

    static func wallMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}
