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
        neighbours = .allocate(capacity: Swift.max(1, list.count))
        list.withUnsafeBufferPointer { neighbours.initialize(from: $0.baseAddress!, count: $0.count) }
    }

    /// The neighbour list (count first) of an off-grid tuple whose map entry is `entry` (< 0).
    @inline(__always)
    func neighbourList(_ entry: Int32) -> UnsafePointer<UInt16> {
        UnsafePointer(neighbours + Int(-entry - 1))
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
