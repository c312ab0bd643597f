import EventSchema

/// The starter suite `flatline init` writes for a user's client: five scenarios over the client's
/// declared settings (pulled cable, server power loss, clean close, short outage, network switch)
/// and one negative twin that shows the checks can fail. Written as YAML text with comments, so
/// that a newcomer can read and change it; every file is validated by `flatline init` before it says
/// it is done, and by the tests.
public struct StarterSuite: Sendable {
    public enum Client: Sendable, Equatable {
        /// A program, with Flatline's placeholders (`{url}`, `{heartbeat.interval.ms}`…).
        case command([String])
        /// A page opened in headless Chromium (settings in its query string), with extra arguments.
        case browser(page: String, args: [String: String])
    }

    public enum Server: Sendable, Equatable {
        /// Flatline's own server, answering the client's heartbeat dialect.
        case builtin
        /// The user's server: started by Flatline on a free port (`{port}`), ready when this line is printed (or when it accepts).
        case command([String], readyLine: String?)
        /// A server that is already running.
        case upstream(String)
    }

    /// How the client's detection is seen: from its own event lines, or from outside (the proxy's view).
    public enum Judging: String, Sendable, CaseIterable {
        /// The client prints Flatline's event lines (`{"type":"disconnected",…}`): its own declaration counts.
        case own
        /// The client prints nothing Flatline reads: its socket and its next attempt, seen by the proxy, count.
        case outside
    }

    public var name: String
    public var client: Client
    public var judging: Judging
    /// `ping`, `json` or `text` (with `textPayload`/`textReply`).
    public var dialect: String
    public var textPayload: String?
    public var textReply: String?
    public var interval: Duration
    public var timeout: Duration
    public var closeGrace: Duration?
    /// The longest the client waits before an attempt (its backoff cap, for a growing backoff).
    public var reconnectDelay: Duration
    public var connectTimeout: Duration?
    public var server: Server
    /// What the bounds allow for the client's own timers and a loaded machine.
    public var slack: Duration

    public init(
        name: String, client: Client, judging: Judging, dialect: String, textPayload: String? = nil, textReply: String? = nil,
        interval: Duration, timeout: Duration, closeGrace: Duration? = nil, reconnectDelay: Duration, connectTimeout: Duration? = nil,
        server: Server = .builtin, slack: Duration = .milliseconds(250)
    ) {
        self.name = name
        self.client = client
        self.judging = judging
        self.dialect = dialect
        self.textPayload = textPayload
        self.textReply = textReply
        self.interval = interval
        self.timeout = timeout
        self.closeGrace = closeGrace
        self.reconnectDelay = reconnectDelay
        self.connectTimeout = connectTimeout
        self.server = server
        self.slack = slack
    }

    public static let dialects = ["ping", "json", "text"]

    /// The files, as paths relative to the suite's folder and their text.
    public func files() -> [(path: String, text: String)] {
        [
            ("pulled-cable.yaml", pulledCable(negative: false)),
            ("server-power-loss.yaml", serverPowerLoss()),
            ("clean-close.yaml", cleanClose()),
            ("short-outage.yaml", shortOutage()),
            ("network-switch.yaml", networkSwitch()),
            ("negative/detection-demanded-too-soon.yaml", pulledCable(negative: true)),
        ]
    }

    /// A short run of the client against the server, for `flatline init` to see whether the client
    /// connects at all and whether it prints its own events (which decides how it is judged).
    public func probe() -> String {
        var lines = header(name: "\(name)-probe", summary: "flatline init's look at the client: does it connect, does it print its events?")
        lines += ["timeline:", "  - after: client connected", "    within: 15s", "  - wait: heartbeat.interval * 2 + heartbeat.timeout"]
        return text(lines)
    }

    // MARK: - The scenarios

    /// The event that shows the client gave a dead link up.
    private var detection: String { judging == .own ? "client disconnected" : "client abandoned" }
    /// Within what it must come after the cable is pulled.
    private var detectionBound: String {
        let base = "heartbeat.interval + heartbeat.timeout + heartbeat.close-grace"
        return (judging == .own ? base : base + " + reconnect.delay") + " + \(slack.flatlineDescription)"
    }
    private var detectionBoundValue: Duration {
        interval + timeout + (closeGrace ?? .zero) + (judging == .own ? .zero : reconnectDelay) + slack
    }
    /// Long enough for the client to give up a dead link and try (and fail) again at least once.
    private var outage: Duration { roundedUp(detectionBoundValue + reconnectDelay + .milliseconds(500)) }
    private var reconnectBound: String { "reconnect.delay + \(roundedUp(slack * 4).flatlineDescription)" }
    /// How to wait until the link is known to be up: a heartbeat answered, where the proxy or the client shows it.
    private var linkUp: String { "client heartbeat-acked" }

