import Foundation
import FusionCore
import XCTest
@testable import FusionVulkan

/// Tests of the low-level Vulkan runtime (contexts, shaders, memory, command sequences).
///
/// Skipped only when no Vulkan device exists. With `FUSIONKIT_REQUIRE_VALIDATION=1` every
/// context runs under `VK_LAYER_KHRONOS_validation` (with synchronization validation) and
/// each test asserts that the layer reported nothing, including during teardown.
final class RuntimeTests: XCTestCase {
    private var temporaryDirectories: [URL] = []

    private var requireValidation: Bool {
        FusionOptions.current.requireValidation
    }

    override func tearDown() {
        for url in temporaryDirectories { try? FileManager.default.removeItem(at: url) }
        temporaryDirectories = []
        super.tearDown()
    }

    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("fusionkit-runtime-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        temporaryDirectories.append(url)
        return url
    }

    private func makeContext(deviceIndex: Int? = nil, cacheDirectory: URL? = nil) throws -> VulkanContext {
        do {
            return try VulkanContext(deviceIndex: deviceIndex, validation: requireValidation,
                                     cacheDirectory: try cacheDirectory ?? temporaryDirectory())
        } catch VulkanError.noDevice(let reason) {
            throw XCTSkip("no Vulkan device: \(reason)")
        }
    }

    /// Runs `body` with a fresh context, then checks the validation log after the context
    /// (and everything made from it) has been destroyed, so teardown is covered too.
    private func withContext(cacheDirectory: URL? = nil, file: StaticString = #filePath, line: UInt = #line,
                             _ body: (VulkanContext) throws -> Void) throws {
        let log: ValidationLog
        do {
            let context = try makeContext(cacheDirectory: cacheDirectory)
            log = context.instance.log
            XCTAssertEqual(context.validationEnabled, requireValidation, file: file, line: line)
            try body(context)
            XCTAssertTrue(context.validationMessages.isEmpty, context.validationMessages.joined(separator: "\n"),
                          file: file, line: line)
        }
        XCTAssertTrue(log.messages.isEmpty, "validation messages (incl. teardown):\n" + log.messages.joined(separator: "\n"),
                      file: file, line: line)
    }

    private func fillPipeline(_ context: VulkanContext, defines: [(String, String)] = []) throws -> ComputePipeline {
        try context.pipeline(shader: "runtime_fill.comp", defines: defines, specialization: [64],
                             bindings: 2, pushConstantBytes: 16)
    }

    /// Push constants of runtime_fill.comp: count, mode, value, stride.
    private func fillConstants(count: Int, mode: UInt32, value: UInt32, stride: UInt32 = 0) -> PushConstants {
        [UInt32(count), mode, value, stride]
    }

    private func groups(_ count: Int) -> (UInt32, UInt32, UInt32) { (UInt32((count + 63) / 64), 1, 1) }

    // MARK: - Devices

