public import ScenarioJudging
public import ScenarioModel
import EventSchema
import FaultModel
import Foundation

/// One run as a self-contained HTML page (`report.html` in the run folder): the client, the proxy's
/// connections, the server and the wire on one time axis, fault windows shaded across every lane,
/// every expectation drawn where it was measured. Inline SVG and CSS and a little vanilla
/// JavaScript (zoom, details on click); no network, no fonts, no external scripts.
public enum RunReport {
    /// What the page is drawn from.
    public struct Input: Sendable {
        public var recording: Recording
        public var scenario: Scenario?
        public var verdicts: [Verdict]
        /// Why the page is drawn from less than a whole run (a truncated recording…), or nil.
        public var incomplete: String?
        /// Links shown above the timeline: (title, relative address).
        public var links: [(String, String)]
        /// A setup error of the live run, if any.
        public var setupError: String?

        public init(recording: Recording, scenario: Scenario?, verdicts: [Verdict], incomplete: String? = nil, links: [(String, String)] = [], setupError: String? = nil) {
            self.recording = recording
            self.scenario = scenario
            self.verdicts = verdicts
            self.incomplete = incomplete
            self.links = links
            self.setupError = setupError
        }
    }

    // MARK: Layout

    private struct Item {
        var lane: Int
        var row: Int
        var start: Double
        var end: Double?
        var cssClass: String
        var title: String
        var detail: String
        var label: String = ""
    }

    private struct Lane {
        var name: String
        var kind: String
        var rows = 1
    }

    static let laneLeft = 150.0
    static let plotWidth = 1060.0
    static let rowHeight = 16.0

