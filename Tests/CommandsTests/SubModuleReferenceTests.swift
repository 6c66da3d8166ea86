import Testing
import Foundation
import TestSupport
import GGUF
import Inference
import Quants
@testable import ToolSupport

/// AWQ takes the float reference outputs of attention and feed-forward from the block pass: it
/// runs only attn_output on the captured attn_output input and ffn_down on the captured ffn_down
/// input. That is exact only if `SubBlockRunner`'s sub-modules compute what the block computes,
/// bit for bit, on every architecture (Phi-3's query scale, Gemma's sandwich norms and soft-caps,
/// Qwen3's q/k norms, Qwen2's biases).
@Suite("Sub-modules equal the block bit for bit on each architecture", .serialized)
struct SubModuleReferenceTests {
    static let models = ["tiny-llama", "tiny-qwen2", "tiny-qwen3", "tiny-phi3", "tiny-gemma2", "tiny-gemma3", "tiny-mixtral"]

    @Test("attention(attn_norm x) = attn_output(captured input); feed-forward = ffn_down(captured input)",
          .golden, arguments: models)
    func subModules(_ name: String) throws {
        let hf = try Golden.require(model: name)
        let tmp = TemporaryDirectory("submodule-\(name)")
        let path = tmp.file("f32.gguf")
        try #require(runCommand(ConvertCommand.run, [hf.path, "--outtype", "f32", "--outfile", path, "-q"]).error == nil)
        let model = try LanguageModel(path: path)
        let length = 64, sequences = 2
        let session = InferenceSession(model: model, contextLength: length, sequences: sequences, threads: 2)
        let tokens = (0..<(length * sequences)).map { Int32(1 + ($0 * 211) % (model.vocabularySize - 1)) }
        for il in 0..<model.config.blockCount {
            let w = model.layers[il]
            let gateName = w.experts?.router.name ?? w.gate.name, downName = w.experts == nil ? w.down.name : ""
            var attnIn: [Float] = [], outIn: [Float] = [], ffnIn: [Float] = [], downIn: [Float] = []
            session.observer = { tensor, x, _, _ in
                switch tensor {
                case w.q.name: attnIn += x
                case w.o.name: outIn += x
                case gateName: ffnIn += x
                case downName: downIn += x
                default: break
                }
            }
            var hidden = try session.embed(tokens)
            for j in 0...il { try session.block(j, hidden: &hidden, sequences: sequences) }
            session.observer = nil
            // Only block il's inputs are wanted: the observer saw every block's, keep the last.
            let e = model.config.embeddingLength, rows = length * sequences
            attnIn = Array(attnIn.suffix(rows * e))
            ffnIn = Array(ffnIn.suffix(rows * e))
            outIn = Array(outIn.suffix(rows * w.o.matrix.columns))
            let runner = SubBlockRunner(session: session)
            let attention = try runner.attention(il, input: attnIn, sequences: sequences)
            let projected = try runner.projection(il, .attnOutput, input: outIn)
            #expect(attention.map(\.bitPattern) == projected.map(\.bitPattern), "\(name) block \(il): attention")
            if w.experts == nil {
                downIn = Array(downIn.suffix(rows * w.down.matrix.columns))
                let feedForward = try runner.feedForward(il, input: ffnIn)
                let down = try runner.projection(il, .ffnDown, input: downIn)
                #expect(feedForward.map(\.bitPattern) == down.map(\.bitPattern), "\(name) block \(il): feed-forward")
            }
        }
    }
}
