import EventSchema

/// TCP flags of a captured segment.
public struct TCPFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)

    public var names: [String] {
        [(TCPFlags.syn, "SYN"), (.ack, "ACK"), (.fin, "FIN"), (.rst, "RST"), (.psh, "PSH")].filter { contains($0.0) }.map(\.1)
    }
}

/// An IP address and port.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var address: String
    public var port: Int
    public init(address: String, port: Int) {
        self.address = address
        self.port = port
    }
    public var description: String { address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)" }
}

/// A decoded TCP segment.
public struct TCPSegment: Sendable, Hashable {
    /// Capture time, microseconds since the Unix epoch.
    public var timestampMicros: Int64
    public var source: Endpoint
    public var destination: Endpoint
    public var flags: TCPFlags
    public var sequence: UInt32
    public var acknowledgment: UInt32
    /// Payload length on the wire (from the IP header), even when the capture was cut short.
    public var payloadLength: Int
    /// The payload bytes that were captured (fewer than `payloadLength` when truncated by the snap length).
    public var payload: [UInt8]

    public var isTruncated: Bool { payload.count < payloadLength }
}

/// Why a captured packet was not decoded.
public enum SkipReason: String, Error, Sendable, Hashable, CaseIterable {
    case unknownLinkType = "unknown link type"
    case notIP = "not IPv4 or IPv6"
    case notTCP = "not TCP"
    case truncatedHeader = "truncated header"
}

/// Decodes link, IP and TCP headers.
public enum PacketDecoder {
    /// DLT values this decoder understands.
    public static let ethernet: Int32 = 1, null: Int32 = 0, raw: Int32 = 12, raw2: Int32 = 101, linuxSLL: Int32 = 113, loop: Int32 = 108, linuxSLL2: Int32 = 276

    public static func isSupported(linkType: Int32) -> Bool {
        [ethernet, null, raw, raw2, linuxSLL, loop, linuxSLL2].contains(linkType)
    }

    public static func decode(linkType: Int32, bytes: [UInt8], timestampMicros: Int64) -> Result<TCPSegment, SkipReason> {
        var offset: Int
        switch linkType {
        case ethernet:
            guard bytes.count >= 14 else { return .failure(.truncatedHeader) }
            var etherType = Int(bytes[12]) << 8 | Int(bytes[13])
            offset = 14
            if etherType == 0x8100, bytes.count >= 18 {  // VLAN tag
                etherType = Int(bytes[16]) << 8 | Int(bytes[17])
                offset = 18
            }
            guard etherType == 0x0800 || etherType == 0x86DD else { return .failure(.notIP) }
        case null, loop:
            offset = 4
        case raw, raw2:
            offset = 0
        case linuxSLL:
            offset = 16
        case linuxSLL2:
            offset = 20
        default:
            return .failure(.unknownLinkType)
        }
        guard bytes.count > offset else { return .failure(.truncatedHeader) }
        let version = bytes[offset] >> 4
        let source: String, destination: String
        var tcpOffset: Int
        let ipPayloadLength: Int
        if version == 4 {
            guard bytes.count >= offset + 20 else { return .failure(.truncatedHeader) }
            let headerLength = Int(bytes[offset] & 0x0F) * 4
            let totalLength = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            guard bytes[offset + 9] == 6 else { return .failure(.notTCP) }
            source = bytes[(offset + 12)..<(offset + 16)].map(String.init).joined(separator: ".")
            destination = bytes[(offset + 16)..<(offset + 20)].map(String.init).joined(separator: ".")
            tcpOffset = offset + headerLength
            ipPayloadLength = totalLength - headerLength
        } else if version == 6 {
            guard bytes.count >= offset + 40 else { return .failure(.truncatedHeader) }
            guard bytes[offset + 6] == 6 else { return .failure(.notTCP) }  // no extension headers on loopback TCP
            ipPayloadLength = Int(bytes[offset + 4]) << 8 | Int(bytes[offset + 5])
            func v6(_ start: Int) -> String {
                stride(from: start, to: start + 16, by: 2).map { String(Int(bytes[$0]) << 8 | Int(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
            }
            source = v6(offset + 8)
            destination = v6(offset + 24)
            tcpOffset = offset + 40
        } else {
            return .failure(.notIP)
        }
        guard bytes.count >= tcpOffset + 20 else { return .failure(.truncatedHeader) }
        func u16(_ i: Int) -> Int { Int(bytes[i]) << 8 | Int(bytes[i + 1]) }
        func u32(_ i: Int) -> UInt32 { UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3]) }
        let dataOffset = Int(bytes[tcpOffset + 12] >> 4) * 4
        let payloadLength = max(0, ipPayloadLength - dataOffset)
        let payloadStart = min(bytes.count, tcpOffset + dataOffset)
        let payloadEnd = min(bytes.count, payloadStart + payloadLength)
        return .success(
            TCPSegment(
                timestampMicros: timestampMicros,
                source: Endpoint(address: source, port: u16(tcpOffset)),
                destination: Endpoint(address: destination, port: u16(tcpOffset + 2)),
                flags: TCPFlags(rawValue: bytes[tcpOffset + 13] & 0x1F),
                sequence: u32(tcpOffset + 4),
                acknowledgment: u32(tcpOffset + 8),
                payloadLength: payloadLength,
                payload: Array(bytes[payloadStart..<payloadEnd])
            )
        )
    }

    /// Builds an Ethernet/IPv4/TCP packet (for tests and synthetic captures).
    public static func ethernetIPv4TCP(source: Endpoint, destination: Endpoint, flags: TCPFlags, sequence: UInt32, acknowledgment: UInt32 = 0, payload: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00]
        let total = 20 + 20 + payload.count
        bytes += [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0x40, 0, 64, 6, 0, 0]
        bytes += source.address.split(separator: ".").map { UInt8($0)! }
        bytes += destination.address.split(separator: ".").map { UInt8($0)! }
        bytes += [UInt8(source.port >> 8), UInt8(source.port & 0xFF), UInt8(destination.port >> 8), UInt8(destination.port & 0xFF)]
        for value in [sequence, acknowledgment] { bytes += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)] }
        bytes += [0x50, flags.rawValue, 0xFF, 0xFF, 0, 0, 0, 0]
        return bytes + payload
    }
}
