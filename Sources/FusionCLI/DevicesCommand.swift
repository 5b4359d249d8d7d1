import ArgumentParser
import FusionCore
import FusionVulkan

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List every Vulkan device with its limits and features."
    )

    func run() throws {
        let devices: [VulkanDeviceInfo]
        do {
            devices = try VulkanContext.enumerateDevices()
        } catch {
            throw CLIError("cannot enumerate Vulkan devices: \(error)")
        }
        if devices.isEmpty {
            print("No Vulkan device found (install a driver, e.g. mesa-vulkan-drivers for lavapipe).")
            return
        }
        for (i, d) in devices.enumerated() {
            if i > 0 { print("") }
            d.summaryLines.forEach { print($0) }
            for precision in [StoragePrecision.fp32, .fp16] where precision == .fp32 || (d.shaderFloat16 && d.storageBuffer16BitAccess) {
                let runs = GemmVariant.supported(on: d, precision: precision)
                print("  GEMM/conv variants (\(precision)): \(runs.map(\.name).joined(separator: ", "))"
                      + (runs.contains(where: \.cooperativeMatrix) ? "" : "; cooperative-matrix variants: none"))
                let attention = AttentionVariant.supported(on: d, precision: precision)
                print("  attention variants (\(precision)): \(attention.map(\.name).joined(separator: ", "))")
            }
        }
    }
}
