import CVulkan
import Foundation

/// Thread-safe sink for validation-layer messages.
final class ValidationLog {
    private let lock = NSLock()
    private var storage: [String] = []

    var messages: [String] { lock.locked { storage } }

    func append(_ message: String) {
        lock.locked { storage.append(message) }
        FileHandle.standardError.write(Data("[vulkan validation] \(message)\n".utf8))
    }
}

/// Debug-utils callback. `pUserData` is an unretained `ValidationLog`, kept alive by the
/// `VulkanInstance` that owns the messenger (the messenger is destroyed before it).
/// Records WARNING/ERROR messages of type VALIDATION, and GENERAL errors.
private let validationCallback: PFN_vkDebugUtilsMessengerCallbackEXT = { severity, types, data, userData in
    guard let userData = userData else { return 0 }
    let isError = severity.rawValue & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT.rawValue != 0
    let isWarning = severity.rawValue & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT.rawValue != 0
    let isValidation = types & VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT.rawValue != 0
    let isGeneral = types & VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT.rawValue != 0
    guard (isValidation && (isError || isWarning)) || (isGeneral && isError) else { return 0 }

    let log = Unmanaged<ValidationLog>.fromOpaque(userData).takeUnretainedValue()
    let text = data?.pointee.pMessage.map { String(cString: $0) } ?? "(no message)"
    let id = data?.pointee.pMessageIdName.map { String(cString: $0) }
    log.append("\(isError ? "ERROR" : "WARNING")\(id.map { " [\($0)]" } ?? ""): \(text)")
    return 0 // VK_FALSE: never abort the call
}

/// A `VkInstance`, optionally with the Khronos validation layer and a debug-utils messenger.
final class VulkanInstance {
    let handle: VkInstance
    /// The API version requested for the instance (<= loader version, capped at 1.3).
    let apiVersion: UInt32
    let validation: Bool
    let log = ValidationLog()
    private var messenger: VkDebugUtilsMessengerEXT?
    private var destroyMessenger: PFN_vkDestroyDebugUtilsMessengerEXT?

    init(validation: Bool) throws {
        self.validation = validation
        var loaderVersion: UInt32 = 0
        if vkEnumerateInstanceVersion(&loaderVersion) != VK_SUCCESS { loaderVersion = vulkanMakeVersion(1, 0) }
        guard loaderVersion >= vulkanMakeVersion(1, 1) else {
            throw VulkanError.unsupportedFeature("Vulkan loader \(vulkanVersionString(loaderVersion)) is older than 1.1")
        }
        apiVersion = min(vulkanMajorMinor(loaderVersion), vulkanMakeVersion(1, 3))

        let available = Self.instanceExtensions(layer: nil)
        var extensions: [String] = []
        var layers: [String] = []
        var flags: VkInstanceCreateFlags = 0
        if available.contains("VK_KHR_portability_enumeration") {
            extensions.append("VK_KHR_portability_enumeration")
            flags |= VkInstanceCreateFlags(VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR.rawValue)
        }
        var validationFeatures = false
        if validation {
            guard Self.instanceLayers().contains("VK_LAYER_KHRONOS_validation") else {
                throw VulkanError.unsupportedFeature("validation requested but VK_LAYER_KHRONOS_validation is not installed")
            }
            layers.append("VK_LAYER_KHRONOS_validation")
            let layerExtensions = Self.instanceExtensions(layer: "VK_LAYER_KHRONOS_validation")
            guard available.contains("VK_EXT_debug_utils") || layerExtensions.contains("VK_EXT_debug_utils") else {
                throw VulkanError.unsupportedFeature("validation requested but VK_EXT_debug_utils is unavailable")
            }
            extensions.append("VK_EXT_debug_utils")
            if layerExtensions.contains("VK_EXT_validation_features") {
                extensions.append("VK_EXT_validation_features")
                validationFeatures = true
            }
        }

        let appName = CStringArray(["FusionKit"])
        let layerNames = CStringArray(layers)
        let extensionNames = CStringArray(extensions)
        var appInfo = VkApplicationInfo()
        appInfo.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO
        appInfo.pApplicationName = appName.pointer[0]
        appInfo.applicationVersion = 1
        appInfo.pEngineName = appName.pointer[0]
        appInfo.engineVersion = 1
        appInfo.apiVersion = apiVersion

        // Chained messenger: covers vkCreateInstance/vkDestroyInstance themselves.
        let messengerInfo = HeapBox(Self.messengerCreateInfo(log: log))
        // Synchronization validation checks the runtime's barrier placement too.
        let enables = HeapBox(VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT)
        let features = HeapBox(VkValidationFeaturesEXT())
        features.pointer.pointee.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT
        features.pointer.pointee.enabledValidationFeatureCount = 1
        features.pointer.pointee.pEnabledValidationFeatures = UnsafePointer(enables.pointer)
        if validationFeatures {
            messengerInfo.pointer.pointee.pNext = UnsafeRawPointer(features.raw)
        }

        var createInfo = VkInstanceCreateInfo()
        createInfo.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO
        createInfo.flags = flags
        createInfo.pNext = validation ? UnsafeRawPointer(messengerInfo.raw) : nil
        createInfo.enabledLayerCount = UInt32(layerNames.count)
        createInfo.ppEnabledLayerNames = layers.isEmpty ? nil : UnsafePointer(layerNames.pointer)
        createInfo.enabledExtensionCount = UInt32(extensionNames.count)
        createInfo.ppEnabledExtensionNames = extensions.isEmpty ? nil : UnsafePointer(extensionNames.pointer)

        var instance: VkInstance?
        let result = withUnsafePointer(to: appInfo) { app -> VkResult in
            createInfo.pApplicationInfo = app
            return vkCreateInstance(&createInfo, nil, &instance)
        }
        withExtendedLifetime((appName, layerNames, extensionNames, messengerInfo, enables, features)) {}
        if result == VK_ERROR_INCOMPATIBLE_DRIVER || result == VK_ERROR_INITIALIZATION_FAILED {
            throw VulkanError.noDevice("vkCreateInstance failed with \(VulkanError.resultName(result.rawValue)) (no Vulkan driver installed?)")
        }
        try vkCheck(result, "vkCreateInstance", "layers \(layers), extensions \(extensions)")
        guard let instance = instance else {
            throw VulkanError.noDevice("vkCreateInstance returned no instance")
        }
        handle = instance

        if validation {
            let create = unsafeBitCast(vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"),
                                       to: PFN_vkCreateDebugUtilsMessengerEXT?.self)
            destroyMessenger = unsafeBitCast(vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"),
                                             to: PFN_vkDestroyDebugUtilsMessengerEXT?.self)
            // `self` is fully initialised here, so a throw runs `deinit`, which destroys the instance.
            guard let create = create, destroyMessenger != nil else {
                throw VulkanError.unsupportedFeature("vkCreateDebugUtilsMessengerEXT is unavailable")
            }
            var info = Self.messengerCreateInfo(log: log)
            var messenger: VkDebugUtilsMessengerEXT?
            let result = create(instance, &info, nil, &messenger)
            if result != VK_SUCCESS {
                throw vkError(result, "vkCreateDebugUtilsMessengerEXT", "validation messenger")
            }
            self.messenger = messenger
        }
    }

