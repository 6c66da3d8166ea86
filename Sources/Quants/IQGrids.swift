// The lattice grids of llama.cpp's IQ families (ggml-common.h tables, ggml-quants.c
// iq2xs_init_impl / iq3xs_init_impl), expanded from the compact codes in IQGridCodes.swift.
//
// Two views of every grid exist. Dequantization reads the byte values of ggml-common.h's
// `iq2xxs_grid`, `iq3xxs_grid`, ... (`IQGrids`). Quantization searches the odd coordinates 2l+1
// of the same points, plus a map from every possible tuple of levels to its grid point or to
// its list of nearest grid points (`IQLattice`), which ggml builds at run time; here each one is
// built on first use (Swift's lazy static initialization, once and thread-safe).

/// The byte-valued grids dequantization reads, and the sign table shared by the IQ2/IQ3 families.
enum IQGrids {
    /// ggml's `ksigns_iq2xs`: seven sign bits plus an eighth that makes the count of set bits even.
    static let ksigns: [UInt8] = (0..<128).map { i in UInt8(i) | UInt8((i.nonzeroBitCount & 1) << 7) }

    /// `iq2xxs_grid`: levels 0, 1, 2 → 0x08, 0x19, 0x2b, eight per point.
    static let iq2xxs: [UInt64] = expand8(IQGridCodes.iq2xxs, [0x08, 0x19, 0x2b, 0])
    /// `iq2xs_grid`.
    static let iq2xs: [UInt64] = expand8(IQGridCodes.iq2xs, [0x08, 0x19, 0x2b, 0])
    /// `iq2s_grid`.
    static let iq2s: [UInt64] = expand8(IQGridCodes.iq2s, [0x08, 0x19, 0x2b, 0])
    /// `iq1s_grid`: levels 0, 1, 2 → −1, 0, 1 (as int8 bytes).
    static let iq1s: [UInt64] = expand8(IQGridCodes.iq1s, [0xff, 0x00, 0x01, 0])
    /// `iq3xxs_grid`: levels 0…7 → 4, 12, 20, 28, 36, 44, 52, 62, four per point.
    static let iq3xxs: [UInt32] = expand4(IQGridCodes.iq3xxs, [4, 12, 20, 28, 36, 44, 52, 62])
    /// `iq3s_grid`: levels 0…7 → 1, 3, …, 15.
    static let iq3s: [UInt32] = expand4(IQGridCodes.iq3s, [1, 3, 5, 7, 9, 11, 13, 15])

    /// Eight two-bit levels per code, byte `k` of the point from level `k`.
    static func expand8(_ codes: [UInt16], _ values: [UInt64]) -> [UInt64] {
        codes.map { c in
            var p: UInt64 = 0
            for k in 0..<8 { p |= values[Int((c >> (2 * k)) & 3)] << (8 * k) }
            return p
        }
    }

    /// Four three-bit levels per code.
    static func expand4(_ codes: [UInt16], _ values: [UInt32]) -> [UInt32] {
        codes.map { c in
            var p: UInt32 = 0
            for k in 0..<4 { p |= values[Int((c >> (3 * k)) & 7)] << (8 * k) }
            return p
        }
    }
}

/// A quantization grid with its neighbour map, as ggml's iq2xs_init_impl / iq3xs_init_impl build
/// them: `points` holds every grid point as `dimension` odd coordinates 2l+1; `map`, indexed by a
/// tuple of levels packed `bits` per level (lowest first), holds the index of that grid point, or
/// −(offset + 1) when the tuple is off the grid, where `neighbours[offset]` is the count n and the
/// n entries after it the grid points at the `nearest` smallest squared distances from the
/// tuple, ordered by (distance, index).
///
/// The memory is allocated once and never freed (the instances are static).
final class IQLattice: @unchecked Sendable {
    let dimension: Int
    let bits: Int
    let size: Int
    let mapSize: Int
    let points: UnsafeMutablePointer<Int8>
    /// `points` as floats, and as levels (q − 1)/2 (for the fast paths).
    let floatPoints: UnsafeMutablePointer<Float>
    let pointLevels: UnsafeMutablePointer<Int32>
    let map: UnsafeMutablePointer<Int32>
    let neighbours: UnsafeMutablePointer<UInt16>
    let neighbourCount: Int