    public static func html(_ input: Input) -> String {
        let events = input.recording.events
        let name = input.scenario?.name ?? input.recording.configuration["name"]?.stringValue ?? "run"
        let endMs = max(events.map(\.t.milliseconds).max() ?? 0, 1)
        var lanes: [Lane] = []
        var items: [Item] = []
        func lane(_ name: String, _ kind: String) -> Int {
            if let index = lanes.firstIndex(where: { $0.name == name }) { return index }
            lanes.append(Lane(name: name, kind: kind))
            return lanes.count - 1
        }
        // Each item's event is kept once, in a JSON block the page reads on click (`data-e`).
        var details: [String] = []
        func detail(_ event: EventRecord) -> String { detail(json: event.jsonLine) }
        func detail(json: String) -> String {
            details.append(json)
            return String(details.count - 1)
        }
        func ms(_ event: EventRecord) -> Double { event.t.milliseconds }

        // Steps: a lane of their own, and dashed lines across every lane.
        let stepLane = lane("steps", "steps")
        var stepRows: [Double] = []
        for event in events where event.type == .runner(.step) {
            let index = event.fields["index"]?.intValue ?? 0
            let label = event.fields["label"]?.stringValue ?? ""
            let failed = event.fields["ok"] == false
            // Rows so that labels close together do not overlap.
            let row = stepRows.firstIndex { ms(event) - $0 > endMs * 0.12 } ?? stepRows.count
            if row == stepRows.count { stepRows.append(ms(event)) } else { stepRows[row] = ms(event) }
            items.append(Item(lane: stepLane, row: row, start: ms(event), end: nil, cssClass: failed ? "step failed" : "step", title: "step \(index): \(label)", detail: detail(event), label: "\(index) \(label)"))
        }
        lanes[stepLane].rows = max(1, stepRows.count)

        // Clients: a lane per client, a bar per connection from connecting to its end.
        let clientEvents = events.filter { $0.source == .client }
        let tags = Array(Set(clientEvents.map { $0.fields["client"].map { "\($0)" } ?? "" })).sorted { ($0.count, $0) < ($1.count, $1) }
        for tag in tags {
            let laneIndex = lane(tag.isEmpty ? "client" : "client \(tag)", "client")
            let mine = clientEvents.filter { ($0.fields["client"].map { "\($0)" } ?? "") == tag }
            var open: [String: (Double, EventRecord)] = [:]
            var sent: [Double] = []
            var rowOf: [String: Int] = [:]
            var rowsEnd: [Double] = []
            func row(for conn: String, at t: Double) -> Int {
                if let row = rowOf[conn] { return row }
                let row = rowsEnd.firstIndex { $0 < t } ?? rowsEnd.count
                if row == rowsEnd.count { rowsEnd.append(.infinity) } else { rowsEnd[row] = .infinity }
                rowOf[conn] = row
                return row
            }
            /// When each connection's upgrade completed: the bar starts at the TCP accept, the
            /// handshake up to the 101 is a segment of its own.
            var upgradedAt: [String: Double] = [:]
            func handshake(_ conn: String, from start: Double, row r: Int, event: EventRecord) {
                guard let upgraded = upgradedAt.removeValue(forKey: conn), upgraded > start else { return }
                items.append(Item(lane: laneIndex, row: r, start: start, end: upgraded, cssClass: "conn handshake", title: "connection \(conn): TCP accepted at \(fmt(start)) ms, upgraded (101) at \(fmt(upgraded)) ms", detail: detail(event)))
            }
            func close(_ conn: String, at t: Double, how: String, event: EventRecord) {
                guard let (start, first) = open.removeValue(forKey: conn) else { return }
                let r = row(for: conn, at: start)
                rowsEnd[r] = t
                items.append(Item(lane: laneIndex, row: r, start: start, end: t, cssClass: "conn \(how)", title: "connection \(conn): \(first.type.name) at \(fmt(start)) ms, \(event.type.name) \(event.fields["reason"]?.stringValue ?? "") at \(fmt(t)) ms", detail: detail(event), label: "#\(conn)"))
                handshake(conn, from: start, row: r, event: event)
            }
            for event in mine {
                let conn = event.fields["conn"].map { "\($0)" } ?? "?"
                guard case .client(let type) = event.type else { continue }
                switch type {
                case .connecting:
                    if open[conn] == nil { open[conn] = (ms(event), event); _ = row(for: conn, at: ms(event)) }
                case .connected:
                    if open[conn] == nil { open[conn] = (ms(event), event); _ = row(for: conn, at: ms(event)) }
                    upgradedAt[conn] = ms(event)
                    items.append(Item(lane: laneIndex, row: row(for: conn, at: ms(event)), start: ms(event), end: nil, cssClass: "mark connected", title: "connected #\(conn) at \(fmt(ms(event))) ms", detail: detail(event)))
                case .disconnected:
                    let reason = event.fields["reason"]?.stringValue ?? ""
                    let how = reason == "heartbeat-timeout" ? "abandoned" : reason.contains("reset") || reason == "error" ? "rst" : "fin"
                    close(conn, at: ms(event), how: how, event: event)
                case .closed:
                    for key in Array(open.keys) { close(key, at: ms(event), how: "fin", event: event) }
                case .closeSent:
                    items.append(Item(lane: laneIndex, row: row(for: conn, at: ms(event)), start: ms(event), end: nil, cssClass: "mark fin", title: "close frame sent on #\(conn) at \(fmt(ms(event))) ms: declared dead (the socket may stay open)", detail: detail(event)))
                case .abandoned where event.fields["how"] == "redial":
                    items.append(Item(lane: laneIndex, row: row(for: conn, at: ms(event)), start: ms(event), end: nil, cssClass: "mark bad", title: "#\(conn) left open at \(fmt(ms(event))) ms: the client dialled again without releasing it (a leak)", detail: detail(event)))
                case .heartbeatSent:
                    sent.append(ms(event))
                    items.append(Item(lane: laneIndex, row: row(for: conn, at: ms(event)), start: ms(event), end: nil, cssClass: "tick sent", title: "heartbeat sent at \(fmt(ms(event))) ms", detail: detail(event)))
                case .heartbeatAcked:
                    items.append(Item(lane: laneIndex, row: row(for: conn, at: ms(event)), start: ms(event), end: nil, cssClass: "tick acked", title: "heartbeat acknowledged at \(fmt(ms(event))) ms", detail: detail(event)))
                case .gaveUp, .protocolError, .exited, .outputTruncated:
                    items.append(Item(lane: laneIndex, row: 0, start: ms(event), end: nil, cssClass: "mark bad", title: "\(type.rawValue) at \(fmt(ms(event))) ms", detail: detail(event)))
                default:
                    break
                }
                if type == .disconnected, event.fields["reason"]?.stringValue == "heartbeat-timeout" {
                    // The heartbeat that was never answered stands out.
                    if let last = sent.last(where: { $0 <= ms(event) }) {
                        items.append(Item(lane: laneIndex, row: rowOf[conn] ?? 0, start: last, end: nil, cssClass: "tick missed", title: "heartbeat at \(fmt(last)) ms: no reply (declared dead at \(fmt(ms(event))) ms)", detail: detail(event)))
                    }
                }
            }
            for (conn, (start, first)) in open {
                let r = row(for: conn, at: start)
                items.append(Item(lane: laneIndex, row: r, start: start, end: endMs, cssClass: "conn open", title: "connection \(conn): still open at the end", detail: detail(first), label: "#\(conn)"))
                handshake(conn, from: start, row: r, event: first)
            }
            lanes[laneIndex].rows = max(1, rowsEnd.count)
        }

        // The proxy: a bar per connection (both legs), from accept to its end, with its bytes.
        let proxyLane = lane("proxy", "proxy")
        var proxyOpen: [String: Double] = [:]
        var proxyRows: [Double] = []
        var proxyRowOf: [String: Int] = [:]
        var faultOn: [String: (Double, EventRecord)] = [:]
        var windows: [(Double, Double, String, String)] = []
        for event in events {
            guard case .proxy(let type) = event.type else { continue }
            let conn = event.fields["conn"].map { "\($0)" } ?? "?"
            switch type {
            case .connOpened:
                proxyOpen[conn] = ms(event)
                let row = proxyRows.firstIndex { $0 < ms(event) } ?? proxyRows.count
                if row == proxyRows.count { proxyRows.append(.infinity) } else { proxyRows[row] = .infinity }
                proxyRowOf[conn] = row
            case .connEnded:
                let start = proxyOpen.removeValue(forKey: conn) ?? 0
                let row = proxyRowOf[conn] ?? 0
                if row < proxyRows.count { proxyRows[row] = ms(event) }
                let f = event.fields
                let bytes = "up \(f["up_bytes"].map { "\($0)" } ?? "0") B, down \(f["down_bytes"].map { "\($0)" } ?? "0") B, dropped up \(f["up_dropped"].map { "\($0)" } ?? "0") / down \(f["down_dropped"].map { "\($0)" } ?? "0")"
                items.append(Item(lane: proxyLane, row: row, start: start, end: ms(event), cssClass: "conn proxy", title: "proxy connection \(conn): \(bytes)", detail: detail(event), label: "#\(conn)"))
            case .connClosed, .closedByProxy:
                let how = event.fields["how"]?.stringValue ?? "fin"
                items.append(Item(lane: proxyLane, row: proxyRowOf[conn] ?? 0, start: ms(event), end: nil, cssClass: "mark \(how)", title: "\(type.rawValue) #\(conn): \(event.fields["side"]?.stringValue ?? "") \(how)\(event.fields["forwarded"] == false ? " (withheld)" : "")", detail: detail(event)))
            case .faultOn:
                faultOn[event.fields["fault"]?.stringValue ?? ""] = (ms(event), event)
            case .faultOff:
                let fault = event.fields["fault"]?.stringValue ?? ""
                if let (start, on) = faultOn.removeValue(forKey: fault) { windows.append((start, ms(event), faultLabel(on), detail(on))) }
            case .holdFull, .upstreamFailed, .acceptFailed, .frameDropped:
                items.append(Item(lane: proxyLane, row: proxyRowOf[conn] ?? 0, start: ms(event), end: nil, cssClass: "mark bad", title: "\(type.rawValue) #\(conn)", detail: detail(event)))
            default:
                break
            }
        }
        for (conn, start) in proxyOpen {
            items.append(Item(lane: proxyLane, row: proxyRowOf[conn] ?? 0, start: start, end: endMs, cssClass: "conn open", title: "proxy connection \(conn): open at the end", detail: detail(json: "{}"), label: "#\(conn)"))
        }
        for (_, (start, on)) in faultOn { windows.append((start, endMs, faultLabel(on) + " (never healed)", detail(on))) }
        lanes[proxyLane].rows = max(1, proxyRows.count)

        // The server: its life events as marks.
        let serverLane = lane("server", "server")
        let badServerTypes: Set<ServerEventType> = [.killed, .stopped, .frozen, .reaped, .exited, .muted]
        for event in events where event.source == .server {
            let bad = if case .server(let type) = event.type { badServerTypes.contains(type) } else { false }
            items.append(Item(lane: serverLane, row: 0, start: ms(event), end: nil, cssClass: bad ? "mark bad" : "mark", title: "\(event.type) at \(fmt(ms(event))) ms", detail: detail(event)))
        }

        // The wire, when captured: SYN/FIN/RST marks, frames as ticks.
        let wire = events.filter { $0.source == .wire }
        if !wire.isEmpty {
            let wireLane = lane("wire", "wire")
            for event in wire {
                let from = event.fields["from"]?.stringValue ?? ""
                let to = event.fields["to"]?.stringValue ?? ""
                let isFrame = event.type == .wire(.frame)
                let cssClass = isFrame ? "tick frame" : "mark \(event.type.name)"
                items.append(Item(lane: wireLane, row: isFrame ? 1 : 0, start: ms(event), end: nil, cssClass: cssClass, title: "\(event.type) \(from) → \(to) at \(fmt(ms(event))) ms", detail: detail(event)))
            }
            lanes[wireLane].rows = 2
        }

        // Expectations: a bracket from the instant each was measured from to its bound.
        let checksLane = lane("checks", "checks")
        var checkRow = 0
        for verdict in input.verdicts {
            guard var reference = verdict.reference?.milliseconds else { continue }
            var boundEnd = reference + (verdict.bound ?? verdict.measured ?? .zero).milliseconds
            if let window = verdict.window {
                reference = window.lowerBound.milliseconds
                boundEnd = window.upperBound.milliseconds
            }
            let css = verdict.outcome == .passed ? "check passed" : verdict.outcome == .failed ? "check failed" : "check unjudged"
            let margin = verdict.margin.map { ", margin \(fmt($0.milliseconds)) ms" } ?? ""
            var item = Item(lane: checksLane, row: checkRow, start: reference, end: max(boundEnd, reference), cssClass: css, title: "\(verdict.symbol) \(verdict.check): \(verdict.label) — \(verdict.message)", detail: detail(json: EventRecord(t: verdict.reference ?? .zero, RunnerEventType.verdict, fields: verdict.json).jsonLine), label: "\(verdict.symbol) \(verdict.check)\(margin)")
            items.append(item)
            let mark = verdict.violation?.milliseconds ?? (verdict.bound != nil ? verdict.measured.map { reference + $0.milliseconds } : nil)
            if let mark {
                item.cssClass = "measured " + (verdict.outcome == .failed ? "failed" : "passed")
                item.start = mark
                item.end = nil
                item.label = ""
                items.append(item)
            }
            checkRow += 1
        }
        lanes[checksLane].rows = max(1, checkRow)

        return page(input: input, name: name, endMs: endMs, lanes: lanes, items: items, windows: windows, details: details)
    }

