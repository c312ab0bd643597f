import FaultProxy
import FaultModel
import Foundation
import EventSchema
import HeartbeatCore
import TestSupport
import Testing

@Suite("Proxy config files")
struct ProxyConfigFileTests {
    func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "flatline-config-\(UInt64.random(in: 0...UInt64.max)).json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func loadsProxiesAndTheirToxics() async throws {
        let upstream = try RawListener()
        let path = try write(#"[{"name": "ws", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:\#(upstream.port)", "toxics": [{"type": "latency", "stream": "both", "attributes": {"latency": 50}}]}]"#)
        let registry = ProxyRegistry(seed: 1)
        try await ProxyConfigFile.load(path: path, into: registry)
        let proxy = try await registry.proxy(named: "ws")
        #expect(proxy.faults.map(\.name) == ["latency_both"])
        await registry.stopAll()
    }

    @Test(arguments: [
        ("[\n  {\"name\": \"ws\",\n   \"listen\" \"x\"}]", ":3:13: expected ':'"),
        (#"[{"name": "ws", "upstrem": "127.0.0.1:1"}]"#, "unknown field 'upstrem' (did you mean 'upstream'?)"),
        (#"[{"name": "ws", "upstream": "127.0.0.1:1", "toxics": [{"type": "blackhol"}]}]"#, "toxic 0: unknown fault 'blackhol', did you mean 'blackhole'?"),
        (#"{"name": "ws"}"#, "expected a JSON array of proxies"),
    ])
    func errorsSayWhereAndWhat(text: String, fragment: String) async throws {
        let path = try write(text)
        let registry = ProxyRegistry(seed: 1)
        do {
            try await ProxyConfigFile.load(path: path, into: registry)
            Issue.record("should have failed")
        } catch let error as ConfigurationError {
            #expect(error.message.hasPrefix(path))
            #expect(error.message.contains(fragment), "\(error.message)")
        }
        await registry.stopAll()
    }
}
