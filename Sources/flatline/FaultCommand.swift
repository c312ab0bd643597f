import ArgumentParser
import FaultProxy
import FaultModel
import Foundation
import EventSchema
import HeartbeatCore
import NIOHTTP1
import Scenario

struct APIOptions: ParsableArguments {
    @Option(help: "Address of the control API.") var api: String = "127.0.0.1:8474"
    @Option(help: "Bearer token of the control API (also $FLATLINE_API_TOKEN).") var apiToken: String?

    func client() throws -> ControlClient {
        do {
            return ControlClient(address: try HostPort(parsing: api), token: apiToken ?? ProcessInfo.processInfo.environment["FLATLINE_API_TOKEN"])
        } catch {
            throw ValidationError("--api: \(error.message)")
        }
    }

    /// Sends a request; prints the answer (JSON) or the API's error and exits non-zero.
    func send(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil) async throws -> JSONValue? {
        let client = try client()
        let reply: ControlClient.Reply
        do {
            reply = try await client.request(method, path, body: body)
        } catch {
            let detail = (error as? ProxyError)?.message ?? "\(error)"
            LineWriter.standardError.write("flatline fault: \(detail); is 'flatline proxy --api \(api)' running?")
            throw ExitCode(2)
        }
        guard (200..<300).contains(reply.status) else {
            let message = reply.body?.objectValue?["error"]?.stringValue ?? "HTTP \(reply.status)"
            LineWriter.standardError.write("flatline fault: \(message) (HTTP \(reply.status))")
            throw ExitCode(1)
        }
        return reply.body
    }
}

struct FaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fault",
        abstract: "Add, remove and list faults through a running proxy's control API.",
        subcommands: [Add.self, Remove.self, List.self, Reset.self, Types.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a fault (a toxic) to a proxy.",
            discussion: """
                Types: \(FaultCatalog.typeNames.joined(separator: ", ")).
                Example: flatline fault add --proxy ws --type blackhole --stream both
                         flatline fault add --proxy ws --type latency --attribute latency=200 --attribute jitter=50
                         flatline fault add --proxy ws --type drop_frames --stream downstream --attribute opcodes=pong
                """
        )
        @OptionGroup var options: APIOptions
        @Option(help: "The proxy's name.") var proxy: String
        @Option(help: "Fault type.") var type: String
        @Option(help: "Name of the fault (default TYPE_STREAM).") var name: String?
        @Option(help: "upstream (client→server), downstream or both.") var stream: String = "both"
        @Option(help: "Probability per connection, 0–1.") var toxicity: Double = 1
        @Option(help: "all, existing, new, or a connection number.") var target: String = "all"
        @Option(name: .customLong("attribute"), help: "An attribute KEY=VALUE (repeatable); lists with commas.") var attributes: [String] = []

        func run() async throws {
            var attributeObject = JSONObject()
            for pair in attributes {
                guard let equals = pair.firstIndex(of: "=") else { throw ValidationError("--attribute '\(pair)': expected KEY=VALUE") }
                let key = String(pair[..<equals]), value = String(pair[pair.index(after: equals)...])
                if let number = Int64(value) {
                    attributeObject[key] = .int(number)
                } else if key == "opcodes" {
                    attributeObject[key] = .array(value.split(separator: ",").map { .string(String($0)) })
                } else {
                    attributeObject[key] = .string(value)
                }
            }
            var toxic: JSONObject = ["type": .string(type), "stream": .string(stream), "toxicity": .double(toxicity), "attributes": .object(attributeObject)]
            if let name { toxic["name"] = .string(name) }
            toxic["target"] = Int64(target).map { .int($0) } ?? .string(target)
            let reply = try await options.send(.POST, "/proxies/\(proxy)/toxics", body: .object(toxic))
            LineWriter.standardOutput.write(reply?.description ?? "")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove (heal) a fault.")
        @OptionGroup var options: APIOptions
        @Option(help: "The proxy's name.") var proxy: String
        @Argument(help: "The fault's name.") var name: String

        func run() async throws {
            _ = try await options.send(.DELETE, "/proxies/\(proxy)/toxics/\(name)")
            LineWriter.standardOutput.write("removed fault \(name) from proxy \(proxy)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List proxies and their faults (JSON).")
        @OptionGroup var options: APIOptions
        @Option(help: "Only this proxy's faults.") var proxy: String?

        func run() async throws {
            let path = proxy.map { "/proxies/\($0)/toxics" } ?? "/proxies"
            LineWriter.standardOutput.write(try await options.send(.GET, path)?.description ?? "")
        }
    }

    struct Types: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every fault type, its attributes and units (a Markdown table).")

        func run() {
            LineWriter.standardOutput.write(FaultCatalog.markdownTable)
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every fault and enable every proxy.")
        @OptionGroup var options: APIOptions

        func run() async throws {
            _ = try await options.send(.POST, "/reset")
            LineWriter.standardOutput.write("every fault removed, every proxy enabled")
        }
    }
}
