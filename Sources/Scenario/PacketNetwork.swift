import FaultProxy
import FaultModel
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// The two legs of a scenario, by port: the proxy's listener(s) on the client side, the server's
/// port on the other. Every packet of the scenario is on loopback and has one of them as its
/// source or destination port.
struct PacketLegs: Sendable, Hashable {
    var proxyPorts: [Int]
    var serverPort: Int

    private var proxySet: String { proxyPorts.count == 1 ? "\(proxyPorts[0])" : "{ \(proxyPorts.map(String.init).joined(separator: ", ")) }" }

    /// Matches for the packets of one direction on both legs (`upstream`: toward the server).
    func matches(_ direction: FaultDirection) -> [String] {
        let upstream = ["tcp dport \(proxySet)", "tcp dport \(serverPort)"]
        let downstream = ["tcp sport \(serverPort)", "tcp sport \(proxySet)"]
        switch direction {
        case .upstream: return upstream
        case .downstream: return downstream
        case .both: return upstream + downstream
        }
    }
}

/// How each fault kind is carried out at packet level, and the rules it becomes.
enum PacketRules {
    /// The rules while `fault` is on (for `.rules` faults).
    static func rules(for fault: Fault, legs: PacketLegs) -> [String] {
        switch fault.kind {
        case .blackhole, .hold:
            return legs.matches(fault.direction).map { "\($0) drop" }
        case .powerLoss:
            // The host is gone: nothing in or out, SYNs go unanswered.
            return legs.matches(.both).map { "\($0) drop" }
        case .loss(let percent):
            // Each packet in the direction, on either leg, is dropped with that probability.
            return legs.matches(fault.direction).map { "\($0) numgen random mod 100 < \(percent) drop" }
        case .refuse:
            // The listener answers SYNs with RST (ECONNREFUSED); established connections live on.
            return legs.proxyPorts.map { "tcp dport \($0) tcp flags & (syn | ack) == syn reject with tcp reset" }
        case .natExpiry(_, let then):
            // Conntrack forgets a flow idle for the timeout (ConntrackSettings); with loose pickup
            // off, its next packets match no entry: invalid, and dropped or answered with RST.
            return legs.matches(.both).map { "\($0) ct state invalid \(then == .reset ? "reject with tcp reset" : "drop")" }
        default:
            return []
        }
    }

    /// What stays after a power loss is healed at `epoch` (connections opened from now on are
    /// marked with it): the "rebooted" host answers the old connections' packets with RST and never
    /// sends on them again.
    static func afterPowerLoss(legs: PacketLegs, epoch: Int) -> [String] {
        ["tcp dport \(legs.serverPort) ct mark < \(epoch) reject with tcp reset", "tcp sport \(legs.serverPort) ct mark < \(epoch) drop"]
    }
}

/// The nftables rules of one scenario run: one table, a chain per fault. Every connection to the
/// server is marked with the current epoch when it opens (conntrack), so a healed power loss can
/// tell the old connections from the new ones. The table dies with the namespace in any case.
final class PacketFilter: Sendable {
    let table: String
    let legs: PacketLegs
    private struct State {
        var chains: [String: String] = [:]
        var next = 1
        var epoch = 1
    }
    private let state = NIOLockedValueBox(State())

    private init(table: String, legs: PacketLegs) {
        self.table = table
        self.legs = legs
    }

    static func create(legs: PacketLegs) throws -> PacketFilter {
        let filter = PacketFilter(table: "flatline_\(legs.proxyPorts[0])", legs: legs)
        try Nft.run([
            "add table inet \(filter.table)",
            "add chain inet \(filter.table) epoch { type filter hook input priority -10; policy accept; }",
            "add rule inet \(filter.table) epoch tcp dport \(legs.serverPort) ct state new ct mark set 1",
        ])
        return filter
    }

    /// Puts `fault`'s rules in place (in one atomic batch).
    func add(_ fault: Fault) throws {
        if case .natExpiry(let idle, _) = fault.kind { try Conntrack.forget(after: idle, ports: Set(legs.proxyPorts + [legs.serverPort])) }
        let chain = state.withLockedValue { state in
            defer { state.next += 1 }
            return "fault\(state.next)"
        }
        try Nft.run(
            ["add chain inet \(table) \(chain) { type filter hook input priority 0; policy accept; }"]
                + PacketRules.rules(for: fault, legs: legs).map { "add rule inet \(table) \(chain) \($0)" }
        )
        state.withLockedValue { $0.chains[fault.name] = chain }
    }

    /// Removes `fault`'s rules; a power loss leaves its old connections dead, and so does a NAT
    /// expiry (its rules stay: what it forgot stays forgotten; only the idle timeout goes back).
    func remove(_ fault: Fault) throws {
        if case .natExpiry = fault.kind {
            guard state.withLockedValue({ $0.chains.removeValue(forKey: fault.name) }) != nil else { return }
            try Conntrack.remember()
            return
        }
        guard let chain = state.withLockedValue({ $0.chains.removeValue(forKey: fault.name) }) else { return }
        if case .powerLoss = fault.kind {
            let epoch = state.withLockedValue { state in
                state.epoch += 1
                return state.epoch
            }
            try Nft.run(
                [
                    "flush chain inet \(table) epoch",
                    "add rule inet \(table) epoch tcp dport \(legs.serverPort) ct state new ct mark set \(epoch)",
                    "flush chain inet \(table) \(chain)",
                ] + PacketRules.afterPowerLoss(legs: legs, epoch: epoch).map { "add rule inet \(table) \(chain) \($0)" }
            )
        } else {
            try Nft.run(["delete chain inet \(table) \(chain)"])
        }
    }

