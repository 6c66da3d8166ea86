import Testing
import GGUF
@testable import Quants

/// The plans of every llama-quantize b10572 file type on three small synthetic llama-style models,
/// pinned to what llama-quantize b10572 `--dry-run` printed for the same names and shapes (with
/// and without `--imatrix`; rows with importance are listed only where the plan differs).
/// A: 8 layers, 8 heads / 2 key-value heads (GQA 4), separate output.weight.
/// B: 8 layers, 4 heads / 4 key-value heads (no GQA), tied embeddings.
/// C: 8 layers, GQA 4, tied embeddings, 8 experts (3-D ffn_*_exps stacks, ffn_gate_inp router).
@Suite("llama-quantize b10572 file-type plans")
struct FileTypePlanTests {
    typealias Tensor = (name: String, shape: [Int], type: GGMLType)

    static func model(_ id: String) -> (tensors: [Tensor], facts: ModelFacts) {
        let layers = 8, embd = 256, vocab = 512
        let (heads, kv, ff, tied, experts): (Int, Int, Int, Bool, Int)
        switch id {
        case "A": (heads, kv, ff, tied, experts) = (8, 2, 512, false, 0)
        case "B": (heads, kv, ff, tied, experts) = (4, 4, 512, true, 0)
        default: (heads, kv, ff, tied, experts) = (8, 2, 256, true, 8)
        }
        let hd = embd / heads
        var t: [Tensor] = [("token_embd.weight", [embd, vocab], .f32), ("output_norm.weight", [embd], .f32)]
        if !tied { t.append(("output.weight", [embd, vocab], .f32)) }
        for l in 0..<layers {
            let p = "blk.\(l)."
            t += [(p + "attn_norm.weight", [embd], .f32), (p + "ffn_norm.weight", [embd], .f32),
                  (p + "attn_q.weight", [embd, heads * hd], .f32), (p + "attn_k.weight", [embd, kv * hd], .f32),
                  (p + "attn_v.weight", [embd, kv * hd], .f32), (p + "attn_output.weight", [heads * hd, embd], .f32)]
            if experts > 0 {
                t += [(p + "ffn_gate_inp.weight", [embd, experts], .f32),
                      (p + "ffn_gate_exps.weight", [embd, ff, experts], .f32), (p + "ffn_up_exps.weight", [embd, ff, experts], .f32),
                      (p + "ffn_down_exps.weight", [ff, embd, experts], .f32)]
            } else {
                t += [(p + "ffn_gate.weight", [embd, ff], .f32), (p + "ffn_up.weight", [embd, ff], .f32),
                      (p + "ffn_down.weight", [ff, embd], .f32)]
            }
        }
        return (t, ModelFacts(arch: "llama", layerCount: layers, headCount: heads, headCountKV: kv, expertCount: experts))
    }

