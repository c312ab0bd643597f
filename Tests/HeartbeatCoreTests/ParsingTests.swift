import EventSchema
import HeartbeatCore
import Testing

@Suite("Durations")
struct DurationParserTests {
    @Test(arguments: [
        ("400ms", Duration.milliseconds(400)), ("1.5s", .milliseconds(1500)), ("2m", .seconds(120)),
        ("1m30s", .seconds(90)), ("250us", .microseconds(250)), ("0", .zero), (" 3s ", .seconds(3)), ("1h", .seconds(3600)),
    ])
    func parses(text: String, expected: Duration) throws {
        #expect(try DurationParser.parse(text) == expected)
    }

    @Test(arguments: [
        ("-1s", "negative duration '-1s'"), ("400", "has no unit"), ("4 parsecs", "unknown unit 'parsecs'"),
        ("", "empty duration"), ("s", "invalid duration"),
    ])
    func rejects(text: String, fragment: String) {
        do {
            _ = try DurationParser.parse(text)
            Issue.record("'\(text)' should not parse")
        } catch {
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test func formatsInTheParsersNotation() throws {
        for text in ["400ms", "1.5s", "2m", "250us", "0ms"] {
            #expect(try DurationParser.parse(text).flatlineDescription == text)
        }
    }
}

@Suite("JSON and event lines")
struct JSONTests {
    @Test func roundTripsWithKeyOrder() throws {
        let text = #"{"b":1,"a":[true,null,"x\n\"y"],"c":{"d":-2.5}}"#
        let value = try JSONValue(parsing: text)
        #expect(value.description == text)
        #expect(value.objectValue?.keys == ["b", "a", "c"])
    }

    @Test(arguments: ["{", "[1,]", "{\"a\" 1}", "tru", "\"abc", "{\"a\":1} x", String(repeating: "[", count: 1000)])
    func rejectsMalformed(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func eventLineRoundTrip() throws {
        let event = ClientEvent(at: .ms(1600), kind: .disconnected(ConnectionID(3), reason: .heartbeatTimeout, detail: "no reply"))
        let record = event.record(origin: .ms(100))
        #expect(record.jsonLine == #"{"t":1500,"src":"client","type":"disconnected","conn":3,"reason":"heartbeat-timeout","detail":"no reply"}"#)
        #expect(try EventRecord(jsonLine: record.jsonLine) == record)
        #expect(record.humanLine == "   1.500s client disconnected conn=3 reason=heartbeat-timeout detail=\"no reply\"")
    }
}
