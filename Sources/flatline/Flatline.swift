import ArgumentParser
import Scenario

@main
struct Flatline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flatline",
        abstract: "Prove that a WebSocket client survives a pulled cable.",
        discussion: """
            Flatline ships a heartbeat WebSocket client and server, and the tools to put \
            them (or any other client) through silent network faults.
            """,
        version: "0.1.0",
        subcommands: [InitCommand.self, RunCommand.self, ExploreCommand.self, ValidateCommand.self, ReplayCommand.self, ReportCommand.self, ServerCommand.self, ClientCommand.self, ProxyCommand.self, FaultCommand.self, CaptureCommand.self, EventsCommand.self, DoctorCommand.self]
    )

    static func main() async {
        // Before the threads that would each take an arena of their own (see MemoryReturn).
        MemoryReturn.configure()
        await main(nil)
    }
}
