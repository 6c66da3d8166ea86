import Foundation
import SwiftGGUF

/// `gguf-tokenize -m MODEL.gguf (-p TEXT | -f FILE | --stdin) [--ids] [--no-bos] ...`, the interface and
/// output of llama.cpp's `llama-tokenize` (examples/tokenize, b4748): the vocabulary comes from the
/// GGUF metadata only, so a vocab-only file works too.
public enum TokenizeCommand {
    public static let spec = CommandSpec(
        name: "gguf-tokenize",
        synopsis: "-m MODEL.gguf (-p TEXT | -f FILE | --stdin) [--ids] [--no-bos] [--show-count]",
        summary: "Tokenize text with a GGUF model's vocabulary, like llama-tokenize.",
        options: [
            .option("model", short: "m", value: "FILE", "the GGUF model (or vocab-only GGUF)"),
            .option("prompt", short: "p", value: "TEXT", "the text to tokenize"),
            .option("file", short: "f", value: "FILE", "read the text from FILE"),
            .flag("stdin", "read the text from standard input"),
            .flag("ids", "print only the ids, as one Python-style list"),
            .flag("no-bos", "do not add BOS (or EOS) even when the vocabulary asks for it"),
            .flag("no-escape", "do not process escapes (\\n, \\t, \\xHH, ...) in the text"),
            .flag("no-parse-special", "do not cut special/control tokens out of the text"),
            .flag("show-count", "print the number of tokens at the end"),
            .flag("log-disable", "accepted for compatibility with llama-tokenize (no effect)"),
        ],
        positionals: [], minPositionals: 0, maxPositionals: 0)

    public static func run(_ args: [String], console: any Console) throws {
        let a = try spec.parse(args)
        guard let modelPath = a.value("model") else { throw ToolError.usage("missing -m MODEL.gguf", command: spec.name) }
        let sources = [a.value("prompt") != nil, a.value("file") != nil, a.has("stdin")].filter { $0 }.count
        guard sources == 1 else {
            throw ToolError.usage("give exactly one of -p TEXT, -f FILE and --stdin", command: spec.name)
        }
        var text: [UInt8]
        if let p = a.value("prompt") {
            text = Array(p.utf8)
        } else if let f = a.value("file") {
            text = try readTextFile(f)
        } else {
            text = Array(FileHandle.standardInput.readDataToEndOfFile())
        }
        if !a.has("no-escape") { text = TokenizeOutput.processEscapes(text) }
        let vocab = try GGUFModel(path: modelPath).vocabulary
        let ids = vocab.tokenize(bytes: text, addSpecial: !a.has("no-bos"), parseSpecial: !a.has("no-parse-special"))
        let out = TokenizeOutput.formatBytes(ids: ids, vocab: vocab, idsOnly: a.has("ids"), showCount: a.has("show-count"))
        console.out(String(decoding: out, as: UTF8.self))
    }

    /// The bytes of a text file, or an error naming it.
    static func readTextFile(_ path: String) throws(ToolError) -> [UInt8] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ToolError.failure("\(path): text file not found")
        }
        guard !isDir.boolValue else { throw ToolError.failure("\(path): is a directory, expected a text file") }
        guard let d = FileManager.default.contents(atPath: path) else { throw ToolError.failure("\(path): cannot read the file") }
        return Array(d)
    }
}
