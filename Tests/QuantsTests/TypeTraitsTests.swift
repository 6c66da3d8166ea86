import GGUF
import Testing
@testable import Quants

/// The registry (`BlockFormats`) against the per-module switches it replaced: every ggml type gets
/// the same answers from `Quantizer`, `ActivationRounding`, `LaneGEMM` and the engine's type check.
@Suite("Type traits: one registry for every ggml type")
struct TypeTraitsTests {
    /// ggml-cpu.c `type_traits_cpu[...].vec_dot_type` for the types with kernels here.
    static let dotTypes: [GGMLType: GGMLType] = [
        .f32: .f32, .f16: .f16, .bf16: .bf16, .q4_0: .q8_0, .q5_0: .q8_0, .q8_0: .q8_0,
        .q4_1: .q8_1, .q5_1: .q8_1, .q2_K: .q8_K, .q3_K: .q8_K, .q4_K: .q8_K, .q5_K: .q8_K, .q6_K: .q8_K,
        .tq1_0: .q8_K, .tq2_0: .q8_K, .q1_0: .q8_0, .q2_0: .q8_0,
        .iq4_NL: .q8_0, .iq4_XS: .q8_K, .mxfp4: .q8_0, .nvfp4: .q8_0,
        .iq3_XXS: .q8_K, .iq2_XXS: .q8_K, .iq2_XS: .q8_K, .iq3_S: .q8_K, .iq2_S: .q8_K, .iq1_S: .q8_K, .iq1_M: .q8_K,
    ]
    static let families: Set<GGMLType> = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1,
                                          .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K, .tq1_0, .tq2_0, .q1_0, .q2_0,
                                          .iq4_NL, .iq4_XS, .mxfp4, .nvfp4,
                                          .iq3_XXS, .iq2_XXS, .iq2_XS, .iq3_S, .iq2_S, .iq1_S, .iq1_M]

    @Test("dot types, rounding blocks, quantizers and LaneGEMM layouts for every type")
    func everyType() {
        for t in GGMLType.allCases {
            #expect(Quantizer.canQuantize(t) == Self.families.contains(t), "\(t)")
            #expect(ActivationRounding.dotType(for: t) == Self.dotTypes[t], "\(t)")
            #expect(Quantizer.canMultiply(t) == (Self.dotTypes[t] != nil), "\(t)")
            let block = t == .q8_0 || t == .q8_1 ? 32 : t == .q8_K ? 256 : 1
            #expect(ActivationRounding.blockLength(t) == block, "\(t)")
            let lay = LaneGEMM.layout(t)
            switch t {
            case .q8_0, .q5_0, .q4_0:
                #expect(lay?.block == 32 && lay?.scaleOffset == 0 && lay?.minOffset == nil && lay?.mins == LaneGEMM.Mins.none)
                #expect(lay?.repackedRows == (t == .q4_0 ? 8 : nil))
            case .q4_1, .q5_1:
                #expect(lay?.block == 32 && lay?.scaleOffset == 0 && lay?.minOffset == 2 && lay?.mins == .perBlock)
            case .q4_K:
                #expect(lay?.block == 256 && lay?.scaleOffset == 0 && lay?.minOffset == 2 && lay?.mins == .fourLanes)
                #expect(lay?.repacked == .q4K)
            case .q5_K:
                #expect(lay?.block == 256 && lay?.scaleOffset == 0 && lay?.minOffset == 2 && lay?.mins == .summed)
            case .q6_K:
                #expect(lay?.block == 256 && lay?.scaleOffset == 208 && lay?.minOffset == nil && lay?.mins == LaneGEMM.Mins.none)
                #expect(lay?.repacked == .q6KLanes)
            case .q2_K:
                #expect(lay?.block == 256 && lay?.scaleOffset == 80 && lay?.repacked == .q2KLanes)
            case .q3_K, .iq4_XS:
                #expect(lay?.block == 256 && lay?.scaleOffset == (t == .q3_K ? 108 : 0) && lay?.repacked == nil)
            case .iq4_NL, .mxfp4:
                #expect(lay?.block == 32 && lay?.scaleOffset == 0 && lay?.mins == LaneGEMM.Mins.none)
                #expect(lay?.repacked == .blocks32(scale: t == .mxfp4 ? .e8m0Half : .f16))
                #expect(lay?.lanesUnlessRepacked == (t == .iq4_NL))
            case .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq1_S, .iq1_M, .tq1_0, .tq2_0:
                // b10572's AVX2 vec_dot orders: eight integer lanes per super-block (LaneGEMM+IQLanes.swift).
                let lanes: [GGMLType: LaneGEMM.IQLanes] = [.iq2_XXS: .iq2XXS, .iq2_XS: .iq2XS, .iq2_S: .iq2S, .iq3_XXS: .iq3XXS,
                                                          .iq3_S: .iq3S, .iq1_S: .iq1S, .iq1_M: .iq1M, .tq1_0: .tq1, .tq2_0: .tq2]
                #expect(lay?.block == 256 && lay?.iq == lanes[t] && lay?.repacked == nil, "\(t)")
            case .q1_0, .q2_0, .nvfp4:
                // b10572's x86 vec_dot against Q8_0 activations (LaneGEMM+BitLanes.swift).
                let bits: [GGMLType: LaneGEMM.BitLanes] = [.q1_0: .q1_0, .q2_0: .q2_0, .nvfp4: .nvfp4]
                #expect(lay?.block == (t == .q1_0 ? 128 : 64) && lay?.scaleOffset == 0 && lay?.bits == bits[t])
                #expect(lay?.iq == nil && lay?.repacked == nil, "\(t)")
            default:
                #expect(lay == nil, "\(t)")
            }
            if t != .q4_0 { #expect(lay?.repackedRows == nil, "\(t)") }
            if let f = Quantizer.format(t) {
                #expect(f.usesImportance == [.q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS, .iq3_XXS, .iq2_XXS, .iq2_XS, .iq3_S, .iq2_S, .iq1_S, .iq1_M].contains(t), "\(t)")
            }
        }
    }

    @Test("the engine's list of multipliable types keeps its order")
    func multipliable() {
        #expect(Quantizer.multipliableTypes.map(\.name)
            == ["f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K",
                "tq1_0", "tq2_0", "q1_0", "q2_0", "iq4_nl", "iq4_xs", "mxfp4", "nvfp4",
                "iq3_xxs", "iq2_xxs", "iq2_xs", "iq3_s", "iq2_s", "iq1_s", "iq1_m"])
    }
}