    static let iq2xxs = IQLattice(IQGridCodes.iq2xxs, dimension: 8, bits: 2, mapSize: 43692, nearest: 2)
    static let iq2xs = IQLattice(IQGridCodes.iq2xs, dimension: 8, bits: 2, mapSize: 43692, nearest: 2)
    static let iq2s = IQLattice(IQGridCodes.iq2s, dimension: 8, bits: 2, mapSize: 43692, nearest: 1)
    static let iq1s = IQLattice(IQGridCodes.iq1s, dimension: 8, bits: 2, mapSize: 43692, nearest: 3)
    static let iq3xxs = IQLattice(IQGridCodes.iq3xxs, dimension: 4, bits: 3, mapSize: 4096, nearest: 2)
    static let iq3s = IQLattice(IQGridCodes.iq3s, dimension: 4, bits: 3, mapSize: 4096, nearest: 3)

    init(_ codes: [UInt16], dimension: Int, bits: Int, mapSize: Int, nearest: Int) {
        self.dimension = dimension
        self.bits = bits
        self.size = codes.count
        self.mapSize = mapSize
        let mask = (1 << bits) - 1
        points = .allocate(capacity: size * dimension)
        for (g, c) in codes.enumerated() {
            for k in 0..<dimension { points[g * dimension + k] = Int8(2 * ((Int(c) >> (bits * k)) & mask) + 1) }
        }
        floatPoints = .allocate(capacity: size * dimension)
        pointLevels = .allocate(capacity: size * dimension)
        for i in 0..<(size * dimension) {
            floatPoints[i] = Float(points[i])
            pointLevels[i] = Int32((points[i] - 1) / 2)
        }
        map = .allocate(capacity: mapSize)
        map.initialize(repeating: -1, count: mapSize)
        for g in 0..<size {
            var index = 0
            for k in 0..<dimension { index |= ((Int(points[g * dimension + k]) - 1) / 2) << (bits * k) }
            map[index] = Int32(g)
        }

        // Off-grid tuples, in index order: the squared distance to every point, then the points of
        // the `nearest` smallest distinct distances, by distance and then by index (the order of
        // ggml's qsort on (distance, index) pairs).
        var list: [UInt16] = []
        let dist = UnsafeMutablePointer<Int32>.allocate(capacity: size)
        let histogram = UnsafeMutablePointer<Int32>.allocate(capacity: 1024)  // d2 ≤ 8·6² or 4·14²
        defer { dist.deallocate(); histogram.deallocate() }
        var pos = [Int32](repeating: 0, count: dimension)
        var levels = [Int32](repeating: 0, count: nearest)
        for i in 0..<mapSize where map[i] < 0 {
            for k in 0..<dimension { pos[k] = Int32(2 * ((i >> (bits * k)) & mask) + 1) }
            histogram.initialize(repeating: 0, count: 1024)
            for j in 0..<size {
                var d2: Int32 = 0
                for k in 0..<dimension {
                    let d = Int32(points[j * dimension + k]) - pos[k]
                    d2 += d * d
                }
                dist[j] = d2
                histogram[Int(d2)] += 1
            }
            // The `nearest` smallest distinct distances, ascending.
            var found = 0
            for d in 0..<1024 where found < nearest && histogram[d] > 0 {
                levels[found] = Int32(d)
                found += 1
            }
            map[i] = -Int32(list.count + 1)
            let start = list.count
            list.append(0)
            for level in levels[0..<found] {
                for j in 0..<size where dist[j] == level { list.append(UInt16(j)) }
            }
            list[start] = UInt16(list.count - start - 1)
        }
        neighbourCount = list.count
        let neighbours = UnsafeMutablePointer<UInt16>.allocate(capacity: Swift.max(1, list.count))
        list.withUnsafeBufferPointer { neighbours.initialize(from: $0.baseAddress!, count: $0.count) }
        self.neighbours = neighbours
    }

