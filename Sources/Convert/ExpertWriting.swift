import Architectures
import GGUF
import HFModel

/// gguf-py `get_total_parameter_count`'s split of the parameters for the size label ("4x27M"):
/// tensors with `_exps.` in their name hold `expertCount` experts (their outermost dimension).
struct ParameterSplit {
    var shared = 0
    var expert = 0
    var expertCount = 0

    init(_ tensors: [PlannedTensor]) {
        var expertSum = 0, expertTensors = 0
        for t in tensors {
            let size = t.elementCount
            if t.ggufName.contains("_exps."), t.hfShape.count >= 3 {
                let n = t.ggufName.contains(".bias") ? t.hfShape[t.hfShape.count - 2] : t.hfShape[t.hfShape.count - 3]
                guard n > 0 else { continue }
                expert += size / n
                expertSum += n
                expertTensors += 1
            } else {
                shared += size
            }
        }
        expertCount = expertTensors > 0 ? expertSum / expertTensors : 0
    }
}

extension Converter {
    /// Writes a stacked expert tensor one expert at a time: each expert's slice is converted from
    /// its own checkpoint tensor (in bounded chunks) and appended, and its pages are released, so
    /// memory holds at most one chunk whatever the number or size of the experts.
    static func writeStacked(_ t: PlannedTensor, sources: [String], model st: SafetensorsModel, streamer: TensorStreamer,
                             writer: GGUFWriter, directory: String) throws {
        let slice = Array(t.hfShape.dropFirst())
        for name in sources {
            guard let src = st.tensor(named: name) else {
                throw ConvertError("\(directory): expert tensor '\(name)' disappeared from the checkpoint")
            }
            guard src.shape == slice else {
                throw ConvertError("\(src.file): expert tensor '\(name)' has shape \(src.shape), expected \(slice)")
            }
            let dtype = try st.dtype(of: src)
            let bytes = try st.data(src)
            let mapping = st.files.first { $0.path == src.file }?.mapping
            let base = src.byteRange.lowerBound
            try streamer.write(source: bytes, dtype: dtype, shape: slice, to: t.type, heads: nil, writer: writer,
                               endTensor: false) { r in mapping?.release((base + r.lowerBound)..<(base + r.upperBound)) }
            st.release(src)
        }
        try writer.endTensor()
    }
}
