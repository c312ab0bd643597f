public import EventSchema
public import FaultModel
import NIOConcurrencyHelpers
public import NIOCore
import NIOHTTP1
import WebSocketSupport
import NetworkSupport
public import NIOPosix

/// The control API's logic, free of sockets: a request in, a response out. Speaks Toxiproxy's v2
/// HTTP dialect so that existing Toxiproxy clients drive Flatline unchanged.
public struct ControlAPI: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var headers: [(String, String)]
        public var body: [UInt8]

        public init(method: String, path: String, headers: [(String, String)] = [], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.headers = headers
            self.body = body
        }

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    public struct Response: Sendable {
        public var status: Int
        public var body: JSONValue?

        public init(status: Int, body: JSONValue? = nil) {
            self.status = status
            self.body = body
        }

        static func error(_ status: Int, _ message: String) -> Response {
            Response(status: status, body: .object(["error": .string(message), "status": .int(Int64(status))]))
        }

        static func error(_ error: ProxyError) -> Response { .error(error.status, error.message) }
    }

    public static let version = "2.12.0-flatline-0.1.0"

    public let registry: ProxyRegistry
    /// When set, every request must carry `Authorization: Bearer <token>`.
    public let token: String?

    public init(registry: ProxyRegistry, token: String? = nil) {
        self.registry = registry
        self.token = token
    }

    /// Whether a request may be served at all (browsers and missing tokens are refused).
    public func admission(_ request: Request) -> Response? {
        if let agent = request.header("User-Agent"), agent.hasPrefix("Mozilla/") {
            return .error(403, "requests from browsers are refused (User-Agent Mozilla/…): a web page must not drive the proxy")
        }
        if request.header("Origin") != nil {
            return .error(403, "cross-origin requests are refused (Origin header present)")
        }
        if let token, request.header("Authorization") != "Bearer \(token)" {
            return .error(401, "missing or wrong bearer token: send Authorization: Bearer <token>")
        }
        return nil
    }

    public func handle(_ request: Request) async -> Response {
        if let refusal = admission(request) { return refusal }
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        let parts = path.split(separator: "/").map(String.init)
        do {
            return try await route(request.method.uppercased(), parts, request)
        } catch let error as ProxyError {
            return .error(error)
        } catch {
            return .error(500, "\(error)")
        }
    }

    private func route(_ method: String, _ parts: [String], _ request: Request) async throws -> Response {
        switch (method, parts.count) {
        case ("GET", 1) where parts[0] == "version":
            return Response(status: 200, body: .object(["version": .string(Self.version)]))
        case ("POST", 1) where parts[0] == "reset":
            await registry.reset()
            return Response(status: 204)
        case ("POST", 1) where parts[0] == "populate":
            return try await populate(request)
        case ("GET", 1) where parts[0] == "proxies":
            var object = JSONObject()
            for proxy in await registry.all { object[proxy.name] = .object(proxy.json) }
            return Response(status: 200, body: .object(object))
        case ("POST", 1) where parts[0] == "proxies":
            let body = try parseObject(request)
            let spec = try proxySpec(body, requireAll: true)
            let proxy = try await registry.create(name: spec.name, listen: spec.listen, upstream: spec.upstream, enabled: spec.enabled)
            return Response(status: 201, body: .object(proxy.json))
        case (_, 2) where parts[0] == "proxies":
            return try await proxyRoute(method, name: parts[1], request)
        case (_, 3) where parts[0] == "proxies" && parts[2] == "toxics":
            return try await toxicsRoute(method, proxy: parts[1], request)
        case (_, 4) where parts[0] == "proxies" && parts[2] == "toxics":
            return try await toxicRoute(method, proxy: parts[1], toxic: parts[3], request)
        default:
            let known = ["/proxies", "/populate", "/reset", "/version", "/events"]
            return .error(404, "no such endpoint: \(method) /\(parts.joined(separator: "/")); the API has \(known.joined(separator: ", "))")
        }
    }

    private func proxyRoute(_ method: String, name: String, _ request: Request) async throws -> Response {
        switch method {
        case "GET":
            return Response(status: 200, body: .object(try await registry.proxy(named: name).json))
        case "POST", "PATCH":
            let body = try parseObject(request)
            let allowed = ["name", "listen", "upstream", "enabled"]
            if let unknown = body.keys.first(where: { !allowed.contains($0) }) {
                throw ProxyError(.badRequest, "unknown proxy field '\(unknown)'\(String.suggestion(for: unknown, in: allowed))")
            }
            var enabled: Bool?
            if let value = body["enabled"] {
                guard let flag = value.boolValue else { throw ProxyError(.badRequest, "enabled must be true or false") }
                enabled = flag
            }
            let listen = try body["listen"].map { try address($0, field: "listen") }
            let upstream = try body["upstream"].map { try address($0, field: "upstream") }
            let proxy = try await registry.update(name: name, enabled: enabled, listen: listen, upstream: upstream)
            return Response(status: 200, body: .object(proxy.json))
        case "DELETE":
            try await registry.delete(name: name)
            return Response(status: 204)
        default:
            return .error(405, "method \(method) not allowed on /proxies/\(name)")
        }
    }

    private func toxicsRoute(_ method: String, proxy name: String, _ request: Request) async throws -> Response {
        let proxy = try await registry.proxy(named: name)
        switch method {
        case "GET":
            return Response(status: 200, body: .array(proxy.faults.map { .object($0.toxicJSON) }))
        case "POST":
            let fault = try parseFault(try parseObject(request))
            try await proxy.add(fault)
            return Response(status: 200, body: .object(fault.toxicJSON))
        default:
            return .error(405, "method \(method) not allowed on /proxies/\(name)/toxics")
        }
    }

    private func toxicRoute(_ method: String, proxy name: String, toxic: String, _ request: Request) async throws -> Response {
        let proxy = try await registry.proxy(named: name)
        let existing = try proxy.fault(named: toxic)
        switch method {
        case "GET":
            return Response(status: 200, body: .object(existing.toxicJSON))
        case "POST", "PATCH":
            // An update carries toxicity and/or attributes; the rest is kept.
            var merged = existing.toxicJSON
            let body = try parseObject(request)
            for (key, value) in body {
                if key == "attributes", case .object(let attributes) = value, case .object(var current)? = merged["attributes"] {
                    for (attribute, attributeValue) in attributes { current[attribute] = attributeValue }
                    merged["attributes"] = .object(current)
                } else {
                    merged[key] = value
                }
            }
            merged["name"] = .string(toxic)
            let fault = try parseFault(merged)
            try await proxy.update(toxic, with: fault)
            return Response(status: 200, body: .object(fault.toxicJSON))
        case "DELETE":
            try await proxy.remove(toxic)
            return Response(status: 204)
        default:
            return .error(405, "method \(method) not allowed on /proxies/\(name)/toxics/\(toxic)")
        }
    }

    private func populate(_ request: Request) async throws -> Response {
        let value = try parseJSON(request)
        let items: [JSONValue]
        if let array = value.arrayValue {
            items = array
        } else if let proxies = value.objectValue?["proxies"]?.arrayValue {
            items = proxies
        } else {
            throw ProxyError(.badRequest, "populate expects a JSON array of proxies")
        }
        var specs: [(name: String, listen: HostPort, upstream: HostPort, enabled: Bool)] = []
        for (index, item) in items.enumerated() {
            guard let object = item.objectValue else { throw ProxyError(.badRequest, "populate item \(index) is not an object") }
            do {
                specs.append(try proxySpec(object, requireAll: true))
            } catch let error as ProxyError {
                throw ProxyError(error.kind, "populate item \(index): \(error.message)")
            }
        }
        let proxies = try await registry.populate(specs)
        return Response(status: 201, body: .object(["proxies": .array(proxies.map { .object($0.json) })]))
    }

    // MARK: Parsing

    private func parseJSON(_ request: Request) throws -> JSONValue {
        guard !request.body.isEmpty else { throw ProxyError(.badRequest, "missing JSON body") }
        do {
            return try JSONValue(parsing: request.body)
        } catch {
            throw ProxyError(.badRequest, "bad request body: \(error)")
        }
    }

    private func parseObject(_ request: Request) throws -> JSONObject {
        guard let object = try parseJSON(request).objectValue else { throw ProxyError(.badRequest, "the body must be a JSON object") }
        return object
    }

    private func parseFault(_ object: JSONObject) throws -> Fault {
        do {
            return try Fault(toxic: object)
        } catch {
            throw ProxyError(.badRequest, error.message)
        }
    }

    private func address(_ value: JSONValue, field: String) throws -> HostPort {
        guard let text = value.stringValue else { throw ProxyError(.badRequest, "\(field) must be a \"host:port\" string") }
        do {
            return try HostPort(parsing: text)
        } catch {
            throw ProxyError(.badRequest, "\(field): \(error.message)")
        }
    }

    private func proxySpec(_ object: JSONObject, requireAll: Bool) throws -> (name: String, listen: HostPort, upstream: HostPort, enabled: Bool) {
        let allowed = ["name", "listen", "upstream", "enabled"]
        if let unknown = object.keys.first(where: { !allowed.contains($0) }) {
            throw ProxyError(.badRequest, "unknown proxy field '\(unknown)'\(String.suggestion(for: unknown, in: allowed)); proxies have \(allowed.joined(separator: ", "))")
        }
        guard let name = object["name"]?.stringValue, !name.isEmpty else { throw ProxyError(.badRequest, "missing required field: name") }
        guard let upstreamValue = object["upstream"] else { throw ProxyError(.badRequest, "missing required field: upstream") }
        let upstream = try address(upstreamValue, field: "upstream")
        let listen = try object["listen"].map { try address($0, field: "listen") } ?? HostPort(host: "127.0.0.1", port: 0)
        var enabled = true
        if let value = object["enabled"] {
            guard let flag = value.boolValue else { throw ProxyError(.badRequest, "enabled must be true or false") }
            enabled = flag
        }
        return (name, listen, upstream, enabled)
    }
}