    /// The neighbour list (count first) of an off-grid tuple whose map entry is `entry` (< 0).
    @inline(__always)
    func neighbourList(_ entry: Int32) -> UnsafePointer<UInt16> {
        UnsafePointer(neighbours + Int(-entry - 1))
    }

    /// `bestNeighbour` with the lattice's shape as constants (the fast paths'; `fast: false` runs
    /// the plain port). Same operations in the same order, so the same choice.
    @inline(__always)
    func bestNeighbour<Shape: IQShape>(_ list: UnsafePointer<UInt16>, _ xval: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                                       _ scale: Float, _ L: UnsafeMutablePointer<Int8>, fast: Bool, _ shape: Shape.Type) -> Int {
        guard fast else { return bestNeighbour(list, xval, weight, scale, L) }
        let dim = Shape.dim
        let n = Int(list[0])
        var best = Float.greatestFiniteMagnitude
        var index = n > 0 ? Int(list[1]) : 0
        for j in 1..<(n + 1) {
            let pg = floatPoints + dim * Int(list[j])
            var d2: Float = 0
            for i in 0..<dim {
                let diff = scale * pg[i] - xval[i]
                d2 += weight[i] * diff * diff
            }
            if d2 < best {
                best = d2
                index = Int(list[j])
            }
        }
        let pl = pointLevels + dim * index
        for i in 0..<dim { L[i] = Int8(truncatingIfNeeded: pl[i]) }
        return index
    }

    /// ggml's iq1_find_best_neighbour2 (IQ1_S, IQ1_M): like `bestNeighbour`, but a level l stands
    /// for `xg[l]` (the shifted values −1±δ, ±δ, 1±δ) and `xval` is signed. When no neighbour gives
    /// a distance below FLT_MAX (NaN or overflow), ggml scans the whole grid reading past `xval`
    /// (undefined behaviour); this takes the first neighbour instead.
    @inline(__always)
    func bestShiftedNeighbour(_ list: UnsafePointer<UInt16>, _ xval: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                              _ scale: Float, _ xg: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>) -> Int {
        let n = Int(list[0])
        var best = Float.greatestFiniteMagnitude
        var index = n > 0 ? Int(list[1]) : 0
        for j in 1..<(n + 1) {
            let pg = points + 8 * Int(list[j])
            var d2: Float = 0
            for i in 0..<8 {
                let q = xg[Int((pg[i] - 1) / 2)]
                let w = weight[i]
                let diff = scale * q - xval[i]
                d2 += w * diff * diff
            }
            if d2 < best {
                best = d2
                index = Int(list[j])
            }
        }
        let pg = points + 8 * index
        for i in 0..<8 { L[i] = (pg[i] - 1) / 2 }
        return index
    }

    /// ggml's iq2/iq3_find_best_neighbour: among the neighbours in `list`, the point with the least
    /// Σ w·(scale·q − x)², the first on ties; its levels (q − 1)/2 go to `L`. Returns its index.
    /// (ggml asserts that one is found; with NaN distances this takes the first neighbour.)
    @inline(__always)
    func bestNeighbour(_ list: UnsafePointer<UInt16>, _ xval: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                       _ scale: Float, _ L: UnsafeMutablePointer<Int8>) -> Int {
        let n = Int(list[0])
        var best = Float.greatestFiniteMagnitude
        var index = n > 0 ? Int(list[1]) : 0
        for j in 1..<(n + 1) {
            let pg = points + dimension * Int(list[j])
            var d2: Float = 0
            for i in 0..<dimension {
                let q = Float(pg[i])
                let diff = scale * q - xval[i]
                d2 += weight[i] * diff * diff
            }
            if d2 < best {
                best = d2
                index = Int(list[j])
            }
        }
        let pg = points + dimension * index
        for i in 0..<dimension { L[i] = (pg[i] - 1) / 2 }
        return index
    }
}

