// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Flatline",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "EventSchema", targets: ["EventSchema"]),
        .library(name: "HeartbeatCore", targets: ["HeartbeatCore"]),
        .library(name: "HeartbeatClient", targets: ["HeartbeatClient"]),
        .library(name: "HeartbeatServer", targets: ["HeartbeatServer"]),
        .library(name: "FaultModel", targets: ["FaultModel"]),
        .library(name: "FaultProxy", targets: ["FaultProxy"]),
        .library(name: "ScenarioModel", targets: ["ScenarioModel"]),
        .library(name: "ScenarioJudging", targets: ["ScenarioJudging"]),
        .library(name: "ScenarioReporting", targets: ["ScenarioReporting"]),
        .library(name: "Exploration", targets: ["Exploration"]),
        .library(name: "Scenario", targets: ["Scenario"]),
        .library(name: "WireCapture", targets: ["WireCapture"]),
        .library(name: "WebSocketSupport", targets: ["WebSocketSupport"]),
        .executable(name: "flatline", targets: ["flatline"]),
        .executable(name: "flatline-bench", targets: ["flatline-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // MARK: - Libraries

        .target(
            name: "EventSchema",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HeartbeatCore",
            dependencies: ["EventSchema"],
            swiftSettings: swiftSettings
        ),
        // Plumbing any NIO program of Flatline's needs: instants as NIO deadlines and the wall
        // clock, the descriptor limit, hardened listeners, bounded waits, connecting to an address.
        .target(
            name: "NetworkSupport",
            dependencies: [
                "EventSchema",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // WebSocket specifics shared by the client, server, proxy and capture: frame checks and
        // close frames, the message handlers, the reasons a connection was lost, the stream tracker.
        .target(
            name: "WebSocketSupport",
            dependencies: [
                "EventSchema",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HeartbeatWebSocket",
            dependencies: [
                "HeartbeatCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Fault values and their catalog: what a fault is, without the proxy that carries it out.
        .target(
            name: "FaultModel",
            dependencies: ["EventSchema"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FaultProxy",
            dependencies: [
                "EventSchema",
                "FaultModel",
                "WebSocketSupport",
                "NetworkSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // libpcap's header at build time (libpcap-dev); the library itself is loaded with dlopen
        // when capture is first used, so that the binary runs without it.
        .target(name: "CPcap"),
        .target(
            name: "WireCapture",
            dependencies: [
                "CPcap",
                "EventSchema",
                "WebSocketSupport",
                "NetworkSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Scenario values: settings, steps, faults, checks; the parser with file:line:col errors,
        // validation, duration expressions, event patterns, the YAML encoder. No NIO, no libpcap.
        .target(
            name: "ScenarioModel",
            dependencies: [
                "EventSchema",
                "HeartbeatCore",
                "FaultModel",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Judging a recording: the judge, evidence, verdicts, one RunOutcome. No NIO.
        .target(
            name: "ScenarioJudging",
            dependencies: ["EventSchema", "HeartbeatCore", "FaultModel", "ScenarioModel"],
            swiftSettings: swiftSettings
        ),
        // Console tables, JUnit, HTML pages, the index, shards and their manifest. No NIO.
        .target(
            name: "ScenarioReporting",
            dependencies: ["EventSchema", "FaultModel", "ScenarioModel", "ScenarioJudging"],
            swiftSettings: swiftSettings
        ),
        // Exploration: schedules as data drawn from a seed, the properties a client's settings
        // imply (as scenario checks), the shrinker. No NIO: running them is the runtime's.
        .target(
            name: "Exploration",
            dependencies: ["EventSchema", "HeartbeatCore", "FaultModel", "ScenarioModel", "ScenarioJudging"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Scenario",
            dependencies: [
                "Exploration",
                "ScenarioModel",
                "ScenarioJudging",
                "ScenarioReporting",
                "EventSchema",
                "HeartbeatCore",
                "HeartbeatClient",
                "HeartbeatServer",
                "FaultProxy",
                "FaultModel",
                "WireCapture",
                "WebSocketSupport",
                "NetworkSupport",
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HeartbeatClient",
            dependencies: [
                "EventSchema",
                "HeartbeatCore",
                "HeartbeatWebSocket",
                "WebSocketSupport",
                "NetworkSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HeartbeatServer",
            dependencies: [
                "EventSchema",
                "HeartbeatCore",
                "HeartbeatWebSocket",
                "WebSocketSupport",
                "NetworkSupport",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Executables

        .executableTarget(
            name: "flatline",
            dependencies: [
                "EventSchema",
                "HeartbeatCore",
                "HeartbeatClient",
                "HeartbeatServer",
                "FaultProxy",
                "FaultModel",
                "Scenario",
                "Exploration",
                "ScenarioModel",
                "ScenarioJudging",
                "ScenarioReporting",
                "WireCapture",
                "WebSocketSupport",
                "NetworkSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "flatline-bench",
            // A standalone measuring program built around blocking threads.
            swiftSettings: swiftSettings
        ),

        // MARK: - Tests

        .target(
            name: "TestSupport",
            dependencies: [
                "EventSchema",
                "HeartbeatCore",
                "HeartbeatWebSocket",
                "WebSocketSupport",
                "NetworkSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Tests/TestSupport",
            // Hashing and generating hundreds of MiB in the integrity tests must be fast in debug builds.
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"])]
        ),

        .testTarget(
            name: "EventSchemaTests",
            dependencies: ["EventSchema"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HeartbeatCoreTests",
            dependencies: ["EventSchema", "HeartbeatCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HeartbeatClientTests",
            dependencies: [
                "EventSchema",
                "TestSupport",
                "HeartbeatClient",
                "HeartbeatServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FaultProxyTests",
            dependencies: [
                "EventSchema",
                "TestSupport",
                "FaultProxy",
                "FaultModel",
                "HeartbeatClient",
                "HeartbeatServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WireCaptureTests",
            dependencies: [
                "EventSchema",
                "WireCapture", "CPcap", "TestSupport", "FaultProxy", "FaultModel", "HeartbeatCore", "Scenario", "ScenarioModel", "ScenarioJudging", "ScenarioReporting",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScenarioTests",
            dependencies: [
                "EventSchema", "Scenario", "ScenarioModel", "ScenarioJudging", "ScenarioReporting", "TestSupport", "HeartbeatCore", "FaultProxy", "FaultModel", "WireCapture",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ExplorationTests",
            dependencies: ["EventSchema", "HeartbeatCore", "FaultModel", "ScenarioModel", "ScenarioJudging", "Exploration"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HeartbeatServerTests",
            dependencies: [
                "EventSchema",
                "TestSupport",
                "HeartbeatServer",
                "HeartbeatClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
