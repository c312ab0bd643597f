// swift-tools-version:5.9
// libFuzzer targets for every parser of untrusted bytes (scripts/fuzz.sh builds and runs them):
// each is a `LLVMFuzzerTestOneInput` that feeds the bytes to one of Flatline's readers and stops
// the process (a finding) when an invariant breaks. Built with -sanitize=fuzzer,address.
import PackageDescription

let fuzz: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "FlatlineFuzz",
    dependencies: [.package(name: "Flatline", path: "..")],
    targets: [
        .executableTarget(name: "FuzzScenario", dependencies: [.product(name: "ScenarioModel", package: "Flatline")], swiftSettings: fuzz),
        .executableTarget(name: "FuzzDuration", dependencies: [.product(name: "ScenarioModel", package: "Flatline"), .product(name: "EventSchema", package: "Flatline")], swiftSettings: fuzz),
        .executableTarget(name: "FuzzRecording", dependencies: [.product(name: "ScenarioJudging", package: "Flatline")], swiftSettings: fuzz),
        .executableTarget(name: "FuzzStreamTracker", dependencies: [.product(name: "WebSocketSupport", package: "Flatline")], swiftSettings: fuzz),
        .executableTarget(name: "FuzzControlAPI", dependencies: [.product(name: "FaultProxy", package: "Flatline"), .product(name: "EventSchema", package: "Flatline")], swiftSettings: fuzz),
        .executableTarget(name: "FuzzPcap", dependencies: [.product(name: "WireCapture", package: "Flatline")], swiftSettings: fuzz),
    ]
)
