// GGUF metadata values (gguf.h `enum gguf_type`) and the ordered key/value list.

/// The on-disk value type id of a metadata value.
public enum GGUFValueType: UInt32, Sendable, CustomStringConvertible {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of one element for fixed-size types; nil for string and array.
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// gguf-py's name (`UINT32`, `STRING`, ...).
    public var description: String {
        switch self {
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .uint32: return "UINT32"
        case .int32: return "INT32"
        case .float32: return "FLOAT32"
        case .bool: return "BOOL"
        case .string: return "STRING"
        case .array: return "ARRAY"
        case .uint64: return "UINT64"
        case .int64: return "INT64"
        case .float64: return "FLOAT64"
        }
    }
}

/// A homogeneous GGUF array. Nested arrays are not representable: llama.cpp's reader rejects them.
public enum GGUFArray: Equatable, Sendable {
    case uint8([UInt8]), int8([Int8]), uint16([UInt16]), int16([Int16])
    case uint32([UInt32]), int32([Int32]), float32([Float]), bool([Bool])
    case string([String]), uint64([UInt64]), int64([Int64]), float64([Double])

    public var elementType: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    public var count: Int {
        switch self {
        case .uint8(let a): return a.count
        case .int8(let a): return a.count
        case .uint16(let a): return a.count
        case .int16(let a): return a.count
        case .uint32(let a): return a.count
        case .int32(let a): return a.count
        case .float32(let a): return a.count
        case .bool(let a): return a.count
        case .string(let a): return a.count
        case .uint64(let a): return a.count
        case .int64(let a): return a.count
        case .float64(let a): return a.count
        }
    }

    /// Integer elements as Int (nil for non-integer arrays or values that do not fit).
    public var integers: [Int]? {
        switch self {
        case .uint8(let a): return a.map(Int.init)
        case .int8(let a): return a.map(Int.init)
        case .uint16(let a): return a.map(Int.init)
        case .int16(let a): return a.map(Int.init)
        case .uint32(let a): return a.map(Int.init)
        case .int32(let a): return a.map(Int.init)
        case .uint64(let a): return a.allSatisfy({ $0 <= UInt64(Int.max) }) ? a.map { Int($0) } : nil
        case .int64(let a): return a.map { Int($0) }
        default: return nil
        }
    }

    public var strings: [String]? {
        if case .string(let a) = self { return a }
        return nil
    }

    public var floats: [Float]? {
        switch self {
        case .float32(let a): return a
        case .float64(let a): return a.map { Float($0) }
        default: return nil
        }
    }
}

/// One GGUF metadata value.
public enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16)
    case uint32(UInt32), int32(Int32), float32(Float), bool(Bool)
    case string(String), uint64(UInt64), int64(Int64), float64(Double)
    case array(GGUFArray)

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        case .array: return .array
        }
    }

    /// Any integer-typed scalar as Int (nil otherwise, or when it does not fit).
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// A float scalar as Double (integers are not converted).
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return nil
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: GGUFArray? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// One metadata entry.
public struct GGUFKeyValue: Equatable, Sendable {
    public var key: String
    public var value: GGUFValue
    public init(_ key: String, _ value: GGUFValue) {
        self.key = key
        self.value = value
    }
}

/// Metadata in file order, with lookup by key. Keys are unique.
public struct GGUFMetadata: Equatable, Sendable, Sequence {
    public private(set) var entries: [GGUFKeyValue] = []
    /// Keys compared by UTF-8 bytes (see `UTF8Key`).
    private var index: [UTF8Key: Int] = [:]

    public init() {}

    public init(_ entries: [GGUFKeyValue]) {
        for e in entries { set(e.key, e.value) }
    }

    public var count: Int { entries.count }
    public var keys: [String] { entries.map(\.key) }
    public func makeIterator() -> IndexingIterator<[GGUFKeyValue]> { entries.makeIterator() }

    public subscript(key: String) -> GGUFValue? {
        index[UTF8Key(key)].map { entries[$0].value }
    }

    public func contains(_ key: String) -> Bool { index[UTF8Key(key)] != nil }

    /// Sets a value. A key already present keeps its position (gguf-py `GGUFWriter.add_key_value`).
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = index[UTF8Key(key)] {
            entries[i].value = value
        } else {
            index[UTF8Key(key)] = entries.count
            entries.append(GGUFKeyValue(key, value))
        }
    }

    /// Removes a key and appends it with the new value at the end (ggml `gguf_set_val_*`).
    public mutating func setMovingToEnd(_ key: String, _ value: GGUFValue) {
        remove(key)
        set(key, value)
    }

    public mutating func remove(_ key: String) {
        guard let i = index.removeValue(forKey: UTF8Key(key)) else { return }
        entries.remove(at: i)
        for j in i..<entries.count { index[UTF8Key(entries[j].key)] = j }
    }
}