    func testEnumerateDevicesAndLimits() throws {
        let devices: [VulkanDeviceInfo]
        do {
            devices = try VulkanContext.enumerateDevices(validation: requireValidation)
        } catch VulkanError.noDevice(let reason) {
            throw XCTSkip("no Vulkan device: \(reason)")
        }
        guard !devices.isEmpty else { throw XCTSkip("no Vulkan device: none enumerated") }
        for (i, device) in devices.enumerated() {
            XCTAssertEqual(device.index, i)
            XCTAssertFalse(device.name.isEmpty)
            XCTAssertTrue(["discrete GPU", "integrated GPU", "virtual GPU", "CPU", "other"].contains(device.type))
            XCTAssertEqual(device.apiVersion.split(separator: ".").count, 3)
            XCTAssertEqual(device.pipelineCacheUUID.count, 32)
            XCTAssertGreaterThan(device.maxStorageBufferRange, 0)
            XCTAssertGreaterThanOrEqual(device.maxMemoryAllocationSize, 1 << 30)
            XCTAssertEqual(device.maxComputeWorkGroupCount.count, 3)
            XCTAssertEqual(device.maxComputeWorkGroupSize.count, 3)
            XCTAssertTrue(device.maxComputeWorkGroupCount.allSatisfy { $0 >= 65535 })
            XCTAssertGreaterThanOrEqual(device.maxComputeWorkGroupInvocations, 128)
            XCTAssertGreaterThanOrEqual(device.maxPushConstantsSize, 128)
            XCTAssertGreaterThan(device.minStorageBufferOffsetAlignment, 0)
            XCTAssertGreaterThanOrEqual(device.maxBoundDescriptorSets, 4)
            XCTAssertGreaterThanOrEqual(device.maxPerStageDescriptorStorageBuffers, 4)
            XCTAssertFalse(device.memoryHeaps.isEmpty)
            XCTAssertTrue(device.subgroupSupportedOperations.contains("basic") || device.subgroupSize <= 1)
            let summary = device.summaryLines.joined(separator: "\n")
            XCTAssertTrue(summary.contains(device.name))
            XCTAssertTrue(summary.contains("maxStorageBufferRange"))
        }
        try withContext { context in
            XCTAssertEqual(context.info.name, devices[context.info.index].name)
            XCTAssertEqual(context.info.pipelineCacheUUID, devices[context.info.index].pipelineCacheUUID)
        }
    }

    func testDeviceIndexOutOfRange() throws {
        let count: Int
        do {
            count = try VulkanContext.enumerateDevices().count
        } catch VulkanError.noDevice(let reason) {
            throw XCTSkip("no Vulkan device: \(reason)")
        }
        guard count > 0 else { throw XCTSkip("no Vulkan device: none enumerated") }
        XCTAssertThrowsError(try VulkanContext(deviceIndex: count + 3, validation: requireValidation,
                                               cacheDirectory: try temporaryDirectory())) { error in
            XCTAssertEqual(error as? VulkanError, .deviceIndexOutOfRange(count + 3, count))
        }
        XCTAssertThrowsError(try VulkanContext(deviceIndex: -1, validation: requireValidation,
                                               cacheDirectory: try temporaryDirectory())) { error in
            XCTAssertEqual(error as? VulkanError, .deviceIndexOutOfRange(-1, count))
        }
    }

    // MARK: - Shaders

    func testFillDispatchReadBack() throws {
        try withContext { context in
            let count = 1000
            let pipeline = try fillPipeline(context)
            XCTAssertTrue(try fillPipeline(context) === pipeline, "pipelines are memoised")
            let scaled = try fillPipeline(context, defines: [("FILL_SCALE", "2u")])
            XCTAssertFalse(scaled === pipeline)

            let a = try context.makeBuffer(bytes: count * 4, kind: .deviceLocal)
            let b = try context.makeBuffer(bytes: count * 4, kind: .deviceLocal)
            let readback = try context.makeBuffer(bytes: 64, kind: .staging)
            let sequence = try CommandSequence(context: context, capacity: 4)
            try sequence.dispatch(pipeline, bindings: [.write(a), .read(b)],
                                  constants: fillConstants(count: count, mode: 0, value: 7, stride: 3),
                                  groups: groups(count), label: "fill a")
            // b = (a + 5) * 2 reads a: one barrier.
            try sequence.dispatch(scaled, bindings: [.write(b), .read(a)],
                                  constants: fillConstants(count: count, mode: 1, value: 5),
                                  groups: groups(count), label: "b = (a + 5) * 2")
            // Transfer commands: overwrite a[0..<4] (WAR on a) and copy b[0..<16] to staging.
            sequence.fill(BufferBinding(buffer: a, offset: 0, size: 16, access: .write), value: 0xDEAD)
            try sequence.copy(from: .read(b), to: .write(readback), bytes: 64)
            XCTAssertEqual(sequence.dispatchCount, 2)
            XCTAssertEqual(sequence.barrierCount, 2)
            let report = try sequence.submit()

            let aValues = try a.read(UInt32.self, count: count)
            let bValues = try b.read(UInt32.self, count: count)
            for i in 0..<count {
                XCTAssertEqual(aValues[i], i < 4 ? 0xDEAD : UInt32(7 + 3 * i), "a[\(i)]")
                XCTAssertEqual(bValues[i], UInt32((7 + 3 * i + 5) * 2), "b[\(i)]")
            }
            XCTAssertEqual(try readback.read(UInt32.self, count: 16), Array(bValues.prefix(16)))
            if context.enabledFeatures.timestamps {
                XCTAssertEqual(report.timings.map { $0.label }, ["fill a", "b = (a + 5) * 2"])
                XCTAssertTrue(report.timestampsAvailable)
            }
            XCTAssertGreaterThan(report.wallNanoseconds, 0)
        }
    }

