import Foundation

// The naming heuristics of gguf-py (metadata.py `get_model_id_components`, `id_to_title`;
// utility.py `size_label`, `naming_convention`, `fill_templated_filename`), re-implemented so that
// `general.name`, `basename`, `finetune`, `version` and `size_label` come out as llama.cpp writes them.

/// The parts a model id such as `HuggingFaceTB/SmolLM2-135M-Instruct` is split into.
public struct ModelIDComponents: Equatable, Sendable {
    public var fullName: String?
    public var organization: String?
    public var basename: String?
    public var finetune: String?
    public var version: String?
    public var sizeLabel: String?
}

public enum ModelNaming {
    private enum Tag: Hashable { case basename, sizeLabel, finetune, version, type }

    nonisolated(unsafe) private static let versionRE = #/(?:v|iter)?\d+(?:[.]\d+)*/#.ignoresCase()
    nonisolated(unsafe) private static let typeRE = #/i?q\d(?:_\w)*|b?fp?(?:16|32)/#.ignoresCase()
    nonisolated(unsafe) private static let sizeRE = #/(?:(?:[A]|\d+[x])?\d+(?:[._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl)/#.ignoresCase()
    nonisolated(unsafe) private static let finetuneRE = #/chat|instruct|vision|lora/#.ignoresCase()
    nonisolated(unsafe) private static let titleSkipRE = #/v\d+(?:\.\d+)*|\d.*/#

    /// gguf-py `Metadata.get_model_id_components(model_id, total_params)`.
    public static func components(_ modelID: String?, totalParams: Int) -> ModelIDComponents {
        guard let modelID else { return ModelIDComponents() }
        if modelID.contains(" ") { return ModelIDComponents(fullName: modelID) }
        var org: String?
        let full: String
        if let slash = modelID.firstIndex(of: "/") {
            org = String(modelID[..<slash])
            full = String(modelID[modelID.index(after: slash)...])
        } else {
            full = modelID
        }
        if let o = org, o.first == "." { org = nil }

        var parts = full.split(separator: "-", omittingEmptySubsequences: true).map(String.init)
        var tags = Array(repeating: Set<Tag>(), count: parts.count)
        for (i, original) in parts.enumerated() {
            var part = original
            if part.wholeMatch(of: versionRE) != nil {
                tags[i].insert(.version)
            } else if part.wholeMatch(of: typeRE) != nil {
                tags[i].insert(.type)
                parts[i] = part.uppercased()
            } else if i > 0, part.wholeMatch(of: sizeRE) != nil {
                part = part.replacingOccurrences(of: "_", with: ".")
                if let last = part.last, last.isASCII, last.isNumber {
                    // "7b1" (bloom) -> "7.1b"
                    let chars = Array(part)
                    part = String(chars.dropLast(2)) + "." + String(chars[chars.count - 1]) + String(chars[chars.count - 2])
                }
                let chars = Array(part)
                if chars.count > 1, chars[chars.count - 2].isASCII, chars[chars.count - 2].isNumber,
                   "kmbt".contains(chars[chars.count - 1]) {
                    part = String(chars.dropLast()) + chars[chars.count - 1].uppercased()
                }
                if totalParams != 0, let suffix = part.last, let number = Double(part.dropLast()) {
                    let power = Array(" KMBT").firstIndex(of: suffix).map { $0 } ?? -1
                    let label = number * pow(1000.0, Double(power))
                    let total = Double(totalParams)
                    let tooFar = (totalParams < 0 && label < Double(abs(totalParams) / 8)) ||
                        (totalParams > 0 && abs(label - total) > Double(7 * totalParams / 8))
                    if tooFar {
                        tags[i].insert(.finetune)
                        part = String(part.dropLast()) + String(suffix).lowercased()
                    }
                }
                if tags[i].isEmpty { tags[i].insert(.sizeLabel) }
                parts[i] = part
            } else if i > 0, part.wholeMatch(of: finetuneRE) != nil {
                if totalParams < 0 && part.lowercased() == "lora" { tags[i].insert(.type) } else { tags[i].insert(.finetune) }
            }
        }
        // Word-based size labels are dropped when a numeric one exists.
        if zip(parts, tags).contains(where: { $1.contains(.sizeLabel) && $0.contains(where: { $0.isASCII && $0.isNumber }) }) {
            for i in parts.indices where tags[i].contains(.sizeLabel) && parts[i].allSatisfy({ $0.isLetter }) {
                tags[i].remove(.sizeLabel)
            }
        }
        var atStart = true
        for i in parts.indices {
            if atStart && ((tags[i].isEmpty && (parts[i].first?.isLetter ?? false)) || tags[i].contains(.version)) {
                tags[i].insert(.basename)
            } else {
                atStart = false
                if tags[i].isEmpty { tags[i].insert(.finetune) }
            }
        }
        for i in parts.indices.reversed() {
            if tags[i].contains(.basename) && tags[i].count > 1 { tags[i].remove(.basename) } else { break }
        }
        func joined(_ t: Tag, excluding: Tag? = nil, unique: Bool = false) -> String? {
            var seen = Set<String>()
            let picked = parts.indices.filter { tags[$0].contains(t) && (excluding == nil || !tags[$0].contains(excluding!)) }
                .map { parts[$0] }
                .filter { !unique || seen.insert($0).inserted }
            return picked.isEmpty ? nil : picked.joined(separator: "-")
        }
        var c = ModelIDComponents(fullName: full, organization: org)
        c.basename = joined(.basename)
        c.sizeLabel = joined(.sizeLabel, unique: true)
        c.finetune = joined(.finetune)
        c.version = joined(.version, excluding: .basename)
        if c.sizeLabel == nil && c.finetune == nil && c.version == nil { c.basename = nil }
        return c
    }

