/// Added tokens and how they are cut out of the input before normalization and
/// pre-tokenization (tokenizers' `AddedVocabulary::extract_and_normalize`).
///
/// Non-normalized tokens are matched on the raw input first; each remaining stretch is then
/// normalized and searched for the normalized tokens (matched by their normalized content).
/// Matching is leftmost-longest and non-overlapping; `single_word`, `lstrip` and `rstrip` are
/// applied to each match as tokenizers does, with Rust regex's `\w` and `\s` classes.
struct AddedVocabulary {
    /// Effective added tokens, sorted by id.
    let tokens: [HFAddedToken]
    let idByContent: [ExactKey: Int]
    let tokenByID: [Int: HFAddedToken]
    /// Special tokens are left in the text (not extracted) when true (`split_special_tokens`).
    let encodeSpecialTokens: Bool
    private let raw: TokenMatcher
    private let normalized: TokenMatcher

    init(tokens: [HFAddedToken], normalizer: TokenizerNormalizer?, encodeSpecialTokens: Bool) {
        self.tokens = tokens.sorted { $0.id < $1.id }
        var byContent: [ExactKey: Int] = [:], byID: [Int: HFAddedToken] = [:]
        for t in self.tokens {
            byContent[ExactKey(t.content)] = t.id
            byID[t.id] = t
        }
        idByContent = byContent
        tokenByID = byID
        self.encodeSpecialTokens = encodeSpecialTokens
        raw = TokenMatcher(self.tokens.filter { !$0.normalized }.map { (Array($0.content.unicodeScalars), $0) })
        normalized = TokenMatcher(self.tokens.filter(\.normalized).map { t in
            let content = Array(t.content.unicodeScalars)
            return (normalizer?.apply(content) ?? content, t)
        })
    }

    /// Splits `text` around added tokens and normalizes the stretches between them.
    func extractAndNormalize(_ text: [Unicode.Scalar], normalizer: TokenizerNormalizer?) -> [TextPiece] {
        var out: [TextPiece] = []
        for piece in split(TextPiece(text: text, atStart: true), raw) {
            guard piece.ids == nil else { out.append(piece); continue }
            var p = piece
            if let normalizer { p.text = normalizer.apply(p.text) }
            out += split(p, normalized)
        }
        return out
    }

    /// tokenizers' `find_matches` + `split_with_indices` for one matcher.
    private func split(_ piece: TextPiece, _ matcher: TokenMatcher) -> [TextPiece] {
        let s = piece.text
        guard !s.isEmpty else { return [] }
        var out: [TextPiece] = []
        func emit(_ r: Range<Int>, _ ids: [Int]?) {
            guard !r.isEmpty else { return }
            out.append(TextPiece(text: Array(s[r]), atStart: piece.atStart && r.lowerBound == 0, ids: ids))
        }
        var startOffset = 0
        for (range, token) in matcher.matches(in: s) {
            var start = range.lowerBound, stop = range.upperBound
            if encodeSpecialTokens && token.special { continue }
            if token.singleWord {
                let startSpace = start == 0 || !CharClass.isWordChar(s[start - 1])
                let stopSpace = stop == s.count || !CharClass.isWordChar(s[stop])
                if !startSpace || !stopSpace { continue }
            }
            if token.lstrip {
                var k = start
                while k > 0 && CharClass.isWhitespace(s[k - 1]) { k -= 1 }
                start = max(k, startOffset)
            }
            if token.rstrip {
                while stop < s.count && CharClass.isWhitespace(s[stop]) { stop += 1 }
            }
            if startOffset < start { emit(startOffset..<start, nil) }
            emit(start..<stop, [token.id])
            startOffset = stop
        }
        if startOffset < s.count { emit(startOffset..<s.count, nil) }
        return out
    }
}

/// Leftmost-longest, non-overlapping search for a set of patterns.
struct TokenMatcher: Sendable {
    /// First character → candidates, longest pattern first.
    private let byFirst: [Unicode.Scalar: [(pattern: [Unicode.Scalar], token: HFAddedToken)]]

    init(_ patterns: [([Unicode.Scalar], HFAddedToken)]) {
        var t: [Unicode.Scalar: [(pattern: [Unicode.Scalar], token: HFAddedToken)]] = [:]
        for (p, tok) in patterns where !p.isEmpty { t[p[0], default: []].append((p, tok)) }
        for k in t.keys { t[k]?.sort { $0.pattern.count > $1.pattern.count } }
        byFirst = t
    }

    var isEmpty: Bool { byFirst.isEmpty }

    func matches(in s: [Unicode.Scalar]) -> [(Range<Int>, HFAddedToken)] {
        var out: [(Range<Int>, HFAddedToken)] = []
        guard !byFirst.isEmpty else { return out }
        var i = 0
        scan: while i < s.count {
            if let candidates = byFirst[s[i]] {
                for (p, tok) in candidates where i + p.count <= s.count {
                    var k = 1
                    while k < p.count && s[i + k] == p[k] { k += 1 }
                    if k == p.count {
                        out.append((i..<(i + k), tok))
                        i += k
                        continue scan
                    }
                }
            }
            i += 1
        }
        return out
    }
}
