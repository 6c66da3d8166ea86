import Foundation
import GGUF
import Testing
import TestSupport
@testable import ToolSupport

/// Bad Gemma checkpoints: one clear error naming the file and key or tensor, exit 1, no output.
@Suite("hf2gguf: bad Gemma input gives one clear error and no output", .serialized)
struct GemmaConvertErrorTests {
    /// A copy of a tiny Gemma model of the cache in a temporary folder.
    final class Copy {
        let tmp = TemporaryDirectory("gemma-bad")
        let dir: String
        init(_ model: String) throws {
            let src = try Golden.require(model: model)
            dir = tmp.file("m")
            try FileManager.default.copyItem(atPath: src.path, toPath: dir)
        }
        var out: String { tmp.file("out.gguf") }
        func editConfig(_ edit: (inout [String: Any]) -> Void) throws {
            let url = URL(fileURLWithPath: dir + "/config.json")
            var obj = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            edit(&obj)
            try JSONSerialization.data(withJSONObject: obj).write(to: url)
        }
        /// Rewrites model.safetensors without the tensor `name`.
        func dropTensor(_ name: String) throws {
            let url = URL(fileURLWithPath: dir + "/model.safetensors")
            let bytes = try Data(contentsOf: url)
            let n = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
            let header = try #require(try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + n))) as? [String: Any])
            let body = bytes.subdata(in: (8 + n)..<bytes.count)
            var entries: [String] = []
            var data = Data()
            for key in header.keys.sorted() where key != "__metadata__" && key != name {
                let t = try #require(header[key] as? [String: Any])
                let off = try #require(t["data_offsets"] as? [Int])
                let shape = try #require(t["shape"] as? [Int])
                let dtype = try #require(t["dtype"] as? String)
                entries.append("\"\(key)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(data.count),\(data.count + off[1] - off[0])]}")
                data.append(body.subdata(in: off[0]..<off[1]))
            }
            let h = Data(("{" + entries.joined(separator: ",") + "}").utf8)
            var file = Data()
            withUnsafeBytes(of: UInt64(h.count).littleEndian) { file.append(contentsOf: $0) }
            file.append(h)
            file.append(data)
            try file.write(to: url)
        }
        func convert() -> ToolError? {
            runCommand(ConvertCommand.run, [dir, "--outtype", "f32", "--outfile", out, "-q"]).error
        }
    }

    func expectFailure(_ m: Copy, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let e = m.convert()
        #expect(e?.exitCode == 1, sourceLocation: sourceLocation)
        #expect(e?.description == expected, sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: m.out), sourceLocation: sourceLocation)
    }

    /// transformers' Gemma2Config fills head_dim = 256 (not hidden_size / heads), and b10572 writes
    /// that as key_length; its file then fails to load in llama.cpp (attn_q has the wrong shape).
    /// hf2gguf stops at the first tensor that contradicts it and says where 256 came from.
    @Test("a Gemma 2 config without head_dim", .golden)
    func missingHeadDim() throws {
        let m = try Copy("tiny-gemma2")
        try m.editConfig { $0.removeValue(forKey: "head_dim") }
        expectFailure(m, "\(m.dir)/model.safetensors: tensor 'model.layers.0.self_attn.k_proj.weight' has shape [256, 256], "
                      + "but \(m.dir)/config.json implies [512, 256] (config.json does not set it: transformers' default for "
                      + "model_type 'gemma2', head_dim = 256, was assumed, as llama.cpp b10572 does; set the right value in config.json)")
    }

    @Test("a Gemma 3 checkpoint without a post-feed-forward norm", .golden)
    func missingTensor() throws {
        let m = try Copy("tiny-gemma3")
        try m.dropTensor("model.layers.4.post_feedforward_layernorm.weight")
        expectFailure(m, "\(m.dir): 1 tensor(s) expected for Gemma3ForCausalLM are missing: "
                      + "'model.layers.4.post_feedforward_layernorm.weight'")
    }

    /// Gemma 3 has no attention soft-capping; b10572 stops on an assertion.
    @Test("a Gemma 3 config with attn_logit_softcapping", .golden)
    func gemma3SoftCapping() throws {
        let m = try Copy("tiny-gemma3")
        try m.editConfig { $0["attn_logit_softcapping"] = 50.0 }
        expectFailure(m, "\(m.dir)/config.json: 'attn_logit_softcapping' is set, but Gemma 3 has no attention soft-capping (b10572 refuses it too)")
    }
}