/// The sign step of the IQ2_XXS / IQ2_XS / IQ3_XXS quantizers for one sub-block of `groups`
/// groups of eight values: `xval` gets |x|, and when a group has an odd number of negative values the one
/// with the least weight·x·x (first on ties) keeps its sign in `xval` (goes negative) so that
/// the stored seven sign bits imply the eighth. `signs[k]` gets group k's seven sign bits.
@inline(__always)
func iqEvenSigns(_ xb: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ xval: UnsafeMutablePointer<Float>,
                 _ signs: UnsafeMutablePointer<UInt8>, groups: Int = 4) {
    for k in 0..<groups {
        var nflip = 0
        var s: UInt8 = 0
        for i in 0..<8 {
            let v = xb[8 * k + i]
            if v >= 0 {
                xval[8 * k + i] = v
            } else {
                xval[8 * k + i] = -v
                nflip += 1
                s |= UInt8(1) << i
            }
        }
        if nflip % 2 != 0 {
            var imin = 0
            var min = weight[8 * k] * xb[8 * k] * xb[8 * k]
            for i in 1..<8 {
                let ax = weight[8 * k + i] * xb[8 * k + i] * xb[8 * k + i]
                if ax < min {
                    min = ax
                    imin = i
                }
            }
            xval[8 * k + imin] = -xval[8 * k + imin]
            s ^= UInt8(1) << imin
        }
        signs[k] = s & 127
    }
}

/// glibc's qsort (2.36, a top-down merge sort: halves of n/2 and n − n/2, merged taking the left
/// element unless it compares greater) on (value, index) pairs ordered by value, as the IQ1
/// quantizers call it: ties keep their order, and NaN compares equal to everything, exactly as
/// ggml's comparison does. `tv`/`ti` are scratch of `n` entries.
func glibcSortPairs(_ v: UnsafeMutablePointer<Float>, _ ix: UnsafeMutablePointer<Int32>, _ n: Int,
                    _ tv: UnsafeMutablePointer<Float>, _ ti: UnsafeMutablePointer<Int32>) {
    if n <= 1 { return }
    let n1 = n / 2, n2 = n - n1
    glibcSortPairs(v, ix, n1, tv, ti)
    glibcSortPairs(v + n1, ix + n1, n2, tv, ti)
    var a = 0, b = n1, t = 0
    var r1 = n1, r2 = n2
    while r1 > 0 && r2 > 0 {
        if !(v[a] > v[b]) {
            tv[t] = v[a]; ti[t] = ix[a]
            a += 1; r1 -= 1
        } else {
            tv[t] = v[b]; ti[t] = ix[b]
            b += 1; r2 -= 1
        }
        t += 1
    }
    while r1 > 0 {
        tv[t] = v[a]; ti[t] = ix[a]
        a += 1; r1 -= 1; t += 1
    }
    // The right half's tail is already in place.
    for i in 0..<(n - r2) {
        v[i] = tv[i]
        ix[i] = ti[i]
    }
}

// MARK: - The scale search of the IQ2/IQ3 fast paths

/// A lattice's shape as compile-time constants, so that the fast paths' loops over coordinates
/// unroll: `dim` coordinates per point, `levelBits` bits per level in a tuple code.
protocol IQShape {
    static var dim: Int { get }
    static var levelBits: Int { get }
}
/// The D4-based IQ3 grids: four coordinates, levels 0…7.
enum IQ3Shape: IQShape {
    static let dim = 4, levelBits = 3
}
/// The E8-based IQ2 grids: eight coordinates, levels 0…2.
enum IQ2Shape: IQShape {
    static let dim = 8, levelBits = 2
}

