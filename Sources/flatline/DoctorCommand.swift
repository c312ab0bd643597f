import ArgumentParser
import Scenario

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "What this machine allows: capture, packet mode, browser and shipped clients, open files — each with the line that fixes it.",
        discussion: "Exit status: 0 when the core works (proxy, built-in client and server, a scenario judged), 1 when it does not."
    )

    func run() async throws {
        let checks = await Doctor.checks(installation: Installation.find())
        for check in checks {
            print("\(check.status == .ok ? "✓" : (check.required ? "✗" : "–")) \(check.name): \(check.detail)")
            if let fix = check.fix { print("    fix: \(fix)") }
        }
        let core = checks.filter(\.required).allSatisfy { $0.status == .ok }
        let missing = checks.filter { $0.status != .ok }.count
        print(core ? "the core works\(missing > 0 ? "; \(missing) optional part\(missing == 1 ? "" : "s") missing (above)" : "")" : "the core does not work (above)")
        if !core { throw ExitCode(1) }
    }
}
