import CVulkan
import Foundation
import FusionIO

/// Persistence of the `VkPipelineCache` at
/// `<cacheDirectory>/pipelines/<vendorID>-<deviceID>-<driverVersion>-<pipelineCacheUUID>.bin`.
///
/// The header is checked against the device before the data is handed to the driver, so a
/// file from another driver or a truncated/corrupt file is ignored (and later overwritten).
extension VulkanContext {
    var pipelineCacheFile: URL {
        cacheDirectory.appendingPathComponent("pipelines", isDirectory: true)
            .appendingPathComponent("\(info.vendorID)-\(info.deviceID)-\(info.driverVersion)-\(info.pipelineCacheUUID).bin")
    }

    /// What the pipeline cache entry holds: this device and driver's pipelines.
    var pipelineCacheEntryKey: String { "pipelines \(pipelineCacheFile.lastPathComponent)" }

    /// Called once from `init`.
    func createPipelineCache() throws {
        var initialData = CacheEntry.read(pipelineCacheFile.path, key: pipelineCacheEntryKey)
        if let data = initialData, !pipelineCacheHeaderMatches(data) { initialData = nil }

        func create(_ data: Data?) -> (VkResult, VkPipelineCache?) {
            var info = VkPipelineCacheCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO
            var cache: VkPipelineCache?
            let result: VkResult
            if let data = data {
                result = data.withUnsafeBytes { bytes -> VkResult in
                    info.initialDataSize = bytes.count
                    info.pInitialData = bytes.baseAddress
                    return vkCreatePipelineCache(device, &info, nil, &cache)
                }
            } else {
                result = vkCreatePipelineCache(device, &info, nil, &cache)
            }
            return (result, cache)
        }

        var (result, cache) = create(initialData)
        if result != VK_SUCCESS, initialData != nil {
            initialData = nil // the driver rejected the data; start empty
            (result, cache) = create(nil)
        }
        try vkCheck(result, "vkCreatePipelineCache", pipelineCacheFile.path)
        pipelineCache = cache
        let loaded = initialData?.count ?? 0
        updateStats { $0.pipelineCacheBytesLoaded = loaded }
    }

    /// Checks a `VkPipelineCacheHeaderVersionOne` against this device.
    func pipelineCacheHeaderMatches(_ data: Data) -> Bool {
        guard data.count >= 32 else { return false }
        func u32(_ offset: Int) -> UInt32 {
            data.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        }
        let headerSize = u32(0), version = u32(4), vendor = u32(8), deviceID = u32(12)
        guard headerSize >= 32, Int(headerSize) <= data.count,
              version == UInt32(VK_PIPELINE_CACHE_HEADER_VERSION_ONE.rawValue),
              vendor == info.vendorID, deviceID == info.deviceID else { return false }
        let uuid = data.subdata(in: data.startIndex + 16 ..< data.startIndex + 32).map { String(format: "%02x", $0) }.joined()
        return uuid == info.pipelineCacheUUID
    }

    /// Saves the pipeline cache (atomically) if pipelines were created since the last save.
    /// Also called from `deinit`. SPIR-V cache entries are written as they are produced.
    /// Cache I/O failures are not errors: they only cost recompilation next time.
    public func flushCaches() {
        try? savePipelineCache()
    }

    func savePipelineCache() throws {
        try pipelineLock.locked {
            guard pipelineCacheDirty, let cache = pipelineCache else { return }
            var size = 0
            try vkCheck(vkGetPipelineCacheData(device, cache, &size, nil), "vkGetPipelineCacheData", "size query")
            guard size > 0 else { return }
            var bytes = [UInt8](repeating: 0, count: size)
            let result = bytes.withUnsafeMutableBytes { vkGetPipelineCacheData(device, cache, &size, $0.baseAddress) }
            if result != VK_INCOMPLETE { try vkCheck(result, "vkGetPipelineCacheData", "data") }
            if let error = CacheEntry.write(Data(bytes.prefix(size)), key: pipelineCacheEntryKey, to: pipelineCacheFile.path) { throw error }
            pipelineCacheDirty = false
        }
    }
}