    func testShaderCompileErrorNamesShader() throws {
        let directory = try temporaryDirectory()
        try "#version 450\nlayout(local_size_x = 1) in;\nvoid main() { undefined_symbol = 1; }\n"
            .write(to: directory.appendingPathComponent("broken.comp"), atomically: true, encoding: .utf8)
        let library = ShaderLibrary(directory: directory)
        let compiler = try ShaderCompiler(library: library, target: .vulkan1_1, cacheDirectory: nil)
        XCTAssertThrowsError(try compiler.compile(shader: "broken.comp")) { error in
            guard case let .shaderCompilation(shader, log)? = error as? VulkanError else {
                return XCTFail("expected shaderCompilation, got \(error)")
            }
            XCTAssertEqual(shader, "broken.comp")
            XCTAssertTrue(log.contains("undefined_symbol"), log)
            XCTAssertTrue("\(error)".contains("broken.comp"))
        }
        XCTAssertThrowsError(try compiler.compile(shader: "missing.comp")) { error in
            XCTAssertEqual(error as? VulkanError, .shaderNotFound("missing.comp"))
        }
        // Files in the development directory shadow embedded ones; others fall back.
        XCTAssertNoThrow(try library.source(named: "runtime_fill.comp"))

        try withContext { context in
            XCTAssertThrowsError(try context.pipeline(name: "inline_broken.comp", source: "#version 450\nvoid main() { x }\n",
                                                      bindings: 0, pushConstantBytes: 0)) { error in
                guard case let .shaderCompilation(shader, _)? = error as? VulkanError else {
                    return XCTFail("expected shaderCompilation, got \(error)")
                }
                XCTAssertEqual(shader, "inline_broken.comp")
            }
            XCTAssertThrowsError(try context.pipeline(shader: "no_such_shader.comp", bindings: 1, pushConstantBytes: 0)) { error in
                XCTAssertEqual(error as? VulkanError, .shaderNotFound("no_such_shader.comp"))
            }
        }
    }

    func testIncludeExpansion() throws {
        let library = ShaderLibrary(directory: try temporaryDirectory(), overrides: [
            "main.comp": "#version 450\n#include \"a.glsl\"\n  #  include \"b.glsl\"\nvoid main() {}\n",
            "a.glsl": "#include \"b.glsl\"\nint fromA;\n",
            "b.glsl": "#include \"a.glsl\"\nint fromB;\n",
        ])
        let source = try library.source(named: "main.comp")
        XCTAssertEqual(source.components(separatedBy: "int fromA;").count, 2)
        XCTAssertEqual(source.components(separatedBy: "int fromB;").count, 2)
        XCTAssertLessThan(source.range(of: "int fromB;")?.lowerBound ?? source.endIndex,
                          source.range(of: "int fromA;")?.lowerBound ?? source.startIndex)
        XCTAssertThrowsError(try ShaderLibrary(overrides: ["x.comp": "#include \"nope.glsl\"\n"]).source(named: "x.comp")) { error in
            XCTAssertEqual(error as? VulkanError, .shaderNotFound("nope.glsl"))
        }
        XCTAssertNotNil(EmbeddedShaders.sources["common.glsl"])
        XCTAssertNotNil(EmbeddedShaders.sources["runtime_fill.comp"])
        XCTAssertTrue(try ShaderLibrary().source(named: "runtime_fill.comp").contains("FUSIONKIT_COMMON_GLSL"))
    }

