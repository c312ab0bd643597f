import CPcap
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// A libpcap problem, with what to do about it.
public struct PcapError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case permission, file, capture, missing }
    public var kind: Kind
    public var message: String
    public var description: String { message }

    static func permission(_ detail: String) -> PcapError {
        PcapError(
            kind: .permission,
            message: "packet capture needs root or CAP_NET_RAW (\(detail)); run as root, or: sudo setcap cap_net_raw,cap_net_admin+ep $(which flatline)"
        )
    }
}

/// libpcap's functions, loaded when capture is first used: the binary needs no libpcap until then.
enum Libpcap {
    static func load() throws(PcapError) -> cpcap_functions {
        var reason = [CChar](repeating: 0, count: 512)
        guard let table = cpcap_load(&reason, reason.count) else {
            throw PcapError(
                kind: .missing,
                message: "\(errorText(reason)); capture and pcap files need it: apt-get install libpcap0.8 (Debian, Ubuntu) or dnf install libpcap"
            )
        }
        return table.pointee
    }

    static func lastError(_ pcap: cpcap_functions, _ handle: OpaquePointer) -> String {
        pcap.geterr(handle).map { String(cString: $0) } ?? "no detail"
    }
}

/// A captured packet as stored in a pcap file.
public struct CapturedPacket: Sendable {
    public var timestampMicros: Int64
    public var bytes: [UInt8]
    public var originalLength: Int
    public init(timestampMicros: Int64, bytes: [UInt8], originalLength: Int) {
        self.timestampMicros = timestampMicros
        self.bytes = bytes
        self.originalLength = originalLength
    }
}

/// Reads a pcap file. The `pcap_t` is closed exactly once, when the reader goes away.
public final class PcapReader {
    private let pcap: cpcap_functions
    private let handle: OpaquePointer
    public let linkType: Int32
    public let path: String

    public init(path: String) throws(PcapError) {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard FileManager.default.fileExists(atPath: path) else {
            throw PcapError(kind: .file, message: "\(path): no such file")
        }
        let pcap = try Libpcap.load()
        self.pcap = pcap
        guard let handle = pcap.open_offline(path, &errorBuffer) else {
            throw PcapError(kind: .file, message: "\(path): not a readable pcap file (\(errorText(errorBuffer)))")
        }
        self.handle = handle
        self.linkType = pcap.datalink(handle)
        self.path = path
    }

    deinit { pcap.close(handle) }

    /// The next packet, nil at the end. A file cut short ends with an error saying so.
    public func next() throws(PcapError) -> CapturedPacket? {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let status = pcap.next_ex(handle, &header, &data)
        switch status {
        case 1:
            guard let header, let data else { return nil }
            let h = header.pointee
            return CapturedPacket(
                timestampMicros: Int64(h.ts.tv_sec) * 1_000_000 + Int64(h.ts.tv_usec),
                bytes: Array(UnsafeBufferPointer(start: data, count: Int(h.caplen))),
                originalLength: Int(h.len)
            )
        case PCAP_ERROR_BREAK:
            return nil
        default:
            throw PcapError(kind: .file, message: "\(path): damaged or truncated capture (\(Libpcap.lastError(pcap, handle)))")
        }
    }

    public func readAll() throws(PcapError) -> [CapturedPacket] {
        var packets: [CapturedPacket] = []
        while let packet = try next() { packets.append(packet) }
        return packets
    }
}

/// Writes a pcap file without a live interface (`pcap_open_dead` + `pcap_dump`).
public final class PcapWriter {
    private let pcap: cpcap_functions
    private let dead: OpaquePointer
    private let dumper: OpaquePointer
    private var closed = false

    public init(path: String, linkType: Int32 = PacketDecoder.ethernet, snapLength: Int32 = 65535) throws(PcapError) {
        let pcap = try Libpcap.load()
        self.pcap = pcap
        guard let dead = pcap.open_dead(linkType, snapLength) else { throw PcapError(kind: .file, message: "pcap_open_dead failed") }
        guard let dumper = pcap.dump_open(dead, path) else {
            let message = Libpcap.lastError(pcap, dead)
            pcap.close(dead)
            throw PcapError(kind: .file, message: "\(path): cannot write (\(message))")
        }
        self.dead = dead
        self.dumper = dumper
    }

    public func write(_ bytes: [UInt8], timestampMicros: Int64, originalLength: Int? = nil) {
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(timestampMicros / 1_000_000)
        header.ts.tv_usec = Int(timestampMicros % 1_000_000)
        header.caplen = UInt32(bytes.count)
        header.len = UInt32(originalLength ?? bytes.count)
        bytes.withUnsafeBufferPointer { buffer in
            withUnsafePointer(to: &header) { pcap.dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), $0, buffer.baseAddress) }
        }
    }

    public func close() {
        guard !closed else { return }
        closed = true
        pcap.dump_close(dumper)
        pcap.close(dead)
    }

    deinit { close() }
}

