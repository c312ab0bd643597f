import ArgumentParser
import EventSchema
import HeartbeatCore
import WireCapture
import Scenario

struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Look into wire captures.",
        subcommands: [Inspect.self]
    )

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per-connection summary of a pcap file: endpoints, handshake, bytes, WebSocket frames, how it ended."
        )
        @Argument(help: "A .pcap file.") var file: String
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() throws {
            do {
                let reader = try PcapReader(path: file)
                guard PacketDecoder.isSupported(linkType: reader.linkType) else {
                    LineWriter.standardError.write("flatline capture inspect: \(file): link type \(reader.linkType) is not supported (Ethernet, loopback, raw IP and Linux cooked captures are)")
                    throw ExitCode(2)
                }
                let analyzer = WireAnalyzer(linkType: reader.linkType)
                var damaged: String?
                while true {
                    do {
                        guard let packet = try reader.next() else { break }
                        analyzer.feed(packet)
                    } catch {
                        damaged = error.message
                        break
                    }
                }
                if json {
                    var value = analyzer.summaryJSON
                    if let damaged, case .object(var object) = value {
                        object["error"] = .string(damaged)
                        value = .object(object)
                    }
                    LineWriter.standardOutput.write(value.description)
                } else {
                    for line in analyzer.summaryLines() { LineWriter.standardOutput.write(line) }
                    if let damaged { LineWriter.standardOutput.write("stopped early: \(damaged)") }
                }
                if damaged != nil { throw ExitCode(1) }
            } catch let error as PcapError {
                LineWriter.standardError.write("flatline capture inspect: \(error.message)")
                throw ExitCode(2)
            }
        }
    }
}
