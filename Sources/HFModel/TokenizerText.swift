// Text pieces and how pre-tokenizers split them (tokenizers' NormalizedString::split).

/// A stretch of (normalized) text being tokenized: one `Split` of tokenizers' PreTokenizedString.
struct TextPiece {
    var text: [Unicode.Scalar]
    /// True when the piece's first character comes from offset 0 of the original input
    /// (`offsets_original().0 == 0`, which Metaspace's "first" prepend scheme tests).
    var atStart: Bool
    /// Token ids when the piece is already tokenized (an added token); nil otherwise.
    var ids: [Int]? = nil
}

/// How a split keeps the pieces a pattern matched (tokenizers' `SplitDelimiterBehavior`).
enum SplitBehavior: String, Sendable {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
}

/// A match list over a piece: consecutive ranges covering it, each flagged as a match or not
/// (tokenizers' `Pattern::find_matches`).
typealias MatchList = [(range: Range<Int>, isMatch: Bool)]

// MARK: - Splitting

/// Matches of a per-character predicate: every matching character is its own match.
func findCharMatches(_ text: [Unicode.Scalar], _ predicate: (Unicode.Scalar) -> Bool) -> MatchList {
    if text.isEmpty { return [(0..<0, false)] }
    var out: MatchList = []
    var last = 0
    for (i, c) in text.enumerated() where predicate(c) {
        if last < i { out.append((last..<i, false)) }
        out.append((i..<(i + 1), true))
        last = i + 1
    }
    if last < text.count { out.append((last..<text.count, false)) }
    return out
}

/// Builds a match list from sorted, non-overlapping match ranges.
func matchList(_ matches: [Range<Int>], length: Int) -> MatchList {
    if length == 0 { return [(0..<0, false)] }
    var out: MatchList = []
    var prev = 0
    for m in matches {
        if prev != m.lowerBound { out.append((prev..<m.lowerBound, false)) }
        out.append((m, true))
        prev = m.upperBound
    }
    if prev != length { out.append((prev..<length, false)) }
    return out
}

/// The ranges a split keeps, applying `behavior` to a match list (tokenizers'
/// `NormalizedString::split`). Empty ranges may be returned; callers drop them.
func splitRanges(_ matches: MatchList, _ behavior: SplitBehavior) -> [Range<Int>] {
    switch behavior {
    case .isolated:
        return matches.map(\.range)
    case .removed:
        return matches.filter { !$0.isMatch }.map(\.range)
    case .contiguous:
        var acc: [Range<Int>] = []
        var previous = false
        for m in matches {
            if m.isMatch == previous, let last = acc.last {
                acc[acc.count - 1] = last.lowerBound..<m.range.upperBound
            } else {
                acc.append(m.range)
            }
            previous = m.isMatch
        }
        return acc
    case .mergedWithPrevious:
        var acc: [Range<Int>] = []
        var previous = false
        for m in matches {
            if m.isMatch && !previous, let last = acc.last {
                acc[acc.count - 1] = last.lowerBound..<m.range.upperBound
            } else {
                acc.append(m.range)
            }
            previous = m.isMatch
        }
        return acc
    case .mergedWithNext:
        var acc: [Range<Int>] = []
        var previous = false
        for m in matches.reversed() {
            if m.isMatch && !previous, let last = acc.last {
                acc[acc.count - 1] = m.range.lowerBound..<last.upperBound
            } else {
                acc.append(m.range)
            }
            previous = m.isMatch
        }
        return acc.reversed()
    }
}

/// Splits `piece` into the kept ranges, dropping empty ones.
func splitPiece(_ piece: TextPiece, _ matches: MatchList, _ behavior: SplitBehavior) -> [TextPiece] {
    splitRanges(matches, behavior).compactMap { r in
        r.isEmpty ? nil : TextPiece(text: Array(piece.text[r]), atStart: piece.atStart && r.lowerBound == 0)
    }
}

extension Array where Element == Unicode.Scalar {
    var string: String {
        var s = String()
        s.unicodeScalars.append(contentsOf: self)
        return s
    }
}