    func testSecondContextUsesSPIRVAndPipelineCaches() throws {
        let cache = try temporaryDirectory()
        try withContext(cacheDirectory: cache) { context in
            _ = try fillPipeline(context)
            _ = try fillPipeline(context, defines: [("FILL_SCALE", "3u")])
            XCTAssertEqual(context.stats.shadersCompiled, 2)
            XCTAssertEqual(context.stats.spirvCacheHits, 0)
            XCTAssertEqual(context.stats.pipelinesCreated, 2)
        }
        let spirv = try FileManager.default.contentsOfDirectory(atPath: cache.appendingPathComponent("spirv").path)
        XCTAssertEqual(spirv.filter { $0.hasSuffix(".spv") }.count, 2, "\(spirv)")
        let pipelineFiles = try FileManager.default.contentsOfDirectory(atPath: cache.appendingPathComponent("pipelines").path)
        XCTAssertEqual(pipelineFiles.count, 1, "\(pipelineFiles)")

        try withContext(cacheDirectory: cache) { context in
            XCTAssertGreaterThan(context.stats.pipelineCacheBytesLoaded, 0)
            let pipeline = try fillPipeline(context)
            _ = try fillPipeline(context, defines: [("FILL_SCALE", "3u")])
            XCTAssertEqual(context.stats.shadersCompiled, 0)
            XCTAssertEqual(context.stats.spirvCacheHits, 2)
            XCTAssertTrue(pipeline.spirvFromCache)
            if context.enabledFeatures.pipelineCreationFeedback {
                XCTAssertGreaterThanOrEqual(context.stats.pipelineCacheHits, 0)
            } else {
                XCTAssertEqual(context.stats.pipelineCacheHits, -1)
            }
            // The cached SPIR-V must still work.
            let buffer = try context.makeBuffer(bytes: 256, kind: .deviceLocal)
            let sequence = try CommandSequence(context: context, capacity: 1)
            try sequence.dispatch(pipeline, bindings: [.write(buffer), .read(buffer, size: 16)],
                                  constants: fillConstants(count: 64, mode: 0, value: 1, stride: 1),
                                  groups: groups(64), label: "cached")
            try sequence.submit()
            XCTAssertEqual(try buffer.read(UInt32.self, count: 64), (0..<64).map { UInt32(1 + $0) })
        }

        // A corrupt pipeline cache file is ignored.
        let file = cache.appendingPathComponent("pipelines").appendingPathComponent(pipelineFiles[0])
        try Data(repeating: 0xAB, count: 100).write(to: file)
        try withContext(cacheDirectory: cache) { context in
            XCTAssertEqual(context.stats.pipelineCacheBytesLoaded, 0)
            _ = try fillPipeline(context)
            XCTAssertEqual(context.stats.spirvCacheHits, 1)
        }
    }

    // MARK: - Command sequences

