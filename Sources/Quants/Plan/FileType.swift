import GGUF

/// llama.cpp's `llama_ftype` (the value of `general.file_type`): every mix llama-quantize b10572
/// can write, with the table of names it accepts (quantize.cpp `QUANT_OPTIONS`).
///
/// A file type may name ggml types this build has no block family for (IQ2_XXS, Q3_K, ...): its
/// plan is still computed (`--dry-run` shows it), and quantizing refuses before anything is written.
public enum FileType: Int, CaseIterable, Sendable {
    case allF32 = 0, mostlyF16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 7, q5_0 = 8, q5_1 = 9
    case q2_K = 10, q3_K_S = 11, q3_K_M = 12, q3_K_L = 13
    case q4_K_S = 14, q4_K_M = 15, q5_K_S = 16, q5_K_M = 17, q6_K = 18
    case iq2_XXS = 19, iq2_XS = 20, q2_K_S = 21, iq3_XS = 22, iq3_XXS = 23, iq1_S = 24, iq4_NL = 25
    case iq3_S = 26, iq3_M = 27, iq2_S = 28, iq2_M = 29, iq4_XS = 30, iq1_M = 31, mostlyBF16 = 32
    case tq1_0 = 36, tq2_0 = 37, mxfp4MoE = 38, q1_0 = 40, q2_0 = 41

    /// The type every quantizable tensor gets before the mixture rules (`llama_ftype_get_default_type`).
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
        case .q1_0: return .q1_0
        case .q2_0: return .q2_0
        case .mxfp4MoE: return .mxfp4
        case .q2_K, .q2_K_S: return .q2_K
        case .iq3_XS: return .iq3_S
        case .q3_K_S, .q3_K_M, .q3_K_L: return .q3_K
        case .q4_K_S, .q4_K_M: return .q4_K
        case .q5_K_S, .q5_K_M: return .q5_K
        case .q6_K: return .q6_K
        case .tq1_0: return .tq1_0
        case .tq2_0: return .tq2_0
        case .iq2_XXS: return .iq2_XXS
        case .iq2_XS, .iq2_S: return .iq2_XS
        case .iq2_M: return .iq2_S
        case .iq3_XXS: return .iq3_XXS
        case .iq1_S: return .iq1_S
        case .iq1_M: return .iq1_M
        case .iq4_NL: return .iq4_NL
        case .iq4_XS: return .iq4_XS
        case .iq3_S, .iq3_M: return .iq3_S
        }
    }

    /// The name llama-quantize prints for this ftype.
    public var name: String {
        QuantOption.table.first { $0.fileType == self && !$0.isAlias && !$0.onlyCopy }?.name ?? "?"
    }
}

/// One accepted TYPE argument.
public struct QuantOption: Sendable {
    public let name: String
    public let fileType: FileType
    public let description: String
    /// `COPY`: every tensor is copied as stored and `general.file_type` keeps the input's value.
    public let onlyCopy: Bool
    public var isAlias: Bool { description.hasPrefix("alias") }

    init(_ name: String, _ fileType: FileType, _ description: String, onlyCopy: Bool = false) {
        self.name = name
        self.fileType = fileType
        self.description = description
        self.onlyCopy = onlyCopy
    }