    /// gguf-py `Metadata.id_to_title`: title-cases lower-case words except versions and numbers.
    public static func title(_ s: String) -> String {
        let words = s.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "-", with: " ")
            .split(whereSeparator: { $0.isWhitespace }).map(String.init)
        return words.map { w in
            (pythonIsLower(w) && w.prefixMatch(of: titleSkipRE).map { $0.output.endIndex == w.endIndex } != true)
                ? pythonTitle(w) : w
        }.joined(separator: " ")
    }

    /// Python's str.islower(): at least one cased character and no upper-case ones.
    static func pythonIsLower(_ s: String) -> Bool {
        var cased = false
        for c in s {
            if c.isUppercase || (c.isCased && !c.isLowercase) { return false }
            if c.isLowercase { cased = true }
        }
        return cased
    }

    /// Python's str.title(): a cased character after an uncased one is upper-cased, others lowered.
    static func pythonTitle(_ s: String) -> String {
        var out = ""
        var prevCased = false
        for c in s {
            let cased = c.isCased
            out += prevCased ? c.lowercased() : c.uppercased()
            prevCased = cased
        }
        return out
    }

    /// gguf-py `model_weight_count_rounded_notation(n, min_digits=2)`: "135M", "8.0B", "27M".
    public static func roundedCount(_ n: Int, minDigits: Int = 2) -> String {
        let v = Double(n)
        let (scaled, suffix): (Double, String) =
            v > 1e12 ? (v * 1e-12, "T") : v > 1e9 ? (v * 1e-9, "B") : v > 1e6 ? (v * 1e-6, "M") : (v * 1e-3, "K")
        let rounded = String(Int(scaled.rounded(.toNearestOrEven)))
        let digits = rounded.drop(while: { $0 == "0" }).count
        let fix = max(minDigits - digits, 0)
        return String(format: "%.\(fix)f", scaled) + suffix
    }

    /// gguf-py `size_label(total, shared, expert, expert_count)`.
    public static func sizeLabel(total: Int, shared: Int = 0, expert: Int = 0, expertCount: Int = 0) -> String {
        if expertCount > 0 { return "\(expertCount)x" + roundedCount(abs(shared) + abs(expert)) }
        return roundedCount(abs(total))
    }

    /// gguf-py `naming_convention`: `<base>-<size>-<finetune>-<version>-<ENCODING>[-vocab]`.
    public static func defaultFileName(name: String?, basename: String?, finetune: String?, version: String?,
                                       sizeLabel: String?, outputType: String?, vocabOnly: Bool = false) -> String {
        func clean(_ s: String) -> String { s.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: " ", with: "-") }
        let base = basename.map { clean($0).replacingOccurrences(of: "/", with: "-") }
            ?? name.map { clean($0).replacingOccurrences(of: "/", with: "-") } ?? "ggml-model"
        var s = base
        if let p = sizeLabel { s += "-" + p }
        if let f = finetune { s += "-" + clean(f) }
        if let v = version { s += "-" + clean(v) }
        if let e = outputType { s += "-" + clean(e).uppercased() }
        if vocabOnly { s += "-vocab" }
        return s
    }

    /// gguf-py `fill_templated_filename`: `{ftype}`/`{outtype}` (lower) and `{FTYPE}`/`{OUTTYPE}` (upper).
    public static func fillTemplate(_ name: String, outputType: String) -> String {
        name.replacingOccurrences(of: "{ftype}", with: outputType.lowercased())
            .replacingOccurrences(of: "{outtype}", with: outputType.lowercased())
            .replacingOccurrences(of: "{FTYPE}", with: outputType.uppercased())
            .replacingOccurrences(of: "{OUTTYPE}", with: outputType.uppercased())
            .replacingOccurrences(of: "{}", with: outputType.lowercased())
    }
}