    func testSixtyDispatchesOneSubmissionWithMinimalBarriers() throws {
        try withContext { context in
            let pipeline = try fillPipeline(context)
            let chunkElements = 256
            let alignment = Int(context.info.minStorageBufferOffsetAlignment)
            let chunkBytes = (chunkElements * 4 + alignment - 1) / alignment * alignment
            let chunks = 30
            let x = try context.makeBuffer(bytes: chunkBytes * chunks, kind: .deviceLocal)
            let p = try context.makeBuffer(bytes: chunkBytes * chunks, kind: .deviceLocal)
            let q = try context.makeBuffer(bytes: chunkBytes * chunks, kind: .deviceLocal)
            let total = chunkBytes * chunks / 4
            let sequence = try CommandSequence(context: context, capacity: 60)

            // 30 independent dispatches writing disjoint ranges of one buffer: no barrier.
            for k in 0..<chunks {
                let range = BufferBinding(buffer: x, offset: k * chunkBytes, size: chunkBytes, access: .write)
                try sequence.dispatch(pipeline, bindings: [range, .read(p, size: 16)],
                                      constants: fillConstants(count: chunkBytes / 4, mode: 0, value: UInt32(1000 * k), stride: 1),
                                      groups: groups(chunkBytes / 4), label: "fill \(k)")
            }
            XCTAssertEqual(sequence.barrierCount, 0)
            // A dependent chain x -> p -> q -> p ...: one barrier per link.
            var source = x, destination = p
            for k in 0..<30 {
                try sequence.dispatch(pipeline, bindings: [.write(destination), .read(source)],
                                      constants: fillConstants(count: total, mode: 1, value: 1),
                                      groups: groups(total), label: "chain \(k)")
                source = destination
                destination = destination === p ? q : p
            }
            XCTAssertEqual(sequence.dispatchCount, 60)
            XCTAssertEqual(sequence.barrierCount, 30)
            try sequence.finish()

            let before = context.stats.submissions
            let report = try sequence.submit()
            XCTAssertEqual(context.stats.submissions, before + 1)
            if context.enabledFeatures.timestamps {
                XCTAssertEqual(report.timings.count, 60)
                XCTAssertEqual(report.timings.map { $0.index }, Array(0..<60))
                XCTAssertEqual(report.timings[59].label, "chain 29")
                XCTAssertGreaterThan(report.totalGPUNanoseconds, 0)
                XCTAssertTrue(report.timings.allSatisfy { $0.gpuNanoseconds >= 0 })
            }

            func check() throws {
                let values = try source.read(UInt32.self, count: total)
                let perChunk = chunkBytes / 4
                for i in stride(from: 0, to: total, by: 37) {
                    XCTAssertEqual(values[i], UInt32(1000 * (i / perChunk) + i % perChunk + 30), "element \(i)")
                }
            }
            try check()
            // Re-submitting the recorded sequence gives the same result with one more submission.
            try sequence.submit()
            XCTAssertEqual(context.stats.submissions, before + 2)
            try check()
        }
    }

    func testCapacityOverflowChainsPools() throws {
        try withContext { context in
            let pipeline = try fillPipeline(context)
            let alignment = Int(context.info.minStorageBufferOffsetAlignment)
            let slot = (256 + alignment - 1) / alignment * alignment
            let dispatches = 7
            let buffer = try context.makeBuffer(bytes: slot * dispatches, kind: .deviceLocal)
            let sequence = try CommandSequence(context: context, capacity: 2)
            for k in 0..<dispatches {
                try sequence.dispatch(pipeline, bindings: [BufferBinding(buffer: buffer, offset: k * slot, size: slot, access: .write),
                                                           .read(buffer, offset: k * slot, size: 16)],
                                      constants: fillConstants(count: slot / 4, mode: 0, value: UInt32(k)),
                                      groups: groups(slot / 4), label: "slot \(k)")
            }
            XCTAssertEqual(sequence.dispatchCount, dispatches)
            let report = try sequence.submit()
            if context.enabledFeatures.timestamps {
                XCTAssertEqual(report.timings.map { $0.label }, (0..<dispatches).map { "slot \($0)" })
            }
            let values = try buffer.read(UInt32.self, count: slot * dispatches / 4)
            for k in 0..<dispatches { XCTAssertEqual(values[k * slot / 4], UInt32(k)) }
        }
    }

