// libFuzzer target: the JSON parser alone. A parsed value serialised and parsed again must give
// the same value (numbers keep their text, strings their scalars).
import HFModel

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let value: JSONValue
    do {
        value = try JSONParser.parse(UnsafeRawBufferPointer(start: data, count: size), file: "fuzz.json")
    } catch {
        check(error.file == "fuzz.json", "error without the file name: \(error)")
        check(error.message.hasPrefix("line "), "error without a position: \(error)")
        return 0
    }
    let text = value.serialized()
    do {
        let again = try JSONParser.parse(text, file: "again.json")
        check(again == value, "serialise → parse changed the value")
        check(again.serialized() == text, "serialisation is not stable")
    } catch {
        check(false, "serialised text does not parse: \(error)")
    }
    return 0
}