/// Scratch for `IQLattice.searchScale`: room for up to 32 trials of 32 values.
struct IQSearchScratch {
    /// Trial ids and 1/id, eight trials per vector.
    let ids, thisScales: UnsafeMutablePointer<Lanes>
    /// Levels of value i for the trials of chunk c at `levels[i·chunks + c]`.
    let levels: UnsafeMutablePointer<LaneInts>
    /// Packed level tuples of group k for chunk c at `codes[k·chunks + c]`.
    let codes: UnsafeMutablePointer<LaneInts>
    let sumqx, sumq2: UnsafeMutablePointer<Lanes>
    /// Whether group k of trial t landed on the grid, at `onGrid[t·groups + k]`.
    let onGrid: UnsafeMutablePointer<UInt8>

    static let chunks = 4, values = 32

    /// Runs `body` with scratch on the stack (no heap allocation).
    static func with<R>(_ body: (IQSearchScratch) -> R) -> R {
        let vectors = 2 * chunks + values * chunks + 8 * chunks + 2 * chunks
        return withUnsafeTemporaryAllocation(of: Lanes.self, capacity: vectors) { v in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 8 * chunks * 8) { b in
                let p = v.baseAddress!
                let ints = UnsafeMutableRawPointer(p + 2 * chunks).bindMemory(to: LaneInts.self, capacity: values * chunks + 8 * chunks)
                return body(IQSearchScratch(ids: p, thisScales: p + chunks, levels: ints, codes: ints + values * chunks,
                                            sumqx: p + 2 * chunks + values * chunks + 8 * chunks,
                                            sumq2: p + 3 * chunks + values * chunks + 8 * chunks,
                                            onGrid: b.baseAddress!))
            }
        }
    }
}

