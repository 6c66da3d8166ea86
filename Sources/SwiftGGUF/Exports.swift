// The umbrella: `import SwiftGGUF` gives the front door (`Conversion`, `Quantization`, `GGUFModel`)
// and the building blocks its values are made of (file format, ggml types, type plans, results).
@_exported import Architectures
@_exported import Calibration
@_exported import Convert
@_exported import Evaluation
@_exported import GGUF
@_exported import HFModel
@_exported import Inference
@_exported import Quants
