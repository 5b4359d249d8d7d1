import Foundation
import FusionCore
import FusionIO
import FusionTestSupport
import XCTest

/// Mutation fuzzing of the zip checkpoint reader: damaged copies of real and hand-built
/// checkpoints must each read cleanly or fail with an error naming the file; never crash,
/// hang, or allocate without bound.
final class CheckpointFuzzTests: XCTestCase {
    func testTenThousandDamagedZipCheckpoints() throws {
        var seeds: [Data] = []
        if let path = try? TestData.path("weights/textfusion_llvip.model") {
            seeds.append(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        // A small hand-built checkpoint with nesting, shared storage and several dtypes.
        var p = PickleBuilder()
        p.emptyDict(); p.mark()
        p.string("model"); p.orderedDict(); p.mark()
        p.string("a"); p.tensor(storage: "0", type: "FloatStorage", numel: 6, offset: 0, shape: [2, 3], strides: [3, 1], parameter: true)
        p.string("b"); p.tensor(storage: "0", type: "FloatStorage", numel: 6, offset: 1, shape: [2, 2], strides: [1, 3])
        p.string("c"); p.tensor(storage: "1", type: "HalfStorage", numel: 4, offset: 0, shape: [4], strides: [1])
        p.setItems(); p.setItems(); p.stop()
        seeds.append(ZipBuilder.checkpoint(pickle: p.bytes, storages: [
            ("0", leBytes([Float](arrayLiteral: 1, 2, 3, 4, 5, 6))), ("1", leBytes([UInt16](arrayLiteral: 0x3C00, 0x4000, 0x4200, 0x4400))),
        ]))

        let mutations = 10_000
        var rng = SplitMix64(seed: 0xC0FFEE)
        var (succeeded, failed) = (0, 0)
        let start = Date()
        for i in 0..<mutations {
            let seed = seeds[i % seeds.count]
            let damaged = Mutator.mutate(seed, rng: &rng, hotRegions: Mutator.zipHotRegions(seed))
            let name = "fuzz-\(i).pth"
            let file = MappedFile(data: damaged, path: name)
            do {
                let loaded = try CheckpointReader.read(file: file)
                for t in loaded.archive.tensors { _ = try t.floatValues() }
                succeeded += 1
            } catch let error as FileFormatError {
                XCTAssertTrue(error.description.contains(name), "mutation \(i): error without the file name: \(error)")
                failed += 1
            } catch {
                XCTFail("mutation \(i): unexpected error type \(error)")
            }
        }
        let seconds = Date().timeIntervalSince(start)
        print("zip checkpoint fuzz: \(mutations) damaged inputs, \(succeeded) read, \(failed) rejected, \(String(format: "%.2f", seconds)) s")
        XCTAssertEqual(succeeded + failed, mutations)
        XCTAssertGreaterThan(failed, mutations / 2, "most mutations should be caught")
    }
}

/// Deterministic damage to a file: truncation, bit flips, byte overwrites, huge numbers,
/// inserted and deleted bytes, wrong magic.
enum Mutator {
    /// Where damage matters most in a zip checkpoint: the pickle and the central directory.
    static func zipHotRegions(_ data: Data) -> [Range<Int>] {
        var regions: [Range<Int>] = [0..<min(data.count, 256)]
        if data.count > 22 { regions.append(max(0, data.count - 4096)..<data.count) }
        if let pkl = data.range(of: Data("data.pkl".utf8)) {
            regions.append(pkl.upperBound..<min(data.count, pkl.upperBound + 12_000))
        }
        return regions
    }

    static func mutate(_ seed: Data, rng: inout SplitMix64, hotRegions: [Range<Int>]) -> Data {
        var d = [UInt8](seed)
        func position() -> Int {
            guard !d.isEmpty else { return 0 }
            if rng.next() % 4 != 0, !hotRegions.isEmpty {
                let r = hotRegions[Int(rng.next() % UInt64(hotRegions.count))].clamped(to: 0..<d.count)
                if !r.isEmpty { return r.lowerBound + Int(rng.next() % UInt64(r.count)) }
            }
            return Int(rng.next() % UInt64(d.count))
        }
        let rounds = 1 + Int(rng.next() % 3)
        for _ in 0..<rounds {
            switch rng.next() % 8 {
            case 0:  // truncate
                d = Array(d.prefix(Int(rng.next() % UInt64(d.count + 1))))
            case 1:  // flip a bit
                if !d.isEmpty { let p = position(); d[p] ^= UInt8(1) << UInt8(rng.next() % 8) }
            case 2:  // random bytes
                for _ in 0..<(1 + Int(rng.next() % 8)) where !d.isEmpty { d[position()] = UInt8(truncatingIfNeeded: rng.next()) }
            case 3:  // a huge or boundary 32-bit value
                let values: [UInt32] = [0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0, 1, 0xFFFF, 0x1000_0000]
                let v = values[Int(rng.next() % UInt64(values.count))]
                let p = position()
                for k in 0..<4 where p + k < d.count { d[p + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
            case 4:  // insert bytes
                let p = position()
                d.insert(contentsOf: (0..<(1 + Int(rng.next() % 16))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: min(p, d.count))
            case 5:  // delete bytes
                if !d.isEmpty { let p = position(); d.removeSubrange(p..<min(d.count, p + 1 + Int(rng.next() % 16))) }
            case 6:  // wrong magic
                if !d.isEmpty { d[Int(rng.next() % UInt64(min(d.count, 8)))] ^= 0xFF }
            default:  // duplicate a chunk over another place
                if d.count > 8 {
                    let a = position(), b = position(), n = min(1 + Int(rng.next() % 64), d.count - max(a, b))
                    if n > 0 { d.replaceSubrange(b..<b + n, with: d[a..<a + n]) }
                }
            }
        }
        return Data(d)
    }
}
