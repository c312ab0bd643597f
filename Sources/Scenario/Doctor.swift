import Foundation
import ScenarioJudging
import ScenarioModel
import NetworkSupport
import WireCapture

/// What this machine allows Flatline to do, each with the one line that fixes it (`flatline doctor`).
/// Only the core — the proxy, the built-in client and server, a scenario judged — is required.
public enum Doctor {
    public struct Check: Sendable {
        public enum Status: String, Sendable { case ok, missing }
        public var name: String
        public var status: Status
        /// What was found, or what is missing and what it takes.
        public var detail: String
        /// The one line that fixes it (nil when nothing needs fixing).
        public var fix: String?
        /// The core: without it nothing runs.
        public var required: Bool
    }

    /// Every check; the core one runs a real scenario on loopback (about a second).
    public static func checks(installation: Installation?) async -> [Check] {
        var checks = [await core()]
        checks.append(descriptors())
        checks.append(capture())
        checks.append(packetMode())
        checks.append(browser())
        checks.append(node())
        checks.append(python())
        checks.append(shipped(installation))
        return checks
    }

    /// A pulled cable through the proxy, the built-in client and server, judged.
    static func core() async -> Check {
        let text = """
            name: doctor-pulled-cable
            client: {heartbeat: {dialect: json, interval: 100ms, timeout: 50ms}, reconnect: {delay: 50ms}}
            timeline:
              - after: client heartbeat-acked
                within: 10s
              - fault: {type: blackhole, name: cable}
              - expect: client disconnected reason=heartbeat-timeout
                within: heartbeat.interval + heartbeat.timeout + 500ms
              - heal: cable
              - expect: client connected
                within: reconnect.delay + 2s
            """
        let name = "core: proxy, built-in client and server, a scenario judged"
        do {
            let scenario = try Scenario.parse(text, file: "doctor")
            var options = RunOptions()
            options.runsDirectory = nil
            options.quiet = true
            options.console = { _ in }
            let result = await ScenarioRunner(scenario: scenario, options: options).run()
            guard result.outcome == .passed else {
                return Check(name: name, status: .missing, detail: "a pulled cable on loopback was not judged as passed: \(result.outcome)", fix: "run 'flatline run -v' on scenarios/pulled-cable.yaml and report what it prints", required: true)
            }
            return Check(name: name, status: .ok, detail: "a pulled cable on loopback: detected and reconnected", fix: nil, required: true)
        } catch {
            return Check(name: name, status: .missing, detail: "\(error)", fix: "report this: the built-in scenario should always parse", required: true)
        }
    }

    static func descriptors() -> Check {
        let limit = OpenFiles.raise()
        // Each built-in client takes four descriptors (its socket, the proxy's two legs, the server's).
        let clients = max(0, (limit - 200) / 4)
        let name = "open files"
        if limit < 4_200 {
            return Check(name: name, status: .missing, detail: "limit \(limit): about \(clients) built-in clients in one scenario (4 descriptors each)", fix: "raise the hard limit: ulimit -Hn 65536 (as root), or LimitNOFILE= in the service", required: false)
        }
        return Check(name: name, status: .ok, detail: "limit \(limit): about \(clients) built-in clients in one scenario (4 descriptors each)", fix: nil, required: false)
    }

    static func capture() -> Check {
        let name = "wire capture (--capture, wire checks)"
        guard let problem = LiveCapture.probePermission() else {
            return Check(name: name, status: .ok, detail: "libpcap loaded, capture on lo allowed", fix: nil, required: false)
        }
        let fix: String
        switch problem.kind {
        case .missing: fix = "apt-get install libpcap0.8 (Debian, Ubuntu) or dnf install libpcap"
        case .permission: fix = "run as root, or: sudo setcap cap_net_raw,cap_net_admin+ep $(command -v flatline)"
        default: fix = "see docs/capture.md"
        }
        return Check(name: name, status: .missing, detail: problem.message.components(separatedBy: "; ").first ?? problem.message, fix: fix, required: false)
    }

