import GGUF

/// What the quantizer's planning reads from its input: the metadata and each tensor's name, shape
/// and type. A GGUF file is one; the f32 model a conversion would write (never written, see
/// hf2gguf's one-pass mode) is another.
public protocol ModelTensorTable {
    /// Names the input in messages.
    var path: String { get }
    var metadata: GGUFMetadata { get }
    /// In input order.
    var tensors: [GGUFTensorInfo] { get }
    /// The `general.architecture` string, if present.
    var architecture: String? { get }
    func tensor(named name: String) -> GGUFTensorInfo?
}

extension GGUFFile: ModelTensorTable {}