/// A live capture on an interface (loopback by default), filtered, written to a pcap file and
/// delivered packet by packet. `pcap_next_ex` on `lo` can block forever when nothing matches, so
/// the capture is non-blocking and polled: stopping it is always prompt.
// @unchecked Sendable: the pcap handle and dumper are used by the capture thread alone until `stop()` has joined it (`done`); `running` and `stats` are locked.
public final class LiveCapture: @unchecked Sendable {
    private let pcap: cpcap_functions
    private let handle: OpaquePointer
    private var dumper: OpaquePointer?
    private let fd: Int32
    private let running = NIOLockedValueBox(true)
    private let done = DispatchSemaphore(value: 0)
    private let onPacket: @Sendable (CapturedPacket) -> Void
    public let linkType: Int32
    private let stats = NIOLockedValueBox(0)

    public init(
        interface: String = "lo",
        filter: String,
        snapLength: Int32 = 2048,
        path: String?,
        onPacket: @escaping @Sendable (CapturedPacket) -> Void
    ) throws(PcapError) {
        let pcap = try Libpcap.load()
        self.pcap = pcap
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap.create(interface, &errorBuffer) else {
            throw PcapError(kind: .capture, message: "cannot open \(interface): \(errorText(errorBuffer))")
        }
        _ = pcap.set_snaplen(handle, snapLength)
        _ = pcap.set_immediate_mode(handle, 1)
        _ = pcap.set_buffer_size(handle, 4 << 20)
        _ = pcap.set_timeout(handle, 10)
        let status = pcap.activate(handle)
        if status < 0 {
            let detail = Libpcap.lastError(pcap, handle)
            pcap.close(handle)
            if status == PCAP_ERROR_PERM_DENIED || detail.lowercased().contains("permission") || detail.contains("not permitted") {
                throw PcapError.permission(detail)
            }
            throw PcapError(kind: .capture, message: "cannot capture on \(interface): \(detail)")
        }
        var program = bpf_program()
        guard pcap.compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            let detail = Libpcap.lastError(pcap, handle)
            pcap.close(handle)
            throw PcapError(kind: .capture, message: "bad capture filter '\(filter)': \(detail)")
        }
        defer { pcap.freecode(&program) }
        guard pcap.setfilter(handle, &program) == 0 else {
            let detail = Libpcap.lastError(pcap, handle)
            pcap.close(handle)
            throw PcapError(kind: .capture, message: "cannot set filter: \(detail)")
        }
        guard pcap.setnonblock(handle, 1, &errorBuffer) == 0 else {
            pcap.close(handle)
            throw PcapError(kind: .capture, message: "cannot make the capture non-blocking: \(errorText(errorBuffer))")
        }
        let fd = pcap.get_selectable_fd(handle)
        guard fd >= 0 else {
            pcap.close(handle)
            throw PcapError(kind: .capture, message: "no selectable descriptor for \(interface)")
        }
        if let path {
            guard let dumper = pcap.dump_open(handle, path) else {
                let detail = Libpcap.lastError(pcap, handle)
                pcap.close(handle)
                throw PcapError(kind: .file, message: "\(path): cannot write (\(detail))")
            }
            self.dumper = dumper
        }
        self.handle = handle
        self.fd = fd
        self.linkType = pcap.datalink(handle)
        self.onPacket = onPacket
        let thread = Thread { [self] in self.loop() }
        thread.name = "flatline-capture"
        thread.start()
    }

    private func loop() {
        let context = Unmanaged.passUnretained(self).toOpaque()
        while running.withLockedValue({ $0 }) {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&poller, 1, 20)
            dispatchAvailable(context)
        }
        dispatchAvailable(context)  // whatever arrived before the stop
        done.signal()
    }

    private func dispatchAvailable(_ context: UnsafeMutableRawPointer) {
        while pcap.dispatch(handle, -1, { user, header, data in
            guard let user, let header, let data else { return }
            let capture = Unmanaged<LiveCapture>.fromOpaque(user).takeUnretainedValue()
            capture.handle(header, data)
        }, context.assumingMemoryBound(to: UInt8.self)) > 0 {}
    }

    private func handle(_ header: UnsafePointer<pcap_pkthdr>, _ data: UnsafePointer<UInt8>) {
        if let dumper {
            pcap.dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), header, data)
        }
        let h = header.pointee
        stats.withLockedValue { $0 += 1 }
        onPacket(CapturedPacket(
            timestampMicros: Int64(h.ts.tv_sec) * 1_000_000 + Int64(h.ts.tv_usec),
            bytes: Array(UnsafeBufferPointer(start: data, count: Int(h.caplen))),
            originalLength: Int(h.len)
        ))
    }

    /// Packets seen so far.
    public var packetCount: Int { stats.withLockedValue { $0 } }

    /// Stops promptly, delivers what was already captured, closes the file. Safe to call twice.
    public func stop() {
        let wasRunning = running.withLockedValue { state -> Bool in
            defer { state = false }
            return state
        }
        guard wasRunning else { return }
        done.wait()
        if let dumper {
            _ = pcap.dump_flush(dumper)
            pcap.dump_close(dumper)
            self.dumper = nil
        }
        pcap.close(handle)
    }

    /// Whether this process may capture at all (root or CAP_NET_RAW), and why not.
    public static func probePermission(interface: String = "lo") -> PcapError? {
        do {
            let capture = try LiveCapture(interface: interface, filter: "tcp port 9", path: nil) { _ in }
            capture.stop()
            return nil
        } catch {
            return error
        }
    }
}

func errorText(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