    static func packetMode() -> Check {
        let name = "packet mode (network: packet — nftables in a private namespace)"
        guard let problem = PacketNamespace.problem() else {
            let detail = geteuid() == 0 ? "nft in a network namespace" : "nft in a user + network namespace"
            guard Conntrack.executable != nil else {
                return Check(name: name, status: .missing, detail: detail + "; " + Conntrack.missing, fix: "apt-get install conntrack", required: false)
            }
            return Check(name: name, status: .ok, detail: detail + ", conntrack for NAT expiry", fix: nil, required: false)
        }
        let fix = problem.contains("nft program") ? "apt-get install nftables" : problem.contains("unshare program") ? "apt-get install util-linux" : "run as root, or: sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=15000"
        return Check(name: name, status: .missing, detail: problem, fix: fix, required: false)
    }

    static func browser() -> Check {
        let name = "browser clients (client: {browser: page.html})"
        if let found = World.browserPrograms.lazy.compactMap(ChildProcess.resolve).first {
            let (_, output) = ChildProcess.runToEnd([found, "--version"])
            let version = output.split(separator: "\n").first { $0.contains("Chrom") }.map(String.init) ?? found
            return Check(name: name, status: .ok, detail: version, fix: nil, required: false)
        }
        return Check(name: name, status: .missing, detail: "no chromium, chromium-browser or google-chrome on PATH", fix: "apt-get install chromium", required: false)
    }

    static func node() -> Check {
        let name = "clients/node (Node 20.10+ with its WebSocket)"
        guard let node = ChildProcess.resolve("node") else {
            return Check(name: name, status: .missing, detail: "no node on PATH", fix: "install Node 20 or later (https://nodejs.org, or apt-get install nodejs on Debian 13)", required: false)
        }
        let (status, output) = ChildProcess.runToEnd([node, "--experimental-websocket", "-e", "console.log(process.version + (typeof WebSocket === 'function' ? '' : ' (no WebSocket)'))"])
        let version = output.split(separator: "\n").last.map(String.init) ?? "?"
        guard status == 0, !version.contains("no WebSocket") else {
            return Check(name: name, status: .missing, detail: "node \(version): no WebSocket", fix: "install Node 20.10 or later", required: false)
        }
        return Check(name: name, status: .ok, detail: "node \(version)", fix: nil, required: false)
    }

    static func python() -> Check {
        let name = "clients/python (python3 with websockets and websocket-client)"
        guard let python = ChildProcess.resolve("python3") else {
            return Check(name: name, status: .missing, detail: "no python3 on PATH", fix: "apt-get install python3 python3-pip", required: false)
        }
        let (status, output) = ChildProcess.runToEnd([python, "-c", "import sys, websockets, websocket; print(sys.version.split()[0], websockets.__version__)"])
        guard status == 0 else {
            let missing = output.split(separator: "\n").last.map(String.init) ?? "an import failed"
            return Check(name: name, status: .missing, detail: missing, fix: "python3 -m pip install websockets websocket-client", required: false)
        }
        let parts = output.split(separator: "\n").last.map { $0.split(separator: " ") } ?? []
        return Check(name: name, status: .ok, detail: "python \(parts.first ?? "?"), websockets \(parts.dropFirst().first ?? "?")", fix: nil, required: false)
    }

    static func shipped(_ installation: Installation?) -> Check {
        let name = "shipped clients and scenarios (flatline init --shipped)"
        guard let installation else {
            return Check(name: name, status: .missing, detail: "not found beside the binary (PREFIX/share/flatline) or in a source checkout", fix: "reinstall with install.sh, or set FLATLINE_HOME to the folder holding clients/", required: false)
        }
        return Check(name: name, status: .ok, detail: installation.root, fix: nil, required: false)
    }
}
