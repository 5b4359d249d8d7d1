import Foundation
import FusionCore
import FusionCPU
import FusionVulkan
import XCTest

/// The executables of one Vulkan backend share its intermediate memory: it grows to the
/// largest need (not the sum), and executables recorded against smaller blocks re-record
/// before they run again, with the same results as the CPU.
final class VulkanArenaTests: XCTestCase {
    /// Convs, ReLUs, adds and a channel attention (per-op scratch) at one size: 8 channels,
    /// so the intermediates of a size are a few MiB.
    static func graph(height: Int, width: Int) throws -> Graph {
        let g = Graph()
        let x = g.input("x", shape: [1, 2, height, width])
        var h = try g.conv2d(x, weight: g.constant(Tensor.random(shape: [8, 2, 3, 3], seed: 1, in: -0.3...0.3)), bias: nil, .init(padding: 1))
        for i in 0..<3 {
            let w = Tensor.random(shape: [8, 8, 3, 3], seed: UInt64(2 + i), in: -0.1...0.1)
            h = try g.add(h, g.relu(g.conv2d(h, weight: g.constant(w), bias: nil, .init(padding: 1))))
        }
        let q = try g.mul(h, g.constant(Tensor.random(shape: [1, 8, 1, 1], seed: 9, in: 0.5...1)))
        h = try g.channelAttention(q: q, k: h, v: h, temperature: g.constant(Tensor(shape: [2], floats: [0.7, 1.3])), heads: 2)
        g.output("y", h)
        return g
    }

    static func input(height: Int, width: Int, seed: UInt64) -> Tensor {
        Tensor.random(shape: [1, 2, height, width], seed: seed, in: 0...1)
    }

    /// Prepared small first, then larger sizes that grow the arena after the small ones
    /// recorded, run interleaved twice: every run equals its graph on a backend of its own
    /// byte for byte and the CPU within 1e-6 (scaled by the largest |value| when above
    /// 1), the arena holds the largest need with its slack, not the sum, and no replaced
    /// block outlives the recordings that bound it (live buffers are the arena's and the
    /// executables' own).
    func testSizesShareTheArenaAndReRecordAfterItGrows() throws {
        let shared = try VulkanTestSupport.backend()
        let gpu = VulkanBackend(context: shared.context) // an arena of its own, empty
        let liveBefore = shared.context.stats.bytesAllocated
        let sizes = [(40, 56), (96, 128), (72, 100), (128, 160)] // the 2nd and 4th grow it
        var executables: [(Int, Int, VulkanExecutable, Graph)] = []
        var expected: [[Int]: (vulkan: [Float], cpu: Tensor)] = [:]
        let cpu = CPUBackend()
        for (h, w) in sizes {
            let g = try Self.graph(height: h, width: w)
            let reference = try VulkanBackend(context: shared.context).prepare(g).run(["x": Self.input(height: h, width: w, seed: UInt64(h))])["y"]!
            expected[[h, w]] = (reference.toFloatArray(), try cpu.run(g, inputs: ["x": Self.input(height: h, width: w, seed: UInt64(h))])["y"]!)
            let e = try XCTUnwrap(try gpu.prepare(g) as? VulkanExecutable)
            executables.append((h, w, e, g))
            // Every size prepared so far, smallest first: the earlier ones recorded against
            // blocks this preparation may have replaced.
            for (eh, ew, earlier, _) in executables {
                let out = try earlier.run(["x": Self.input(height: eh, width: ew, seed: UInt64(eh))])["y"]!
                let want = try XCTUnwrap(expected[[eh, ew]])
                XCTAssertEqual(out.toFloatArray(), want.vulkan, "\(ew)x\(eh) after preparing \(w)x\(h): differs from its own backend's run")
                let err = VulkanTestSupport.maxAbsDifference(out, want.cpu)
                XCTAssertLessThanOrEqual(err, 1e-6 * max(1, VulkanTestSupport.maxAbs(want.cpu)), "\(ew)x\(eh) after preparing \(w)x\(h): vs the CPU")
            }
        }
        let needs = executables.map { $0.2.peakIntermediateBytes }
        let largest = try XCTUnwrap(needs.max()), sum = needs.reduce(0, +)
        print("arena: \(gpu.arenaBytes) bytes; needs \(needs), sum \(sum)")
        XCTAssertGreaterThanOrEqual(gpu.arenaBytes, largest)
        XCTAssertLessThanOrEqual(gpu.arenaBytes, largest + largest / 4 + (1 << 20), "more than the largest need and its slack")
        XCTAssertLessThan(gpu.arenaBytes, sum - (1 << 20), "the test must tell shared memory from the sum")
        for (_, _, e, _) in executables {
            XCTAssertEqual(e.deviceBytes, e.ownDeviceBytes + e.peakIntermediateBytes)
        }
        // Buffer sizes round up to the driver's alignment: allow a little per buffer.
        let live = shared.context.stats.bytesAllocated - liveBefore
        let held = gpu.arenaBytes + executables.reduce(0) { $0 + $1.2.ownDeviceBytes }
        XCTAssertGreaterThanOrEqual(live, held)
        XCTAssertLessThanOrEqual(live, held + (64 << 10), "buffers beyond the arena and the executables' own: replaced blocks kept alive?")
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    /// A size that fits the arena allocates nothing: preparing it leaves the arena as it was.
    func testASizeThatFitsAllocatesNoIntermediates() throws {
        let gpu = VulkanBackend(context: try VulkanTestSupport.backend().context)
        let large = try gpu.prepare(Self.graph(height: 96, width: 128))
        let held = gpu.arenaBytes
        XCTAssertGreaterThanOrEqual(held, large.peakIntermediateBytes)
        let small = try gpu.prepare(Self.graph(height: 40, width: 56))
        XCTAssertEqual(gpu.arenaBytes, held)
        _ = try small.run(["x": Self.input(height: 40, width: 56, seed: 3)])
        _ = try large.run(["x": Self.input(height: 96, width: 128, seed: 4)])
        XCTAssertEqual(gpu.arenaBytes, held)
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }
}
