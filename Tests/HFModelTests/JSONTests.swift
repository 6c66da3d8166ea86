import Testing
import Foundation
import TestSupport
@testable import HFModel

@Suite("JSON parser")
struct JSONTests {
    static func parse(_ s: String) throws(HFModelError) -> JSONValue { try JSONParser.parse(s, file: "x.json") }

    static func failure(_ s: String) -> String? {
        do { _ = try parse(s); return nil } catch { return error.message }
    }

    @Test("values, member order and typed accessors") func values() throws {
        let v = try JSONTests.parse(#" {"z": [1, -2.5, true, false, null, "s"], "a": {"n": 1e-05, "big": 49152}} "#)
        let o = try #require(v.object)
        #expect(o.keys == ["z", "a"])
        #expect(v["z"]?[0]?.int == 1)
        #expect(v["z"]?[1]?.double == -2.5)
        #expect(v["z"]?[1]?.int == nil)
        #expect(v["z"]?[2]?.bool == true)
        #expect(v["z"]?[4]?.isNull == true)
        #expect(v["z"]?[5]?.string == "s")
        #expect(v["z"]?[6] == nil)
        #expect(v["a"]?["n"]?.number?.text == "1e-05")
        #expect(v["a"]?["n"]?.number?.isInteger == false)
        #expect(v["a"]?["n"]?.double == 1e-05)
        #expect(v["a"]?["big"]?.int == 49152)
        #expect(v["a"]?["missing"] == nil)
        #expect(v["z"]?.typeDescription == "an array")
    }

    @Test("numbers keep their text; NaN and Infinity are accepted like Python's json") func numbers() throws {
        #expect(try JSONTests.parse("-0").number?.text == "-0")
        #expect(try JSONTests.parse("123456789012345678901234567890").int == nil)
        #expect(try JSONTests.parse("123456789012345678901234567890").double == 1.2345678901234568e29)
        #expect(try JSONTests.parse("[NaN]")[0]?.double?.isNaN == true)
        #expect(try JSONTests.parse("Infinity").double == .infinity)
        #expect(try JSONTests.parse("-Infinity").double == -.infinity)
        #expect(try JSONTests.parse("1E+2").double == 100)
    }

    @Test("string escapes, surrogate pairs and lone surrogates") func strings() throws {
        #expect(try JSONTests.parse(#""\" \\ \/ \b \f \n \r \t \u00e9""#).string == "\" \\ / \u{8} \u{C} \n \r \t é")
        #expect(try JSONTests.parse(#""\uD83D\uDE00""#).string == "😀")
        #expect(try JSONTests.parse(#""\ud83d\ude00x""#).string == "😀x")
        #expect(try JSONTests.parse(#""\uD800x""#).string == "\u{FFFD}x")
        #expect(try JSONTests.parse(#""\uDC00""#).string == "\u{FFFD}")
        #expect(try JSONTests.parse(#""\uD800\u0041""#).string == "\u{FFFD}A")
        #expect(try JSONTests.parse("\"caf\u{E9} 東京 🦙\"").string == "café 東京 🦙")
    }

    @Test("duplicate keys keep both members and look up the last; keys compare by scalars") func duplicates() throws {
        let o = try #require(try JSONTests.parse(#"{"a": 1, "b": 2, "a": 3}"#).object)
        #expect(o.count == 3)
        #expect(o["a"]?.int == 3)
        #expect(o.keys == ["a", "b"])
        #expect(o.duplicateKeys == ["a"])
        let e = try #require(try JSONTests.parse("{\"\u{E9}\": 1, \"e\u{301}\": 2}").object)
        #expect(!e.hasDuplicateKeys)
        #expect(e["\u{E9}"]?.int == 1)
        #expect(e["e\u{301}"]?.int == 2)
    }

    @Test("errors give line, column, what was expected and what was found", arguments: [
        ("", "line 1, column 1: expected a JSON value, found end of file"),
        ("{\"a\": 1,}", "line 1, column 9: expected '\"' (an object key) after ',', found '}'"),
        ("{,}", "line 1, column 2: expected '\"' or '}' after '{', found ','"),
        ("[1 2]", "line 1, column 4: expected ',' or ']' after an array element, found '2'"),
        ("{\"a\": 1 \"b\": 2}", "line 1, column 9: expected ',' or '}' after an object member, found '\"'"),
        ("{\"a\"\n  1}", "line 2, column 3: expected ':' after an object key, found '1'"),
        ("[1,]", "line 1, column 4: expected a JSON value, found ']'"),
        ("tru", "line 1, column 1: expected a JSON value, found 't'"),
        ("01", "line 1, column 2: expected '.', 'e' or the end of the number after a leading 0, found '1'"),
        ("1.", "line 1, column 3: expected a digit after '.', found end of file"),
        ("-", "line 1, column 2: expected a digit, found end of file"),
        ("1e", "line 1, column 3: expected a digit in the exponent, found end of file"),
        ("\"abc", "line 1, column 1: expected '\"' to end the string that starts here, found end of file"),
        ("\"a\nb\"", "line 1, column 3: expected a string character, found control character 0xA (control characters must be escaped)"),
        ("\"\\x\"", "line 1, column 2: expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX, found 'x' after '\\'"),
        ("\"\\u12G4\"", "line 1, column 6: expected 4 hexadecimal digits after '\\u', found 'G'"),
        ("1 2", "line 1, column 3: expected end of file after the JSON value, found '2'"),
        ("\u{FEFF}{}", "line 1, column 1: expected a JSON value, found a UTF-8 byte order mark"),
        ("[\"é\", \u{1}]", "line 1, column 7: expected a JSON value, found control character 0x1"),
        ("// c\n{}", "line 1, column 1: expected a JSON value, found '/'"),
    ])
    func errors(text: String, message: String) {
        #expect(JSONTests.failure(text) == message)
    }

    @Test("invalid UTF-8 is refused at the offending byte") func invalidUTF8() {
        let bad: [[UInt8]] = [[0x22, 0x61, 0xC3, 0x28, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xC0, 0xAF, 0x22],
                              [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22]]
        let expected = ["line 1, column 3: expected UTF-8 text, found invalid byte 0xC3", "line 1, column 2: expected UTF-8 text, found invalid byte 0xED",
                        "line 1, column 2: expected UTF-8 text, found invalid byte 0xC0", "line 1, column 2: expected UTF-8 text, found invalid byte 0xF4",
                        "line 1, column 2: expected UTF-8 text, found invalid byte 0xE2"]
        for (b, e) in zip(bad, expected) {
            let message = b.withUnsafeBytes { buf -> String? in
                do throws(HFModelError) { _ = try JSONParser.parse(buf, file: "x.json"); return nil } catch { return error.message }
            }
            #expect(message == e)
        }
    }

    @Test("nesting is capped at 512 levels, without recursion") func depth() throws {
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(try JSONTests.parse(ok).array?.count == 1)
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: HFModelError(.limit, file: "x.json", "line 1, column 514: nesting deeper than 512 levels")) {
            try JSONTests.parse(deep)
        }
    }

