public import EventSchema

/// An external command's argv with placeholders: `{url}`, `{host}`, `{port}` (the client's proxy
/// listener) and the scenario's own settings, so that they are written once:
/// `{heartbeat.interval.ms}`, `{heartbeat.timeout.s}` (durations as numbers of milliseconds or
/// seconds), `{reconnect.max-attempts}` (numbers as they are).
public enum CommandTemplate {
    static let runtimeNames = ["url", "host", "port"]

    /// The placeholders of `argument`, in order.
    static func placeholders(_ argument: String) -> [String] {
        var names: [String] = []
        var rest = Substring(argument)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    /// The value of a settings placeholder, or nil when it names nothing.
    static func value(_ name: String, _ environment: [String: DurationExpression.Value]) -> String? {
        func number(_ value: Double) -> String {
            value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        }
        for (suffix, divisor) in [(".ms", 1_000_000.0), (".s", 1_000_000_000.0)] where name.hasSuffix(suffix) {
            if case .duration(let d)? = environment[String(name.dropLast(suffix.count))] { return number(Double(d.nanoseconds) / divisor) }
        }
        if case .number(let n)? = environment[name] { return number(n) }
        return nil
    }

    /// Checks every placeholder at validation; the message names the one that is unknown.
    static func validate(_ command: [String], environment: [String: DurationExpression.Value]) throws(ConfigurationError) {
        for argument in command {
            for name in placeholders(argument) where !runtimeNames.contains(name) && value(name, environment) == nil {
                var known = runtimeNames
                for (key, value) in environment.sorted(by: { $0.key < $1.key }) {
                    if case .duration = value { known += ["\(key).ms", "\(key).s"] } else { known.append(key) }
                }
                throw ConfigurationError("unknown placeholder '{\(name)}' in the command\(String.suggestion(for: name, in: known)); placeholders are {url}, {host}, {port}, the settings, e.g. {heartbeat.interval.ms}, and the file's vars, {var.NAME}")
            }
        }
    }

    /// `{var.NAME}` replaced by the scenario's vars (at parsing; an unknown one is left for validation to name).
    static func substitute(_ vars: [String: String], in command: [String]) -> [String] {
        command.map { argument in
            var result = argument
            for name in placeholders(argument) where name.hasPrefix("var.") {
                if let value = vars[String(name.dropFirst(4))] { result = result.replacingOccurrences(of: "{\(name)}", with: value) }
            }
            return result
        }
    }

    /// The argv to run.
    public static func expand(_ command: [String], url: String, host: String, port: Int, environment: [String: DurationExpression.Value]) -> [String] {
        command.map { argument in
            var result = argument
            for name in placeholders(argument) {
                let replacement: String?
                switch name {
                case "url": replacement = url
                case "host": replacement = host
                case "port": replacement = String(port)
                default: replacement = value(name, environment)
                }
                if let replacement { result = result.replacingOccurrences(of: "{\(name)}", with: replacement) }
            }
            return result
        }
    }

    /// A command written as one line (`flatline init --command "node client.js {url}"`) as its words:
    /// spaces split, single and double quotes group, a backslash escapes (outside single quotes).
    public static func words(_ text: String) throws(ConfigurationError) -> [String] {
        var words: [String] = []
        var current = ""
        var quote: Character?
        var escaped = false
        var started = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\", quote != "'" {
                escaped = true
                started = true
            } else if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                started = true
            } else if character == " " || character == "\t" {
                if started { words.append(current) }
                current = ""
                started = false
            } else {
                current.append(character)
                started = true
            }
        }
        guard quote == nil else { throw ConfigurationError("an unclosed \(quote == "'" ? "single" : "double") quote in '\(text)'") }
        guard !escaped else { throw ConfigurationError("a backslash at the end of '\(text)'") }
        if started { words.append(current) }
        guard !words.isEmpty else { throw ConfigurationError("the command is empty") }
        return words
    }
}
