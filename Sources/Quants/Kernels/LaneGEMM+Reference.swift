import GGUF

extension LaneGEMM {
    /// The scalar twin of `linear`: quantizes each row through the block quantizers' bytes
    /// (`ActivationRounding` reference encoders, `Quantizer` for Q8_K), decodes each weight block
    /// from its bytes, and sums one output at a time in ggml's lane order.
    public static func linearReference(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix,
                                       into c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard let lay = layout(w.type) else { preconditionFailure("LaneGEMM has no kernel for \(w.type)") }
        if let iq = lay.iq {
            linearIQReference(a, lda: lda, rows: m, weights: w, iq: iq, into: c, ldc: ldc)
            return
        }
        if let bits = lay.bits {
            linearBitsReference(a, lda: lda, rows: m, weights: w, order: bits, into: c, ldc: ldc)
            return
        }
        if let order = repackOrder(w) {
            linearRepackedReference(a, lda: lda, rows: m, weights: w, order: order, into: c, ldc: ldc)
            return
        }
        let k = w.columns
        let nb = k / lay.block
        let aType: GGMLType = lay.block == 32 ? (lay.mins == .perBlock ? .q8_1 : .q8_0) : .q8_K
        let single = singleChain(w)
        let aS = UnsafeMutablePointer<Float>.allocate(capacity: nb)
        defer { aS.deallocate() }
        let aBytes = UnsafeMutableRawPointer.allocate(byteCount: nb * aType.typeSize, alignment: 16)
        let aq = UnsafeMutablePointer<Float>.allocate(capacity: k)
        let ad = UnsafeMutablePointer<Float>.allocate(capacity: nb)
        let wv = UnsafeMutablePointer<Float>.allocate(capacity: k + lay.block)
        let wmv = UnsafeMutablePointer<Float>.allocate(capacity: k)
        let tmp = UnsafeMutableRawPointer.allocate(byteCount: w.type.typeSize, alignment: 16)
        defer { aBytes.deallocate(); aq.deallocate(); ad.deallocate(); wv.deallocate(); wmv.deallocate(); tmp.deallocate() }
        for r in 0..<m {
            // Activation quants and scales from the block bytes.
            if aType == .q8_1 {
                ActivationRounding.quantizeQ8_1Reference(a + r * lda, aBytes, count: k)
                for b in 0..<nb {
                    let blk = aBytes + 36 * b
                    ad[b] = FP16.toFloat(blk.loadUnaligned(as: UInt16.self))
                    aS[b] = FP16.toFloat(blk.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
                    for j in 0..<32 { aq[32 * b + j] = Float(blk.load(fromByteOffset: 4 + j, as: Int8.self)) }
                }
            } else if aType == .q8_0 {
                ActivationRounding.quantizeQ8_0Reference(a + r * lda, aBytes, count: k)
                for b in 0..<nb {
                    let blk = aBytes + 34 * b
                    ad[b] = FP16.toFloat(blk.loadUnaligned(as: UInt16.self))
                    for j in 0..<32 { aq[32 * b + j] = Float(blk.load(fromByteOffset: 2 + j, as: Int8.self)) }
                }
            } else {
                Quantizer.quantize(.q8_K, a + r * lda, aBytes, rows: 1, rowLength: k)
                for b in 0..<nb {
                    let blk = aBytes + GGMLType.q8_K.typeSize * b
                    ad[b] = blk.loadUnaligned(as: Float.self)
                    for j in 0..<256 { aq[256 * b + j] = Float(blk.load(fromByteOffset: 4 + j, as: Int8.self)) }
                }
            }
            for n in 0..<w.rows {
                let src = w.data + n * w.rowBytes
                var acc = [Float](repeating: 0, count: 8)
                var accm = [Float](repeating: 0, count: 4)
                var summs: Float = 0
                var chain: Float = 0
                for b in 0..<nb {
                    let blk = src + b * w.type.typeSize
                    let dw = FP16.toFloat(blk.loadUnaligned(fromByteOffset: lay.scaleOffset, as: UInt16.self))
                    tmp.copyMemory(from: blk, byteCount: w.type.typeSize)
                    tmp.storeBytes(of: FP16.fromFloat(1), toByteOffset: lay.scaleOffset, as: UInt16.self)
                    if let mo = lay.minOffset { tmp.storeBytes(of: UInt16(0), toByteOffset: mo, as: UInt16.self) }
                    Quantizer.dequantize(w.type, UnsafeRawPointer(tmp), wv, count: lay.block)
                    if single {
                        var s: Float = 0
                        for e in 0..<lay.block { s += wv[e] * aq[lay.block * b + e] }
                        chain = chain.addingProduct(s, ad[b] * dw)
                    }
                    for lane in 0..<8 {
                        var s: Float = 0
                        for ch in 0..<(lay.block / 32) {
                            for t in 0..<4 {
                                let e = 32 * ch + 4 * lane + t
                                s += wv[e] * aq[lay.block * b + e]
                            }
                        }
                        acc[lane] = acc[lane].addingProduct(ad[b] * dw, s)
                    }
                    if let mo = lay.minOffset, lay.mins == .perBlock {
                        let mw = FP16.toFloat(blk.loadUnaligned(fromByteOffset: mo, as: UInt16.self))
                        summs = summs.addingProduct(mw, aS[b])
                    } else if let mo = lay.minOffset {
                        let dmin = FP16.toFloat(blk.loadUnaligned(fromByteOffset: mo, as: UInt16.self))
                        tmp.storeBytes(of: UInt16(0), toByteOffset: lay.scaleOffset, as: UInt16.self)
                        tmp.storeBytes(of: FP16.fromFloat(1), toByteOffset: mo, as: UInt16.self)
                        Quantizer.dequantize(w.type, UnsafeRawPointer(tmp), wmv, count: lay.block)
                        if lay.mins == .summed {
                            var total: Float = 0
                            for sb in 0..<8 {
                                var s: Float = 0
                                for e in (32 * sb)..<(32 * sb + 32) { s += aq[lay.block * b + e] }
                                total += -wmv[32 * sb] * s
                            }
                            summs = summs.addingProduct(-ad[b] * dmin, total)
                        } else {
                        for j in 0..<4 {
                            var p: Float = 0
                            for sb in [2 * j, 2 * j + 1] {
                                var s: Float = 0
                                for e in (32 * sb)..<(32 * sb + 32) { s += aq[lay.block * b + e] }
                                p += -wmv[32 * sb] * s
                            }
                            accm[j] = accm[j].addingProduct(-ad[b] * dmin, p)
                        }
                        }
                    }
                }
                var out = single ? chain : VectorMath.laneTree { acc[$0] }
                switch lay.mins {
                case .none: break
                case .perBlock, .summed: out = out + summs
                case .fourLanes: out = out + ((accm[0] + accm[2]) + (accm[1] + accm[3]))
                }
                c[r * ldc + n] = out
            }
        }
    }
}