    @Test("files: missing, empty, and parsed from disk") func files() throws {
        let dir = TemporaryDirectory("json")
        #expect(throws: HFModelError(.missingFile, file: dir.file("none.json"), "file not found")) {
            try JSONParser.parseFile(dir.file("none.json"))
        }
        try "".write(toFile: dir.file("empty.json"), atomically: false, encoding: .utf8)
        #expect(throws: HFModelError(.malformedJSON, file: dir.file("empty.json"), "line 1, column 1: expected a JSON value, found end of file")) {
            try JSONParser.parseFile(dir.file("empty.json"))
        }
        try "{\"k\": [1, 2]}\n".write(toFile: dir.file("ok.json"), atomically: false, encoding: .utf8)
        #expect(try JSONParser.parseFile(dir.file("ok.json"))["k"]?[1]?.int == 2)
    }

    @Test("the serializer writes compact JSON that parses back to the same value") func serializer() throws {
        let text = #"{"b":[1,-2.5e3,true,null,"q\"\\\n\t\u0001é😀"],"a":{}}"#
        let v = try JSONTests.parse(text)
        #expect(v.serialized() == text)
        #expect(try JSONTests.parse(v.serialized()) == v)
        var o = try #require(v.object)
        o.set("a", .string("x"))
        o.set("c", .bool(false))
        #expect(JSONValue.object(o).serialized() == #"{"b":[1,-2.5e3,true,null,"q\"\\\n\t\u0001é😀"],"a":"x","c":false}"#)
    }

    @Test("a large tokenizer.json parses quickly", .golden)
    func speed() throws {
        let path = try Golden.require(model: "SmolLM2-135M-Instruct-hf").appendingPathComponent("tokenizer.json").path
        let start = Date()
        let v = try JSONParser.parseFile(path)
        let seconds = Date().timeIntervalSince(start)
        #expect(v["model"]?["vocab"]?.object?.count == 49152)
        #expect(v["model"]?["merges"]?.array?.count == 48900)
        print("tokenizer.json (2.1 MB) parsed in \(seconds) s")
        #expect(seconds < 10)
    }
}
