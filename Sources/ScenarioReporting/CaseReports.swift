/// JUnit for runs that are not one scenario per file — `flatline explore`'s one test case per seed.
public enum CaseReports {
    public struct Case: Sendable {
        public var name: String
        public var seconds: Double
        /// A property broken: the message (the replay command in it).
        public var failure: String?
        /// The world could not run this case.
        public var error: String?
        /// Everything printed about it.
        public var output: String

        public init(name: String, seconds: Double, failure: String? = nil, error: String? = nil, output: String = "") {
            self.name = name
            self.seconds = seconds
            self.failure = failure
            self.error = error
            self.output = output
        }
    }

    public static func junit(suite: String, cases: [Case]) -> String {
        let failures = cases.filter { $0.failure != nil }.count
        let errors = cases.filter { $0.error != nil && $0.failure == nil }.count
        let total = cases.reduce(0) { $0 + $1.seconds }
        var xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        xml += #"<testsuites name="flatline" tests="\#(cases.count)" failures="\#(failures)" errors="\#(errors)">"# + "\n"
        xml += #"  <testsuite name="\#(Reports.escape(suite))" tests="\#(cases.count)" failures="\#(failures)" errors="\#(errors)" time="\#(String(format: total, decimals: 3))">"# + "\n"
        for item in cases {
            xml += #"    <testcase name="\#(Reports.escape(item.name))" classname="\#(Reports.escape(suite))" time="\#(String(format: item.seconds, decimals: 3))">"#
            if let failure = item.failure {
                xml += #"<failure message="\#(Reports.escape(failure))"/>"#
            } else if let error = item.error {
                xml += #"<error message="\#(Reports.escape(error))"/>"#
            }
            if !item.output.isEmpty { xml += "<system-out>\(Reports.escape(item.output))</system-out>" }
            xml += "</testcase>\n"
        }
        xml += "  </testsuite>\n</testsuites>\n"
        return xml
    }
}
