import Foundation
public import FaultModel
import EventSchema
public import HeartbeatCore

/// A scenario file: what to start, which faults to apply when, and what must (not) happen.
public struct Scenario: Sendable {
    public var name: String
    public var summary: String
    public var file: String
    public var text: String
    public var client: ClientSpec
    public var server: HeartbeatServerConfiguration
    public var serverPath: String
    /// Run the built-in server as a child process (real SIGKILL/SIGSTOP/SIGCONT).
    public var serverProcess: Bool
    /// A server of the user's own: a command Flatline starts, or one already running.
    public var externalServer: ExternalServer? = nil
    public var observeFrames: Bool
    public var seed: UInt64
    public var capture: Bool
    public var timeLimit: Duration
    public var timeline: [Step]
    public var assertions: [Assertion]
    /// For the negative suite: which check must catch this (deliberately wrong) client.
    public var mustFail: MustFail?
    /// Values that duration expressions may name (`heartbeat.interval`, `reconnect.delay`…).
    public var environment: [String: DurationExpression.Value]
    /// A client that is a page in a real browser (headless Chromium), or nil.
    public var browser: BrowserClient? = nil
    /// The clients' first connections are spread evenly over this time (`client: {ramp: 4s}`):
    /// client i of n starts at ramp × (i − 1) / n.
    public var clientRamp: Duration = .zero
    /// Where the faults are carried out: the proxy's stages, or packet rules in a namespace.
    public var network: NetworkMode = .proxy
    /// Every step as written, for both network modes (`timeline` holds those of `network`).
    var writtenSteps: [Step] = []
    /// The file's `vars` as run: their defaults, with `--var` values over them.
    public var vars: [String: String] = [:]
    /// The `explore:` section: what `flatline explore` may draw for this world (nil: every default).
    public var explore: ExploreSpace? = nil
    /// Where the server section is written (for errors about it found after parsing).
    var serverLocation: String?

    public struct MustFail: Sendable, Hashable {
        public var check: String
        public var message: String

        public init(check: String, message: String) {
            self.check = check
            self.message = message
        }
    }
}

/// The client under test: the built-in one (`count` copies) or an external program.
public enum ClientSpec: Sendable {
    case builtin(HeartbeatClientConfiguration, count: Int)
    case external(command: [String], count: Int, heartbeat: HeartbeatPolicy, reconnect: ReconnectPolicy)

    public var count: Int {
        switch self {
        case .builtin(_, let count), .external(_, let count, _, _): count
        }
    }

    /// The client with `{var.NAME}` in its command replaced.
    func substituting(_ vars: [String: String]) -> ClientSpec {
        guard case .external(let command, let count, let heartbeat, let reconnect) = self else { return self }
        return .external(command: CommandTemplate.substitute(vars, in: command), count: count, heartbeat: heartbeat, reconnect: reconnect)
    }

    public var heartbeat: HeartbeatPolicy {
        switch self {
        case .builtin(let configuration, _): configuration.heartbeat
        case .external(_, _, let heartbeat, _): heartbeat
        }
    }

    public var reconnect: ReconnectPolicy {
        switch self {
        case .builtin(let configuration, _): configuration.reconnect
        case .external(_, _, _, let reconnect): reconnect
        }
    }
}

/// `client: {browser: page.html, args: {mode: fixed}}`: the page is opened in headless Chromium
/// with the proxy's URL and the scenario's settings in its query string; its console lines in the
/// event schema are its events.
public struct BrowserClient: Sendable {
    /// The page, as written (relative to the working directory).
    public var page: String
    /// Extra query parameters.
    public var args: [(String, String)]