    func testAliasedRangesOfOneBufferBarrierOnlyOnOverlap() throws {
        try withContext { context in
            let pipeline = try fillPipeline(context)
            let alignment = Int(context.info.minStorageBufferOffsetAlignment)
            let half = (1024 + alignment - 1) / alignment * alignment
            let buffer = try context.makeBuffer(bytes: 2 * half, kind: .deviceLocal)
            let other = try context.makeBuffer(bytes: 2 * half, kind: .deviceLocal)
            let sequence = try CommandSequence(context: context, capacity: 8)
            let low = BufferBinding(buffer: buffer, offset: 0, size: half, access: .write)
            let high = BufferBinding(buffer: buffer, offset: half, size: half, access: .write)
            let n = half / 4
            try sequence.dispatch(pipeline, bindings: [low, .read(other, size: 16)],
                                  constants: fillConstants(count: n, mode: 0, value: 1), groups: groups(n), label: "low")
            try sequence.dispatch(pipeline, bindings: [high, .read(other, size: 16)],
                                  constants: fillConstants(count: n, mode: 0, value: 2), groups: groups(n), label: "high")
            XCTAssertEqual(sequence.barrierCount, 0, "disjoint writes and read-read sharing need no barrier")
            // Reading the low half (RAW) needs one.
            try sequence.dispatch(pipeline, bindings: [.write(other, size: half), .read(buffer, size: half)],
                                  constants: fillConstants(count: n, mode: 1, value: 10), groups: groups(n), label: "read low")
            XCTAssertEqual(sequence.barrierCount, 1)
            // Overwriting the high half: it was written before the last barrier and only
            // the low half was read since, so no hazard.
            try sequence.dispatch(pipeline, bindings: [high, .read(other, offset: half, size: 16)],
                                  constants: fillConstants(count: n, mode: 0, value: 3), groups: groups(n), label: "high again")
            XCTAssertEqual(sequence.barrierCount, 1)
            // Overwriting the low half while "read low" may still read it (WAR): barrier.
            try sequence.dispatch(pipeline, bindings: [low, .read(other, offset: half, size: 16)],
                                  constants: fillConstants(count: n, mode: 0, value: 4), groups: groups(n), label: "low again")
            XCTAssertEqual(sequence.barrierCount, 2)
            try sequence.submit()
            let values = try buffer.read(UInt32.self, count: 2 * n)
            XCTAssertEqual(values[0], 4)
            XCTAssertEqual(values[n], 3)
            XCTAssertEqual(try other.read(UInt32.self, count: 1)[0], 11)
        }
    }

    func testHazardTrackerAliasing() {
        var tracker = HazardTracker()
        tracker.record([.init(memoryID: 1, range: 0..<100, isWrite: true)], stage: .compute)
        XCTAssertTrue(tracker.hasHazard([.init(memoryID: 1, range: 50..<60, isWrite: false)]), "RAW")
        XCTAssertTrue(tracker.hasHazard([.init(memoryID: 1, range: 99..<200, isWrite: true)]), "WAW")
        XCTAssertFalse(tracker.hasHazard([.init(memoryID: 1, range: 100..<200, isWrite: true)]), "adjacent")
        XCTAssertFalse(tracker.hasHazard([.init(memoryID: 2, range: 0..<100, isWrite: true)]), "other memory")
        tracker.record([.init(memoryID: 3, range: 0..<10, isWrite: false)], stage: .compute)
        XCTAssertTrue(tracker.hasHazard([.init(memoryID: 3, range: 5..<6, isWrite: true)]), "WAR")
        XCTAssertFalse(tracker.hasHazard([.init(memoryID: 3, range: 5..<6, isWrite: false)]), "read-read")
        tracker.clear()
        XCTAssertFalse(tracker.hasHazard([.init(memoryID: 1, range: 0..<100, isWrite: true)]))
    }