    deinit {
        // Messenger last before the instance, so teardown messages are still captured.
        if let messenger = messenger, let destroy = destroyMessenger {
            destroy(handle, messenger, nil)
        }
        vkDestroyInstance(handle, nil)
    }

    /// Physical devices in enumeration order.
    func physicalDevices() throws -> [VkPhysicalDevice] {
        var count: UInt32 = 0
        try vkCheck(vkEnumeratePhysicalDevices(handle, &count, nil), "vkEnumeratePhysicalDevices")
        guard count > 0 else { return [] }
        var devices = [VkPhysicalDevice?](repeating: nil, count: Int(count))
        let result = vkEnumeratePhysicalDevices(handle, &count, &devices)
        if result != VK_INCOMPLETE { try vkCheck(result, "vkEnumeratePhysicalDevices") }
        return devices.prefix(Int(count)).compactMap { $0 }
    }

    private static func messengerCreateInfo(log: ValidationLog) -> VkDebugUtilsMessengerCreateInfoEXT {
        var info = VkDebugUtilsMessengerCreateInfoEXT()
        info.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT
        info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT.rawValue
            | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT.rawValue
        info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT.rawValue
            | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT.rawValue
        info.pfnUserCallback = validationCallback
        info.pUserData = Unmanaged.passUnretained(log).toOpaque()
        return info
    }

    static func instanceLayers() -> Set<String> {
        var count: UInt32 = 0
        guard vkEnumerateInstanceLayerProperties(&count, nil) == VK_SUCCESS, count > 0 else { return [] }
        var props = [VkLayerProperties](repeating: VkLayerProperties(), count: Int(count))
        let result = vkEnumerateInstanceLayerProperties(&count, &props)
        guard result == VK_SUCCESS || result == VK_INCOMPLETE else { return [] }
        return Set(props.prefix(Int(count)).map { stringFromCCharTuple($0.layerName) })
    }

    static func instanceExtensions(layer: String?) -> Set<String> {
        var count: UInt32 = 0
        guard vkEnumerateInstanceExtensionProperties(layer, &count, nil) == VK_SUCCESS, count > 0 else { return [] }
        var props = [VkExtensionProperties](repeating: VkExtensionProperties(), count: Int(count))
        let result = vkEnumerateInstanceExtensionProperties(layer, &count, &props)
        guard result == VK_SUCCESS || result == VK_INCOMPLETE else { return [] }
        return Set(props.prefix(Int(count)).map { stringFromCCharTuple($0.extensionName) })
    }
}