    /// Chromium's command line for `page` (its query string carries the placeholders Flatline fills
    /// per client); the runtime puts the browser program it finds first and adds `--user-data-dir`
    /// and `--no-sandbox` per run.
    public var command: [String] {
        let absolute = page.hasPrefix("/") ? page : FileManager.default.currentDirectoryPath + "/" + page
        var query = ["url={url}", "interval={heartbeat.interval.ms}", "timeout={heartbeat.timeout.ms}", "delay={reconnect.delay.ms}"]
        for (key, value) in args { query.append("\(key)=\(value.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? value)") }
        return [
            Self.program,
            "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
            "--enable-logging=stderr", "--v=0", "file://\(absolute)?" + query.joined(separator: "&"),
        ]
    }

    /// The program named in ``command``; the runtime replaces it with the one installed.
    public static let program = "chromium"

    /// A Chromium log line: the console message it carries (`INFO:CONSOLE…] "MESSAGE", source: …`), or nil.
    public static func consoleMessage(_ line: String) -> String? {
        guard let marker = line.range(of: ":CONSOLE"), let open = line.range(of: "] \"", range: marker.upperBound..<line.endIndex),
            let close = line.range(of: "\", source: ", options: .backwards), close.lowerBound >= open.upperBound
        else { return nil }
        return String(line[open.upperBound..<close.lowerBound])
    }
}

/// One entry of the timeline, with where it was written.
public struct Step: Sendable {
    public var index: Int
    public var location: String
    public var kind: Kind
    /// A check that holds in one network mode only (`network: packet`): where the modes must differ.
    public var network: NetworkMode? = nil
    /// `each-client: true` on an `after` or `expect`: every client must produce the event (the
    /// `after` goes on when the last one has; the `expect` is measured per client).
    public var eachClient = false

    public enum When: Sendable, Hashable {
        /// From the start of the run.
        case absolute(Duration)
        /// After the previous action.
        case relative(Duration)
    }

    public enum Kind: Sendable {
        /// Do something at a time (default: right after the previous action).
        case action(at: When?, Action)
        /// Wait for an event before going on (its time becomes the reference of later steps).
        case after(EventPattern, within: DurationExpression)
        /// The event must happen within the bound, measured from the previous action.
        case expect(EventPattern, within: DurationExpression, notBefore: DurationExpression?)
        /// The event must not happen during the window.
        case expectNone(EventPattern, window: Window)
        /// Pause (moves the reference time).
        case wait(DurationExpression)

        /// The event an `after`, `expect` or `expect-none` is about.
        public var pattern: EventPattern? {
            switch self {
            case .after(let pattern, _), .expect(let pattern, _, _), .expectNone(let pattern, _): pattern
            case .action, .wait: nil
            }
        }
    }

    public enum Window: Sendable {
        case duration(DurationExpression)
        /// While the named fault is on (from its fault-on to its fault-off).
        case whileFault(String)
    }

    public enum Action: Sendable {
        case addFault(Fault)
        case removeFault(String)
        case heal
        case server(ServerAction)
        case clientSend(String)
        case clientClose
        /// The client's process stops as a sleeping laptop's do (SIGSTOP to its process group; the
        /// built-in client's timers and reads stop): the socket stays open, nothing is sent or read.
        /// With a duration it is resumed that long after, while the timeline goes on.
        case clientFreeze(Duration?)
        /// The frozen client goes on (SIGCONT): overdue timers fire at once, buffered bytes are read.
        case clientResume
        /// A browser client's network goes away (Wi-Fi lost): Chromium's emulated network goes
        /// offline (the page's `offline` event; new connections fail in the browser) and its open
        /// connections meet a blackhole (``offlineFaultName``), as packets to a vanished interface do.
        case clientOffline
        /// The network is back: the blackhole goes (held bytes are delivered, as TCP retransmits
        /// them), then the page's `online` event.
        case clientOnline
    }

    public enum ServerAction: String, Sendable, CaseIterable {
        case stop, kill, freeze, resume, start, mute, unmute
    }