    private func pulledCable(negative: Bool) -> String {
        var lines = header(
            name: negative ? "\(name)-detection-demanded-too-soon" : "\(name)-pulled-cable",
            summary: negative
                ? "The pulled cable again, but demanding detection within half a heartbeat interval — sooner than any heartbeat can tell. This check must fail, and the negative suite reports it as caught: it shows that the detection check is live against this client. If it passes, the check saw something it should not have."
                : "The cable is pulled: no FIN, no RST, nothing arrives. Only the heartbeat can tell. The client must give the link up within its interval + timeout (+ close grace\(judging == .outside ? " + reconnect delay: from outside, the socket's release or the next attempt shows it" : "")), make no connection while the cable is out, and be back within its reconnect delay of the heal."
        )
        if negative { lines.append("must-fail: {check: step 4, message: \"late by\"}") }
        lines += silentOutage(type: "blackhole", name: "cable", within: negative ? "heartbeat.interval / 2" : detectionBound)
        return text(lines)
    }

    private func serverPowerLoss() -> String {
        var lines = header(
            name: "\(name)-server-power-loss",
            summary: "The server's host loses power: its connections are dead for good (no FIN, no RST), new connections go nowhere until it is back. The client must detect it by heartbeat, make no connection while the power is out, and reconnect after the boot."
        )
        lines += silentOutage(type: "power-loss", name: "power", within: detectionBound)
        return text(lines)
    }

    /// A fault that silences the link (no FIN, no RST): detected within `within`, no connection
    /// while it lasts, back within the reconnect delay of the heal, never two connections at once.
    private func silentOutage(type: String, name: String, within: String) -> [String] {
        ["timeline:"] + start() + [
            "  - fault: {type: \(type), name: \(name)}",
            "  - expect: \(detection)",
            "    within: \(within)",
            "  - expect-none: client connected",
            "    while: \(name)",
            "  - at: +\(outage.flatlineDescription)",
            "    heal: \(name)",
            "  - expect: client connected",
            "    within: \(reconnectBound)",
        ] + oneConnection()
    }

    private func cleanClose() -> String {
        var lines = header(
            name: "\(name)-clean-close",
            summary: "The server goes away cleanly (a close, then FIN): seen at once, no heartbeat needed. The client must notice within a moment and reconnect when the server is back."
        )
        lines += ["timeline:"] + start()
        let away = roundedUp(reconnectDelay + .milliseconds(800))
        if case .upstream = server {
            // A running server cannot be stopped by Flatline: the proxy closes every connection (FIN) and refuses new ones meanwhile.
            lines += [
                "  - fault: {type: close, name: away}             # the proxy closes every connection (FIN), as a server going away",
                "  - expect: client disconnected",
                "    within: 500ms",
                "  - at: +\(away.flatlineDescription)",
                "    heal: away",
            ]
        } else {
            lines += [
                "  - server: stop                                  # close frames, then FIN",
                "  - expect: client disconnected",
                "    within: 500ms",
                "  - at: +\(away.flatlineDescription)",
                "    server: start                                 # on the same port",
            ]
        }
        lines += ["  - expect: client connected", "    within: \(reconnectBound)"]
        lines += oneConnection()
        return text(lines)
    }

    private func shortOutage() -> String {
        let blip = roundedDown(timeout / 2)
        var lines = header(
            name: "\(name)-short-outage",
            summary: "A \(blip.flatlineDescription) outage, shorter than the heartbeat timeout: nothing is lost, a heartbeat's reply comes at the heal. The client must not give the link up (no false death)."
        )
        lines += ["timeline:"] + start()
        lines += [
            "  - fault: {type: blackhole, name: blip}",
            "  - at: +\(blip.flatlineDescription)",
            "    heal: blip",
            "  - expect-none: client disconnected",
            "    for: heartbeat.interval + heartbeat.timeout + \(roundedUp(slack * 2).flatlineDescription)",
            "assert:",
            "  - count client connected == 1",
        ]
        return text(lines)
    }

