// An open-addressing hash map from byte strings to Int32 values: token text -> id lookups on
// slices of the text being tokenized, without building String or Array keys.

struct ByteStringTable: Sendable {
    private struct Entry: Sendable {
        var start: Int
        var length: Int32
        var value: Int32
    }

    private var arena: [UInt8] = []
    private var entries: [Entry] = []
    /// Per slot: the hash's high 32 bits << 32 | (entry index + 1); 0 marks an empty slot.
    private var slots: [UInt64]
    private var mask: Int

    init(expectedCount: Int = 16) {
        var size = 16
        while size < expectedCount * 2 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        entries.reserveCapacity(expectedCount)
    }

    var count: Int { entries.count }

    @inline(__always)
    static func hash(_ p: UnsafeRawPointer, _ n: Int) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: n)
        var i = 0
        while i + 8 <= n {
            let w = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            h = (h ^ w) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            i += 8
        }
        if i < n {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                w |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << shift
                shift += 8
                i += 1
            }
            h = (h ^ w) &* 0xC4CE_B9FE_1A85_EC53
        }
        h ^= h >> 29
        h = h &* 0x94D0_49BB_1331_11EB
        h ^= h >> 32
        return h
    }

    /// The value stored for the bytes `p[0..<n]`, or -1.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        let h = Self.hash(p, n)
        let tag = h & 0xFFFF_FFFF_0000_0000
        var s = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBufferPointer { sl in
            entries.withUnsafeBufferPointer { en in
                arena.withUnsafeBufferPointer { ar in
                    while true {
                        let v = sl[s]
                        if v == 0 { return -1 }
                        if v & 0xFFFF_FFFF_0000_0000 == tag {
                            let e = en[Int(v & 0xFFFF_FFFF) - 1]
                            if Int(e.length) == n && (n == 0 || memcmpEqual(ar.baseAddress! + e.start, p, n)) {
                                return e.value
                            }
                        }
                        s = (s + 1) & mask
                    }
                }
            }
        }
    }

    func lookup(_ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else {
                var zero: UInt8 = 0
                return withUnsafePointer(to: &zero) { lookup($0, 0) }
            }
            return lookup(base, b.count)
        }
    }

    /// Adds `bytes -> value` unless the bytes are present; returns the value already stored, if any.
    /// Values must be non-negative (-1 is the "absent" answer of `lookup`).
    @discardableResult
    mutating func insertIfAbsent(_ bytes: UnsafeBufferPointer<UInt8>, value: Int32) -> Int32? {
        var zero: UInt8 = 0
        return withUnsafePointer(to: &zero) { z in
            let base = bytes.baseAddress ?? z
            let existing = lookup(base, bytes.count)
            if existing >= 0 { return existing }
            if (entries.count + 1) * 2 > slots.count { grow() }
            entries.append(Entry(start: arena.count, length: Int32(bytes.count), value: value))
            arena.append(contentsOf: bytes)
            place(entry: entries.count - 1, hash: Self.hash(base, bytes.count))
            return nil
        }
    }

    @discardableResult
    mutating func insertIfAbsent(_ bytes: [UInt8], value: Int32) -> Int32? {
        bytes.withUnsafeBufferPointer { insertIfAbsent($0, value: value) }
    }

    private mutating func place(entry: Int, hash: UInt64) {
        var s = Int(truncatingIfNeeded: hash) & mask
        while slots[s] != 0 { s = (s + 1) & mask }
        slots[s] = (hash & 0xFFFF_FFFF_0000_0000) | UInt64(entry + 1)
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        var zero: UInt8 = 0
        withUnsafePointer(to: &zero) { z in
            arena.withUnsafeBufferPointer { ar in
                for (i, e) in entries.enumerated() {
                    let p = e.length == 0 ? z : ar.baseAddress! + e.start
                    place(entry: i, hash: Self.hash(p, Int(e.length)))
                }
            }
        }
    }
}

@inline(__always)
func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self)
            != UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self) { return false }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}
