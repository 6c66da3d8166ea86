import Foundation

/// Unicode normalization forms for the NFC/NFD/NFKC/NFKD normalizers, as tokenizers computes them.
///
/// tokenizers' normalization tables are those of Unicode 9.0: a character assigned later has no
/// decomposition and combining class 0 there, so it stays in place and blocks reordering and
/// composition across it. We reproduce that by normalizing the stretches between such
/// characters separately and passing those characters through. Composition uses the standard
/// library's own NFC (`_nfcCodeUnits`); decomposition uses Foundation and is then put into
/// canonical order with the standard library's combining classes.
enum UnicodeNormalization {
    static func nfc(_ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if t.allSatisfy({ $0.value < 0xC0 }) { return t }
        return unicode9(t) { Array(String(decoding: $0.string._nfcCodeUnits, as: UTF8.self).unicodeScalars) }
    }

    static func nfd(_ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if t.allSatisfy({ $0.value < 0xC0 }) { return t }
        return unicode9(t) { canonicalOrder(Array($0.string.decomposedStringWithCanonicalMapping.unicodeScalars)) }
    }

    static func nfkd(_ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if t.allSatisfy({ $0.value < 0xA0 }) { return t }
        return unicode9(t) { canonicalOrder(Array($0.string.decomposedStringWithCompatibilityMapping.unicodeScalars)) }
    }

    static func nfkc(_ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if t.allSatisfy({ $0.value < 0xA0 }) { return t }
        return unicode9(t) { s in
            let d = canonicalOrder(Array(s.string.decomposedStringWithCompatibilityMapping.unicodeScalars))
            return Array(String(decoding: d.string._nfcCodeUnits, as: UTF8.self).unicodeScalars)
        }
    }

    /// Applies `f` to the runs of characters assigned in Unicode 9.0 or earlier; later ones pass through.
    private static func unicode9(_ t: [Unicode.Scalar], _ f: ([Unicode.Scalar]) -> [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(t.count)
        var start = 0
        for (i, u) in t.enumerated() {
            if let age = u.properties.age, age.major <= 9 { continue }
            if start < i { out += f(Array(t[start..<i])) }
            out.append(u)
            start = i + 1
        }
        if start < t.count { out += f(Array(t[start...])) }
        return out
    }

    /// Stable-sorts each run of non-starters by canonical combining class.
    static func canonicalOrder(_ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out = t
        var i = 0
        while i < out.count {
            guard out[i].properties.canonicalCombiningClass.rawValue != 0 else { i += 1; continue }
            var j = i
            while j < out.count && out[j].properties.canonicalCombiningClass.rawValue != 0 { j += 1 }
            if j - i > 1 {
                let run = out[i..<j].enumerated().sorted {
                    let a = $0.element.properties.canonicalCombiningClass.rawValue
                    let b = $1.element.properties.canonicalCombiningClass.rawValue
                    return a != b ? a < b : $0.offset < $1.offset
                }
                out.replaceSubrange(i..<j, with: run.map(\.element))
            }
            i = j
        }
        return out
    }
}