    /// Deletes the table; false if its rules are still there (their ports must then never be
    /// given to another scenario of this run).
    func stop() -> Bool {
        (try? Nft.run(["delete table inet \(table)"])) != nil
    }
}

/// The namespace's conntrack settings a NAT expiry changes: how long an idle established TCP flow
/// is kept, and whether a packet of a flow it no longer knows may start a new entry ("loose"
/// pickup, on by default — with it, a forgotten flow would simply be picked up again). Both are
/// per network namespace, and writable by its owner (root in the user namespace of a `nobody` run).
enum Conntrack {
    static let directory = "/proc/sys/net/netfilter/"
    static let defaultEstablished = 432_000

    /// `conntrack` (conntrack-tools) on PATH or in /usr/sbin; FLATLINE_CONNTRACK names another.
    static let executable: String? = Nft.program("conntrack", override: "FLATLINE_CONNTRACK")
    static let missing = "a nat-expiry in packet mode needs the conntrack program (Debian: apt-get install conntrack)"

    /// From now on, flows idle for `idle` are forgotten. New and refreshed flows take the timeout
    /// from the setting; the flows already open on `ports` get it now, so that their idle time is
    /// counted from the fault as in proxy mode, not from their next packet.
    static func forget(after idle: Duration, ports: Set<Int>) throws {
        guard let executable else { throw ChildError(missing) }
        let seconds = Int(idle.nanoseconds / 1_000_000_000)
        try write("nf_conntrack_tcp_loose", 0)
        try write("nf_conntrack_tcp_timeout_established", seconds)
        let (status, listing) = Nft.capture([executable, "-L", "-p", "tcp"])
        guard status == 0 else { throw ChildError("conntrack -L failed: \(listing.split(separator: "\n").first ?? "")") }
        for flow in flows(listing) where ports.contains(flow.sport) || ports.contains(flow.dport) {
            _ = Nft.capture([
                executable, "-U", "-s", flow.src, "-d", flow.dst, "-p", "tcp", "--sport", "\(flow.sport)", "--dport", "\(flow.dport)", "--timeout", "\(seconds)",
            ])
        }
    }

    /// The original direction of each TCP flow in `conntrack -L` output.
    static func flows(_ listing: String) -> [(src: String, dst: String, sport: Int, dport: Int)] {
        listing.split(separator: "\n").compactMap { line in
            var fields: [String: String] = [:]
            for word in line.split(separator: " ") {
                let parts = word.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, fields[String(parts[0])] == nil else { continue }
                fields[String(parts[0])] = String(parts[1])
            }
            guard let src = fields["src"], let dst = fields["dst"], let sport = fields["sport"].flatMap({ Int($0) }), let dport = fields["dport"].flatMap({ Int($0) }) else { return nil }
            return (src, dst, sport, dport)
        }
    }

    /// The idle timeout back to the kernel's default; loose pickup stays off, so that flows
    /// forgotten meanwhile are not picked up again.
    static func remember() throws {
        try write("nf_conntrack_tcp_timeout_established", defaultEstablished)
    }

    private static func write(_ name: String, _ value: Int) throws {
        let path = directory + name
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw ChildError("packet mode cannot set \(path) (\(String(cString: strerror(errno)))): a NAT expiry needs the namespace's conntrack settings")
        }
        defer { try? handle.close() }
        try handle.write(contentsOf: Data("\(value)\n".utf8))
    }
}

/// Runs the `nft` program (Debian's nftables) with one batch of commands.
enum Nft {
    /// `nft` on PATH or in /usr/sbin; FLATLINE_NFT names another (and lets tests take it away).
    static let executable: String? = program("nft", override: "FLATLINE_NFT")

    /// A system program: the override variable's path if set (nil if it is not executable), else
    /// PATH, else the sbin folders (not on an ordinary user's PATH).
    static func program(_ name: String, override: String) -> String? {
        if let path = ProcessInfo.processInfo.environment[override] { return access(path, X_OK) == 0 ? path : nil }
        return ChildProcess.resolve(name) ?? ["/usr/sbin/\(name)", "/sbin/\(name)", "/usr/bin/\(name)", "/bin/\(name)"].first { access($0, X_OK) == 0 }
    }

    static func run(_ commands: [String]) throws {
        guard let executable else { throw ChildError("packet mode needs the nft program (Debian: apt-get install nftables)") }
        let (status, output) = Self.capture([executable, commands.joined(separator: "; ")])
        guard status == 0 else {
            let first = output.split(separator: "\n").first.map(String.init) ?? "exit status \(status)"
            throw ChildError("nft failed: \(first)")
        }
    }