    static func faultLabel(_ on: EventRecord) -> String {
        let kind = on.fields["kind"]?.stringValue ?? "fault"
        let direction = on.fields["direction"]?.stringValue ?? ""
        let name = on.fields["fault"]?.stringValue ?? ""
        let enforced = on.fields["enforced"]?.stringValue.map { ", \($0)" } ?? ""
        // `latency 300 ms`: the attributes with their units, as the catalog declares them.
        var attributes = ""
        if let values = on.fields["attributes"]?.objectValue, let spec = try? FaultCatalog.spec(named: kind) {
            let parts = spec.attributes.compactMap { attribute -> String? in
                guard let value = values[attribute.name] else { return nil }
                let text = value.stringValue ?? value.arrayValue.map { $0.compactMap(\.stringValue).joined(separator: ",") } ?? "\(value)"
                let unit = [.opcodes, .text, .bytes].contains(attribute.unit) ? (attribute.unit == .bytes ? " B" : "") : " \(attribute.unit.rawValue)"
                return "\(attribute.name.replacingOccurrences(of: "_", with: " ")) \(text)\(unit)"
            }
            if !parts.isEmpty { attributes = " (" + parts.joined(separator: ", ") + ")" }
        }
        return "\(kind) \(direction) '\(name)'\(attributes)\(enforced)"
    }