    private func networkSwitch() -> String {
        var lines = header(
            name: "\(name)-network-switch",
            summary: "The device moves to another network (Wi-Fi to cellular): the old connection's path is dead for good, new connections work at once. The client must give the old link up by heartbeat and connect again — a client that sends a close frame and waits for its reply sits on the dead socket."
        )
        lines += ["timeline:"] + start()
        lines += [
            "  - fault: {type: blackhole, target: existing, name: old-path}   # never healed",
            "  - expect: \(detection)",
            "    within: \(detectionBound)",
            "  - expect: client connected",
            "    within: \(detectionBound) + \(reconnectBound)",
        ]
        lines += oneConnection()
        return text(lines)
    }

    // MARK: - Pieces

    private func header(name: String, summary: String) -> [String] {
        var lines = ["# Written by flatline init; yours to change. Format: docs/scenarios.md", "name: \(name)", "summary: >"]
        lines += wrap(summary, width: 96).map { "  " + $0 }
        lines += clientSection() + serverSection()
        return lines
    }

    private func clientSection() -> [String] {
        var lines = ["client:"]
        switch client {
        case .command(let command):
            lines.append("  command: [\(command.map(quoted).joined(separator: ", "))]")
        case .browser(let page, let args):
            lines.append("  browser: \(quoted(page))")
            if !args.isEmpty {
                lines.append("  args: {\(args.sorted { $0.key < $1.key }.map { "\(quoted($0.key)): \(quoted($0.value))" }.joined(separator: ", "))}")
            }
        }
        var heartbeat = ["dialect: \(dialect)"]
        if let textPayload { heartbeat.append("text-payload: \(quoted(textPayload))") }
        if let textReply { heartbeat.append("text-reply: \(quoted(textReply))") }
        heartbeat += ["interval: \(interval.flatlineDescription)", "timeout: \(timeout.flatlineDescription)"]
        if let closeGrace { heartbeat.append("close-grace: \(closeGrace.flatlineDescription)") }
        var reconnect = ["delay: \(reconnectDelay.flatlineDescription)"]
        if let connectTimeout { reconnect.append("connect-timeout: \(connectTimeout.flatlineDescription)") }
        lines.append("  heartbeat: {\(heartbeat.joined(separator: ", "))}   # what the client does: the bounds below are written over these")
        lines.append("  reconnect: {\(reconnect.joined(separator: ", "))}")
        return lines
    }

    private func serverSection() -> [String] {
        switch server {
        case .builtin:
            var settings = ["dialect: \(dialect)"]
            if let textPayload { settings.append("text-payload: \(quoted(textPayload))") }
            if let textReply { settings.append("text-reply: \(quoted(textReply))") }
            return ["server: {\(settings.joined(separator: ", "))}   # Flatline's own server, answering these heartbeats"]
        case .command(let command, let readyLine):
            var lines = ["server:", "  command: [\(command.map(quoted).joined(separator: ", "))]   # {port}: a free port Flatline picks"]
            if let readyLine { lines.append("  ready: {line: \(quoted(readyLine))}") }
            return lines
        case .upstream(let address):
            return ["server: {upstream: \(quoted(address))}   # already running: Flatline puts its proxy in front"]
        }
    }

    /// Until the link is up: connected, and (where visible) a heartbeat answered.
    private func start() -> [String] {
        ["  - after: client connected", "    within: 15s", "  - after: \(linkUp)", "    within: heartbeat.interval + heartbeat.timeout + 5s"]
    }

    private func oneConnection() -> [String] {
        ["assert:", "  - max-concurrent client connections <= 1        # a reconnect never overlaps the old connection"]
    }

    private func text(_ lines: [String]) -> String { lines.joined(separator: "\n") + "\n" }

    private func quoted(_ text: String) -> String { JSONValue.string(text).description }

    private func roundedUp(_ duration: Duration) -> Duration {
        let ms = (duration.nanoseconds + 99_999_999) / 100_000_000 * 100
        return .milliseconds(ms)
    }

    private func roundedDown(_ duration: Duration) -> Duration {
        .milliseconds(max(10, duration.nanoseconds / 10_000_000 * 10))
    }

    private func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
