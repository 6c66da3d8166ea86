// The ggml tensor type table: ids, block sizes and bytes per block.
// Ids from ggml.h `enum ggml_type`; sizes from ggml-common.h `block_*` (gguf-py GGML_QUANT_SIZES).
// This is the only place in the project that knows a block's size.

/// A ggml tensor element type, as stored in a GGUF tensor-info record.
public enum GGMLType: UInt32, CaseIterable, Sendable, CustomStringConvertible {
    case f32 = 0, f16 = 1
    case q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_XXS = 16, iq2_XS = 17, iq3_XXS = 18, iq1_S = 19, iq4_NL = 20, iq3_S = 21, iq2_S = 22, iq4_XS = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_M = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35
    case mxfp4 = 39, nvfp4 = 40, q1_0 = 41, q2_0 = 42

    /// Super-block size of the K-quants (QK_K).
    public static let qkK = 256

    /// (elements per block, bytes per block, ggml's name).
    private var traits: (block: Int, bytes: Int, name: String) {
        let qk = GGMLType.qkK
        switch self {
        case .f32: return (1, 4, "f32")
        case .f16: return (1, 2, "f16")
        case .bf16: return (1, 2, "bf16")
        case .f64: return (1, 8, "f64")
        case .i8: return (1, 1, "i8")
        case .i16: return (1, 2, "i16")
        case .i32: return (1, 4, "i32")
        case .i64: return (1, 8, "i64")
        case .q4_0: return (32, 2 + 16, "q4_0")
        case .q4_1: return (32, 2 + 2 + 16, "q4_1")
        case .q5_0: return (32, 2 + 4 + 16, "q5_0")
        case .q5_1: return (32, 2 + 2 + 4 + 16, "q5_1")
        case .q8_0: return (32, 2 + 32, "q8_0")
        case .q8_1: return (32, 2 + 2 + 32, "q8_1")
        case .q2_K: return (qk, 2 + 2 + qk / 16 + qk / 4, "q2_K")
        case .q3_K: return (qk, 2 + qk / 4 + qk / 8 + 12, "q3_K")
        case .q4_K: return (qk, 2 + 2 + qk / 2 + 12, "q4_K")
        case .q5_K: return (qk, 2 + 2 + qk / 2 + qk / 8 + 12, "q5_K")
        case .q6_K: return (qk, 2 + qk / 2 + qk / 4 + qk / 16, "q6_K")
        case .q8_K: return (qk, 4 + qk + qk / 8, "q8_K")
        case .iq2_XXS: return (qk, 2 + qk / 4, "iq2_xxs")
        case .iq2_XS: return (qk, 2 + qk / 4 + qk / 32, "iq2_xs")
        case .iq3_XXS: return (qk, 2 + qk / 4 + qk / 8, "iq3_xxs")
        case .iq1_S: return (qk, 2 + qk / 8 + qk / 16, "iq1_s")
        case .iq4_NL: return (32, 2 + 16, "iq4_nl")
        case .iq3_S: return (qk, 2 + qk / 4 + qk / 8 + qk / 32 + 4, "iq3_s")
        case .iq2_S: return (qk, 2 + qk / 4 + qk / 16, "iq2_s")
        case .iq4_XS: return (qk, 2 + 2 + qk / 2 + qk / 64, "iq4_xs")
        case .iq1_M: return (qk, qk / 8 + qk / 16 + qk / 32, "iq1_m")
        case .tq1_0: return (qk, 2 + 4 * 13, "tq1_0")
        case .tq2_0: return (qk, 2 + 64, "tq2_0")
        case .mxfp4: return (32, 1 + 16, "mxfp4")
        case .nvfp4: return (64, 4 + 32, "nvfp4")
        case .q1_0: return (128, 2 + 16, "q1_0")
        case .q2_0: return (64, 2 + 16, "q2_0")
        }
    }

    /// Elements per block (1 for plain types).
    public var blockSize: Int { traits.block }
    /// Bytes per block.
    public var typeSize: Int { traits.bytes }
    /// ggml's lower-case type name (`q4_K`, `f16`, ...).
    public var name: String { traits.name }
    /// The upper-case spelling used by gguf-py and llama.cpp's logs (`Q4_K`, `F16`, `BF16`).
    public var upperName: String {
        switch self {
        case .iq2_XXS: return "IQ2_XXS"
        case .iq2_XS: return "IQ2_XS"
        case .iq3_XXS: return "IQ3_XXS"
        case .iq1_S: return "IQ1_S"
        case .iq4_NL: return "IQ4_NL"
        case .iq3_S: return "IQ3_S"
        case .iq2_S: return "IQ2_S"
        case .iq4_XS: return "IQ4_XS"
        case .iq1_M: return "IQ1_M"
        default:
            let n = name
            if n.hasSuffix("_K") { return n.dropLast(2).uppercased() + "_K" }
            return n.uppercased()
        }
    }
    public var description: String { upperName }

    /// True for block-quantized types (everything but the plain float and integer types).
    public var isQuantized: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64: return false
        default: return true
        }
    }

    /// Bytes of one row of `count` elements, or nil if `count` is not a whole number of blocks
    /// or the size overflows.
    public func rowSize(_ count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (r, o) = (count / blockSize).multipliedReportingOverflow(by: typeSize)
        return o ? nil : r
    }

    /// Bytes of a tensor with ggml shape `ne` (ne[0] innermost), or nil on a partial block or overflow.
    public func byteCount(shape ne: [Int]) -> Int? {
        guard let first = ne.first else { return rowSize(1) }
        guard var total = rowSize(first) else { return nil }
        for d in ne.dropFirst() {
            guard d >= 0 else { return nil }
            let (r, o) = total.multipliedReportingOverflow(by: d)
            if o { return nil }
            total = r
        }
        return total
    }

    /// Looks a type up by ggml's name or gguf-py's upper-case name, case-insensitively.
    public init?(name: String) {
        let lower = name.lowercased()
        guard let t = GGMLType.allCases.first(where: { $0.name.lowercased() == lower }) else { return nil }
        self = t
    }
}