    /// (model, TYPE argument, with importance, "kind=type*count,..." per tensor kind in layer order).
    static let expected: [(model: String, type: String, importance: Bool, plan: String)] = [
        ("A", "Q1_0", false, "token_embd=q1_0 output=q6_K attn_q=q1_0*8 attn_k=q1_0*8 attn_v=q1_0*8 attn_output=q1_0*8 ffn_gate=q1_0*8 ffn_up=q1_0*8 ffn_down=q1_0*8"),
        ("A", "Q2_0", false, "token_embd=q4_K output=q6_K attn_q=q2_0*8 attn_k=q2_0*8 attn_v=q2_0*8 attn_output=q2_0*8 ffn_gate=q2_0*8 ffn_up=q2_0*8 ffn_down=q2_0*8"),
        ("A", "Q4_0", false, "token_embd=q4_0 output=q6_K attn_q=q4_0*8 attn_k=q4_0*8 attn_v=q4_0*8 attn_output=q4_0*8 ffn_gate=q4_0*8 ffn_up=q4_0*8 ffn_down=q4_0*8"),
        ("A", "Q4_0", true, "token_embd=q4_0 output=q6_K attn_q=q4_0*8 attn_k=q4_0*8 attn_v=q4_0*8 attn_output=q4_0*8 ffn_gate=q4_0*8 ffn_up=q4_0*8 ffn_down=q4_1,q4_0*7"),
        ("A", "Q4_1", false, "token_embd=q4_1 output=q6_K attn_q=q4_1*8 attn_k=q4_1*8 attn_v=q4_1*8 attn_output=q4_1*8 ffn_gate=q4_1*8 ffn_up=q4_1*8 ffn_down=q4_1*8"),
        ("A", "MXFP4_MOE", false, "token_embd=q8_0 output=q8_0 attn_q=q8_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q8_0*8 ffn_gate=q8_0*8 ffn_up=q8_0*8 ffn_down=q8_0*8"),
        ("A", "Q5_0", false, "token_embd=q5_0 output=q6_K attn_q=q5_0*8 attn_k=q5_0*8 attn_v=q5_0*8 attn_output=q5_0*8 ffn_gate=q5_0*8 ffn_up=q5_0*8 ffn_down=q5_0*8"),
        ("A", "Q5_0", true, "token_embd=q5_0 output=q6_K attn_q=q5_0*8 attn_k=q5_0*8 attn_v=q5_0*8 attn_output=q5_0*8 ffn_gate=q5_0*8 ffn_up=q5_0*8 ffn_down=q5_1,q5_0*7"),
        ("A", "Q5_1", false, "token_embd=q5_1 output=q6_K attn_q=q5_1*8 attn_k=q5_1*8 attn_v=q5_1*8 attn_output=q5_1*8 ffn_gate=q5_1*8 ffn_up=q5_1*8 ffn_down=q5_1*8"),
        ("A", "IQ2_XXS", false, "token_embd=q2_K output=q5_K attn_q=iq2_xxs*8 attn_k=iq2_xxs*8 attn_v=q4_K*8 attn_output=iq2_xxs*8 ffn_gate=iq2_xxs*8 ffn_up=iq2_xxs*8 ffn_down=q2_K,iq2_xxs*7"),
        ("A", "IQ2_XS", false, "token_embd=q2_K output=q5_K attn_q=iq2_xs*8 attn_k=iq2_xs*8 attn_v=q4_K*8 attn_output=iq2_xs*8 ffn_gate=iq2_xs*8 ffn_up=iq2_xs*8 ffn_down=q2_K,iq2_xs*7"),
        ("A", "IQ2_S", false, "token_embd=iq3_s output=q5_K attn_q=iq2_xs*8 attn_k=iq2_xs*8 attn_v=q4_K*8 attn_output=iq3_s*8 ffn_gate=iq2_xs*8 ffn_up=iq2_xs*8 ffn_down=iq3_s,iq2_xs*7"),
        ("A", "IQ2_M", false, "token_embd=iq3_s output=q5_K attn_q=iq2_s*8 attn_k=iq2_s*8 attn_v=q4_K*8 attn_output=iq3_s*8 ffn_gate=iq2_s*8 ffn_up=iq2_s*8 ffn_down=iq3_s,iq2_s*7"),
        ("A", "IQ1_S", false, "token_embd=q2_K output=q5_K attn_q=iq1_s*8 attn_k=iq1_s*8 attn_v=q4_K*8 attn_output=iq2_xxs*8 ffn_gate=iq1_s*8 ffn_up=iq1_s*8 ffn_down=q2_K,iq1_s*7"),
        ("A", "IQ1_M", false, "token_embd=q2_K output=q5_K attn_q=iq1_m*8 attn_k=iq1_m*8 attn_v=q4_K*8 attn_output=iq2_xxs*8 ffn_gate=iq1_m*8 ffn_up=iq1_m*8 ffn_down=q2_K,iq1_m*7"),
        ("A", "TQ1_0", false, "token_embd=q4_K output=q6_K attn_q=tq1_0*8 attn_k=tq1_0*8 attn_v=tq1_0*8 attn_output=tq1_0*8 ffn_gate=tq1_0*8 ffn_up=tq1_0*8 ffn_down=tq1_0*8"),
        ("A", "TQ2_0", false, "token_embd=q4_K output=q6_K attn_q=tq2_0*8 attn_k=tq2_0*8 attn_v=tq2_0*8 attn_output=tq2_0*8 ffn_gate=tq2_0*8 ffn_up=tq2_0*8 ffn_down=tq2_0*8"),
        ("A", "Q2_K", false, "token_embd=q2_K output=q6_K attn_q=q2_K*8 attn_k=q2_K*8 attn_v=q4_K*8 attn_output=q3_K*8 ffn_gate=q2_K*8 ffn_up=q2_K*8 ffn_down=q3_K*8"),
        ("A", "Q2_K_S", false, "token_embd=q2_K output=q6_K attn_q=q2_K*8 attn_k=q2_K*8 attn_v=q4_K*8 attn_output=q2_K*8 ffn_gate=q2_K*8 ffn_up=q2_K*8 ffn_down=q4_K,q2_K*7"),
        ("A", "IQ3_XXS", false, "token_embd=iq3_s output=q5_K attn_q=iq2_s*8 attn_k=iq2_s*8 attn_v=q4_K*8 attn_output=iq3_s*8 ffn_gate=iq3_xxs*8 ffn_up=iq3_xxs*8 ffn_down=q4_K,q3_K*7"),
        ("A", "IQ3_XXS", true, "token_embd=iq3_s output=q5_K attn_q=iq2_s*8 attn_k=iq2_s*8 attn_v=q4_K*8 attn_output=iq3_s*8 ffn_gate=iq3_xxs*8 ffn_up=iq3_xxs*8 ffn_down=iq3_xxs*8"),
        ("A", "IQ3_S", false, "token_embd=iq3_s output=q6_K attn_q=iq3_s*8 attn_k=iq3_s*8 attn_v=q4_K*8 attn_output=iq3_s*8 ffn_gate=iq3_s*8 ffn_up=iq3_s*8 ffn_down=iq3_s*8"),
        ("A", "IQ3_M", false, "token_embd=iq3_s output=q6_K attn_q=iq3_s*8 attn_k=iq3_s*8 attn_v=q4_K*8 attn_output=q4_K*8 ffn_gate=iq3_s*8 ffn_up=iq3_s*8 ffn_down=q4_K,iq3_s*7"),
        ("A", "IQ3_XS", false, "token_embd=iq3_s output=q6_K attn_q=iq3_xxs*8 attn_k=iq3_xxs*8 attn_v=q4_K*8 attn_output=iq3_s*8 ffn_gate=iq3_s,iq3_xxs*6,iq3_s ffn_up=iq3_s,iq3_xxs*6,iq3_s ffn_down=iq3_s*8"),
        ("A", "Q3_K_S", false, "token_embd=q3_K output=q6_K attn_q=q3_K*8 attn_k=q3_K*8 attn_v=q3_K*8 attn_output=q3_K*8 ffn_gate=q3_K*8 ffn_up=q3_K*8 ffn_down=q3_K*8"),
        ("A", "Q3_K_M", false, "token_embd=q3_K output=q6_K attn_q=q3_K*8 attn_k=q3_K*8 attn_v=q5_K*2,q4_K*6 attn_output=q4_K*8 ffn_gate=q3_K*8 ffn_up=q3_K*8 ffn_down=q4_K*8"),
        ("A", "Q3_K_L", false, "token_embd=q3_K output=q6_K attn_q=q3_K*8 attn_k=q3_K*8 attn_v=q5_K*8 attn_output=q5_K*8 ffn_gate=q3_K*8 ffn_up=q3_K*8 ffn_down=q5_K*8"),
        ("A", "IQ4_NL", false, "token_embd=iq4_nl output=q6_K attn_q=iq4_nl*8 attn_k=iq4_nl*8 attn_v=q5_K*8 attn_output=iq4_nl*8 ffn_gate=iq4_nl*8 ffn_up=iq4_nl*8 ffn_down=q5_K,iq4_nl*7"),
        ("A", "IQ4_NL", true, "token_embd=iq4_nl output=q6_K attn_q=iq4_nl*8 attn_k=iq4_nl*8 attn_v=q5_K*8 attn_output=iq4_nl*8 ffn_gate=iq4_nl*8 ffn_up=iq4_nl*8 ffn_down=iq4_nl*8"),
        ("A", "IQ4_XS", false, "token_embd=iq4_xs output=q6_K attn_q=iq4_xs*8 attn_k=iq4_xs*8 attn_v=q5_K*8 attn_output=iq4_xs*8 ffn_gate=iq4_xs*8 ffn_up=iq4_xs*8 ffn_down=q5_K,iq4_xs*7"),
        ("A", "IQ4_XS", true, "token_embd=iq4_xs output=q6_K attn_q=iq4_xs*8 attn_k=iq4_xs*8 attn_v=q5_K*8 attn_output=iq4_xs*8 ffn_gate=iq4_xs*8 ffn_up=iq4_xs*8 ffn_down=iq4_xs*8"),
        ("A", "Q4_K_S", false, "token_embd=q4_K output=q6_K attn_q=q4_K*8 attn_k=q4_K*8 attn_v=q5_K*4,q4_K*4 attn_output=q4_K*8 ffn_gate=q4_K*8 ffn_up=q4_K*8 ffn_down=q5_K,q4_K*7"),
        ("A", "Q4_K_M", false, "token_embd=q4_K output=q6_K attn_q=q4_K*8 attn_k=q4_K*8 attn_v=q6_K,q4_K*2,q6_K,q4_K*2,q6_K*2 attn_output=q4_K*8 ffn_gate=q4_K*8 ffn_up=q4_K*8 ffn_down=q6_K,q4_K*2,q6_K,q4_K*2,q6_K*2"),
        ("A", "Q5_K_S", false, "token_embd=q5_K output=q6_K attn_q=q5_K*8 attn_k=q5_K*8 attn_v=q5_K*8 attn_output=q5_K*8 ffn_gate=q5_K*8 ffn_up=q5_K*8 ffn_down=q5_K*8"),
        ("A", "Q5_K_M", false, "token_embd=q5_K output=q6_K attn_q=q5_K*8 attn_k=q5_K*8 attn_v=q6_K,q5_K*2,q6_K,q5_K*2,q6_K*2 attn_output=q5_K*8 ffn_gate=q5_K*8 ffn_up=q5_K*8 ffn_down=q6_K,q5_K*2,q6_K,q5_K*2,q6_K*2"),
        ("A", "Q6_K", false, "token_embd=q6_K output=q6_K attn_q=q6_K*8 attn_k=q6_K*8 attn_v=q6_K*8 attn_output=q6_K*8 ffn_gate=q6_K*8 ffn_up=q6_K*8 ffn_down=q6_K*8"),
        ("A", "Q8_0", false, "token_embd=q8_0 output=q8_0 attn_q=q8_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q8_0*8 ffn_gate=q8_0*8 ffn_up=q8_0*8 ffn_down=q8_0*8"),
        ("A", "F16", false, "token_embd=f16 output=f16 attn_q=f16*8 attn_k=f16*8 attn_v=f16*8 attn_output=f16*8 ffn_gate=f16*8 ffn_up=f16*8 ffn_down=f16*8"),
        ("A", "BF16", false, "token_embd=bf16 output=bf16 attn_q=bf16*8 attn_k=bf16*8 attn_v=bf16*8 attn_output=bf16*8 ffn_gate=bf16*8 ffn_up=bf16*8 ffn_down=bf16*8"),
        ("A", "F32", false, "token_embd=f32 output=f32 attn_q=f32*8 attn_k=f32*8 attn_v=f32*8 attn_output=f32*8 ffn_gate=f32*8 ffn_up=f32*8 ffn_down=f32*8"),
        ("A", "COPY", false, "token_embd=f32 output=f32 attn_q=f32*8 attn_k=f32*8 attn_v=f32*8 attn_output=f32*8 ffn_gate=f32*8 ffn_up=f32*8 ffn_down=f32*8"),
        ("B", "Q1_0", false, "token_embd=q6_K attn_q=q1_0*8 attn_k=q1_0*8 attn_v=q1_0*8 attn_output=q1_0*8 ffn_gate=q1_0*8 ffn_up=q1_0*8 ffn_down=q1_0*8"),
        ("B", "Q2_0", false, "token_embd=q6_K attn_q=q2_0*8 attn_k=q2_0*8 attn_v=q2_0*8 attn_output=q2_0*8 ffn_gate=q2_0*8 ffn_up=q2_0*8 ffn_down=q2_0*8"),
        ("B", "Q4_0", false, "token_embd=q6_K attn_q=q4_0*8 attn_k=q4_0*8 attn_v=q4_0*8 attn_output=q4_0*8 ffn_gate=q4_0*8 ffn_up=q4_0*8 ffn_down=q4_0*8"),
        ("B", "Q4_0", true, "token_embd=q6_K attn_q=q4_0*8 attn_k=q4_0*8 attn_v=q4_0*8 attn_output=q4_0*8 ffn_gate=q4_0*8 ffn_up=q4_0*8 ffn_down=q4_1,q4_0*7"),
        ("B", "Q4_1", false, "token_embd=q6_K attn_q=q4_1*8 attn_k=q4_1*8 attn_v=q4_1*8 attn_output=q4_1*8 ffn_gate=q4_1*8 ffn_up=q4_1*8 ffn_down=q4_1*8"),
        ("B", "MXFP4_MOE", false, "token_embd=q8_0 attn_q=q8_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q8_0*8 ffn_gate=q8_0*8 ffn_up=q8_0*8 ffn_down=q8_0*8"),
        ("B", "Q5_0", false, "token_embd=q6_K attn_q=q5_0*8 attn_k=q5_0*8 attn_v=q5_0*8 attn_output=q5_0*8 ffn_gate=q5_0*8 ffn_up=q5_0*8 ffn_down=q5_0*8"),
        ("B", "Q5_0", true, "token_embd=q6_K attn_q=q5_0*8 attn_k=q5_0*8 attn_v=q5_0*8 attn_output=q5_0*8 ffn_gate=q5_0*8 ffn_up=q5_0*8 ffn_down=q5_1,q5_0*7"),
        ("B", "Q5_1", false, "token_embd=q6_K attn_q=q5_1*8 attn_k=q5_1*8 attn_v=q5_1*8 attn_output=q5_1*8 ffn_gate=q5_1*8 ffn_up=q5_1*8 ffn_down=q5_1*8"),
        ("B", "IQ2_XXS", false, "token_embd=q5_K attn_q=iq2_xxs*8 attn_k=iq2_xxs*8 attn_v=q2_K*8 attn_output=iq2_xxs*8 ffn_gate=iq2_xxs*8 ffn_up=iq2_xxs*8 ffn_down=q2_K,iq2_xxs*7"),
        ("B", "IQ2_XS", false, "token_embd=q5_K attn_q=iq2_xs*8 attn_k=iq2_xs*8 attn_v=q2_K*8 attn_output=iq2_xs*8 ffn_gate=iq2_xs*8 ffn_up=iq2_xs*8 ffn_down=q2_K,iq2_xs*7"),
        ("B", "IQ2_S", false, "token_embd=q5_K attn_q=iq2_xs*8 attn_k=iq2_xs*8 attn_v=iq3_s*8 attn_output=iq3_s*8 ffn_gate=iq2_xs*8 ffn_up=iq2_xs*8 ffn_down=iq3_s,iq2_xs*7"),
        ("B", "IQ2_M", false, "token_embd=q5_K attn_q=iq2_s*8 attn_k=iq2_s*8 attn_v=iq3_s*8 attn_output=iq3_s*8 ffn_gate=iq2_s*8 ffn_up=iq2_s*8 ffn_down=iq3_s,iq2_s*7"),
        ("B", "IQ1_S", false, "token_embd=q5_K attn_q=iq1_s*8 attn_k=iq1_s*8 attn_v=q2_K*8 attn_output=iq2_xxs*8 ffn_gate=iq1_s*8 ffn_up=iq1_s*8 ffn_down=q2_K,iq1_s*7"),
        ("B", "IQ1_M", false, "token_embd=q5_K attn_q=iq1_m*8 attn_k=iq1_m*8 attn_v=q2_K*8 attn_output=iq2_xxs*8 ffn_gate=iq1_m*8 ffn_up=iq1_m*8 ffn_down=q2_K,iq1_m*7"),
        ("B", "TQ1_0", false, "token_embd=q6_K attn_q=tq1_0*8 attn_k=tq1_0*8 attn_v=tq1_0*8 attn_output=tq1_0*8 ffn_gate=tq1_0*8 ffn_up=tq1_0*8 ffn_down=tq1_0*8"),
        ("B", "TQ2_0", false, "token_embd=q6_K attn_q=tq2_0*8 attn_k=tq2_0*8 attn_v=tq2_0*8 attn_output=tq2_0*8 ffn_gate=tq2_0*8 ffn_up=tq2_0*8 ffn_down=tq2_0*8"),
        ("B", "Q2_K", false, "token_embd=q6_K attn_q=q2_K*8 attn_k=q2_K*8 attn_v=q3_K*8 attn_output=q3_K*8 ffn_gate=q2_K*8 ffn_up=q2_K*8 ffn_down=q3_K*8"),
        ("B", "Q2_K_S", false, "token_embd=q6_K attn_q=q2_K*8 attn_k=q2_K*8 attn_v=q2_K*8 attn_output=q2_K*8 ffn_gate=q2_K*8 ffn_up=q2_K*8 ffn_down=q4_K,q2_K*7"),
        ("B", "IQ3_XXS", false, "token_embd=q5_K attn_q=iq2_s*8 attn_k=iq2_s*8 attn_v=iq3_s*8 attn_output=iq3_s*8 ffn_gate=iq3_xxs*8 ffn_up=iq3_xxs*8 ffn_down=q4_K,q3_K*7"),
        ("B", "IQ3_XXS", true, "token_embd=q5_K attn_q=iq2_s*8 attn_k=iq2_s*8 attn_v=iq3_xxs*8 attn_output=iq3_s*8 ffn_gate=iq3_xxs*8 ffn_up=iq3_xxs*8 ffn_down=iq3_xxs*8"),
        ("B", "IQ3_S", false, "token_embd=q6_K attn_q=iq3_s*8 attn_k=iq3_s*8 attn_v=iq3_s*8 attn_output=iq3_s*8 ffn_gate=iq3_s*8 ffn_up=iq3_s*8 ffn_down=iq3_s*8"),
        ("B", "IQ3_M", false, "token_embd=q6_K attn_q=iq3_s*8 attn_k=iq3_s*8 attn_v=q4_K*8 attn_output=q4_K*8 ffn_gate=iq3_s*8 ffn_up=iq3_s*8 ffn_down=q4_K,iq3_s*7"),
        ("B", "IQ3_XS", false, "token_embd=q6_K attn_q=iq3_xxs*8 attn_k=iq3_xxs*8 attn_v=iq3_s*8 attn_output=iq3_s*8 ffn_gate=iq3_s,iq3_xxs*6,iq3_s ffn_up=iq3_s,iq3_xxs*6,iq3_s ffn_down=iq3_s*8"),
        ("B", "Q3_K_S", false, "token_embd=q6_K attn_q=q3_K*8 attn_k=q3_K*8 attn_v=q3_K*8 attn_output=q3_K*8 ffn_gate=q3_K*8 ffn_up=q3_K*8 ffn_down=q3_K*8"),
        ("B", "Q3_K_M", false, "token_embd=q6_K attn_q=q3_K*8 attn_k=q3_K*8 attn_v=q5_K*2,q4_K*6 attn_output=q4_K*8 ffn_gate=q3_K*8 ffn_up=q3_K*8 ffn_down=q4_K*8"),
        ("B", "Q3_K_L", false, "token_embd=q6_K attn_q=q3_K*8 attn_k=q3_K*8 attn_v=q5_K*8 attn_output=q5_K*8 ffn_gate=q3_K*8 ffn_up=q3_K*8 ffn_down=q5_K*8"),
        ("B", "IQ4_NL", false, "token_embd=q6_K attn_q=iq4_nl*8 attn_k=iq4_nl*8 attn_v=iq4_nl*8 attn_output=iq4_nl*8 ffn_gate=iq4_nl*8 ffn_up=iq4_nl*8 ffn_down=q5_K,iq4_nl*7"),
        ("B", "IQ4_NL", true, "token_embd=q6_K attn_q=iq4_nl*8 attn_k=iq4_nl*8 attn_v=iq4_nl*8 attn_output=iq4_nl*8 ffn_gate=iq4_nl*8 ffn_up=iq4_nl*8 ffn_down=iq4_nl*8"),
        ("B", "IQ4_XS", false, "token_embd=q6_K attn_q=iq4_xs*8 attn_k=iq4_xs*8 attn_v=iq4_xs*8 attn_output=iq4_xs*8 ffn_gate=iq4_xs*8 ffn_up=iq4_xs*8 ffn_down=q5_K,iq4_xs*7"),
        ("B", "IQ4_XS", true, "token_embd=q6_K attn_q=iq4_xs*8 attn_k=iq4_xs*8 attn_v=iq4_xs*8 attn_output=iq4_xs*8 ffn_gate=iq4_xs*8 ffn_up=iq4_xs*8 ffn_down=iq4_xs*8"),
        ("B", "Q4_K_S", false, "token_embd=q6_K attn_q=q4_K*8 attn_k=q4_K*8 attn_v=q5_K*4,q4_K*4 attn_output=q4_K*8 ffn_gate=q4_K*8 ffn_up=q4_K*8 ffn_down=q5_K,q4_K*7"),
        ("B", "Q4_K_M", false, "token_embd=q6_K attn_q=q4_K*8 attn_k=q4_K*8 attn_v=q6_K,q4_K*2,q6_K,q4_K*2,q6_K*2 attn_output=q4_K*8 ffn_gate=q4_K*8 ffn_up=q4_K*8 ffn_down=q6_K,q4_K*2,q6_K,q4_K*2,q6_K*2"),
        ("B", "Q5_K_S", false, "token_embd=q6_K attn_q=q5_K*8 attn_k=q5_K*8 attn_v=q5_K*8 attn_output=q5_K*8 ffn_gate=q5_K*8 ffn_up=q5_K*8 ffn_down=q5_K*8"),
        ("B", "Q5_K_M", false, "token_embd=q6_K attn_q=q5_K*8 attn_k=q5_K*8 attn_v=q6_K,q5_K*2,q6_K,q5_K*2,q6_K*2 attn_output=q5_K*8 ffn_gate=q5_K*8 ffn_up=q5_K*8 ffn_down=q6_K,q5_K*2,q6_K,q5_K*2,q6_K*2"),
        ("B", "Q6_K", false, "token_embd=q6_K attn_q=q6_K*8 attn_k=q6_K*8 attn_v=q6_K*8 attn_output=q6_K*8 ffn_gate=q6_K*8 ffn_up=q6_K*8 ffn_down=q6_K*8"),
        ("B", "Q8_0", false, "token_embd=q8_0 attn_q=q8_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q8_0*8 ffn_gate=q8_0*8 ffn_up=q8_0*8 ffn_down=q8_0*8"),
        ("B", "F16", false, "token_embd=f16 attn_q=f16*8 attn_k=f16*8 attn_v=f16*8 attn_output=f16*8 ffn_gate=f16*8 ffn_up=f16*8 ffn_down=f16*8"),
        ("B", "BF16", false, "token_embd=bf16 attn_q=bf16*8 attn_k=bf16*8 attn_v=bf16*8 attn_output=bf16*8 ffn_gate=bf16*8 ffn_up=bf16*8 ffn_down=bf16*8"),
        ("B", "F32", false, "token_embd=f32 attn_q=f32*8 attn_k=f32*8 attn_v=f32*8 attn_output=f32*8 ffn_gate=f32*8 ffn_up=f32*8 ffn_down=f32*8"),
        ("B", "COPY", false, "token_embd=f32 attn_q=f32*8 attn_k=f32*8 attn_v=f32*8 attn_output=f32*8 ffn_gate=f32*8 ffn_up=f32*8 ffn_down=f32*8"),
        ("C", "Q1_0", false, "token_embd=q6_K attn_q=q1_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q1_0*8 ffn_gate=q1_0*8 ffn_up=q1_0*8 ffn_down=q1_0*8"),
        ("C", "Q2_0", false, "token_embd=q6_K attn_q=q2_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q2_0*8 ffn_gate=q2_0*8 ffn_up=q2_0*8 ffn_down=q2_0*8"),
        ("C", "Q4_0", false, "token_embd=q6_K attn_q=q4_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q4_0*8 ffn_gate=q4_0*8 ffn_up=q4_0*8 ffn_down=q4_0*8"),
        ("C", "Q4_0", true, "token_embd=q6_K attn_q=q4_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q4_0*8 ffn_gate=q4_0*8 ffn_up=q4_0*8 ffn_down=q4_1,q4_0*7"),
        ("C", "Q4_1", false, "token_embd=q6_K attn_q=q4_1*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q4_1*8 ffn_gate=q4_1*8 ffn_up=q4_1*8 ffn_down=q4_1*8"),
        ("C", "MXFP4_MOE", false, "token_embd=q8_0 attn_q=q8_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q8_0*8 ffn_gate=mxfp4*8 ffn_up=mxfp4*8 ffn_down=mxfp4*8"),
        ("C", "Q5_0", false, "token_embd=q6_K attn_q=q5_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_0*8 ffn_gate=q5_0*8 ffn_up=q5_0*8 ffn_down=q5_0*8"),
        ("C", "Q5_0", true, "token_embd=q6_K attn_q=q5_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_0*8 ffn_gate=q5_0*8 ffn_up=q5_0*8 ffn_down=q5_1,q5_0*7"),
        ("C", "Q5_1", false, "token_embd=q6_K attn_q=q5_1*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_1*8 ffn_gate=q5_1*8 ffn_up=q5_1*8 ffn_down=q5_1*8"),
        ("C", "IQ2_XXS", false, "token_embd=q5_K attn_q=iq2_xxs*8 attn_k=q4_K*8 attn_v=q4_K*8 attn_output=q5_K*8 ffn_gate=iq2_xxs*8 ffn_up=iq2_xxs*8 ffn_down=q2_K,iq2_xxs*7"),
        ("C", "IQ2_XS", false, "token_embd=q5_K attn_q=iq2_xs*8 attn_k=q4_K*8 attn_v=q4_K*8 attn_output=q5_K*8 ffn_gate=iq2_xs*8 ffn_up=iq2_xs*8 ffn_down=q2_K,iq2_xs*7"),
        ("C", "IQ2_S", false, "token_embd=q5_K attn_q=iq2_xs*8 attn_k=q4_K*8 attn_v=q4_K*8 attn_output=q5_K*8 ffn_gate=iq2_xs*8 ffn_up=iq2_xs*8 ffn_down=iq3_s,iq2_xs*7"),
        ("C", "IQ2_M", false, "token_embd=q5_K attn_q=iq2_s*8 attn_k=q4_K*8 attn_v=q4_K*8 attn_output=q5_K*8 ffn_gate=iq2_s*8 ffn_up=iq2_s*8 ffn_down=iq3_s,iq2_s*7"),
        ("C", "IQ1_S", false, "token_embd=q5_K attn_q=iq1_s*8 attn_k=q4_K*8 attn_v=q4_K*8 attn_output=q5_K*8 ffn_gate=iq1_s*8 ffn_up=iq1_s*8 ffn_down=q2_K,iq1_s*7"),
        ("C", "IQ1_M", false, "token_embd=q5_K attn_q=iq1_m*8 attn_k=q4_K*8 attn_v=q4_K*8 attn_output=q5_K*8 ffn_gate=iq1_m*8 ffn_up=iq1_m*8 ffn_down=q2_K,iq1_m*7"),
        ("C", "TQ1_0", false, "token_embd=q6_K attn_q=tq1_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=tq1_0*8 ffn_gate=tq1_0*8 ffn_up=tq1_0*8 ffn_down=tq1_0*8"),
        ("C", "TQ2_0", false, "token_embd=q6_K attn_q=tq2_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=tq2_0*8 ffn_gate=tq2_0*8 ffn_up=tq2_0*8 ffn_down=tq2_0*8"),
        ("C", "Q2_K", false, "token_embd=q6_K attn_q=q2_K*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=q2_K*8 ffn_up=q2_K*8 ffn_down=q3_K*8"),
        ("C", "Q2_K_S", false, "token_embd=q6_K attn_q=q2_K*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q2_K*8 ffn_gate=q2_K*8 ffn_up=q2_K*8 ffn_down=q4_K,q2_K*7"),
        ("C", "IQ3_XXS", false, "token_embd=q5_K attn_q=iq2_s*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=iq3_xxs*8 ffn_up=iq3_xxs*8 ffn_down=q4_K,q3_K*7"),
        ("C", "IQ3_XXS", true, "token_embd=q5_K attn_q=iq2_s*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=iq3_xxs*8 ffn_up=iq3_xxs*8 ffn_down=iq3_xxs*8"),
        ("C", "IQ3_S", false, "token_embd=q6_K attn_q=iq3_s*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=iq3_s*8 ffn_up=iq3_s*8 ffn_down=iq3_s*8"),
        ("C", "IQ3_M", false, "token_embd=q6_K attn_q=iq3_s*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=iq3_s*8 ffn_up=iq3_s*8 ffn_down=q4_K,iq3_s*2,q4_K,iq3_s*2,q4_K*2"),
        ("C", "IQ3_XS", false, "token_embd=q6_K attn_q=iq3_xxs*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=iq3_s,iq3_xxs*6,iq3_s ffn_up=iq3_s,iq3_xxs*6,iq3_s ffn_down=iq3_s*8"),
        ("C", "Q3_K_S", false, "token_embd=q6_K attn_q=q3_K*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=q3_K*8 ffn_up=q3_K*8 ffn_down=q3_K*8"),
        ("C", "Q3_K_M", false, "token_embd=q6_K attn_q=q3_K*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=q3_K*8 ffn_up=q3_K*8 ffn_down=q4_K*8"),
        ("C", "Q3_K_L", false, "token_embd=q6_K attn_q=q3_K*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q3_K*8 ffn_gate=q3_K*8 ffn_up=q3_K*8 ffn_down=q5_K*8"),
        ("C", "IQ4_NL", false, "token_embd=q6_K attn_q=iq4_nl*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=iq4_nl*8 ffn_up=iq4_nl*8 ffn_down=q5_K,iq4_nl*7"),
        ("C", "IQ4_NL", true, "token_embd=q6_K attn_q=iq4_nl*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=iq4_nl*8 ffn_up=iq4_nl*8 ffn_down=iq4_nl*8"),
        ("C", "IQ4_XS", false, "token_embd=q6_K attn_q=iq4_xs*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=iq4_xs*8 ffn_up=iq4_xs*8 ffn_down=q5_K,iq4_xs*7"),
        ("C", "IQ4_XS", true, "token_embd=q6_K attn_q=iq4_xs*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=iq4_xs*8 ffn_up=iq4_xs*8 ffn_down=iq4_xs*8"),
        ("C", "Q4_K_S", false, "token_embd=q6_K attn_q=q4_K*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=q4_K*8 ffn_up=q4_K*8 ffn_down=q5_K,q4_K*7"),
        ("C", "Q4_K_M", false, "token_embd=q6_K attn_q=q4_K*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=q4_K*8 ffn_up=q4_K*8 ffn_down=q6_K,q4_K*2,q6_K,q4_K*2,q6_K*2"),
        ("C", "Q5_K_S", false, "token_embd=q6_K attn_q=q5_K*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=q5_K*8 ffn_up=q5_K*8 ffn_down=q5_K*8"),
        ("C", "Q5_K_M", false, "token_embd=q6_K attn_q=q5_K*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q5_K*8 ffn_gate=q5_K*8 ffn_up=q5_K*8 ffn_down=q6_K,q5_K*2,q6_K,q5_K*2,q6_K*2"),
        ("C", "Q6_K", false, "token_embd=q6_K attn_q=q6_K*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q6_K*8 ffn_gate=q6_K*8 ffn_up=q6_K*8 ffn_down=q6_K*8"),
        ("C", "Q8_0", false, "token_embd=q8_0 attn_q=q8_0*8 attn_k=q8_0*8 attn_v=q8_0*8 attn_output=q8_0*8 ffn_gate=q8_0*8 ffn_up=q8_0*8 ffn_down=q8_0*8"),
        ("C", "F16", false, "token_embd=f16 attn_q=f16*8 attn_k=f16*8 attn_v=f16*8 attn_output=f16*8 ffn_gate=f16*8 ffn_up=f16*8 ffn_down=f16*8"),
        ("C", "BF16", false, "token_embd=bf16 attn_q=bf16*8 attn_k=bf16*8 attn_v=bf16*8 attn_output=bf16*8 ffn_gate=bf16*8 ffn_up=bf16*8 ffn_down=bf16*8"),
        ("C", "F32", false, "token_embd=f32 attn_q=f32*8 attn_k=f32*8 attn_v=f32*8 attn_output=f32*8 ffn_gate=f32*8 ffn_up=f32*8 ffn_down=f32*8"),
        ("C", "COPY", false, "token_embd=f32 attn_q=f32*8 attn_k=f32*8 attn_v=f32*8 attn_output=f32*8 ffn_gate=f32*8 ffn_up=f32*8 ffn_down=f32*8"),

    ]