extension IQLattice {
    /// The trial loop shared by quantize_row_iq2_xxs/iq2_xs/iq2_s/iq3_xxs/iq3_s_impl, with the
    /// trials in SIMD lanes (`Shape` gives the lattice's dimension and level bits as constants). Trial t (0 ≤ t < `trials`) uses id = (2·kMaxQ − 1 + (first + t)·step) /
    /// `denominator`: levels clamp(nearest_int(0.5·(id·x − 1))), off-grid groups replaced by their
    /// best neighbour at scale 1/id, then Σw·x·q and Σw·q² (q = 2l + 1) in index order. Trials are
    /// then compared in order exactly as C does; for the last improving one, `L` and `onGrid` get
    /// its levels and on-grid flags and `scale` its scale. Returns false when none improved (`L`,
    /// `onGrid` and `scale` untouched).
    @inline(__always)
    func searchScale<Shape: IQShape>(_ shape: Shape.Type, count n: Int, kMaxQ: Int32, trials: Int, first: Int, step: Float, denominator: Float,
                     _ xval: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ waux: UnsafePointer<Float>,
                     _ L: UnsafeMutablePointer<Int8>, _ onGrid: UnsafeMutablePointer<UInt8>?, _ scale: inout Float,
                     _ s: IQSearchScratch) -> Bool {
        let dim = Shape.dim, levelBits = Shape.levelBits
        let chunks = (trials + 7) / 8
        let groups = n / dim
        let top = Float(2 * kMaxQ - 1)
        let tsp = UnsafeMutableRawPointer(s.thisScales).assumingMemoryBound(to: Float.self)
        for c in 0..<chunks {
            var idv = Lanes()
            for j in 0..<8 {
                let t = Swift.min(8 * c + j, trials - 1)
                let id = (top + Float(first + t) * step) / denominator
                idv[j] = id
                tsp[8 * c + j] = 1 / id
            }
            s.ids[c] = idv
        }
        let half = Lanes(repeating: 0.5), one = Lanes(repeating: 1)
        for i in 0..<n {
            let x = Lanes(repeating: xval[i])
            for c in 0..<chunks {
                s.levels[i * chunks + c] = laneClamp(nearestInt(half * (s.ids[c] * x - one)), 0, kMaxQ - 1)
            }
        }
        let lv = UnsafeMutableRawPointer(s.levels).assumingMemoryBound(to: Int32.self)
        let cd = UnsafeMutableRawPointer(s.codes).assumingMemoryBound(to: Int32.self)
        for k in 0..<groups {
            for c in 0..<chunks {
                var u = LaneInts()
                for i in 0..<dim {
                    u = u &+ s.levels[(dim * k + i) * chunks + c] &* LaneInts(repeating: Int32(1) << Int32(levelBits * i))
                }
                s.codes[k * chunks + c] = u
            }
        }
        // Off-grid groups: C searches the neighbours of each trial's tuple at that trial's scale.
        // Trials of one chunk that share a tuple share its neighbour list, so those lanes search
        // together, neighbour by neighbour, each lane keeping C's first strictly smaller distance.
        let fp = floatPoints
        for k in 0..<groups {
            let xk = xval + dim * k, wk = waux + dim * k
            for c in 0..<chunks {
                let codes = cd + (k * chunks + c) * 8
                let lanes = Swift.min(8, trials - 8 * c)
                var pending: UInt32 = 0
                for j in 0..<lanes {
                    let off = map[Int(codes[j])] < 0
                    s.onGrid[(8 * c + j) * groups + k] = off ? 0 : 1
                    if off { pending |= UInt32(1) << UInt32(j) }
                }
                let scales = s.thisScales[c]
                while pending != 0 {
                    let u = codes[pending.trailingZeroBitCount]
                    var same: UInt32 = 0
                    for j in 0..<lanes where codes[j] == u { same |= UInt32(1) << UInt32(j) }
                    same &= pending
                    pending &= ~same
                    let list = neighbourList(map[Int(u)])
                    var best = Lanes(repeating: .greatestFiniteMagnitude)
                    var bestAt = LaneInts(repeating: 1)
                    for jj in 1..<(Int(list[0]) + 1) {
                        let p = fp + dim * Int(list[jj])
                        var d2 = Lanes()
                        for d in 0..<dim {
                            let diff = scales * Lanes(repeating: p[d]) - Lanes(repeating: xk[d])
                            d2 += Lanes(repeating: wk[d]) * diff * diff
                        }
                        let better = d2 .< best
                        best = laneSelect(better, d2, best)
                        bestAt = laneSelect(better, LaneInts(repeating: Int32(jj)), bestAt)
                    }
                    while same != 0 {
                        let j = same.trailingZeroBitCount
                        same &= same &- 1
                        let pl = pointLevels + dim * Int(list[Int(bestAt[j])])
                        for i in 0..<dim { lv[((dim * k + i) * chunks + c) * 8 + j] = pl[i] }
                    }
                }
            }
        }
        for c in 0..<chunks {
            s.sumqx[c] = Lanes()
            s.sumq2[c] = Lanes()
        }
        for i in 0..<n {
            let w = weight[i]
            let wx = Lanes(repeating: w * xval[i]), wv = Lanes(repeating: w)
            for c in 0..<chunks {
                let q = laneFloats(s.levels[i * chunks + c] &* LaneInts(repeating: 2) &+ LaneInts(repeating: 1))
                s.sumqx[c] += wx * q
                s.sumq2[c] += wv * q * q
            }
        }
        let sx = UnsafeMutableRawPointer(s.sumqx).assumingMemoryBound(to: Float.self)
        let s2 = UnsafeMutableRawPointer(s.sumq2).assumingMemoryBound(to: Float.self)
        var best: Float = 0
        var bestT = -1
        for t in 0..<trials {
            let sumqx = sx[t], sumq2 = s2[t]
            if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                scale = sumqx / sumq2
                best = scale * sumqx
                bestT = t
            }
        }
        guard bestT >= 0 else { return false }
        let c = bestT / 8, j = bestT % 8
        for i in 0..<n { L[i] = Int8(truncatingIfNeeded: lv[(i * chunks + c) * 8 + j]) }
        if let onGrid {
            for k in 0..<groups { onGrid[k] = s.onGrid[bestT * groups + k] }
        }
        return true
    }
}