    static func fmt(_ ms: Double) -> String { ms >= 100 || ms == ms.rounded() ? String(Int(ms.rounded())) : String(format: ms, decimals: 1) }

    // MARK: Page

    private static func page(input: Input, name: String, endMs: Double, lanes: [Lane], items: [Item], windows: [(Double, Double, String, String)], details: [String]) -> String {
        let status = RunOutcome.decide(verdicts: input.verdicts, mustFail: input.scenario?.mustFail, setupError: input.setupError, incomplete: input.incomplete != nil)
        var tops: [Double] = []
        var y = 40.0
        for lane in lanes {
            tops.append(y)
            y += Double(lane.rows) * rowHeight + 12
        }
        let height = y + 10
        func x(_ t: Double) -> Double { laneLeft + t / endMs * plotWidth }
        var svg = ""
        svg += #"<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="\#(Int(laneLeft + plotWidth + 20))" height="\#(Int(height))" data-end="\#(fmt(endMs))">"#
        // Lane backgrounds and names.
        for (index, lane) in lanes.enumerated() {
            let top = tops[index], h = Double(lane.rows) * rowHeight + 6
            svg += #"<g class="lane" data-lane="\#(escape(lane.name))" data-kind="\#(lane.kind)"><rect class="lane-bg" x="\#(laneLeft)" y="\#(top - 3)" width="\#(plotWidth)" height="\#(h)"/><text class="lane-name" x="8" y="\#(top + 11)">\#(escape(lane.name))</text></g>"#
        }
        // Fault windows across every lane.
        for (start, end, label, detail) in windows {
            svg += #"<g class="fault-window" data-a="\#(fmt(start))" data-b="\#(fmt(end))" data-e="\#(detail)"><rect class="fault" x="\#(x(start))" y="30" width="\#(max(1, x(end) - x(start)))" height="\#(height - 40)"><title>\#(escape(label)): \#(fmt(start))–\#(fmt(end)) ms</title></rect><text class="fault-label" x="\#(x(start) + 3)" y="26" data-a="\#(fmt(start))">\#(escape(label))</text></g>"#
        }
        // Axis ticks (redrawn by the script on zoom).
        svg += #"<g id="axis"></g>"#
        // Bars first, so that ticks and marks are drawn over them.
        let layered = items.filter { $0.end != nil } + items.filter { $0.end == nil }
        for item in layered {
            let top = tops[item.lane] + Double(item.row) * rowHeight
            let cls = escape(item.cssClass)
            let data = #"data-a="\#(fmt(item.start))" data-b="\#(fmt(item.end ?? item.start))" data-e="\#(item.detail)""#
            if item.cssClass.hasPrefix("step") {
                svg += #"<g class="\#(cls)" \#(data)><line x1="\#(x(item.start))" x2="\#(x(item.start))" y1="\#(top)" y2="\#(height - 10)"/><text x="\#(x(item.start) + 2)" y="\#(top + 11)" data-a="\#(fmt(item.start))">\#(escape(item.label))</text><title>\#(escape(item.title))</title></g>"#
            } else if let end = item.end {
                let w = max(2, x(end) - x(item.start))
                svg += #"<g class="\#(cls)" \#(data)><rect x="\#(x(item.start))" y="\#(top + 2)" width="\#(w)" height="\#(rowHeight - 5)" rx="2"/>"#
                if !item.label.isEmpty { svg += #"<text x="\#(x(item.start) + 3)" y="\#(top + 11)" data-a="\#(fmt(item.start))">\#(escape(item.label))</text>"# }
                svg += #"<title>\#(escape(item.title))</title></g>"#
            } else if item.cssClass.hasPrefix("tick") {
                svg += #"<g class="\#(cls)" \#(data)><line x1="\#(x(item.start))" x2="\#(x(item.start))" y1="\#(top + 2)" y2="\#(top + rowHeight - 3)"/><title>\#(escape(item.title))</title></g>"#
            } else {
                svg += #"<g class="\#(cls)" \#(data)><circle cx="\#(x(item.start))" cy="\#(top + rowHeight / 2)" r="4"/><title>\#(escape(item.title))</title></g>"#
            }
        }
        svg += "</svg>"

        // The expectations table: failures first.
        let ordered = input.verdicts.enumerated().sorted { a, b in
            let rank = { (v: Verdict) in v.outcome == .failed ? 0 : v.outcome == .notJudged ? 1 : 2 }
            return (rank(a.element), a.offset) < (rank(b.element), b.offset)
        }.map(\.element)
        var table = #"<table class="checks"><thead><tr><th></th><th>check</th><th>expectation</th><th>measured</th><th>bound</th><th>margin</th><th>result</th></tr></thead><tbody>"#
        for verdict in ordered {
            let row = verdict.outcome == .passed ? "passed" : verdict.outcome == .failed ? "failed" : "unjudged"
            table += #"<tr class="\#(row)" data-check="\#(escape(verdict.check))"><td>\#(verdict.symbol)</td><td>\#(escape(verdict.check))</td><td>\#(escape(verdict.label))<div class="where">\#(escape(verdict.location))</div></td>"#
            table += "<td>\(verdict.measured.map { fmt($0.milliseconds) + " ms" } ?? "—")</td><td>\(verdict.bound.map { fmt($0.milliseconds) + " ms" } ?? "—")</td><td>\(verdict.margin.map { fmt($0.milliseconds) + " ms" } ?? "—")</td>"
            table += "<td>\(escape(verdict.outcome == .notJudged ? "not judged: " + verdict.message : verdict.message))</td></tr>"
        }
        table += "</tbody></table>"

        var configuration = #"<table class="config">"#
        let conf = input.recording.configuration
        for key in ["network", "seed", "proxy_port", "server_port"] {
            if let value = conf[key] { configuration += "<tr><th>\(key)</th><td>\(escape(value.stringValue ?? "\(value)"))</td></tr>" }
        }
        if let settings = conf["settings"]?.objectValue {
            for (key, value) in settings.sorted(by: { $0.key < $1.key }) {
                configuration += "<tr><th>\(escape(key))</th><td>\(escape(value.stringValue ?? "\(value)"))</td></tr>"
            }
        }
        configuration += "</table>"

        let summary = input.scenario?.summary ?? ""
        var html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(escape(name)) — \(status.rawValue) — Flatline</title>"
        html += "<style>\(css)</style></head><body>"
        html += #"<header><h1>\#(escape(name)) <span class="status \#(status.cssClass)" id="status">\#(status.rawValue)</span></h1>"#
        html += #"<p class="file">\#(escape(input.recording.scenarioFile))</p>"#
        if !summary.isEmpty { html += "<p class=\"summary\">\(escape(summary))</p>" }
        if let incomplete = input.incomplete { html += #"<p class="incomplete" id="incomplete">⚠ incomplete: \#(escape(incomplete))</p>"# }
        if let setupError = input.setupError { html += #"<p class="incomplete">✗ setup: \#(escape(setupError))</p>"# }
        if !input.links.isEmpty {
            html += "<p class=\"links\">" + input.links.map { #"<a href="\#(escape($0.1))">\#(escape($0.0))</a>"# }.joined(separator: " · ") + "</p>"
        }
        html += "</header>"
        html += #"<details id="configuration"><summary>Configuration (resolved settings, network mode, seed, ports)</summary>\#(configuration)</details>"#
        html += "<section><h2>Expectations</h2>\(table)</section>"
        let faultSpan = windows.isEmpty ? "" : #" <button id="faults" data-a="\#(fmt(max(0, (windows.map(\.0).min() ?? 0) - 300)))" data-b="\#(fmt(min(endMs, (windows.map(\.1).max() ?? endMs) + 1500)))">around the faults</button>"#
        html += #"<section><h2>Timeline <span class="hint">drag to zoom · double-click to reset · click an item for its event</span> <button id="reset">whole run</button>\#(faultSpan)</h2><div id="plot">\#(svg)</div><pre id="detail">click a bar, mark or window to see its event</pre></section>"#
        // The events behind the items, as JSON ("</" written "<\/" so that no text ends the block).
        html += #"<script type="application/json" id="events">["# + details.joined(separator: ",\n").replacingOccurrences(of: "</", with: "<\\/") + "]</script>"
        html += "<script>\(script)</script></body></html>\n"
        return html
    }

    static func escape(_ text: String) -> String { Reports.escape(text) }

    static let css = """
        body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px 24px;color:#1d232a;background:#fff}
        h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:18px 0 6px}.hint{font-weight:normal;color:#6b7785;font-size:12px}
        .status{font-size:13px;padding:2px 8px;border-radius:10px;vertical-align:middle;color:#fff}
        .status.passed,.status.caught{background:#2e7d32}.status.failed,.status.error{background:#c62828}.status.incomplete,.status.not-judged,.status.not-run{background:#ef6c00}
        .file{color:#6b7785;margin:0}.summary{max-width:1100px}.incomplete{color:#c62828;font-weight:600}
        table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #e3e7eb;text-align:left;vertical-align:top}
        table.checks tr.failed{background:#fdecea}table.checks tr.failed td:first-child{color:#c62828;font-weight:700}
        table.checks tr.passed td:first-child{color:#2e7d32}table.checks tr.unjudged{color:#6b7785}.where{color:#8a96a3;font-size:11px}
        #plot{overflow-x:auto;border:1px solid #e3e7eb;user-select:none}svg text{font-size:11px;fill:#1d232a}
        .lane-bg{fill:#f7f9fa}.lane-name{font-weight:600}
        .fault{fill:#ffb74d;opacity:.22}.fault-label{fill:#b35c00;font-weight:600}
        .step line{stroke:#90a4ae;stroke-dasharray:3 3}.step.failed line{stroke:#c62828}.step text{fill:#455a64}
        .conn rect{fill:#64b5f6}.conn.abandoned rect{fill:#ffa726}.conn.rst rect{fill:#e57373}.conn.fin rect{fill:#81c784}.conn.open rect{fill:#90caf9}.conn.handshake rect{fill:#cfd8dc}.conn.proxy rect{fill:#b0bec5}
        .conn text{fill:#0d1b2a;font-size:10px}
        .tick line{stroke:#546e7a;stroke-width:1.5}.tick.acked line{stroke:#2e7d32}.tick.missed line{stroke:#c62828;stroke-width:3}.tick.frame line{stroke:#9575cd}
        .mark circle{fill:#546e7a}.mark.connected circle{fill:#2e7d32}.mark.bad circle,.mark.rst circle{fill:#c62828}.mark.fin circle{fill:#1565c0}.mark.syn circle{fill:#7cb342}
        .check rect{fill:none;stroke-width:2}.check.passed rect{stroke:#2e7d32}.check.failed rect{stroke:#c62828;fill:#fdecea}.check.unjudged rect{stroke:#9e9e9e;stroke-dasharray:4 3}
        .check text{font-size:10px}.check.failed text{fill:#c62828;font-weight:700}
        .measured circle{fill:#2e7d32}.measured.failed circle{fill:#c62828}
        .axis line{stroke:#cfd8dc}.axis text{fill:#6b7785;font-size:10px}
        .selected rect,.selected circle{stroke:#000;stroke-width:2}#detail{background:#f7f9fa;padding:8px;white-space:pre-wrap;max-width:1250px}
        #zoombox{fill:#1565c0;opacity:.12}
        """

    /// Zoom (drag across the plot; double-click or the button for the whole run), ticks, and the
    /// event behind an item on click. Every item carries its times (`data-a`, `data-b`).
    static let script = """
        (function(){
        var svg=document.getElementById('timeline');if(!svg)return;
        var L=\(laneLeft),W=\(plotWidth),end=parseFloat(svg.getAttribute('data-end'))||1,t0=0,t1=end;
        var NS='http://www.w3.org/2000/svg';
        function X(t){return L+(t-t0)/(t1-t0)*W}
        function clip(v){return Math.max(L-2,Math.min(L+W+2,v))}
        function step(span){var s=Math.pow(10,Math.floor(Math.log10(span/8)));var m=[1,2,5,10];for(var i=0;i<m.length;i++){if(span/(s*m[i])<=10)return s*m[i]}return s*10}
        function draw(){
          svg.querySelectorAll('[data-a]').forEach(function(g){
            var a=parseFloat(g.getAttribute('data-a')),b=parseFloat(g.getAttribute('data-b')||a);
            var xa=X(a),xb=X(b),hide=(b<t0||a>t1);
            if(g.tagName==='text'){g.setAttribute('x',clip(xa)+3);return}
            g.style.display=hide?'none':'';
            g.querySelectorAll('rect').forEach(function(r){r.setAttribute('x',clip(xa));r.setAttribute('width',Math.max(g.classList.contains('fault-window')?1:2,clip(xb)-clip(xa)))});
            g.querySelectorAll('line').forEach(function(l){l.setAttribute('x1',xa);l.setAttribute('x2',xa)});
            g.querySelectorAll('circle').forEach(function(c){c.setAttribute('cx',xa)});
            g.querySelectorAll(':scope>text').forEach(function(t){t.setAttribute('x',clip(xa)+3)});
          });
          var axis=document.getElementById('axis');while(axis.firstChild)axis.removeChild(axis.firstChild);
          var s=step(t1-t0);for(var t=Math.ceil(t0/s)*s;t<=t1;t+=s){
            var l=document.createElementNS(NS,'line');l.setAttribute('x1',X(t));l.setAttribute('x2',X(t));l.setAttribute('y1',30);l.setAttribute('y2',svg.getAttribute('height')-10);
            var tx=document.createElementNS(NS,'text');tx.setAttribute('x',X(t)+2);tx.setAttribute('y',12);tx.textContent=(s>=1000?(t/1000).toFixed(s>=1000?(s%1000?1:0):0)+' s':Math.round(t)+' ms');
            var g=document.createElementNS(NS,'g');g.setAttribute('class','axis');g.appendChild(l);g.appendChild(tx);axis.appendChild(g);
          }
        }
        var startX=null,box=null;
        function toT(ev){var r=svg.getBoundingClientRect();return t0+(ev.clientX-r.left-L)/W*(t1-t0)}
        svg.addEventListener('mousedown',function(ev){startX=toT(ev);box=document.createElementNS(NS,'rect');box.setAttribute('id','zoombox');box.setAttribute('y',30);box.setAttribute('height',svg.getAttribute('height')-40);svg.appendChild(box)});
        svg.addEventListener('mousemove',function(ev){if(startX===null)return;var t=toT(ev);var a=Math.min(t,startX),b=Math.max(t,startX);box.setAttribute('x',X(a));box.setAttribute('width',X(b)-X(a))});
        svg.addEventListener('mouseup',function(ev){if(startX===null)return;var t=toT(ev);var a=Math.max(0,Math.min(t,startX)),b=Math.min(end,Math.max(t,startX));box.remove();startX=null;if(b-a>(t1-t0)/200){t0=a;t1=b;draw()}});
        function reset(){t0=0;t1=end;draw()}
        svg.addEventListener('dblclick',reset);document.getElementById('reset').addEventListener('click',reset);
        var f=document.getElementById('faults');if(f)f.addEventListener('click',function(){t0=parseFloat(f.getAttribute('data-a'));t1=parseFloat(f.getAttribute('data-b'));draw()});
        var events=[];try{events=JSON.parse(document.getElementById('events').textContent)}catch(e){}
        svg.addEventListener('click',function(ev){var g=ev.target.closest('[data-e]');if(!g)return;
          svg.querySelectorAll('.selected').forEach(function(s){s.classList.remove('selected')});g.classList.add('selected');
          var d=JSON.stringify(events[parseInt(g.getAttribute('data-e'),10)],null,2);
          document.getElementById('detail').textContent=d});
        draw();
        document.body.setAttribute('data-ready','1');
        })();
        """
}
