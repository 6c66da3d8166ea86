import Testing
import Foundation
import TestSupport
import GGUF
import Quants
import SwiftGGUF
@testable import ToolSupport

/// Calibration on a Hugging Face folder directly (issue 14): `gguf-imatrix -m MODEL_DIR` and
/// `hf2gguf MODEL_DIR --outtype TYPE --awq CALIB.txt` run the engine on the f32 conversion built in
/// memory (`CheckpointImage`), with the results of the two-step path through an f32 file.
@Suite("calibration on an HF folder: the same results as on its f32 GGUF")
struct CheckpointCalibrationTests {
    static let model = TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path
    static let text = TestPaths.fixtures.appendingPathComponent("text/sample.txt").path
    /// Small AWQ settings so the debug build stays fast.
    static let awq = ["--awq-seqlen", "64", "--awq-grid", "5", "-t", "2"]

    static func bytes(_ path: String) -> Data? { try? Data(contentsOf: URL(fileURLWithPath: path)) }

    static func f32(_ tmp: TemporaryDirectory, model: String = model) throws -> String {
        let out = tmp.file("f32.gguf")
        if !FileManager.default.fileExists(atPath: out) {
            let e = runCommand(ConvertCommand.run, [model, "--outtype", "f32", "--outfile", out, "-q"]).error
            try #require(e == nil, "\(String(describing: e))")
        }
        return out
    }

    @Test("the in-memory model holds the f32 file's values, its bf16 matrices at their own width")
    func imageEqualsFile() throws {
        let tmp = TemporaryDirectory("ckpt-image")
        let file = try GGUFFile(path: try Self.f32(tmp))
        var converted: [String] = []
        let (image, plan) = try CheckpointImage.open(modelDirectory: Self.model) { _, _, name in converted.append(name) }
        #expect(image.path == Self.model)
        #expect(image.widensFloats && !file.widensFloats)
        #expect(converted == plan.tensors.map(\.ggufName))
        #expect(image.metadata == file.metadata)
        #expect(image.tensors.map(\.name) == file.tensors.map(\.name))
        #expect(image.tensors.map(\.shape) == file.tensors.map(\.shape))
        var narrowed = 0
        for (t, f) in zip(image.tensors, file.tensors) {
            // Matrices keep the checkpoint's bf16; vectors (norms) are f32, as in the file.
            #expect(t.type == (t.shape.count >= 2 ? .bf16 : .f32), "\(t.name)")
            #expect(f.type == .f32 && image.valueType(t.type) == .f32)
            var widened = [Float](repeating: .nan, count: t.elementCount)
            widened.withUnsafeMutableBufferPointer { Quantizer.dequantize(t.type, image.data(t).baseAddress!, $0.baseAddress!, count: t.elementCount) }
            #expect(widened.withUnsafeBytes { Data($0) } == Data(file.data(f)), "\(t.name)")
            if t.type == .bf16 { narrowed += t.elementCount }
        }
        #expect(narrowed > 0)
        // Half the bytes of the f32 file for the narrowed matrices.
        #expect(image.mapping.bytes.count < file.mapping.bytes.count - narrowed)
        // Releasing a tensor (as the quantizer does) leaves anonymous memory as it is.
        let t = try #require(image.tensor(named: "blk.0.attn_q.weight"))
        let before = Data(image.data(t))
        image.release(t)
        #expect(Data(image.data(t)) == before)
    }

