import Testing
@testable import Graph

@Suite struct YAMLScalarTests {
    /// (value as written after `v: `, expected resolution) per the YAML 1.2 core schema.
    static let table: [(String, YAMLScalarValue)] = [
        ("1", .int(1)),
        ("-3", .int(-3)),
        ("+7", .int(7)),
        ("007", .int(7)),
        ("0x1F", .int(31)),
        ("0o17", .int(15)),
        ("-0x1F", .string("-0x1F")),      // no sign on hex in the core schema
        ("0b101", .string("0b101")),      // binary is YAML 1.1 only
        ("1_000", .string("1_000")),      // separators are YAML 1.1 only
        ("9223372036854775807", .int(Int.max)),
        ("-9223372036854775808", .int(Int.min)),
        ("1.5", .float(1.5)),
        ("-2.25", .float(-2.25)),
        ("1.", .float(1)),
        (".5", .float(0.5)),
        ("1e3", .float(1000)),
        ("-1E-3", .float(-0.001)),
        ("2.5e+2", .float(250)),
        (".inf", .float(.infinity)),
        ("-.Inf", .float(-.infinity)),
        ("+.INF", .float(.infinity)),
        ("1e", .string("1e")),
        (".", .string(".")),
        ("true", .bool(true)),
        ("True", .bool(true)),
        ("FALSE", .bool(false)),
        ("yes", .string("yes")),
        ("no", .string("no")),
        ("on", .string("on")),
        ("tRUE", .string("tRUE")),
        ("~", .null),
        ("null", .null),
        ("NULL", .null),
        ("", .null),
        ("\"true\"", .string("true")),
        ("\"1\"", .string("1")),
        ("'~'", .string("~")),
        ("\"\"", .string("")),
        ("4-9", .string("4-9")),
        ("1.2.3", .string("1.2.3")),
        ("${seed}", .string("${seed}")),
        ("input.sketch", .string("input.sketch")),
    ]

    @Test(arguments: table)
    func coreSchema(_ written: String, _ expected: YAMLScalarValue) throws {
        let doc = try YAML.parse("v: \(written)\n", path: "s.yaml")
        let v = try #require(doc["v"]?.scalar)
        #expect(v.value == expected, "v: \(written)")
    }

    @Test func nanResolves() throws {
        for text in [".nan", ".NaN", ".NAN"] {
            let v = try YAML.parse("v: \(text)", path: "s.yaml")["v"]?.double
            #expect(v?.isNaN == true)
        }
    }

    @Test func accessorsFollowTypes() throws {
        let d = try YAML.parse("i: 3\nf: 2.5\nb: true\ns: \"3\"\nn: ~\nl: [1]\n", path: "s.yaml")
        #expect(d["i"]?.int == 3 && d["i"]?.double == 3 && d["i"]?.string == nil && d["i"]?.text == "3")
        #expect(d["f"]?.int == nil && d["f"]?.double == 2.5)
        #expect(d["b"]?.bool == true && d["b"]?.string == nil)
        #expect(d["s"]?.string == "3" && d["s"]?.int == nil)
        #expect(d["n"]?.isNull == true && d["n"]?.text == "~")
        #expect(d["l"]?.text == nil && d["l"]?.isNull == false && d["l"]?.kindDescription == "a sequence")
        #expect(["i", "f", "b", "s", "n"].map { d[$0]?.kindDescription ?? "" }
                == ["an integer", "a float", "a boolean", "a string", "null"])
    }
}