    /// llama-quantize b10572's names, numbers and descriptions, in its order.
    public static let table: [QuantOption] = [
        QuantOption("Q1_0", .q1_0, " 1.125 bpw quantization"),
        QuantOption("Q2_0", .q2_0, " 2.25 bpw quantization (group 64)"),
        QuantOption("Q4_0", .q4_0, " 4.34G, +0.4685 ppl @ Llama-3-8B"),
        QuantOption("Q4_1", .q4_1, " 4.78G, +0.4511 ppl @ Llama-3-8B"),
        QuantOption("MXFP4_MOE", .mxfp4MoE, " MXFP4 MoE"),
        QuantOption("Q5_0", .q5_0, " 5.21G, +0.1316 ppl @ Llama-3-8B"),
        QuantOption("Q5_1", .q5_1, " 5.65G, +0.1062 ppl @ Llama-3-8B"),
        QuantOption("IQ2_XXS", .iq2_XXS, " 2.06 bpw quantization"),
        QuantOption("IQ2_XS", .iq2_XS, " 2.31 bpw quantization"),
        QuantOption("IQ2_S", .iq2_S, " 2.5  bpw quantization"),
        QuantOption("IQ2_M", .iq2_M, " 2.7  bpw quantization"),
        QuantOption("IQ1_S", .iq1_S, " 1.56 bpw quantization"),
        QuantOption("IQ1_M", .iq1_M, " 1.75 bpw quantization"),
        QuantOption("TQ1_0", .tq1_0, " 1.69 bpw ternarization"),
        QuantOption("TQ2_0", .tq2_0, " 2.06 bpw ternarization"),
        QuantOption("Q2_K", .q2_K, " 2.96G, +3.5199 ppl @ Llama-3-8B"),
        QuantOption("Q2_K_S", .q2_K_S, " 2.96G, +3.1836 ppl @ Llama-3-8B"),
        QuantOption("IQ3_XXS", .iq3_XXS, " 3.06 bpw quantization"),
        QuantOption("IQ3_S", .iq3_S, " 3.44 bpw quantization"),
        QuantOption("IQ3_M", .iq3_M, " 3.66 bpw quantization mix"),
        QuantOption("Q3_K", .q3_K_M, "alias for Q3_K_M"),
        QuantOption("IQ3_XS", .iq3_XS, " 3.3 bpw quantization"),
        QuantOption("Q3_K_S", .q3_K_S, " 3.41G, +1.6321 ppl @ Llama-3-8B"),
        QuantOption("Q3_K_M", .q3_K_M, " 3.74G, +0.6569 ppl @ Llama-3-8B"),
        QuantOption("Q3_K_L", .q3_K_L, " 4.03G, +0.5562 ppl @ Llama-3-8B"),
        QuantOption("IQ4_NL", .iq4_NL, " 4.50 bpw non-linear quantization"),
        QuantOption("IQ4_XS", .iq4_XS, " 4.25 bpw non-linear quantization"),
        QuantOption("Q4_K", .q4_K_M, "alias for Q4_K_M"),
        QuantOption("Q4_K_S", .q4_K_S, " 4.37G, +0.2689 ppl @ Llama-3-8B"),
        QuantOption("Q4_K_M", .q4_K_M, " 4.58G, +0.1754 ppl @ Llama-3-8B"),
        QuantOption("Q5_K", .q5_K_M, "alias for Q5_K_M"),
        QuantOption("Q5_K_S", .q5_K_S, " 5.21G, +0.1049 ppl @ Llama-3-8B"),
        QuantOption("Q5_K_M", .q5_K_M, " 5.33G, +0.0569 ppl @ Llama-3-8B"),
        QuantOption("Q6_K", .q6_K, " 6.14G, +0.0217 ppl @ Llama-3-8B"),
        QuantOption("Q8_0", .q8_0, " 7.96G, +0.0026 ppl @ Llama-3-8B"),
        QuantOption("F16", .mostlyF16, "14.00G, +0.0020 ppl @ Mistral-7B"),
        QuantOption("BF16", .mostlyBF16, "14.00G, -0.0050 ppl @ Mistral-7B"),
        QuantOption("F32", .allF32, "26.00G              @ 7B"),
        // After F32, so that the number 0 finds F32.
        QuantOption("COPY", .allF32, "only copy tensors, no quantizing", onlyCopy: true),
    ]

    /// Parses a TYPE argument like llama-quantize: a name (case-insensitive), else an ftype
    /// number (the first row with that number, so `15` is Q4_K, the alias, like llama-quantize's
    /// `try_parse_ftype`; the file type is the same).
    public static func parse(_ s: String) -> QuantOption? {
        if let o = table.first(where: { $0.name.lowercased() == s.lowercased() }) { return o }
        if let n = Int(s.trimmingLeadingSpaces), let o = table.first(where: { $0.fileType.rawValue == n }) { return o }
        return nil
    }

    /// The "allowed quantization types" list of the help text (llama-quantize's layout).
    public static var helpList: String {
        table.map { o in
            var line = o.onlyCopy ? "          " : "  " + pad(String(o.fileType.rawValue), 2) + "  or  "
            line += o.name + String(repeating: " ", count: max(0, 7 - o.name.count)) + " : " + o.description
            return line
        }.joined(separator: "\n")
    }

    private static func pad(_ s: String, _ n: Int) -> String {
        String(repeating: " ", count: max(0, n - s.count)) + s
    }
}

extension String {
    /// `std::stoi` skips leading white space.
    fileprivate var trimmingLeadingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" || $0 == "\n" }))
    }
}
