public import EventSchema
public import FaultModel
public import NIOCore
public import NIOPosix

/// Several named proxies in one process: what the control API manages.
public actor ProxyRegistry {
    public let group: any EventLoopGroup
    public let hub: EventHub<ProxyEvent>
    public let observeFrames: Bool
    private var proxies: [String: FaultProxy] = [:]
    private var order: [String] = []
    /// Names being created: the actor is reentrant across the listener's start, so the name is
    /// claimed before it, and a second create of the same name is refused at once.
    private var claimed: Set<String> = []
    private var random: SplitMix64

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, hub: EventHub<ProxyEvent> = EventHub(), observeFrames: Bool = false, seed: UInt64? = nil) {
        self.group = group
        self.hub = hub
        self.observeFrames = observeFrames
        var system = SystemRandomNumberGenerator()
        self.random = SplitMix64(seed: seed ?? system.next())
    }

    public var all: [FaultProxy] { order.compactMap { proxies[$0] } }

    public func proxy(named name: String) throws(ProxyError) -> FaultProxy {
        guard let proxy = proxies[name] else {
            let known = order.isEmpty ? "there are none" : "proxies: \(order.joined(separator: ", "))"
            throw ProxyError(.notFound, "proxy not found: \(name)\(String.suggestion(for: name, in: order)); \(known)")
        }
        return proxy
    }

    /// A name the API can address: letters, digits and `-_.:@`, at most 128 characters.
    static func validate(name: String) throws(ProxyError) {
        guard !name.isEmpty else { throw ProxyError(.badRequest, "a proxy needs a non-empty name") }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:@")
        guard name.count <= 128, name.allSatisfy({ allowed.contains($0) }) else {
            throw ProxyError(.badRequest, "invalid proxy name '\(name)': use letters, digits and - _ . : @ (at most 128), so that /proxies/NAME can address it")
        }
    }

    /// Creates and starts a proxy. 409 when the name or the listen address is taken.
    @discardableResult
    public func create(name: String, listen: HostPort, upstream: HostPort, enabled: Bool = true) async throws(ProxyError) -> FaultProxy {
        try Self.validate(name: name)
        guard proxies[name] == nil, !claimed.contains(name) else { throw ProxyError(.conflict, "proxy already exists: \(name)") }
        claimed.insert(name)
        defer { claimed.remove(name) }
        let proxy = try await FaultProxy.start(
            name: name, listen: listen, upstream: upstream, group: group,
            observeFrames: observeFrames, seed: random.next(), hub: hub
        )
        if !enabled { try await proxy.setEnabled(false) }
        proxies[name] = proxy
        order.append(name)
        return proxy
    }

    public func delete(name: String) async throws(ProxyError) {
        let proxy = try proxy(named: name)
        proxies[name] = nil
        order.removeAll { $0 == name }
        await proxy.stop()
    }

    /// Toxiproxy's `/populate`: creates the proxies given; an existing one is replaced only if its
    /// listen or upstream address differs.
    public func populate(_ specs: [(name: String, listen: HostPort, upstream: HostPort, enabled: Bool)]) async throws(ProxyError) -> [FaultProxy] {
        var result: [FaultProxy] = []
        for spec in specs {
            if let existing = proxies[spec.name] {
                let sameListen = spec.listen.port == 0 ? existing.listen.host == spec.listen.host : existing.listen == spec.listen
                if sameListen && existing.upstream == spec.upstream {
                    result.append(existing)
                    continue
                }
                try await delete(name: spec.name)
            }
            result.append(try await create(name: spec.name, listen: spec.listen, upstream: spec.upstream, enabled: spec.enabled))
        }
        return result
    }

    /// Changes `enabled`, `listen` or `upstream` of a proxy.
    public func update(name: String, enabled: Bool?, listen: HostPort?, upstream: HostPort?) async throws(ProxyError) -> FaultProxy {
        var proxy = try proxy(named: name)
        if let listen, listen != proxy.listen {
            // A new listen address means a new listener; faults carry over.
            let faults = proxy.faults
            let wasEnabled = proxy.enabled
            try await delete(name: name)
            proxy = try await create(name: name, listen: listen, upstream: upstream ?? proxy.upstream, enabled: wasEnabled)
            for fault in faults { try await proxy.add(fault) }
        } else if let upstream {
            proxy.core.setUpstream(upstream)
        }
        if let enabled { try await proxy.setEnabled(enabled) }
        return proxy
    }

    /// Toxiproxy's `/reset`: every proxy enabled, every toxic removed.
    public func reset() async {
        for proxy in all {
            await proxy.heal()
            try? await proxy.setEnabled(true)
        }
    }

    public func stopAll() async {
        for proxy in all { await proxy.stop() }
        proxies.removeAll()
        order.removeAll()
    }
}

extension FaultProxy {
    /// The proxy as Toxiproxy JSON: `{name, listen, upstream, enabled, toxics}`.
    public var json: JSONObject {
        [
            "name": .string(name),
            "listen": .string(listen.description),
            "upstream": .string(upstream.description),
            "enabled": .bool(enabled),
            "toxics": .array(faults.map { .object($0.toxicJSON) }),
        ]
    }

    /// Finds a fault by name (404 when absent).
    public func fault(named name: String) throws(ProxyError) -> Fault {
        guard let fault = faults.first(where: { $0.name == name }) else {
            throw ProxyError(.notFound, "toxic not found: \(name)")
        }
        return fault
    }

    /// Replaces a fault's toxicity and attributes (Toxiproxy's toxic update).
    public func update(_ name: String, with fault: Fault) async throws(ProxyError) {
        _ = try self.fault(named: name)
        try await remove(name)
        try await add(fault)
    }
}
