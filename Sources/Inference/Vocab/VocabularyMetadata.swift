// Typed access to `tokenizer.*` metadata with errors that name the key, the type found and the
// type expected (llama.cpp's loader rejects a key of the wrong type the same way).

import GGUF

struct VocabularyMetadata {
    let metadata: GGUFMetadata
    let file: String

    static func typeName(_ v: GGUFValue) -> String {
        if case .array(let a) = v { return "ARRAY[\(a.elementType)]" }
        return v.type.description
    }

    func missing(_ key: String) -> VocabularyError {
        VocabularyError(.missingKey, file: file, key: key, "key '\(key)' is missing")
    }

    func wrongType(_ key: String, _ v: GGUFValue, expected: String) -> VocabularyError {
        VocabularyError(.wrongType, file: file, key: key,
                        "key '\(key)' has type \(Self.typeName(v)), expected \(expected)")
    }

    func invalid(_ key: String, _ message: String) -> VocabularyError {
        VocabularyError(.invalidValue, file: file, key: key, "key '\(key)' \(message)")
    }

    func string(_ key: String) throws(VocabularyError) -> String? {
        guard let v = metadata[key] else { return nil }
        guard case .string(let s) = v else { throw wrongType(key, v, expected: "STRING") }
        return s
    }

    func bool(_ key: String) throws(VocabularyError) -> Bool? {
        guard let v = metadata[key] else { return nil }
        guard case .bool(let b) = v else { throw wrongType(key, v, expected: "BOOL") }
        return b
    }

    func uint32(_ key: String) throws(VocabularyError) -> UInt32? {
        guard let v = metadata[key] else { return nil }
        guard case .uint32(let u) = v else { throw wrongType(key, v, expected: "UINT32") }
        return u
    }

    func strings(_ key: String) throws(VocabularyError) -> [String]? {
        guard let v = metadata[key] else { return nil }
        guard case .array(.string(let a)) = v else { throw wrongType(key, v, expected: "ARRAY[STRING]") }
        return a
    }

    func floats(_ key: String, count: Int) throws(VocabularyError) -> [Float]? {
        guard let v = metadata[key] else { return nil }
        guard case .array(.float32(let a)) = v else { throw wrongType(key, v, expected: "ARRAY[FLOAT32]") }
        guard a.count == count else {
            throw invalid(key, "has \(a.count) elements, expected \(count) (one per token)")
        }
        return a
    }

    func int32s(_ key: String, count: Int) throws(VocabularyError) -> [Int32]? {
        guard let v = metadata[key] else { return nil }
        guard case .array(.int32(let a)) = v else { throw wrongType(key, v, expected: "ARRAY[INT32]") }
        guard a.count == count else {
            throw invalid(key, "has \(a.count) elements, expected \(count) (one per token)")
        }
        return a
    }
}

/// llama.cpp's token attribute bits (`enum llama_token_attr`).
enum TokenAttribute {
    static let undefined: UInt32 = 0
    static let unknown: UInt32 = 1 << 0
    static let unused: UInt32 = 1 << 1
    static let normal: UInt32 = 1 << 2
    static let control: UInt32 = 1 << 3
    static let userDefined: UInt32 = 1 << 4
    static let byte: UInt32 = 1 << 5
    static let lstrip: UInt32 = 1 << 7
    static let rstrip: UInt32 = 1 << 8

    /// The attribute of a GGUF token type (`tokenizer.ggml.token_type`); unknown values are undefined.
    static func of(type: Int32) -> UInt32 {
        switch type {
        case 1: return normal
        case 2: return unknown
        case 3: return control
        case 4: return userDefined
        case 5: return unused
        case 6: return byte
        default: return undefined
        }
    }
}