/// The control API on an HTTP/1.1 socket, plus `GET /events` (chunked JSON lines, or server-sent
/// events when the client asks for `text/event-stream`).
public final class ControlServer: Sendable {
    public let api: ControlAPI
    private let group: any EventLoopGroup
    private let connections = ManagedConnectionCount(limit: ControlServer.maximumConnections)
    private let state: NIOLockedValueBox<(channel: (any Channel)?, address: HostPort, stopped: Bool)>

    public var address: HostPort { state.withLockedValue { $0.address } }

    /// A client that sends nothing for this long (idle, or a request that stalls) is closed.
    private let idleTimeout: TimeAmount

    private init(api: ControlAPI, address: HostPort, group: any EventLoopGroup, idleTimeout: TimeAmount) {
        self.api = api
        self.group = group
        self.idleTimeout = idleTimeout
        self.state = NIOLockedValueBox((nil, address, false))
    }

    public static func start(
        api: ControlAPI, at address: HostPort, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, idleTimeout: TimeAmount = .seconds(30)
    ) async throws(ProxyError) -> ControlServer {
        let server = ControlServer(api: api, address: address, group: group, idleTimeout: idleTimeout)
        try await server.bind()
        return server
    }

    private func bind() async throws(ProxyError) {
        let address = self.address
        let api = self.api
        let connections = self.connections
        let idleTimeout = self.idleTimeout
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // Beyond the limit: a plain 503 and close, before any HTTP state exists.
                        guard connections.enter() else {
                            try channel.pipeline.syncOperations.addHandler(RefuseHandler())
                            return
                        }
                        // Idle and slow clients are closed; a stream of events is not idle.
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(ControlHTTPHandler(api: api, connections: connections))
                    }
                }
                .bind(host: address.host, port: address.port)
                .get()
        } catch {
            throw ProxyError(.conflict, "cannot listen on \(address) for the control API: \(error)")
        }
        await ListenerHardening.watch(channel) { _ in } exhausted: { [weak self] in
            Task { await self?.relisten() }
        }
        let bound = HostPort(host: channel.localAddress?.ipAddress ?? address.host, port: channel.localAddress?.port ?? address.port)
        state.withLockedValue {
            $0.channel = channel
            $0.address = bound
        }
    }

    /// Out of descriptors: stop listening for a moment (new clients are refused), then listen again.
    private func relisten() async {
        let channel = state.withLockedValue { state -> (any Channel)? in
            defer { state.channel = nil }
            return state.channel
        }
        try? await channel?.close()
        while !state.withLockedValue({ $0.stopped }) {
            try? await Task.sleep(for: .nanoseconds(ListenerHardening.pause.nanoseconds))
            if (try? await bind()) != nil { return }
        }
    }

    public func stop() async {
        let channel = state.withLockedValue { state -> (any Channel)? in
            state.stopped = true
            defer { state.channel = nil }
            return state.channel
        }
        try? await channel?.close()
    }

    /// API connections open at once; more are answered 503 and closed.
    public static let maximumConnections = 128
}

private final class ControlHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let api: ControlAPI
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false
    private var eventTask: Task<Void, Never>?
    static let maxBody = 1 << 20

    /// Counted in when it was accepted; counted out when it closes.
    private let connections: ManagedConnectionCount
    private var counted = true

    init(api: ControlAPI, connections: ManagedConnectionCount) {
        self.api = api
        self.connections = connections
    }

    /// A request the parser rejected was answered 400 by NIO's handler; the connection is closed.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A client idle for the read timeout is closed, unless it is reading /events.
        if event is IdleStateHandler.IdleStateEvent, eventTask == nil {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.removeAll()
            tooLarge = false
        case .body(let buffer):
            if body.count + buffer.readableBytes > Self.maxBody { tooLarge = true } else { body += Array(buffer.readableBytesView) }
        case .end:
            guard let head else { return }
            self.head = nil
            let request = ControlAPI.Request(
                method: head.method.rawValue, path: head.uri,
                headers: head.headers.map { ($0.name, $0.value) }, body: body
            )
            if tooLarge {
                respond(context: context, ControlAPI.Response.error(413, "request body larger than 1 MiB"))
                return
            }
            if head.method == .GET, head.uri.split(separator: "?").first == "/events" {
                streamEvents(context: context, request: request)
                return
            }
            let api = self.api
            let promise = context.eventLoop.makePromise(of: ControlAPI.Response.self)
            promise.completeWithTask { await api.handle(request) }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            promise.futureResult.whenSuccess { response in
                let (handler, context) = bound.value
                handler.respond(context: context, response)
            }
        }
    }

    private func respond(context: ChannelHandlerContext, _ response: ControlAPI.Response) {
        var headers = HTTPHeaders()
        headers.add(name: "Connection", value: "close")
        var buffer: ByteBuffer?
        if let body = response.body {
            let text = body.description + "\n"
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(text.utf8.count))
            buffer = context.channel.allocator.buffer(string: text)
        } else {
            headers.add(name: "Content-Length", value: "0")
        }
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if let buffer { context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil) }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    private func streamEvents(context: ChannelHandlerContext, request: ControlAPI.Request) {
        if let refusal = api.admission(request) {
            respond(context: context, refusal)
            return
        }
        let sse = request.header("Accept")?.contains("text/event-stream") ?? false
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: sse ? "text/event-stream" : "application/x-ndjson")
        headers.add(name: "Cache-Control", value: "no-cache")
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        // A reader that does not keep up is not buffered for without bound: a few thousand events
        // wait for it, older ones are given up, events are skipped while its socket is full, and
        // the gap is reported (`proxy events-dropped`) once it reads again.
        let dropped = NIOLockedValueBox(0)
        let stream = api.registry.hub.subscribe(limit: 4096) { dropped.withLockedValue { $0 += 1 } }
        let origin = Instant.now
        let channel = context.channel
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        eventTask = Task {
            for await event in stream {
                guard channel.isActive else { break }
                let text = ControlHTTPHandler.format(event, origin: origin, sse: sse)
                // One event at a time on the loop: the task never runs ahead of the socket.
                let delivered: Void? = try? await channel.eventLoop.submit {
                    let (handler, context) = bound.value
                    handler.deliver(text, at: event.at, origin: origin, sse: sse, dropped: dropped, context: context)
                }.get()
                if delivered == nil { break }
            }
        }
    }

    /// Events skipped while the reader's socket was full (loop-confined).
    private var skipped = 0

    private func deliver(_ text: String, at: Instant, origin: Instant, sse: Bool, dropped: NIOLockedValueBox<Int>, context: ChannelHandlerContext) {
        guard context.channel.isWritable else {
            skipped += 1
            return
        }
        let missing = skipped + dropped.withLockedValue { count in
            defer { count = 0 }
            return count
        }
        skipped = 0
        var out = ""
        if missing > 0 {
            out = Self.format(ProxyEvent(at: at, type: .eventsDropped, fields: ["count": .int(Int64(missing))]), origin: origin, sse: sse)
        }
        out += text
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: out)))), promise: nil)
    }

    private static func format(_ event: ProxyEvent, origin: Instant, sse: Bool) -> String {
        let line = event.record(origin: origin).jsonLine
        return sse ? "event: \(event.type.rawValue)\ndata: \(line)\n\n" : line + "\n"
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counted = false
            connections.leave()
        }
        eventTask?.cancel()
        context.fireChannelInactive()
    }
}

/// How many control API connections are open, against a limit.
final class ManagedConnectionCount: Sendable {
    private let count = NIOLockedValueBox(0)
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Counts a new connection; false when the limit is reached (it is not counted then).
    func enter() -> Bool {
        count.withLockedValue { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func leave() { count.withLockedValue { $0 -= 1 } }
}

/// Answers a connection beyond the limit with a plain 503 and closes it.
private final class RefuseHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        let body = #"{"error":"too many control API connections (at most \#(ControlServer.maximumConnections)); close some and retry","status":503}"#
        let text = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        let channel = context.channel
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: text))).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