    /// A one-line description for reports.
    public var label: String {
        switch kind {
        case .action(let at, let action):
            let when = at.map { w -> String in
                switch w {
                case .absolute(let d): "at \(d.flatlineDescription): "
                case .relative(let d): "at +\(d.flatlineDescription): "
                }
            } ?? ""
            return when + action.label
        case .after(let pattern, _): return "after \(pattern)"
        case .expect(let pattern, let within, let notBefore):
            return "expect \(pattern) within \(within)" + (notBefore.map { ", not before \($0)" } ?? "")
        case .expectNone(let pattern, let window):
            switch window {
            case .duration(let d): return "expect no \(pattern) for \(d)"
            case .whileFault(let name): return "expect no \(pattern) while \(name)"
            }
        case .wait(let d): return "wait \(d)"
        }
    }

    /// The label with the network mode a check is limited to.
    public var description: String { label + (eachClient ? " (each client)" : "") + (network.map { " [\($0.rawValue) mode only]" } ?? "") }

    public var isCheck: Bool {
        switch kind {
        case .expect, .expectNone: true
        default: false
        }
    }
}

extension Step.Action {
    public var label: String {
        switch self {
        case .addFault(let fault): "fault \(fault.kind.typeName) '\(fault.name)' (\(fault.direction.rawValue))"
        case .removeFault(let name): "heal '\(name)'"
        case .heal: "heal all"
        case .server(let action): "server \(action.rawValue)"
        case .clientSend(let text): "client send \(text.count) bytes"
        case .clientClose: "client close"
        case .clientFreeze(let duration): "client freeze" + (duration.map { " for \($0.flatlineDescription)" } ?? "")
        case .clientResume: "client resume"
        case .clientOffline: "client offline"
        case .clientOnline: "client online"
        }
    }

    /// The name of the blackhole that `client: offline` puts on the client's open connections.
    public static let offlineFaultName = "client-offline"
}

/// A check over the whole run.
public struct Assertion: Sendable {
    public var location: String
    public var text: String
    public var kind: Kind

    public enum Comparison: String, Sendable, CaseIterable {
        case lessOrEqual = "<=", less = "<", greaterOrEqual = ">=", greater = ">", equal = "=="

        public func holds(_ a: Double, _ b: Double) -> Bool {
            switch self {
            case .lessOrEqual: a <= b
            case .less: a < b
            case .greaterOrEqual: a >= b
            case .greater: a > b
            case .equal: a == b
            }
        }
    }

    public enum Kind: Sendable {
        /// `count <pattern> <op> <number>`
        case count(EventPattern, Comparison, DurationExpression)
        /// `max-concurrent client connections <op> <number>`
        case maxConcurrent(Comparison, DurationExpression)
        /// `reconnect-gaps <op> <duration>`: every gap between a disconnect and the next attempt.
        case reconnectGaps(Comparison, DurationExpression)
        /// `reconnect-gaps non-decreasing`
        case reconnectGapsNonDecreasing
        /// `reconnect-gaps spread <op> <duration>`: longest minus shortest gap (jitter shows here).
        case reconnectGapSpread(Comparison, DurationExpression)
        /// The shortest gap of any client (jitter shows as gaps below the delay; timers never fire early).
        case reconnectGapShortest(Comparison, DurationExpression)
        /// `spread <pattern> <op> <duration>`: last minus first matching event.
        case spread(EventPattern, Comparison, DurationExpression)
    }
}

/// A server that is not the built-in one.
public enum ExternalServer: Sendable {
    /// When a command server is ready: its port accepts, or it printed a line matching a pattern.
    public enum Readiness: Sendable {
        case port
        case line(String)
    }

    /// Flatline starts it (its own process group) with `{port}` replaced by a free port; it must be
    /// ready within `readyWithin`.
    case command([String], ready: Readiness, readyWithin: Duration, environment: [String: String], directory: String?)
    /// Already running (docker compose, a service on loopback): only the proxy goes in front of it.
    case upstream(HostPort)
}
