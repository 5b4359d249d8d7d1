import CVulkan
import Foundation

/// Errors thrown by the Vulkan runtime. The runtime never traps on runtime conditions.
public enum VulkanError: Error, Equatable {
    /// No usable Vulkan device (no loader/ICD, or no physical device).
    case noDevice(String)
    /// An explicit device index (argument or `FUSIONKIT_DEVICE`) is out of range.
    case deviceIndexOutOfRange(Int, Int)
    /// A required layer, extension, feature or API version is missing.
    case unsupportedFeature(String)
    /// A `vk*` call failed. `result` is the raw `VkResult`.
    case vulkanCall(call: String, result: Int32, context: String)
    /// `VK_ERROR_DEVICE_LOST` was reported; the context is unusable afterwards.
    case deviceLost(String)
    /// A device memory allocation failed.
    case outOfDeviceMemory(requested: Int, context: String)
    /// A request exceeds a device limit.
    case limitExceeded(what: String, value: Int, limit: Int)
    /// No shader with this name in the embedded sources or `FUSIONKIT_SHADER_DIR`.
    case shaderNotFound(String)
    /// GLSL -> SPIR-V compilation failed; `log` is the compiler output.
    case shaderCompilation(shader: String, log: String)
    /// An argument violates the API contract (misaligned offset, out-of-bounds range, ...).
    case invalidArgument(String)
    /// Waiting for the GPU exceeded the timeout.
    case timeout(String)

    /// The symbolic name of a raw `VkResult`, e.g. `VK_ERROR_OUT_OF_DEVICE_MEMORY`.
    public static func resultName(_ raw: Int32) -> String {
        switch raw {
        case 0: return "VK_SUCCESS"
        case 1: return "VK_NOT_READY"
        case 2: return "VK_TIMEOUT"
        case 3: return "VK_EVENT_SET"
        case 4: return "VK_EVENT_RESET"
        case 5: return "VK_INCOMPLETE"
        case -1: return "VK_ERROR_OUT_OF_HOST_MEMORY"
        case -2: return "VK_ERROR_OUT_OF_DEVICE_MEMORY"
        case -3: return "VK_ERROR_INITIALIZATION_FAILED"
        case -4: return "VK_ERROR_DEVICE_LOST"
        case -5: return "VK_ERROR_MEMORY_MAP_FAILED"
        case -6: return "VK_ERROR_LAYER_NOT_PRESENT"
        case -7: return "VK_ERROR_EXTENSION_NOT_PRESENT"
        case -8: return "VK_ERROR_FEATURE_NOT_PRESENT"
        case -9: return "VK_ERROR_INCOMPATIBLE_DRIVER"
        case -10: return "VK_ERROR_TOO_MANY_OBJECTS"
        case -11: return "VK_ERROR_FORMAT_NOT_SUPPORTED"
        case -12: return "VK_ERROR_FRAGMENTED_POOL"
        case -13: return "VK_ERROR_UNKNOWN"
        case -1_000_069_000: return "VK_ERROR_OUT_OF_POOL_MEMORY"
        case -1_000_072_003: return "VK_ERROR_INVALID_EXTERNAL_HANDLE"
        case -1_000_161_000: return "VK_ERROR_FRAGMENTATION"
        case -1_000_257_000: return "VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS"
        case 1_000_297_000: return "VK_PIPELINE_COMPILE_REQUIRED"
        case -1_000_011_001: return "VK_ERROR_VALIDATION_FAILED_EXT"
        case -1_000_012_000: return "VK_ERROR_INVALID_SHADER_NV"
        case -1_000_174_001: return "VK_ERROR_NOT_PERMITTED_KHR"
        default: return "VkResult(\(raw))"
        }
    }
}

extension VulkanError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case .noDevice(let reason):
            return "no Vulkan device: \(reason)"
        case .deviceIndexOutOfRange(let index, let count):
            return "Vulkan device index \(index) is out of range (\(count) device(s) available)"
        case .unsupportedFeature(let what):
            return "unsupported Vulkan feature: \(what)"
        case .vulkanCall(let call, let result, let context):
            return "\(call) failed with \(VulkanError.resultName(result)) (\(context))"
        case .deviceLost(let context):
            return "Vulkan device lost (\(context))"
        case .outOfDeviceMemory(let requested, let context):
            return "out of device memory allocating \(requested) bytes (\(context)); use a smaller image, or --backend cpu"
        case .limitExceeded(let what, let value, let limit):
            return "device limit exceeded: \(what) = \(value) > limit \(limit); the input is too large for this device: use --backend cpu, or a smaller image"
        case .shaderNotFound(let name):
            return "shader '\(name)' not found"
        case .shaderCompilation(let shader, let log):
            // A broken shader can produce thousands of follow-on errors: the first ones say what is wrong.
            let lines = log.split(separator: "\n", omittingEmptySubsequences: true)
            let errors = lines.filter { $0.contains("error") }.count
            let shown = lines.prefix(12).joined(separator: "\n")
            let more = lines.count > 12 ? "\n... \(lines.count - 12) more lines (\(errors) errors in all)" : ""
            return "failed to compile shader '\(shader)':\n\(shown)\(more)"
        case .invalidArgument(let message):
            return "invalid argument: \(message)"
        case .timeout(let context):
            return "timed out waiting for the GPU (\(context)); FUSIONKIT_GPU_TIMEOUT=SECONDS sets a longer wait, FUSIONKIT_SUBMISSION_GFLOP a smaller submission"
        }
    }

    public var errorDescription: String? { description }
}

/// Throws the matching `VulkanError` unless `result` is `VK_SUCCESS`.
@inline(__always)
func vkCheck(_ result: VkResult, _ call: @autoclosure () -> String, _ context: @autoclosure () -> String = "") throws {
    if result == VK_SUCCESS { return }
    throw vkError(result, call(), context())
}

func vkError(_ result: VkResult, _ call: String, _ context: String) -> VulkanError {
    switch result {
    case VK_ERROR_DEVICE_LOST:
        return .deviceLost(context.isEmpty ? call : "\(call): \(context)")
    default:
        return .vulkanCall(call: call, result: result.rawValue, context: context)
    }
}
