import Foundation
public import ScenarioModel

/// Where Flatline's shipped files are — the clients, the bundled scenarios, the docs: beside an
/// installed binary (`PREFIX/bin/flatline` → `PREFIX/share/flatline`), in a source checkout (the
/// folder above `.build`), or where `$FLATLINE_HOME` says.
public struct Installation: Sendable {
    /// The folder holding `clients/`, `scenarios/` and `docs/`.
    public var root: String

    public static func find(executable: String = CommandLine.arguments[0]) -> Installation? {
        if let home = ProcessInfo.processInfo.environment["FLATLINE_HOME"], !home.isEmpty {
            return holdsClients(home) ? Installation(root: home) : nil
        }
        // argv[0] as a path: itself when it has a slash, else the first match on $PATH.
        let binary = URL(fileURLWithPath: ChildProcess.resolve(executable) ?? executable).resolvingSymlinksInPath()
        var folder = binary.deletingLastPathComponent()
        let share = folder.deletingLastPathComponent().appendingPathComponent("share/flatline").path
        if holdsClients(share) { return Installation(root: share) }
        for _ in 0..<6 {
            if holdsClients(folder.path) { return Installation(root: folder.path) }
            folder = folder.deletingLastPathComponent()
        }
        return nil
    }

    public var clients: String { root + "/clients" }

    private static func holdsClients(_ folder: String) -> Bool {
        FileManager.default.fileExists(atPath: folder + "/clients/python/websockets_client.py")
    }

    /// The shipped clients `flatline init --shipped NAME` knows, with the settings their bundled scenarios use.
    public enum ShippedClient: String, CaseIterable, Sendable {
        case pythonWebsockets = "python-websockets"
        case pythonWebsocketClient = "python-websocket-client"
        case node
        case browser

        public var about: String {
            switch self {
            case .pythonWebsockets: "Python's websockets library: RFC 6455 pings, its own reconnect loop; prints its events"
            case .pythonWebsocketClient: "Python's websocket-client with run_forever(ping_interval, reconnect); prints nothing (judged from outside)"
            case .node: "the seeds' browser pattern on Node 20's WebSocket (JSON heartbeat, declares the link dead at its deadline)"
            case .browser: "the same pattern as a page in headless Chromium"
            }
        }

        /// A starter suite for this client, its files found in `clients`.
        public func suite(clients: String, name: String? = nil) -> StarterSuite {
            switch self {
            case .pythonWebsockets:
                StarterSuite(
                    name: name ?? rawValue,
                    client: .command([
                        "python3", "\(clients)/python/websockets_client.py", "{url}", "--interval", "{heartbeat.interval.s}",
                        "--timeout", "{heartbeat.timeout.s}", "--close-timeout", "{heartbeat.close-grace.s}",
                        "--open-timeout", "{reconnect.connect-timeout.s}", "--backoff-initial", "{reconnect.delay.s}",
                    ]),
                    judging: .own, dialect: "ping", interval: .milliseconds(300), timeout: .milliseconds(200),
                    closeGrace: .milliseconds(100), reconnectDelay: .milliseconds(500), connectTimeout: .seconds(1)
                )
            case .pythonWebsocketClient:
                // It checks its ping timeout only when its select() wakes (every timeout): up to one more timeout late.
                StarterSuite(
                    name: name ?? rawValue,
                    client: .command([
                        "python3", "\(clients)/python/wsclient_silent.py", "{url}", "--interval", "{heartbeat.interval.s}",
                        "--timeout", "{heartbeat.timeout.s}", "--reconnect", "{reconnect.delay.s}",
                    ]),
                    judging: .outside, dialect: "ping", interval: .milliseconds(400), timeout: .milliseconds(200),
                    reconnectDelay: .milliseconds(200), slack: .milliseconds(400)
                )
            case .node:
                StarterSuite(
                    name: name ?? rawValue,
                    client: .command([
                        "node", "--experimental-websocket", "\(clients)/node/heartcheck.mjs", "{url}", "--interval", "{heartbeat.interval.ms}",
                        "--timeout", "{heartbeat.timeout.ms}", "--delay", "{reconnect.delay.ms}", "--mode", "fixed",
                    ]),
                    judging: .own, dialect: "json", interval: .milliseconds(300), timeout: .milliseconds(150), reconnectDelay: .milliseconds(200)
                )
            case .browser:
                StarterSuite(
                    name: name ?? rawValue,
                    client: .browser(page: "\(clients)/browser/heartcheck.html", args: ["mode": "fixed"]),
                    judging: .own, dialect: "json", interval: .milliseconds(300), timeout: .milliseconds(150), reconnectDelay: .milliseconds(200)
                )
            }
        }
    }
}
