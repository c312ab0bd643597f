public import EventSchema
import WireCapture

/// Puts a capture's wire events beside a recording's events (for `flatline replay --pcap`).
public enum CaptureMerge {
    public static func merge(events: [EventRecord], pcap: String, configuration: JSONObject) throws -> [EventRecord] {
        let reader = try PcapReader(path: pcap)
        var roles: WireAnalyzer.Roles?
        if let proxy = configuration["proxy_port"]?.intValue, let server = configuration["server_port"]?.intValue {
            let all = (configuration["proxy_ports"]?.arrayValue ?? []).compactMap(\.intValue).map(Int.init)
            roles = WireAnalyzer.Roles(proxyPorts: Set(all.isEmpty ? [Int(proxy)] : all), serverPort: Int(server))
        }
        let analyzer = WireAnalyzer(linkType: reader.linkType, roles: roles)
        var wire: [WireEvent] = []
        while let packet = try reader.next() { wire += analyzer.feed(packet) }
        if let proxy = configuration["proxy_port"]?.intValue, let server = configuration["server_port"]?.intValue {
            // A capture of another run names other ports: its events would be judged as this run's.
            let ports = Set(wire.compactMap { $0.fields["port"]?.intValue })
            guard ports.contains(proxy) || ports.contains(server) else {
                throw ConfigurationError("\(pcap) holds no connection on this run's ports (proxy \(proxy), server \(server)): it is the capture of another run")
            }
        }
        // Recordings made with a capture already hold the wire events.
        if events.contains(where: { $0.source == .wire }) { return events }
        // Align the capture's first SYN with the recording's first proxy connection.
        let anchor = events.first { $0.type == .proxy(.connOpened) }?.t ?? .zero
        guard let first = wire.first(where: { $0.kind == .syn })?.timestampMicros ?? wire.first?.timestampMicros else { return events }
        let mapped = wire.map { EventRecord(t: anchor + .microseconds($0.timestampMicros - first), $0.kind, fields: $0.fields) }
        return (events + mapped).sorted { $0.t < $1.t }
    }
}