    func testDispatchValidation() throws {
        try withContext { context in
            let pipeline = try fillPipeline(context)
            let buffer = try context.makeBuffer(bytes: 4096, kind: .deviceLocal)
            let sequence = try CommandSequence(context: context, capacity: 2)
            let maxX = context.info.maxComputeWorkGroupCount[0]
            if maxX < UInt32.max {
                XCTAssertThrowsError(try sequence.dispatch(pipeline, bindings: [.write(buffer), .read(buffer)],
                                                           constants: fillConstants(count: 1, mode: 0, value: 0),
                                                           groups: (maxX + 1, 1, 1), label: "too-wide")) { error in
                    guard case let .limitExceeded(what, value, limit)? = error as? VulkanError else {
                        return XCTFail("expected limitExceeded, got \(error)")
                    }
                    XCTAssertTrue(what.contains("too-wide"), what)
                    XCTAssertEqual(value, Int(maxX) + 1)
                    XCTAssertEqual(limit, Int(maxX))
                }
            }
            let alignment = Int(context.info.minStorageBufferOffsetAlignment)
            if alignment > 1 {
                XCTAssertThrowsError(try sequence.dispatch(
                    pipeline, bindings: [BufferBinding(buffer: buffer, offset: alignment / 2, size: 64, access: .write), .read(buffer)],
                    constants: fillConstants(count: 1, mode: 0, value: 0), groups: (1, 1, 1), label: "misaligned")) { error in
                    guard case let .invalidArgument(message)? = error as? VulkanError else {
                        return XCTFail("expected invalidArgument, got \(error)")
                    }
                    XCTAssertTrue(message.contains("minStorageBufferOffsetAlignment"), message)
                }
            }
            XCTAssertThrowsError(try sequence.dispatch(pipeline, bindings: [.write(buffer)], pushConstants: [],
                                                       groups: (1, 1, 1), label: "missing binding"))
            XCTAssertThrowsError(try sequence.dispatch(pipeline, bindings: [.write(buffer), .read(buffer)],
                                                       pushConstants: [UInt8](repeating: 0, count: 20),
                                                       groups: (1, 1, 1), label: "too many constants"))
            XCTAssertThrowsError(try sequence.dispatch(pipeline, bindings: [BufferBinding(buffer: buffer, offset: 4096, size: 16), .read(buffer)],
                                                       pushConstants: [], groups: (1, 1, 1), label: "out of bounds"))
            XCTAssertEqual(sequence.dispatchCount, 0)
            sequence.fill(BufferBinding(buffer: buffer, offset: 2, size: 8), value: 1)
            XCTAssertThrowsError(try sequence.finish(), "a misaligned fill is reported by finish()")
        }
    }

    func testBindingOverMaxStorageBufferRange() throws {
        try withContext { context in
            let range = Int(context.info.maxStorageBufferRange)
            let pipeline = try fillPipeline(context)
            // Use a real buffer just over the limit when that is affordable; otherwise the
            // limit check (which comes first) is exercised with a binding on a small buffer.
            let affordable = range + 256 <= min(Int(clamping: context.info.maxMemoryAllocationSize), 1 << 30)
            let buffer = try context.makeBuffer(bytes: affordable ? range + 256 : 4096, kind: .deviceLocal)
            let small = try context.makeBuffer(bytes: 256, kind: .deviceLocal)
            let sequence = try CommandSequence(context: context, capacity: 1)
            XCTAssertThrowsError(try sequence.dispatch(pipeline, bindings: [BufferBinding(buffer: buffer, offset: 0, size: range + 4),
                                                                            .read(small)],
                                                       constants: fillConstants(count: 1, mode: 0, value: 0),
                                                       groups: (1, 1, 1), label: "huge")) { error in
                guard case let .limitExceeded(what, value, limit)? = error as? VulkanError else {
                    return XCTFail("expected limitExceeded, got \(error)")
                }
                XCTAssertTrue(what.contains("maxStorageBufferRange"), what)
                XCTAssertEqual(value, range + 4)
                XCTAssertEqual(limit, range)
            }
            // Exactly at the limit is fine.
            if affordable {
                try sequence.dispatch(pipeline, bindings: [BufferBinding(buffer: buffer, offset: 0, size: range, access: .write), .read(small)],
                                      constants: fillConstants(count: 64, mode: 0, value: 9), groups: (1, 1, 1), label: "at limit")
                try sequence.submit()
                XCTAssertEqual(try buffer.read(UInt32.self, count: 2), [9, 9])
            }
        }
    }

    // MARK: - Memory

