import Foundation
import GGUF
import Testing
import TestSupport
@testable import ToolSupport

/// The whole pipeline on the bundled model, with nothing from ../shared or the model cache, so it
/// runs everywhere in a few seconds: hf2gguf (Fixtures/tiny-bpe-llama → F32), gguf-quantize
/// (Q4_K_M, 2 threads), gguf-ppl (-c 128 over Fixtures/text/sample.txt), each through the command
/// entry points the executables call.
///
/// The figures below were recorded from this pipeline and are also what llama-perplexity b10572 (AVX2
/// build, `-c 128 -t 2 -fa off`) prints on the same Q4_K_M file (checked at stop 18, after the engine
/// took b10572's repacked Q4_K and Q6_K orders): the test pins them so that any change of the converter, the quantizer or the forward pass
/// shows up as a changed figure. The parity with llama.cpp itself is what the golden tests check
/// (GoldenConvertTests, SmolLM2Tests, PerplexityCommandTests.smolLM2Golden) on its reference files.
/// If a change is meant to alter the figures, re-record them (the failure message prints ours).
@Suite("End to end on the bundled model")
struct EndToEndTests {
    /// Every running `[i]` perplexity, as gguf-ppl prints them on stdout.
    static let running = "[1]483.0565,[2]526.2600,[3]531.9821,[4]514.6438,[5]517.9899,[6]554.2924,[7]559.0004,"
        + "[8]579.3347,[9]585.4779,[10]573.3017,[11]585.5980,[12]589.3234,[13]591.3206,[14]594.0677,"
        + "[15]597.6362,[16]597.0274,[17]595.2390,[18]588.6637,[19]585.7148,"
    /// The final line on stderr, uncertainty included.
    static let final = "Final estimate: PPL = 585.7148 +/- 19.95800"

    /// The Q4_K_M plan for a 2-layer llama with tied embeddings, in file order (llama-quantize's
    /// rules: non-block tensors first; the tied token embedding takes the output type Q6_K; attn_v
    /// and ffn_down get Q6_K in the layers of use_more_bits, here layer 1 of 2; norms stay F32).
    static let types = [
        "output_norm.weight=F32", "token_embd.weight=Q6_K",
        "blk.0.attn_k.weight=Q4_K", "blk.0.attn_norm.weight=F32", "blk.0.attn_output.weight=Q4_K",
        "blk.0.attn_q.weight=Q4_K", "blk.0.attn_v.weight=Q4_K", "blk.0.ffn_down.weight=Q4_K",
        "blk.0.ffn_gate.weight=Q4_K", "blk.0.ffn_norm.weight=F32", "blk.0.ffn_up.weight=Q4_K",
        "blk.1.attn_k.weight=Q4_K", "blk.1.attn_norm.weight=F32", "blk.1.attn_output.weight=Q4_K",
        "blk.1.attn_q.weight=Q4_K", "blk.1.attn_v.weight=Q6_K", "blk.1.ffn_down.weight=Q6_K",
        "blk.1.ffn_gate.weight=Q4_K", "blk.1.ffn_norm.weight=F32", "blk.1.ffn_up.weight=Q4_K",
    ]

    @Test("hf2gguf → gguf-quantize Q4_K_M → gguf-ppl prints the recorded figures")
    func pipeline() throws {
        let tmp = TemporaryDirectory("e2e")
        let f32 = tmp.file("tiny-f32.gguf"), q4 = tmp.file("tiny-Q4_K_M.gguf")
        let text = TestPaths.fixtures.appendingPathComponent("text/sample.txt").path

        let convert = runCommand(ConvertCommand.run, [TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path,
                                                      "--outtype", "f32", "--outfile", f32, "-q"])
        try #require(convert.error == nil, "hf2gguf: \(String(describing: convert.error))")
        let quantize = runCommand(QuantizeCommand.run, [f32, q4, "Q4_K_M", "2", "-q"])
        try #require(quantize.error == nil, "gguf-quantize: \(String(describing: quantize.error))")

        let file = try GGUFFile(path: q4)
        #expect(file.metadata[GGUFKey.General.fileType]?.intValue == 15)  // LLAMA_FTYPE_MOSTLY_Q4_K_M
        let got = file.tensors.map { "\($0.name)=\($0.type.upperName)" }
        #expect(got == Self.types, "ours: \(got)")

        let ppl = runCommand(PerplexityCommand.run, ["-m", q4, "-f", text, "-c", "128", "-t", "2", "-fa", "off", "-q"])
        try #require(ppl.error == nil, "gguf-ppl: \(String(describing: ppl.error))")
        #expect(ppl.console.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == Self.running,
                "ours: \(ppl.console.stdout)")
        let finalLine = ppl.console.stderr.split(separator: "\n").first { $0.hasPrefix("Final estimate: PPL =") }
        #expect(finalLine.map(String.init) == Self.final, "ours: \(ppl.console.stderr)")
    }
}
