import Foundation
import HFModel

extension TensorPlanning {
    /// Gemma 3's embedding keeps the rows of real tokens only (gemma.py `modify_tensors`): with a
    /// tokenizer.model, the SentencePiece vocabulary padded to `vocab_size`; otherwise tokenizer.json's
    /// `model.vocab` count plus its `added_tokens` count. Returns the HF shape to write.
    static func trimmedEmbeddingShape(_ t: SafetensorsTensor, model: SafetensorsModel, dims: ModelDims,
                                      configPath: String) throws(ConvertError) -> [Int] {
        guard t.shape.count == 2 else { return t.shape }
        let dir = model.directory
        let real: Int
        if fileExists(HFModelFiles.path(dir, HFModelFiles.sentencePieceModel)) {
            real = dims.vocab
        } else {
            let p = HFModelFiles.path(dir, HFModelFiles.tokenizer)
            guard fileExists(p) else { return t.shape }
            let tj: JSONValue
            do { tj = try JSONParser.parseFile(p) } catch { throw ConvertError(error.description) }
            guard let vocab = tj["model"]?["vocab"]?.object else {
                throw ConvertError("\(p): 'model.vocab' is missing; it sets how many embedding rows are kept")
            }
            real = vocab.count + (tj["added_tokens"]?.array?.count ?? 0)
        }
        guard real <= t.shape[0] else { return t.shape }
        return [real, t.shape[1]]
    }
}
