import Foundation
import WireCapture

/// A pcap file (`flatline capture inspect`, the capture merged into a run): read packet by packet
/// and decoded into wire events (TCP, WebSocket frames), or refused as damaged — never a crash.
/// The bytes go through a file because libpcap reads files.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPcap(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let path = "/dev/shm/flatline-fuzz-pcap-\(getpid()).pcap"
    FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
    defer { unlink(path) }
    guard let reader = try? PcapReader(path: path) else { return 0 }
    let analyzer = WireAnalyzer(linkType: reader.linkType, roles: .init(proxyPort: 8080, serverPort: 9090))
    var packets = 0
    while packets < 10_000, let packet = try? reader.next() {
        _ = analyzer.feed(packet)
        packets += 1
    }
    return 0
}
