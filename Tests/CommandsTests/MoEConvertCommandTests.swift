import Testing
import Foundation
import TestSupport
import GGUF
@testable import ToolSupport

/// A small synthetic Qwen3-MoE checkpoint (one tensor per expert) in a copy of the bundled model's
/// folder (its tokenizer), to break one thing at a time.
struct SyntheticMoE {
    var experts = 4
    var used = 2
    var layers = 2
    var hidden = 64
    var expertFFN = 32
    var vocab = 320
    /// Expert tensors left out, and shapes replaced (by HF name).
    var omit: Set<String> = []
    var reshape: [String: [Int]] = [:]

    var config: [String: Any] {
        ["architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "vocab_size": vocab,
         "hidden_size": hidden, "intermediate_size": 96, "moe_intermediate_size": expertFFN,
         "num_hidden_layers": layers, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32,
         "num_experts": experts, "num_experts_per_tok": used, "norm_topk_prob": true,
         "max_position_embeddings": 512, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
         "tie_word_embeddings": false, "bos_token_id": 317, "eos_token_id": 317, "torch_dtype": "float32"]
    }

    /// (name, shape) in the checkpoint's (sorted) order.
    var tensors: [(String, [Int])] {
        var t: [(String, [Int])] = [("lm_head.weight", [vocab, hidden]), ("model.embed_tokens.weight", [vocab, hidden])]
        for l in 0..<layers {
            let p = "model.layers.\(l)."
            t.append((p + "input_layernorm.weight", [hidden]))
            for x in 0..<experts {
                for (proj, shape) in [("down_proj", [hidden, expertFFN]), ("gate_proj", [expertFFN, hidden]),
                                      ("up_proj", [expertFFN, hidden])] {
                    t.append((p + "mlp.experts.\(x).\(proj).weight", shape))
                }
            }
            t += [(p + "mlp.gate.weight", [experts, hidden]), (p + "post_attention_layernorm.weight", [hidden]),
                  (p + "self_attn.k_norm.weight", [32]), (p + "self_attn.k_proj.weight", [32, hidden]),
                  (p + "self_attn.o_proj.weight", [hidden, 64]), (p + "self_attn.q_norm.weight", [32]),
                  (p + "self_attn.q_proj.weight", [64, hidden]), (p + "self_attn.v_proj.weight", [32, hidden])]
        }
        t.append(("model.norm.weight", [hidden]))
        return t.filter { !omit.contains($0.0) }.map { ($0.0, reshape[$0.0] ?? $0.1) }
    }

    /// Writes config.json and model.safetensors (f32, deterministic values) into `dir`.
    func write(into dir: String) throws {
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        var entries: [String] = [#""__metadata__":{"format":"pt"}"#]
        var data: [UInt8] = []
        var seed: UInt32 = 12345
        for (name, shape) in tensors {
            let n = shape.reduce(1, *)
            entries.append(#""\#(name)":{"dtype":"F32","shape":\#(shape),"data_offsets":[\#(data.count),\#(data.count + 4 * n)]}"#)
            for _ in 0..<n {
                seed = seed &* 1664525 &+ 1013904223
                let v = Float(Int32(bitPattern: seed) >> 8) / Float(1 << 23) * 0.1
                withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 }
            }
        }
        let header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes += $0 }
        bytes += header + data
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
    }
}

@Suite("hf2gguf: MoE checkpoints")
struct MoEConvertCommandTests {
    func model(_ s: SyntheticMoE) throws -> ModelCopy {
        let m = try ModelCopy()
        try s.write(into: m.dir)
        return m
    }

    func expectFailure(_ m: ModelCopy, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let e = m.convert()
        #expect(e?.exitCode == 1, sourceLocation: sourceLocation)
        #expect(e?.description == expected, sourceLocation: sourceLocation)
        #expect(!m.outputExists, sourceLocation: sourceLocation)
        #expect(m.folderIsClean, sourceLocation: sourceLocation)
    }

