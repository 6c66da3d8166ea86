/// A dictionary key for names read from files (metadata keys, tensor names), compared by UTF-8
/// bytes as ggml's `strcmp` does. Swift's `String ==` and hashing use canonical equivalence, so
/// "é" (U+00E9) and "e\u{301}" would otherwise be one key: two distinct GGUF keys or tensors
/// would be refused as duplicates, or a lookup could return the other one.
struct UTF8Key: Hashable, Sendable {
    let string: String

    init(_ s: String) { string = s }

    static func == (a: UTF8Key, b: UTF8Key) -> Bool { a.string.utf8.elementsEqual(b.string.utf8) }

    func hash(into hasher: inout Hasher) {
        let done: Void? = string.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if done == nil {
            for b in string.utf8 { hasher.combine(b) }
        }
        hasher.combine(0xFF as UInt8)
    }
}