    /// Runs a short command to its end; returns its exit status and its output (stdout and stderr).
    static func capture(_ arguments: [String]) -> (Int32, String) { ChildProcess.runToEnd(arguments) }
}

/// The private network namespace packet mode runs in. `flatline run` re-executes itself in a new
/// network namespace (with a user namespace where it is not root): the namespace has no name and
/// belongs to that one process, so it — and every rule in it — is gone when the run ends, however
/// it ends (Ctrl-C, SIGKILL, a crash). Nothing is left in `ip netns list` or the host's ruleset.
public enum PacketNamespace {
    static let marker = "FLATLINE_PACKET_NAMESPACE"

    /// util-linux's `unshare`; FLATLINE_UNSHARE names another.
    static let unshare: String? = Nft.program("unshare", override: "FLATLINE_UNSHARE")

    /// Whether this process is the one running inside the namespace.
    public static var inside: Bool { ProcessInfo.processInfo.environment[marker] == "1" }

    /// The flags of `unshare`: a network namespace, plus a user namespace where it is not root.
    static var unshareFlags: [String] { geteuid() == 0 ? ["--net"] : ["--user", "--map-root-user", "--net"] }

    /// Why packet mode cannot run here, in one line, or nil when it can.
    public static func problem() -> String? {
        guard let unshare else { return "packet mode needs the unshare program (Debian: util-linux)" }
        guard let nft = Nft.executable else { return "packet mode needs the nft program (Debian: apt-get install nftables)" }
        let (status, output) = Nft.capture([unshare] + unshareFlags + ["--", nft, "add table inet flatline_probe"])
        guard status == 0 else {
            let detail = output.split(separator: "\n").first.map(String.init) ?? "exit status \(status)"
            let who = geteuid() == 0 ? "" : "; run as root (or with CAP_NET_ADMIN), or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)"
            return "packet mode cannot create a private network namespace with nftables: \(detail)\(who)"
        }
        return nil
    }

    /// Replaces this process with the same command inside a new network namespace. Returns only
    /// when that is impossible (with the reason).
    public static func reexecute(arguments: [String]) -> String {
        if let problem = problem() { return problem }
        guard let unshare else { return "packet mode needs the unshare program (Debian: util-linux)" }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        setenv(marker, "1", 1)
        fflush(nil)
        let argv = ([unshare] + unshareFlags + ["--", executable] + arguments).map { strdup($0) } + [nil]
        execv(unshare, argv)
        return "cannot enter a network namespace: \(String(cString: strerror(errno)))"
    }

    /// Inside the namespace: the loopback interface starts down; bring it up. Then a network for
    /// programs that look for one (see ``networkProblem``).
    public static func prepare() -> String? {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return "cannot open a socket: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        guard setUp("lo", fd) else { return "cannot bring the loopback interface up: \(String(cString: strerror(errno)))" }
        networkProblem = addNetwork(fd)
        return nil
    }

    /// Why the namespace has no network besides loopback, or nil. A namespace with loopback alone
    /// is offline to Chromium (`navigator.onLine` false, no `offline`/`online` events for
    /// `client: offline` to fire), so an empty bridge with a documentation address (192.0.2.1/24,
    /// RFC 5737) is added: a network that leads nowhere, as the clients' traffic stays on loopback.
    nonisolated(unsafe) public private(set) static var networkProblem: String? = "not prepared"

    private static func addNetwork(_ fd: Int32) -> String? {
        let name = "flatline0"
        var bridge = Array(name.utf8CString)
        let created = bridge.withUnsafeMutableBytes { ioctl(fd, UInt(0x89a0) /* SIOCBRADDBR */, $0.baseAddress!) }
        guard created == 0 || errno == EEXIST else { return "cannot add a bridge interface: \(String(cString: strerror(errno)))" }
        var request = interfaceRequest(name)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "192.0.2.1", &address.sin_addr)
        withUnsafeMutableBytes(of: &request.ifr_ifru) { union in
            withUnsafeBytes(of: address) { union.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<min($0.count, union.count)])) }
        }
        guard ioctl(fd, UInt(SIOCSIFADDR), &request) == 0 else { return "cannot give \(name) an address: \(String(cString: strerror(errno)))" }
        guard setUp(name, fd) else { return "cannot bring \(name) up: \(String(cString: strerror(errno)))" }
        return nil
    }

    private static func setUp(_ interface: String, _ fd: Int32) -> Bool {
        var request = interfaceRequest(interface)
        guard ioctl(fd, UInt(SIOCGIFFLAGS), &request) == 0 else { return false }
        request.ifr_ifru.ifru_flags |= Int16(IFF_UP)
        return ioctl(fd, UInt(SIOCSIFFLAGS), &request) == 0
    }

    /// An `ifreq` naming `interface`, for the interface ioctls.
    private static func interfaceRequest(_ interface: String) -> ifreq {
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { name in
            for (index, byte) in interface.utf8.enumerated() { name[index] = byte }
        }
        return request
    }
}