    @Test("per-expert tensors are stacked expert by expert into 3-D tensors; the router stays F32")
    func stacks() throws {
        let s = SyntheticMoE()
        let m = try model(s)
        #expect(m.convert(["--outtype", "f16"]) == nil)
        let f = try GGUFFile(path: m.out)
        #expect(f.architecture == "qwen3moe")
        #expect(f.metadata["qwen3moe.expert_feed_forward_length"]?.intValue == 32)
        #expect(f.metadata["qwen3moe.expert_count"]?.intValue == 4)
        #expect(f.metadata["qwen3moe.expert_used_count"]?.intValue == 2)
        let names = f.tensors.map(\.name)
        // b10572's order: the stacked tensors where the layer's last expert tensor was read
        // (down, gate, up), then the router.
        let i = try #require(names.firstIndex(of: "blk.0.ffn_down_exps.weight"))
        #expect(Array(names[i..<(i + 4)]) == ["blk.0.ffn_down_exps.weight", "blk.0.ffn_gate_exps.weight",
                                              "blk.0.ffn_up_exps.weight", "blk.0.ffn_gate_inp.weight"])
        #expect(f.tensor(named: "blk.1.ffn_down_exps.weight")?.shape == [32, 64, 4])
        #expect(f.tensor(named: "blk.1.ffn_gate_exps.weight")?.shape == [64, 32, 4])
        #expect(f.tensor(named: "blk.1.ffn_gate_exps.weight")?.type == .f16)
        #expect(f.tensor(named: "blk.1.ffn_gate_inp.weight")?.type == .f32)
        #expect(f.metadata[GGUFKey.General.sizeLabel]?.stringValue == "4x79K")  // 4 × (66496 shared + 12288 per expert)

        // Expert 2's slice of the stacked gate tensor is expert 2's gate_proj, converted.
        let g = try #require(f.tensor(named: "blk.1.ffn_gate_exps.weight"))
        let raw = f.data(g)
        let slice = 32 * 64
        let src = try readF32(m.dir + "/model.safetensors", "model.layers.1.mlp.experts.2.gate_proj.weight")
        for j in [0, 1, 777, slice - 1] {
            let h = raw.load(fromByteOffset: (2 * slice + j) * 2, as: UInt16.self)
            #expect(Float(Float16(bitPattern: h)) == Float(Float16(src[j])))
        }
    }

    @Test("a missing expert names the file and the tensor")
    func missingExpert() throws {
        var s = SyntheticMoE()
        s.omit = ["model.layers.1.mlp.experts.3.up_proj.weight"]
        let m = try model(s)
        expectFailure(m, "\(m.dir)/model.safetensors: expert tensor 'model.layers.1.mlp.experts.3.up_proj.weight' of layer 1 is missing (1 of 12 expert tensors absent)")
    }

    @Test("experts of unequal shape name the file and the tensor")
    func unequalExperts() throws {
        var s = SyntheticMoE()
        s.reshape = ["model.layers.0.mlp.experts.2.gate_proj.weight": [16, 64]]
        let m = try model(s)
        expectFailure(m, "\(m.dir)/model.safetensors: expert tensor 'model.layers.0.mlp.experts.2.gate_proj.weight' has shape [16, 64], but \(m.dir)/config.json implies [32, 64] for every expert")
    }

    @Test("an expert number beyond the expert count")
    func extraExpert() throws {
        var s = SyntheticMoE()
        s.experts = 4
        let m = try model(s)
        try m.editConfig { $0["num_experts"] = 3 }
        expectFailure(m, "\(m.dir)/model.safetensors: tensor 'model.layers.0.mlp.experts.3.down_proj.weight' is expert 3, but \(m.dir)/config.json has 3 experts")
    }

    @Test("num_experts_per_tok larger than the expert count")
    func tooManyUsed() throws {
        var s = SyntheticMoE()
        s.used = 5
        let m = try model(s)
        expectFailure(m, "\(m.dir)/config.json: 'num_experts_per_tok' is 5, but the model has 4 experts (expected 1...4)")
    }

    /// The f32 values of one tensor of a safetensors file written by `SyntheticMoE`.
    func readF32(_ path: String, _ name: String) throws -> [Float] {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = Int(d.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try #require(try JSONSerialization.jsonObject(with: d.subdata(in: 8..<(8 + n))) as? [String: Any])
        let entry = try #require(header[name] as? [String: Any])
        let offs = try #require(entry["data_offsets"] as? [Int])
        return d.subdata(in: (8 + n + offs[0])..<(8 + n + offs[1])).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