    /// "attn_v=q5_K*2,q4_K*6 ..." → kind → one type per tensor.
    static func expand(_ plan: String) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for part in plan.split(separator: " ") {
            let kv = part.split(separator: "=")
            var types: [String] = []
            for run in kv[1].split(separator: ",") {
                let x = run.split(separator: "*")
                types += Array(repeating: String(x[0]), count: x.count > 1 ? Int(x[1])! : 1)
            }
            out[String(kv[0])] = types
        }
        return out
    }

    static func kind(_ name: String) -> String? {
        if name == "token_embd.weight" { return "token_embd" }
        if name == "output.weight" { return "output" }
        for k in ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
        where name.hasSuffix(".\(k).weight") || name.hasSuffix(".\(k)_exps.weight") { return k }
        return nil
    }

    @Test("each file type's plan matches llama-quantize b10572", arguments: expected.indices)
    func plan(_ i: Int) throws {
        let c = FileTypePlanTests.expected[i]
        let m = FileTypePlanTests.model(c.model)
        let option = try #require(QuantOption.parse(c.type))
        var options = QuantizeOptions(fileType: option.fileType)
        options.onlyCopy = option.onlyCopy
        options.hasImportance = c.importance
        let plans = try TypePlanner.plan(tensors: m.tensors, facts: m.facts, options: options)
        #expect(plans.count == m.tensors.count)
        var got: [String: [String]] = [:]
        for p in plans {
            if let k = FileTypePlanTests.kind(p.name) {
                got[k, default: []].append(p.targetType.name)
            } else {
                #expect(p.targetType == .f32 && p.isCopy, "\(p.name) is \(p.targetType), expected a copy")
            }
        }
        #expect(got == FileTypePlanTests.expand(c.plan), "\(c.model) \(c.type)\(c.importance ? " with imatrix" : "")")
    }

    /// tiny-phi3 (2 layers, 4 heads / 2 key-value heads, fused attn_qkv and gate+up in ffn_up, separate
    /// output): llama-quantize b10572 `--dry-run` of our F32 conversion. The fused attn_qkv takes the
    /// attn_v rules (it is counted among the value projections).
    static let phi3: [(type: String, importance: Bool, plan: String)] = [
        ("Q4_K_M", false, "output=q6_K token_embd=q4_K attn_output=q4_K,q4_K attn_qkv=q4_K,q6_K ffn_down=q4_K,q6_K ffn_up=q4_K,q4_K"),
        ("Q5_K_M", false, "output=q6_K token_embd=q5_K attn_output=q5_K,q5_K attn_qkv=q5_K,q6_K ffn_down=q5_K,q6_K ffn_up=q5_K,q5_K"),
        ("Q3_K_M", false, "output=q6_K token_embd=q3_K attn_output=q4_K,q4_K attn_qkv=q5_K,q5_K ffn_down=q4_K,q4_K ffn_up=q3_K,q3_K"),
        ("Q3_K_L", false, "output=q6_K token_embd=q3_K attn_output=q5_K,q5_K attn_qkv=q5_K,q5_K ffn_down=q5_K,q5_K ffn_up=q3_K,q3_K"),
        ("Q2_K", false, "output=q6_K token_embd=q2_K attn_output=q3_K,q3_K attn_qkv=q3_K,q3_K ffn_down=q3_K,q3_K ffn_up=q2_K,q2_K"),
        ("IQ2_XXS", false, "output=q5_K token_embd=q2_K attn_output=iq2_xxs,iq2_xxs attn_qkv=q2_K,q2_K ffn_down=iq2_xxs,iq2_xxs ffn_up=iq2_xxs,iq2_xxs"),
        ("IQ2_M", false, "output=q5_K token_embd=iq3_s attn_output=iq3_s,iq3_s attn_qkv=iq3_s,iq3_s ffn_down=iq2_s,iq2_s ffn_up=iq2_s,iq2_s"),
        ("IQ3_XXS", false, "output=q5_K token_embd=iq3_s attn_output=iq3_s,iq3_s attn_qkv=iq3_s,iq3_s ffn_down=q3_K,q3_K ffn_up=iq3_xxs,iq3_xxs"),
        ("IQ3_XXS", true, "output=q5_K token_embd=iq3_s attn_output=iq3_s,iq3_s attn_qkv=iq3_xxs,iq3_xxs ffn_down=iq3_xxs,iq3_xxs ffn_up=iq3_xxs,iq3_xxs"),
        ("IQ3_M", false, "output=q6_K token_embd=iq3_s attn_output=q4_K,q4_K attn_qkv=q4_K,q4_K ffn_down=iq3_s,iq3_s ffn_up=iq3_s,iq3_s"),
    ]

    @Test("fused attn_qkv (Phi-3 layout) plans match llama-quantize b10572", arguments: phi3.indices)
    func phi3Plan(_ i: Int) throws {
        let c = FileTypePlanTests.phi3[i]
        var t: [Tensor] = [("output.weight", [256, 32064], .f32), ("output_norm.weight", [256], .f32),
                           ("token_embd.weight", [256, 32064], .f32)]
        for l in 0..<2 {
            t += [("blk.\(l).attn_norm.weight", [256], .f32), ("blk.\(l).attn_output.weight", [256, 256], .f32),
                  ("blk.\(l).attn_qkv.weight", [256, 512], .f32), ("blk.\(l).ffn_down.weight", [768, 256], .f32),
                  ("blk.\(l).ffn_norm.weight", [256], .f32), ("blk.\(l).ffn_up.weight", [256, 1536], .f32)]
        }
        let facts = ModelFacts(arch: "phi3", layerCount: 2, headCount: 4, headCountKV: 2)
        var options = QuantizeOptions(fileType: try #require(QuantOption.parse(c.type)).fileType)
        options.hasImportance = c.importance
        var got: [String: [String]] = [:]
        for p in try TypePlanner.plan(tensors: t, facts: facts, options: options) where !p.name.contains("norm") {
            let kind = p.name.hasPrefix("blk.") ? String(p.name.split(separator: ".")[2]) : String(p.name.dropLast(".weight".count))
            got[kind, default: []].append(p.targetType.name)
        }
        #expect(got == FileTypePlanTests.expand(c.plan), "\(c.type)\(c.importance ? " with imatrix" : "")")
    }

    @Test("every file type of llama-quantize b10572 has its name and llama_ftype number")
    func fileTypes() {
        let names = ["Q1_0": 40, "Q2_0": 41, "Q4_0": 2, "Q4_1": 3, "MXFP4_MOE": 38, "Q5_0": 8, "Q5_1": 9, "IQ2_XXS": 19,
                     "IQ2_XS": 20, "IQ2_S": 28, "IQ2_M": 29, "IQ1_S": 24, "IQ1_M": 31, "TQ1_0": 36, "TQ2_0": 37, "Q2_K": 10,
                     "Q2_K_S": 21, "IQ3_XXS": 23, "IQ3_S": 26, "IQ3_M": 27, "Q3_K": 12, "IQ3_XS": 22, "Q3_K_S": 11, "Q3_K_M": 12,
                     "Q3_K_L": 13, "IQ4_NL": 25, "IQ4_XS": 30, "Q4_K": 15, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K": 17, "Q5_K_S": 16,
                     "Q5_K_M": 17, "Q6_K": 18, "Q8_0": 7, "F16": 1, "BF16": 32, "F32": 0, "COPY": 0]
        #expect(QuantOption.table.count == names.count)
        for (n, id) in names {
            #expect(QuantOption.parse(n)?.fileType.rawValue == id, "\(n)")
            #expect(QuantOption.parse(n.lowercased())?.name == n)
        }
        for ft in FileType.allCases {
            #expect(QuantOption.parse(ft.name)?.fileType == ft)
        }
        #expect(FileType.iq2_S.defaultType == .iq2_XS && FileType.iq2_M.defaultType == .iq2_S)
        #expect(FileType.iq3_XS.defaultType == .iq3_S && FileType.mxfp4MoE.defaultType == .mxfp4)
    }

    @Test("which tensors need an importance matrix")
    func requiresImportance() throws {
        let m = FileTypePlanTests.model("A")
        func needing(_ t: FileType) throws -> Set<String> {
            let plans = try TypePlanner.plan(tensors: m.tensors, facts: m.facts, options: QuantizeOptions(fileType: t))
            return Set(plans.filter(\.requiresImportance).map(\.targetType.name))
        }
        #expect(try needing(.iq2_XXS) == ["iq2_xxs"])
        #expect(try needing(.iq1_M) == ["iq1_m", "iq2_xxs"])
        #expect(try needing(.q2_K_S) == ["q2_K"])     // Q2_K tensors only in a Q2_K_S file
        #expect(try needing(.q2_K).isEmpty)
        #expect(try needing(.iq3_S).isEmpty)
        #expect(try needing(.iq4_XS).isEmpty)
        // token_embd and output never need one.
        #expect(!TypePlanner.requiresImportance(name: "token_embd.weight", type: .iq2_XXS, fileType: .iq2_XXS))
        #expect(!TypePlanner.requiresImportance(name: "output.weight", type: .iq1_S, fileType: .iq1_S))
    }

    @Test("shape fallbacks of every family, and the types without one")
    func fallbacks() throws {
        for t in [GGMLType.iq1_S, .iq1_M, .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq4_XS] {
            #expect(try TypePlanner.shapeFallback(t, ne0: 576) == (.iq4_NL, true))
            #expect(try TypePlanner.shapeFallback(t, ne0: 40) == (.f16, true))
        }
        for t in [GGMLType.q2_0, .q2_K, .q3_K, .tq1_0, .tq2_0] {   // 544 = 17 × 32, not a multiple of 64
            #expect(try TypePlanner.shapeFallback(t, ne0: 544) == (.q4_0, true), "\(t)")
        }
        #expect(try TypePlanner.shapeFallback(.q2_0, ne0: 64) == (.q2_0, false))
        for t in [GGMLType.q1_0, .q8_0, .q4_0, .iq4_NL, .mxfp4] {
            #expect(throws: QuantizeError.self) { try TypePlanner.shapeFallback(t, ne0: 40) }
        }
        // Q1_0 (128 values per block) on 576 columns: llama-quantize stops with an error.
        let t: [FileTypePlanTests.Tensor] = [("blk.0.attn_q.weight", [576, 576], .f32)]
        let facts = ModelFacts(arch: "llama", layerCount: 1, headCount: 9, headCountKV: 3)
        #expect(throws: QuantizeError.self) { try TypePlanner.plan(tensors: t, facts: facts, options: QuantizeOptions(fileType: .q1_0)) }
    }

    @Test("--tensor-type: first match wins, over the mixture and --pure; fallback still applies; not for float ftypes")
    func tensorTypes() throws {
        let m = FileTypePlanTests.model("A")
        var o = QuantizeOptions(fileType: .q4_K_M)
        o.tensorTypes = [try TensorTypeOverride(parsing: "ATTN_V=q8_0"), try TensorTypeOverride(parsing: "blk\\.[0-3]\\.=Q5_0"),
                         try TensorTypeOverride(parsing: "ffn_down=q8_0"), try TensorTypeOverride(parsing: "output=q2_K")]
        func types(_ o: QuantizeOptions) throws -> [String: GGMLType] {
            Dictionary(uniqueKeysWithValues: try TypePlanner.plan(tensors: m.tensors, facts: m.facts, options: o).map { ($0.name, $0.targetType) })
        }
        var t = try types(o)
        #expect(t["blk.1.attn_v.weight"] == .q8_0)        // the first pattern, not blk.[0-3]
        #expect(t["blk.1.attn_q.weight"] == .q5_0)
        #expect(t["blk.1.ffn_down.weight"] == .q5_0)
        #expect(t["blk.5.ffn_down.weight"] == .q8_0)
        #expect(t["blk.5.attn_q.weight"] == .q4_K)        // no match: the mixture
        #expect(t["output.weight"] == .q2_K)
        #expect(t["output_norm.weight"] == .f32)          // never quantizable
        o.pure = true
        t = try types(o)
        #expect(t["blk.5.attn_v.weight"] == .q8_0 && t["blk.7.attn_v.weight"] == .q8_0)
        // The explicit output / embedding types come before the patterns.
        o.outputTensorType = .q6_K
        #expect(try types(o)["output.weight"] == .q6_K)
        // A manual type the rows do not fit falls back like the mixture's.
        let wide: [FileTypePlanTests.Tensor] = [("blk.0.attn_q.weight", [576, 64], .f32)]
        var w = QuantizeOptions(fileType: .q8_0)
        w.tensorTypes = [try TensorTypeOverride(parsing: "attn_q=q4_K")]
        let p = try TypePlanner.plan(tensors: wide, facts: m.facts, options: w)
        #expect(p[0].targetType == .q5_0 && p[0].usedFallback && p[0].manualOverride)
        // F16 files ignore the patterns (the default type is not quantized).
        var f = QuantizeOptions(fileType: .mostlyF16)
        f.tensorTypes = [try TensorTypeOverride(parsing: "attn_q=q8_0")]
        #expect(try TypePlanner.plan(tensors: wide, facts: m.facts, options: f)[0].targetType == .f16)
    }

    @Test("--tensor-type and --override-kv parsing errors")
    func parsingErrors() throws {
        for bad in ["attn_q", "=q8_0", "attn_q=", "attn_q=q9_9", "attn_[q=q8_0", "(attn=q8_0"] {
            #expect(throws: QuantizeError.self, "\(bad)") { try TensorTypeOverride(parsing: bad) }
        }
        #expect(try TensorTypeOverride(parsing: "Attn_Q=Q8_0") == TensorTypeOverride(pattern: "attn_q", type: .q8_0))
        #expect(try TensorTypeOverride.parse(fileContents: "attn_q=q8_0\n ffn_down=q6_k\t", file: "f").map(\.type) == [.q8_0, .q6_K])
        #expect(try MetadataOverride(parsing: "a.b=int:-7").ggufValue == .uint32(7))
        #expect(try MetadataOverride(parsing: "a.b=float:0.5").ggufValue == .float32(0.5))
        #expect(try MetadataOverride(parsing: "a.b=bool:true").ggufValue == .bool(true))
        #expect(try MetadataOverride(parsing: "a.b=str:x=y:z").ggufValue == .string("x=y:z"))
        for bad in ["a.b", "a.b=int:", "a.b=int:1x", "a.b=float:nan", "a.b=bool:yes", "a.b=u8:1", "=int:1",
                    "a.b=int:99999999999", "a.b=str:" + String(repeating: "x", count: 128)] {
            #expect(throws: QuantizeError.self, "\(bad)") { try MetadataOverride(parsing: bad) }
        }
    }

    @Test("--prune-layers drops blocks and renumbers the rest in order")
    func prune() throws {
        let m = FileTypePlanTests.model("A")
        var o = QuantizeOptions(fileType: .q8_0)
        o.pruneLayers = [5, 2]
        let plans = try TypePlanner.plan(tensors: m.tensors, facts: m.facts, options: o)
        let layers = plans.compactMap { TypePlanner.blockNumber($0.name)?.0 }
        #expect(Set(layers) == Set(0..<6))
        #expect(plans.count == m.tensors.count - 2 * 9)
        #expect(plans.first { $0.name == "blk.2.attn_q.weight" }?.sourceName == "blk.3.attn_q.weight")
        #expect(plans.first { $0.name == "blk.5.ffn_up.weight" }?.sourceName == "blk.7.ffn_up.weight")
        #expect(plans.first { $0.name == "blk.1.ffn_up.weight" }?.sourceName == "blk.1.ffn_up.weight")
        #expect(TypePlanner.blockNumber("x.blk.12.attn") .map { $0.0 } == 12)
        #expect(TypePlanner.blockNumber("blk.x.blk.3") == nil)
    }
}
