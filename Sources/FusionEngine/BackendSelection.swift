import Foundation
import FusionCore
import FusionCPU
import FusionVulkan

/// Which backend runs a model, as the CLI's `--backend` names it.
public enum BackendChoice: String, CaseIterable, Sendable {
    /// A Vulkan GPU when there is one, else the CPU.
    case auto
    case cpu
    case vulkan
}

/// A backend ready to run, with the words that describe it to a user.
public struct SelectedBackend {
    public let backend: Backend
    /// "cpu" or "vulkan".
    public let name: String
    /// e.g. "CPU (2 threads)" or "NVIDIA H100 (discrete GPU, Vulkan 1.3)".
    public let device: String

    /// Opens the backend `choice` names. `auto` takes the Vulkan device `deviceIndex` when
    /// given, else the first GPU (discrete, integrated or virtual: not a CPU implementation
    /// such as lavapipe), else the CPU backend.
    ///
    /// `options.vulkan.precision` fp16 stores Vulkan activations in fp16; the CPU backend is
    /// fp32 only, so fp16 with `cpu` (or `auto` without a GPU) is an error.
    public static func open(_ choice: BackendChoice, deviceIndex: Int? = nil, options: FusionOptions = .current) throws -> SelectedBackend {
        switch choice {
        case .cpu:
            return try cpu(options)
        case .vulkan:
            let b = try VulkanBackend(deviceIndex: deviceIndex, options: options)
            let precision = options.vulkan.precision == .fp32 ? "" : ", \(options.vulkan.precision) storage"
            return SelectedBackend(backend: b, name: "vulkan", device: b.deviceDescription + precision)
        case .auto:
            if let deviceIndex { return try open(.vulkan, deviceIndex: deviceIndex, options: options) }
            let devices = (try? VulkanContext.enumerateDevices()) ?? []
            if let gpu = devices.first(where: { $0.type.contains("GPU") }) {
                return try open(.vulkan, deviceIndex: gpu.index, options: options)
            }
            return try cpu(options)
        }
    }

    private static func cpu(_ options: FusionOptions) throws -> SelectedBackend {
        guard options.vulkan.precision == .fp32 else {
            throw FusionError.invalidArgument(op: "backend", detail: "\(options.vulkan.precision) storage needs the Vulkan backend; the CPU backend is fp32 only")
        }
        let b = CPUBackend()
        return SelectedBackend(backend: b, name: "cpu", device: "CPU (\(ProcessInfo.processInfo.activeProcessorCount) threads)")
    }
}