    @Test("an f16 checkpoint: matrices kept as f16, gguf-imatrix -m MODEL_DIR equals its f32 GGUF")
    func f16Checkpoint() throws {
        let tmp = TemporaryDirectory("ckpt-f16")
        let folder = try Self.f16Copy(of: Self.model, in: tmp)
        let (image, _) = try CheckpointImage.open(modelDirectory: folder)
        let q = try #require(image.tensor(named: "blk.0.attn_q.weight"))
        #expect(q.type == .f16 && image.widensFloats)
        let file = try Self.f32(tmp, model: folder)
        for (i, model) in [file, folder].enumerated() {
            let r = runCommand(ImatrixCommand.run, ["-m", model, "-f", Self.text, "-o", tmp.file("m\(i).imatrix"), "-t", "2", "-q",
                                                    "-c", "64", "--chunks", "2"])
            try #require(r.error == nil, "\(String(describing: r.error))")
        }
        let a = Self.bytes(tmp.file("m0.imatrix")), b = Self.bytes(tmp.file("m1.imatrix"))
        #expect(a != nil && a == b)
    }

    /// A copy of `model` (tokenizer and config files linked) whose safetensors hold F16 instead of
    /// BF16 (each value rounded to f16).
    static func f16Copy(of model: String, in tmp: TemporaryDirectory) throws -> String {
        let dir = tmp.file("f16-model")
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: model) {
            let src = model + "/" + name, dst = dir + "/" + name
            guard name.hasSuffix(".safetensors") else { try fm.copyItem(atPath: src, toPath: dst); continue }
            let data = try #require(bytes(src))
            let n = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
            var header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any])
            var body = Data(data.suffix(from: 8 + n))
            for (key, value) in header {
                guard var entry = value as? [String: Any], entry["dtype"] as? String == "BF16",
                      let range = entry["data_offsets"] as? [Int] else { continue }
                body.withUnsafeMutableBytes { raw in
                    let p = raw.baseAddress!.advanced(by: range[0]).assumingMemoryBound(to: UInt16.self)
                    for i in 0..<((range[1] - range[0]) / 2) { p[i] = FP16.fromFloat(BF16.toFloat(p[i])) }
                }
                entry["dtype"] = "F16"
                header[key] = entry
            }
            var out = Data()
            let h = try JSONSerialization.data(withJSONObject: header)
            withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
            out.append(h)
            out.append(body)
            try out.write(to: URL(fileURLWithPath: dst))
        }
        return dir
    }

    @Test("gguf-imatrix -m MODEL_DIR writes the matrix of gguf-imatrix -m <its f32 GGUF>",
          arguments: [["-c", "64", "--chunks", "3"], ["-c", "32", "--chunks", "4", "-b", "64", "--process-output", "--output-format", "dat"]])
    func imatrix(_ options: [String]) throws {
        let tmp = TemporaryDirectory("ckpt-imatrix")
        let file = try Self.f32(tmp)
        func run(_ model: String, _ out: String) throws -> CapturedConsole {
            let r = runCommand(ImatrixCommand.run, ["-m", model, "-f", Self.text, "-o", tmp.file(out), "-t", "2", "-q"] + options)
            try #require(r.error == nil, "\(String(describing: r.error))")
            return r.console
        }
        let fromFile = try run(file, "file.imatrix")
        let fromFolder = try run(Self.model, "folder.imatrix")
        let a = Self.bytes(tmp.file("file.imatrix")), b = Self.bytes(tmp.file("folder.imatrix"))
        #expect(a != nil && a == b)
        // The same perplexity lines too.
        #expect(fromFile.stdout == fromFolder.stdout)
        #expect(fromFolder.stderr.contains("converting '\(Self.model)' to f32 in memory"))
        // Only the two matrices and the f32 file of the reference path were written.
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: tmp.path)) == ["f32.gguf", "file.imatrix", "folder.imatrix"])
    }

    @Test("hf2gguf --outtype TYPE --awq CALIB.txt in one pass equals hf2gguf f32 + gguf-quantize --awq",
          arguments: [("Q4_K_M", [String]()), ("Q4_0", ["--awq-clip", "--awq-importance", "--awq-search-blocks", "0"]),
                      ("Q6_K", ["--awq-only"])])
    func awq(_ type: String, _ extra: [String]) throws {
        let tmp = TemporaryDirectory("ckpt-awq")
        let file = try Self.f32(tmp)
        let options = ["--awq", Self.text] + Self.awq + extra
        let two = tmp.file("two.gguf"), one = tmp.file("one.gguf")
        let r2 = runCommand(QuantizeCommand.run, options + ["-q", file, two, type])
        try #require(r2.error == nil, "\(String(describing: r2.error))")
        let r1 = runCommand(ConvertCommand.run, [Self.model, "--outtype", type, "--outfile", one, "-q"] + options)
        try #require(r1.error == nil, "\(String(describing: r1.error))")
        #expect(Self.bytes(one) != nil && Self.bytes(one) == Self.bytes(two), "\(type) \(extra)")
        #expect(r1.console.stderr.contains("awq: converting '\(Self.model)' to f32 in memory"))
        #expect(r1.console.stderr.contains("awq: calibrated"))
        let f = try GGUFFile(path: one)
        #expect(f.metadata[GGUFKey.Quantize.awqFile] == .string(Self.text))
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: tmp.path)) == ["f32.gguf", "one.gguf", "two.gguf"])
    }

    @Test("--awq with --imatrix FILE in one pass: the same bytes as the two steps")
    func awqWithImatrix() throws {
        let tmp = TemporaryDirectory("ckpt-awq-imatrix")
        let file = try Self.f32(tmp)
        let imatrix = tmp.file("imatrix.gguf")
        try OnePassTests.writeImatrix(imatrix, for: file)
        let options = ["--awq", Self.text, "--imatrix", imatrix] + Self.awq
        let two = tmp.file("two.gguf"), one = tmp.file("one.gguf")
        try #require(runCommand(QuantizeCommand.run, options + ["-q", file, two, "Q4_K_M"]).error == nil)
        let r = runCommand(ConvertCommand.run, [Self.model, "--outtype", "Q4_K_M", "--outfile", one, "-q"] + options)
        try #require(r.error == nil, "\(String(describing: r.error))")
        #expect(Self.bytes(one) != nil && Self.bytes(one) == Self.bytes(two))
    }

    @Test("bad input: one clear error, no output")
    func badInput() throws {
        let tmp = TemporaryDirectory("ckpt-bad")
        let out = tmp.file("out.gguf")
        // The calibration text is checked before the weights are converted.
        let missing = tmp.file("missing.txt")
        let noText = runCommand(ConvertCommand.run, [Self.model, "--outtype", "Q4_K_M", "--outfile", out, "-q", "--awq", missing])
        #expect(noText.error?.exitCode == 1)
        #expect(noText.error?.description == "\(missing): calibration text not found")
        #expect(!noText.console.stderr.contains("converting"))
        let short = tmp.file("short.txt")
        try "one line\n".write(toFile: short, atomically: true, encoding: .utf8)
        let tooShort = runCommand(ConvertCommand.run, [Self.model, "--outtype", "Q4_K_M", "--outfile", out, "-q", "--awq", short])
        #expect(tooShort.error?.exitCode == 1)
        #expect(tooShort.error?.description.hasPrefix("\(short): 1 usable line(s) give") == true, "\(String(describing: tooShort.error))")
        try FileManager.default.removeItem(atPath: short)
        // gguf-quantize's option rules.
        let awqOnly = runCommand(ConvertCommand.run, [Self.model, "--outtype", "Q4_K_M", "--outfile", out, "--awq-grid", "4"])
        #expect(awqOnly.error?.exitCode == 64)
        #expect(awqOnly.error?.description.hasPrefix("--awq-grid needs --awq CALIB.txt") == true, "\(String(describing: awqOnly.error))")
        let noQuant = runCommand(ConvertCommand.run, [Self.model, "--outtype", "f16", "--outfile", out, "--awq-clip"])
        #expect(noQuant.error?.exitCode == 64)
        #expect(noQuant.error?.description.hasPrefix("--awq-clip needs a quantization --outtype") == true)
        // A model file that does not exist: gguf-imatrix names it.
        let noModel = runCommand(ImatrixCommand.run, ["-m", tmp.file("none.gguf"), "-f", Self.text, "-o", out, "-q"])
        #expect(noModel.error?.exitCode == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty)
    }

    @Test("an HF folder with a broken tensor: one clear error from gguf-imatrix and from hf2gguf --awq, no output")
    func brokenTensor() throws {
        let m = try ModelCopy()
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: m.file("model.safetensors")))
        try h.truncate(atOffset: 1_000_000)
        try h.close()
        let expected = "\(m.dir)/model.safetensors: tensor 'model.layers.1.mlp.down_proj.weight' has data_offsets [951808, 1082880] "
            + "past the end of the data (997864 bytes)"
        let imatrix = m.tmp.file("imatrix.gguf")
        let a = runCommand(ImatrixCommand.run, ["-m", m.dir, "-f", Self.text, "-o", imatrix, "-c", "64", "--chunks", "1", "-q"])
        #expect(a.error?.exitCode == 1)
        #expect(a.error?.description == expected)
        #expect(!FileManager.default.fileExists(atPath: imatrix))
        let b = runCommand(ConvertCommand.run, [m.dir, "--outtype", "Q4_K_M", "--outfile", m.out, "-q", "--awq", Self.text] + Self.awq)
        #expect(b.error?.exitCode == 1)
        #expect(b.error?.description == expected)
        #expect(m.folderIsClean && !m.outputExists)
    }

    @Test("an HF folder with a non-finite weight: gguf-imatrix and hf2gguf --awq stop with the GGUF path's error, no output")
    func nonFiniteWeight() throws {
        let m = try ModelCopy()
        let tmp = TemporaryDirectory("ckpt-nan")
        // bf16 NaN as the first value of blk.0's q projection.
        let path = m.file("model.safetensors")
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any]
        let entry = try #require(header?["model.layers.0.self_attn.q_proj.weight"] as? [String: Any])
        let offsets = try #require(entry["data_offsets"] as? [Int])
        let at = 8 + headerLength + offsets[0]
        data[at] = 0xC0
        data[at + 1] = 0x7F
        try data.write(to: URL(fileURLWithPath: path))
        let file = try Self.f32(tmp, model: m.dir)

        func imatrix(_ model: String, _ out: String) -> ToolError? {
            runCommand(ImatrixCommand.run, ["-m", model, "-f", Self.text, "-o", out, "-c", "64", "--chunks", "1", "-t", "2", "-q"]).error
        }
        let viaFile = imatrix(file, tmp.file("a.gguf")), viaFolder = imatrix(m.dir, m.tmp.file("b.gguf"))
        #expect(viaFolder?.exitCode == 1)
        #expect(viaFolder?.exitCode == viaFile?.exitCode)
        #expect(viaFolder?.description.replacingOccurrences(of: m.dir, with: "MODEL") ==
                viaFile?.description.replacingOccurrences(of: file, with: "MODEL"), "\(String(describing: viaFolder))")
        #expect(!FileManager.default.fileExists(atPath: m.tmp.file("b.gguf")))

        let options = ["--awq", Self.text] + Self.awq
        let two = runCommand(QuantizeCommand.run, options + ["-q", file, tmp.file("two.gguf"), "Q4_K_M"]).error
        let one = runCommand(ConvertCommand.run, [m.dir, "--outtype", "Q4_K_M", "--outfile", m.out, "-q"] + options).error
        #expect(one?.exitCode == 1)
        #expect(one?.exitCode == two?.exitCode)
        #expect(one?.description.replacingOccurrences(of: m.dir, with: "MODEL") ==
                two?.description.replacingOccurrences(of: file, with: "MODEL"), "\(String(describing: one))")
        #expect(m.folderIsClean && !m.outputExists)
    }
}
