public import FaultModel

/// Where a scenario's faults are carried out.
public enum NetworkMode: String, Sendable, CaseIterable {
    /// In the proxy's userland stages (the default; works anywhere).
    case proxy
    /// As nftables rules on the packets of the client↔proxy and proxy↔server legs, inside a private
    /// network namespace; the proxy stays in place as the observer.
    case packet
}

/// How each fault kind is carried out in packet mode (the rules themselves are the runtime's).
public enum PacketForm: Equatable, Sendable {
    /// nftables rules while the fault is on.
    case rules
    /// The proxy's own RST or FIN: a real one from a real kernel, exactly what the network does.
    case proxy

    /// How `fault` is carried out in packet mode, or why it cannot be.
    public static func of(_ fault: Fault) -> Result<PacketForm, PacketModeUnsupported> {
        let type = fault.kind.typeName
        func no(_ why: String) -> Result<PacketForm, PacketModeUnsupported> {
            .failure(PacketModeUnsupported("fault '\(type)' has no packet-level form: \(why); run this scenario with network: proxy"))
        }
        switch fault.kind {
        case .natExpiry(let idle, _) where idle.nanoseconds % 1_000_000_000 != 0:
            return .failure(PacketModeUnsupported("packet mode forgets with the kernel's conntrack, which counts idle time in whole seconds: 'idle: \(idle.flatlineDescription)' needs network: proxy, or a whole number of seconds"))
        case .blackhole, .hold, .powerLoss, .refuse, .loss, .natExpiry:
            guard fault.target == .all else {
                return .failure(PacketModeUnsupported("packet mode applies a fault to every connection; 'target: \(fault.target)' needs network: proxy"))
            }
            guard fault.toxicity >= 1 else {
                return .failure(PacketModeUnsupported("packet mode applies a fault to every connection; 'toxicity: \(fault.toxicity)' needs network: proxy"))
            }
            return .success(.rules)
        case .reset, .close, .idleClose:
            return .success(.proxy)
        case .latency: return no("this kernel has no netem, so packets cannot be delayed")
        case .bandwidth: return no("this kernel has no netem or tc shaping here, so packets cannot be throttled")
        case .slicer: return no("cutting writes into pieces is a userland effect (the kernel coalesces segments anyway)")
        case .limitData, .slowClose: return no("it acts on the byte stream and its close, which a packet filter does not see")
        case .timeout: return no("Toxiproxy's timeout discards bytes from the stream, which TCP never does; use blackhole")
        case .dropFrames: return no("TCP would retransmit a dropped frame's packets; removing frames is a userland effect")
        }
    }
}

public struct PacketModeUnsupported: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