    func testBufferOverMaxMemoryAllocationSize() throws {
        try withContext { context in
            let limit = Int(clamping: context.info.maxMemoryAllocationSize)
            guard limit < Int.max else { return }
            XCTAssertThrowsError(try context.makeBuffer(bytes: limit + 1, kind: .deviceLocal)) { error in
                guard case let .limitExceeded(_, value, reported)? = error as? VulkanError else {
                    return XCTFail("expected limitExceeded, got \(error)")
                }
                XCTAssertEqual(value, limit + 1)
                XCTAssertEqual(reported, limit)
            }
            XCTAssertThrowsError(try context.makeBuffer(bytes: 0, kind: .staging))
        }
    }

    func testSubAllocationAndCoalescing() throws {
        try withContext { context in
            let baseline = context.stats.bytesAllocated
            var buffers = try (0..<8).map { _ in try context.makeBuffer(bytes: 4096, kind: .deviceLocal) }
            XCTAssertEqual(Set(buffers.map { $0.memoryID }).count, 1, "small buffers share one block")
            let ranges = buffers.map { $0.memoryOffset ..< $0.memoryOffset + $0.size }
            for i in ranges.indices { for j in ranges.indices where i < j { XCTAssertFalse(ranges[i].overlaps(ranges[j])) } }
            XCTAssertGreaterThanOrEqual(context.stats.bytesAllocated - baseline, 8 * 4096)
            let firstOffset = buffers[0].memoryOffset
            // Free 0..<3: the coalesced hole is reused for a buffer three times as large.
            buffers.removeFirst(3)
            let big = try context.makeBuffer(bytes: 3 * 4096, kind: .deviceLocal)
            XCTAssertEqual(big.memoryID, buffers[0].memoryID)
            XCTAssertEqual(big.memoryOffset, firstOffset)
            XCTAssertGreaterThanOrEqual(context.stats.peakBytesAllocated, 8 * 4096)
            buffers.removeAll()
            _ = big
        }
    }

    func testStagingPathForDeviceOnlyMemory() throws {
        try withContext { context in
            context.allocator.mapDeviceLocalBlocks = false
            let count = 3000
            let buffer = try context.makeBuffer(bytes: count * 4, kind: .deviceLocal)
            XCTAssertFalse(buffer.isHostVisible)
            let values = (0..<count).map { UInt32($0 * 7) }
            let before = context.stats.submissions
            try buffer.write(values)
            try buffer.write([UInt32(42)], at: 8)
            XCTAssertGreaterThan(context.stats.submissions, before, "staging copies were submitted")
            var expected = values
            expected[2] = 42
            XCTAssertEqual(try buffer.read(UInt32.self, count: count), expected)
            XCTAssertEqual(try buffer.read(UInt32.self, count: 2, at: 4), [7, 42])
            XCTAssertThrowsError(try buffer.read(UInt32.self, count: 2, at: count * 4 - 4))
        }
    }

    func testPushConstantsBuilder() {
        var constants: PushConstants = [UInt32(1), Float(1.0), Int32(-1)]
        constants.append(UInt32(0x0102_0304))
        XCTAssertEqual(constants.count, 16)
        XCTAssertEqual(Array(constants.bytes[0..<4]), [1, 0, 0, 0])
        XCTAssertEqual(Array(constants.bytes[4..<8]), [0x00, 0x00, 0x80, 0x3F])
        XCTAssertEqual(Array(constants.bytes[8..<12]), [0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertThrowsError(try constants.append(int: Int(Int32.max) + 1))
    }

    func testStableHash() {
        var a = StableHash128(), b = StableHash128()
        a.combine("ab"); a.combine("c")
        b.combine("a"); b.combine("bc")
        XCTAssertNotEqual(a.hexDigest, b.hexDigest)
        XCTAssertEqual(StableHash128().hexDigest, "6c62272e07bb014262b821756295c58d")
        var empty = StableHash128()
        empty.combine(bytes: Array("a".utf8))
        // FNV-1a 128 of "a".
        XCTAssertEqual(empty.hexDigest, "d228cb696f1a8caf78912b704e4a8964")
    }
}
