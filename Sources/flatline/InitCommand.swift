public import ArgumentParser
import EventSchema
import FaultModel
import Foundation
public import Scenario
public import ScenarioModel

extension Installation.ShippedClient: ExpressibleByArgument {}
extension StarterSuite.Judging: ExpressibleByArgument {}

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a starter suite for your client: pulled cable, server power loss, clean close, short outage, network switch, and a negative twin.",
        discussion: """
            Name your client (--command, --browser, or --shipped for one of Flatline's), its heartbeat \
            and reconnect settings, and optionally your server (--server-command or --server); every \
            bound in the files is written over those settings. In a terminal, what is missing is asked; \
            with --no-input (CI, scripts) it is an error. Then: flatline run FOLDER, and flatline run \
            FOLDER/negative (the twin must be 'caught').
            """
    )

    @Argument(help: "The folder to write.") var folder = "flatline-suite"
    @Option(help: "One of Flatline's shipped clients, with the settings of its bundled scenarios.") var shipped: Installation.ShippedClient?
    @Option(help: ArgumentHelp("Your client's command, as shell words; placeholders: {url}, {heartbeat.interval.ms}, {heartbeat.timeout.s}, {reconnect.delay.ms}…", valueName: "COMMAND")) var command: String?
    @Option(help: ArgumentHelp("Your client as a page for headless Chromium (the settings come in its query string).", valueName: "PAGE")) var browser: String?
    @Option(help: "own: the client prints Flatline's event lines; outside: it prints nothing Flatline reads, and is judged by what the proxy sees. Default: init runs the client once and looks.") var events: StarterSuite.Judging?
    @Option(help: "What the client sends as its heartbeat: ping (RFC 6455), json or text.") var dialect: String?
    @Option(help: "The text heartbeat's payload (dialect text).") var textPayload: String?
    @Option(help: "The text heartbeat's reply (dialect text).") var textReply: String?
    @Option(help: "The client's heartbeat interval.") var interval: Duration?
    @Option(help: "How long the client waits for a heartbeat's reply.") var timeout: Duration?
    @Option(help: "How long the client waits for a close handshake before dropping the socket.") var closeGrace: Duration?
    @Option(help: "The longest the client waits before a reconnect attempt (its backoff cap).") var delay: Duration?
    @Option(help: "The client's connect (open) timeout.") var connectTimeout: Duration?
    @Option(help: ArgumentHelp("Your server's command, as shell words ({port}: a free port Flatline picks).", valueName: "COMMAND")) var serverCommand: String?
    @Option(help: "A line your server prints once it is ready (default: when it accepts connections).") var serverReady: String?
    @Option(help: ArgumentHelp("A server that is already running.", valueName: "HOST:PORT")) var server: String?
    @Option(help: "What the bounds allow for timers and a loaded machine.") var slack: Duration?
    @Option(help: "A prefix for the scenarios' names (default: the folder's name).") var name: String?
    @Flag(help: "Replace files that exist.") var force = false
    @Flag(help: "Without --events: do not run the client once to see whether it prints its events (then: judged from outside).") var noProbe = false
    @Flag(help: "Never ask: a missing value is an error.") var noInput = false

    func run() async throws {
        let ask = !noInput && isatty(STDIN_FILENO) == 1
        var suite: StarterSuite
        do { suite = try starterSuite(ask: ask) } catch {
            LineWriter.standardError.write("flatline init: \((error as? InitError)?.message ?? "\(error)")")
            throw ExitCode(2)
        }
        if shipped == nil, events == nil, !noProbe {
            // How to judge it depends on whether it prints its own events: look, once.
            print("watching your client for a moment (is it reachable, does it print its events?)…")
            let probe = await ClientProbe.run(suite.probe())
            guard probe.connected else {
                LineWriter.standardError.write("flatline init: a first run of your client did not connect through Flatline's proxy: \(probe.problem ?? "")")
                LineWriter.standardError.write("  check the commands (the client must connect to {url}), or skip this look with --events own|outside")
                throw ExitCode(2)
            }
            suite.judging = probe.printsEvents ? .own : .outside
            print(probe.printsEvents
                ? "it connects and prints Flatline's event lines: judged by its own events (--events own)"
                : "it connects and prints nothing Flatline reads: judged from outside, by what the proxy sees (--events outside)")
        }
        var written: [String] = []
        for (path, text) in suite.files() {
            let target = "\(folder)/\(path)"
            if FileManager.default.fileExists(atPath: target), !force {
                LineWriter.standardError.write("flatline init: \(target) exists (--force replaces it)")
                throw ExitCode(2)
            }
            do {
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: target, atomically: true, encoding: .utf8)
            } catch {
                LineWriter.standardError.write("flatline init: cannot write \(target): \(error.localizedDescription)")
                throw ExitCode(2)
            }
            do { _ = try Scenario.load(path: target) } catch {
                LineWriter.standardError.write("flatline init: wrote \(target), but it does not validate: \(error) — please report this")
                throw ExitCode(2)
            }
            written.append(target)
        }
        for target in written { print("wrote \(target)") }
        print("""

            next:
              flatline run \(folder)                 # the five scenarios: each must pass
              flatline run \(folder)/negative        # the twin demands the impossible: it must be 'caught'
              flatline run --report \(folder)        # + a page per run with its timeline
            """)
    }

    private func starterSuite(ask: Bool) throws -> StarterSuite {
        let prefix = name ?? URL(fileURLWithPath: folder).lastPathComponent
        var suite: StarterSuite
        if let shipped {
            guard command == nil, browser == nil else { throw InitError("--shipped names the client: no --command or --browser with it") }
            guard let installation = Installation.find() else {
                throw InitError("the shipped clients are not beside this binary (PREFIX/share/flatline) nor in a source checkout; set FLATLINE_HOME")
            }
            suite = shipped.suite(clients: installation.clients, name: name ?? shipped.rawValue)
        } else {
            let client: StarterSuite.Client
            if let browser {
                client = .browser(page: browser, args: [:])
            } else {
                let text = try command ?? value(ask: ask, "How is your client started? (a command; {url} is where it connects)", flag: "--command, --browser or --shipped")
                client = .command(try words(text, flag: "--command"))
            }
            let dialect = try dialect ?? value(ask: ask, "Its heartbeat: ping, json or text?", flag: "--dialect")
            guard StarterSuite.dialects.contains(dialect) else { throw InitError("--dialect '\(dialect)': one of \(StarterSuite.dialects.joined(separator: ", "))") }
            suite = StarterSuite(
                name: prefix, client: client, judging: events ?? .outside, dialect: dialect,
                interval: try interval ?? duration(ask: ask, "Its heartbeat interval (e.g. 5s)?", flag: "--interval"),
                timeout: try timeout ?? duration(ask: ask, "How long it waits for a reply (e.g. 2s)?", flag: "--timeout"),
                reconnectDelay: try delay ?? duration(ask: ask, "The longest it waits before reconnecting (e.g. 1s)?", flag: "--delay")
            )
        }
        if let events { suite.judging = events }
        if let textPayload { suite.textPayload = textPayload }
        if let textReply { suite.textReply = textReply }
        if let interval { suite.interval = interval }
        if let timeout { suite.timeout = timeout }
        if let closeGrace { suite.closeGrace = closeGrace }
        if let delay { suite.reconnectDelay = delay }
        if let connectTimeout { suite.connectTimeout = connectTimeout }
        if let slack { suite.slack = slack }
        if suite.dialect == "text", suite.textPayload == nil { throw InitError("dialect text needs --text-payload (and --text-reply when the server answers with another text)") }
        switch (serverCommand, server) {
        case (let command?, nil): suite.server = .command(try words(command, flag: "--server-command"), readyLine: serverReady)
        case (nil, let address?): suite.server = .upstream(address)
        case (nil, nil) where ask && shipped == nil:
            print("Your server? (a command with {port}, HOST:PORT of a running one, or Enter for Flatline's own)", terminator: " ")
            let answer = readLine()?.trimmingCharacters(in: .whitespaces) ?? ""
            if answer.isEmpty { break }
            if !answer.contains(" "), (try? HostPort(parsing: answer)) != nil { suite.server = .upstream(answer) } else { suite.server = .command(try words(answer, flag: "server"), readyLine: nil) }
        case (nil, nil): break
        default: throw InitError("--server-command starts your server, --server names a running one: give one of them")
        }
        return suite
    }

    private func words(_ text: String, flag: String) throws(InitError) -> [String] {
        do { return try CommandTemplate.words(text) } catch { throw InitError("\(flag): \(error.message)") }
    }

    private func value(ask: Bool, _ question: String, flag: String) throws(InitError) -> String {
        guard ask else { throw InitError("missing \(flag) (not asked: no terminal, or --no-input)") }
        print(question, terminator: " ")
        guard let line = readLine()?.trimmingCharacters(in: .whitespaces), !line.isEmpty else { throw InitError("no answer for \(flag)") }
        return line
    }

    private func duration(ask: Bool, _ question: String, flag: String) throws(InitError) -> Duration {
        let text = try value(ask: ask, question, flag: flag)
        guard let duration = Duration(argument: text) else { throw InitError("\(flag) '\(text)' is not a duration (250ms, 5s, 1m)") }
        return duration
    }

}

struct InitError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
