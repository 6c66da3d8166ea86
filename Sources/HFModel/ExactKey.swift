/// A String dictionary key compared by its Unicode scalars (UTF-8 bytes).
///
/// Swift's `String ==` and hashing use canonical equivalence, so "é" (U+00E9) and "e\u{301}", or
/// U+037E and ";", are the same `String` key. Vocabularies, JSON object keys and Python/Rust
/// dictionaries tell them apart, so every lookup of text read from a file goes through this key
/// (use it for any `[String: ...]` keyed by token text).
public struct ExactKey: Hashable, Sendable {
    public let string: String

    public init(_ s: String) { string = s }

    public static func == (a: ExactKey, b: ExactKey) -> Bool {
        a.string.utf8.elementsEqual(b.string.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        let done: Void? = string.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if done == nil {
            for b in string.utf8 { hasher.combine(b) }
        }
        hasher.combine(0xFF as UInt8)
    }
}

/// Equality by Unicode scalars (UTF-8 bytes), not canonical equivalence.
public func sameText(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }
