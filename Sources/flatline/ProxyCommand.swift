import ArgumentParser
import WebSocketSupport
import NetworkSupport
import FaultProxy
import FaultModel
import Foundation
import EventSchema
import HeartbeatCore
import Scenario

struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run the fault proxy, optionally with its Toxiproxy-compatible control API.",
        discussion: """
            flatline proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:8002 --api 127.0.0.1:8474
            flatline proxy --api 127.0.0.1:8474            (empty, like toxiproxy-server)
            flatline proxy --config proxies.json           (Toxiproxy's config format, with "toxics")

            Events (conn-opened, upgraded, conn-closed, fault-on…) are printed on standard output. \
            A userland proxy terminates TCP: during a blackhole its kernel still ACKs what the client \
            sends, so the client's TCP stack never times out — only an application heartbeat notices.
            """
    )

    @Option(help: "Listen address of the proxy (with --upstream).") var listen = HostPort(host: "127.0.0.1", port: 0)
    @Option(help: "Upstream (server) address, HOST:PORT.") var upstream: HostPort?
    @Option(help: "Name of the proxy given by --listen/--upstream.") var name: String = "flatline"
    @Option(help: "Serve the control API on this address (Toxiproxy's default is 127.0.0.1:8474).") var api: HostPort?
    @Option(help: "Require 'Authorization: Bearer TOKEN' on the control API (also $FLATLINE_API_TOKEN).") var apiToken: String?
    @Option(help: "Toxiproxy-style JSON config: an array of {name, listen, upstream, enabled?, toxics?}.") var config: String?
    @Flag(help: "Emit an event for every WebSocket frame.") var observeFrames = false
    @Option(help: "Seed for toxicity and jitter.") var seed: UInt64?
    @Option(help: "Stop after this long (default: until Ctrl-C).") var runFor: Duration?
    @Option(help: "Event output: jsonl or text.") var events: EventFormat = .text

    func validate() throws {
        if upstream == nil && config == nil && api == nil {
            throw ValidationError("nothing to proxy: give --upstream HOST:PORT (with --listen), --config FILE, or --api HOST:PORT")
        }
    }

    func run() async throws {
        OpenFiles.raise()  // a proxy or server for thousands of connections
        let origin = Instant.now
        let format = events
        let hub = EventHub<ProxyEvent>()
        hub.onEvent { event in
            // The warning goes out before the event that says the proxy listens: whoever sees the
            // one has been told the other (a reader that stops the proxy at once included).
            if event.type == .listening, let warning = event.fields["warning"]?.stringValue {
                LineWriter.standardError.write("flatline proxy: warning: proxy \(event.fields["proxy"]?.stringValue ?? name) is \(warning)")
            }
            LineWriter.standardOutput.write(event.record(origin: origin), format: format)
        }
        let registry = ProxyRegistry(hub: hub, observeFrames: observeFrames, seed: seed)

        var server: ControlServer?
        do {
            if let config {
                try await ProxyConfigFile.load(path: config, into: registry)
            }
            if let upstream {
                _ = try await registry.create(name: name, listen: listen, upstream: upstream)
            }
            if let address = api {
                let token = apiToken ?? ProcessInfo.processInfo.environment["FLATLINE_API_TOKEN"]
                if token == nil, !address.isLoopback {
                    LineWriter.standardError.write("flatline proxy: warning: the control API on \(address) is reachable from other hosts and has no --api-token")
                }
                let control = try await ControlServer.start(api: ControlAPI(registry: registry, token: token), at: address)
                server = control
                hub.publish(ProxyEvent(at: .now, type: .apiListening, fields: ["address": .string(control.address.description)]))
            }
        } catch let error as ProxyError {
            LineWriter.standardError.write("flatline proxy: \(error.message)")
            await registry.stopAll()
            throw ExitCode(2)
        } catch let error as ConfigurationError {
            LineWriter.standardError.write("flatline proxy: \(error.message)")
            await registry.stopAll()
            throw ExitCode(2)
        }

        await waitUntilStopped(runFor: runFor)
        await server?.stop()
        await registry.stopAll()
    }
}

