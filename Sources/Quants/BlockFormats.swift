import GGUF

/// Every block family of the module, one line each: what `Quantizer`, `ActivationRounding`,
/// `LaneGEMM` and the engine know about a ggml type comes from its family's declarations
/// (`BlockFormat`). Adding a type means adding its family file and its line here.
///
/// Look a family up once per call, never per block: the lookup is an array index, but the calls
/// through the returned metatype are not inlined.
enum BlockFormats {
    /// The families, in the order lists of types are reported (`Quantizer.multipliableTypes`).
    static let all: [any BlockFormat.Type] = [
        F32Format.self, F16Format.self, BF16Format.self,
        Q4_0.self, Q4_1.self, Q5_0.self, Q5_1.self, Q8_0.self, Q8_1.self,
        Q2_K.self, Q3_K.self, Q4_K.self, Q5_K.self, Q6_K.self, Q8_K.self,
        TQ1_0.self, TQ2_0.self, Q1_0.self, Q2_0.self,
        IQ4_NL.self, IQ4_XS.self, MXFP4.self, NVFP4.self,
        IQ3_XXS.self, IQ2_XXS.self, IQ2_XS.self, IQ3_S.self, IQ2_S.self, IQ1_S.self, IQ1_M.self,
    ]

    /// One slot per ggml type id.
    private struct Entry: Sendable {
        var format: (any BlockFormat.Type)?
        /// Some family names this type as its dot type (`ActivationRounding` rounds to it).
        var isActivation = false
    }

    private static let table: [Entry] = {
        var t = [Entry](repeating: Entry(), count: Int(GGMLType.allCases.map(\.rawValue).max()!) + 1)
        for f in all {
            precondition(t[Int(f.type.rawValue)].format == nil, "\(f.type) is registered twice")
            precondition(f.blockSize == f.type.blockSize && f.blockBytes == f.type.typeSize,
                         "\(f.type): the family's block disagrees with GGMLType's")
            t[Int(f.type.rawValue)].format = f
        }
        for f in all {
            if let d = f.dotType {
                precondition(t[Int(d.rawValue)].format != nil, "\(f.type)'s dot type \(d) has no family")
                t[Int(d.rawValue)].isActivation = true
            }
        }
        return t
    }()

    /// The family of `t`, or nil when the module has no kernels for it.
    @inline(__always)
    static func format(_ t: GGMLType) -> (any BlockFormat.Type)? { table[Int(t.rawValue)].format }

    /// Whether activations are ever rounded to `t` (it is some family's `dotType`).
    @inline(__always)
    static func isActivation(_ t: GGMLType) -> Bool { table[Int(t.rawValue)].isActivation }
}
