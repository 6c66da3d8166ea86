import GGUF

/// llama.cpp's `llama_ftype` (the value of `general.file_type`) for the mixes this project writes,
/// with the table of names `llama-quantize` accepts (quantize.cpp `QUANT_OPTIONS`).
public enum FileType: Int, CaseIterable, Sendable {
    case allF32 = 0, mostlyF16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 7, q5_0 = 8, q5_1 = 9
    case q4_K_S = 14, q4_K_M = 15, q5_K_S = 16, q5_K_M = 17, q6_K = 18, mostlyBF16 = 32

    /// The type every quantizable tensor gets before the mixture rules (`default_type`).
    public var defaultType: GGMLType {
        switch self {
        case .allF32: return .f32
        case .mostlyF16: return .f16
        case .mostlyBF16: return .bf16
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        case .q5_0: return .q5_0
        case .q5_1: return .q5_1
        case .q8_0: return .q8_0
        case .q4_K_S, .q4_K_M: return .q4_K
        case .q5_K_S, .q5_K_M: return .q5_K
        case .q6_K: return .q6_K
        }
    }

    /// The name llama-quantize prints for this ftype.
    public var name: String {
        QuantOption.table.first { $0.fileType == self && !$0.isAlias }?.name ?? "?"
    }
}

/// One accepted TYPE argument.
public struct QuantOption: Sendable {
    public let name: String
    public let fileType: FileType
    public let description: String
    public var isAlias: Bool { description.hasPrefix("alias") }

    /// Same names, numbers and descriptions as llama-quantize for the types implemented here.
    public static let table: [QuantOption] = [
        QuantOption(name: "Q4_0", fileType: .q4_0, description: " 4.34G, +0.4685 ppl @ Llama-3-8B"),
        QuantOption(name: "Q4_1", fileType: .q4_1, description: " 4.78G, +0.4511 ppl @ Llama-3-8B"),
        QuantOption(name: "Q5_0", fileType: .q5_0, description: " 5.21G, +0.1316 ppl @ Llama-3-8B"),
        QuantOption(name: "Q5_1", fileType: .q5_1, description: " 5.65G, +0.1062 ppl @ Llama-3-8B"),
        QuantOption(name: "Q4_K", fileType: .q4_K_M, description: "alias for Q4_K_M"),
        QuantOption(name: "Q4_K_S", fileType: .q4_K_S, description: " 4.37G, +0.2689 ppl @ Llama-3-8B"),
        QuantOption(name: "Q4_K_M", fileType: .q4_K_M, description: " 4.58G, +0.1754 ppl @ Llama-3-8B"),
        QuantOption(name: "Q5_K", fileType: .q5_K_M, description: "alias for Q5_K_M"),
        QuantOption(name: "Q5_K_S", fileType: .q5_K_S, description: " 5.21G, +0.1049 ppl @ Llama-3-8B"),
        QuantOption(name: "Q5_K_M", fileType: .q5_K_M, description: " 5.33G, +0.0569 ppl @ Llama-3-8B"),
        QuantOption(name: "Q6_K", fileType: .q6_K, description: " 6.14G, +0.0217 ppl @ Llama-3-8B"),
        QuantOption(name: "Q8_0", fileType: .q8_0, description: " 7.96G, +0.0026 ppl @ Llama-3-8B"),
        QuantOption(name: "F16", fileType: .mostlyF16, description: "14.00G, +0.0020 ppl @ Mistral-7B"),
        QuantOption(name: "BF16", fileType: .mostlyBF16, description: "14.00G, -0.0050 ppl @ Mistral-7B"),
        QuantOption(name: "F32", fileType: .allF32, description: "26.00G              @ 7B"),
    ]

    /// Parses a TYPE argument like llama-quantize: a name (case-insensitive) or an ftype number.
    public static func parse(_ s: String) -> QuantOption? {
        if let o = table.first(where: { $0.name.lowercased() == s.lowercased() }) { return o }
        if let n = Int(s), let o = table.first(where: { $0.fileType.rawValue == n && !$0.isAlias }) { return o }
        return nil
    }

    /// The "Allowed quantization types" list of the help text.
    public static var helpList: String {
        table.map { o in
            let num = String(o.fileType.rawValue)
            return "  " + String(repeating: " ", count: max(0, 2 - num.count)) + num + "  or  " +
                o.name + String(repeating: " ", count: max(0, 7 - o.name.count)) + " : " + o.description
        }.joined(separator: "\n")
    }
}
