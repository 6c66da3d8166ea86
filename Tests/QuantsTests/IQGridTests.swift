import Foundation
import GGUF
import Testing
@testable import Quants

/// The IQ grids and neighbour maps against llama.cpp b10572: SHA-256 of ggml-common.h's tables
/// (`ksigns_iq2xs`, `iq2xxs_grid`, ...) and of the quantization grids, maps and neighbour lists
/// that iq2xs_init_impl / iq3xs_init_impl build (`iq2_data` / `iq3_data`: grid as int8 points,
/// map as int32, neighbour lists as uint16, all little-endian), printed by a C program compiled
/// against the oracle's ggml-quants.c.
@Suite("IQ grids and neighbour maps")
struct IQGridTests {
    static func sha(_ bytes: UnsafeRawBufferPointer) -> String { SHA256.hex(bytes) }
    static func sha<T>(_ a: [T]) -> String { a.withUnsafeBytes { sha($0) } }

    @Test("dequantization grids and the sign table equal ggml-common.h's")
    func tables() {
        #expect(Self.sha(IQGrids.ksigns) == "a76742a603f8beca5212ecce0f1f02f11a4887fd2f7c8b15aca0ea3eb3380c31")
        #expect(Self.sha(IQGrids.iq2xxs) == "05826b5d3e472a3a78f196be62ac78acf81df0f909626e12ab9fa2a5d490dd54")
        #expect(Self.sha(IQGrids.iq2xs) == "06e47aaca60b4dc1d9b5a3f34540437058a6b142b4d7a59d5ded769b4d1bf1de")
        #expect(Self.sha(IQGrids.iq2s) == "e1aa1473412b0552c2174c30ef22ab4073f6a181b85a17056e8249bd2932fd88")
        #expect(Self.sha(IQGrids.iq3xxs) == "46e35f5a997efdee6c99ce57854c8a0d4f0ff8ca57e5e8a60c0793ea580acf5d")
        #expect(Self.sha(IQGrids.iq3s) == "bd1af4945a1717c65610b0284e4628b9a1ba3b306fae3a06f6e5f597356e349f")
        #expect(Self.sha(IQGrids.iq1s) == "07540ffc1aeaf6ad4d97e96b0fcc765aae39671d4ae4a27bbd0e796fde167c6a")
    }

    /// (lattice, grid, map, neighbours, neighbour entries) digests from the oracle.
    static let lattices: [(String, String, String, String, Int)] = [
        ("iq3xxs", "52f7c882768382b9a413358f005d57aaf5a70c1d49b152b847fc5dcdd3c10869",
         "2384bfe6ea71e4257727bfd5ec66d358995a2f0600bd8b6ef16a83559390e751",
         "4b54395c1c3e9766e6cbb7f2f84a3ebb43d9ca391bd344e517577c3c3c3fa01a", 45650 / 2),
        ("iq3s", "bd1af4945a1717c65610b0284e4628b9a1ba3b306fae3a06f6e5f597356e349f",
         "53eb24b689961eea61a0a46257a182ac58fe414a9d52163e67ee4a9fc5322659",
         "662208b0d2ce2fa3346c5fb672db4be13bc06f87c78775acfc435550935b5d89", 56634 / 2),
        ("iq2xxs", "66eeec56ebb1a92f016b0f2db4e541fd89f6d0e98420e0320f141ef9d8352c44",
         "709b1f45e8457bc27656b3bc37ea881ffc567fe71540df5aae912097b77e2fd1",
         "fb8727a3ecbf6124f63c263d0c1b05925d580426a1d732df1d91514b84a21724", 834800 / 2),
        ("iq2xs", "9ecaef3c92b0303966e67ad654b072680ee1fbd5a10e671ffe4f2d402c72a7fd",
         "d6b796100158d2c7de48d0a2d5c38efc400471f822f874f631ab71dd47454326",
         "b94f3f7601b0130674b6e0b7fdccc240b7234d31db4d60601dfc0ff6872a129e", 1103444 / 2),
        ("iq2s", "55cf5d20e27350dd4273d9635292a4b05997fe3cc594002cc6c59844b24c6d1a",
         "bdd7645b9d68dcd282605e039b72ed729c4252e518c5d6ffb12282135a8c37c8",
         "7e06788dce7035c2d4fdc983be81429c26fc3106db8d76a2771b285f9c2eb8ed", 418200 / 2),
        ("iq1s", "0f0eceb34d699cdb07efa55b2e8e4d5a56a4d30f645263db5e94999f1bdda165",
         "732ed77320813d3250cbecd7235db1a2d0a661ee4b54fa2a0b5d1cd4e08c5ef0",
         "9a5d4a8807610d7ecdb328c531a60a6e10a202801f9290a6ed17daf3b9a4b054", 2750678 / 2),
    ]

    static func lattice(_ name: String) -> IQLattice {
        switch name {
        case "iq3xxs": return .iq3xxs
        case "iq3s": return .iq3s
        case "iq2xxs": return .iq2xxs
        case "iq2xs": return .iq2xs
        case "iq2s": return .iq2s
        default: return .iq1s
        }
    }

    @Test("quantization grids, maps and neighbour lists equal iq2xs_init_impl's / iq3xs_init_impl's",
          arguments: lattices.map(\.0))
    func neighbourMaps(_ name: String) throws {
        let (_, grid, map, neighbours, entries) = try #require(Self.lattices.first { $0.0 == name })
        let g = Self.lattice(name)
        #expect(Self.sha(UnsafeRawBufferPointer(start: g.points, count: g.size * g.dimension)) == grid)
        #expect(Self.sha(UnsafeRawBufferPointer(start: g.map, count: 4 * g.mapSize)) == map)
        #expect(g.neighbourCount == entries)
        #expect(Self.sha(UnsafeRawBufferPointer(start: g.neighbours, count: 2 * g.neighbourCount)) == neighbours)
    }

}
