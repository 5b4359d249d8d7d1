import Foundation

/// Reads PyTorch zip archives: `torch.save` checkpoints (`.pth`, `.pt`, `.model`) and
/// `torch.jit.save` TorchScript archives, without Python.
///
/// `data.pkl` is loaded by the restricted `Unpickler`; tensors are rebuilt as views of the
/// `data/N` storages (zero-copy, shared storages shared). The result is flattened into
/// state-dict names: nested dicts join with dots (`model.conv.weight`), TorchScript modules
/// contribute their attributes, DataParallel `module.` prefixes are removed, and entries a
/// model never needs (optimizer and scheduler state, argparse namespaces, other objects)
/// are skipped and listed in `skipped`.
public enum TorchCheckpointReader {
    /// Top-level entries that are training state, never model weights.
    static let trainingStateKeys: Set<String> = [
        "optimizer", "optimizer_state_dict", "optim", "opt", "scheduler", "lr_scheduler",
        "scaler", "amp", "grad_scaler",
    ]

    /// Nesting deeper than this is treated as damage (it also stops reference cycles).
    static let maximumDepth = 64

    public static func read(path: String) throws -> CheckpointReader.Loaded {
        try read(file: MappedFile(path: path))
    }

    public static func read(file: MappedFile) throws -> CheckpointReader.Loaded {
        let zip = try ZipArchive(file: file, format: CheckpointFormat.torchZip.rawValue)
        // Every record sits under one top folder, named after the file when it was saved.
        guard let pickleEntry = zip.entries.first(where: { $0.name.hasSuffix("/data.pkl") && $0.name.split(separator: "/").count == 2 })
                ?? zip.entries.first(where: { $0.name == "data.pkl" }) else {
            throw FileFormatError(path: file.path, format: CheckpointFormat.torchZip.rawValue,
                                  "zip archive has no data.pkl: not a PyTorch checkpoint")
        }
        let prefix = String(pickleEntry.name.dropLast("data.pkl".count))
        let isTorchScript = zip.entry(named: prefix + "constants.pkl") != nil || zip.entries.contains { $0.name.hasPrefix(prefix + "code/") }
        let format = isTorchScript ? CheckpointFormat.torchScript : .torchZip
        func fail(_ message: String) -> FileFormatError {
            FileFormatError(path: file.path, format: format.rawValue, message)
        }
        if let order = zip.entry(named: prefix + "byteorder").flatMap({ _ in try? zip.contents(of: prefix + "byteorder") }),
           String(decoding: order, as: UTF8.self) != "little" {
            throw fail("byte order '\(String(decoding: order, as: UTF8.self))' is not supported (little-endian only)")
        }

        do {
            var storages: [String: (StorageDType, TensorStorage)] = [:]
            let unpickler = Unpickler(
                name: "data.pkl",
                persistentLoad: { pid in
                    try loadStorage(pid, zip: zip, directory: prefix + "data/", cache: &storages)
                },
                call: rebuild
            )
            var tensors: [StoredTensor] = []
            var skipped: [String] = []
            // The unpickled tree is emptied after the walk (cycles would leak otherwise);
            // the walk copies out the tensors.
            try unpickler.load(zip.contents(of: pickleEntry.name)) { root in
                // Shared references can make a small pickle a huge tree (a list holding the
                // same list twice, 64 levels deep): the walk gets a budget from the pickle.
                let budget = VisitBudget(limit: 16 * pickleEntry.uncompressedSize + 1024)
                try flatten(root, path: "", depth: 0, budget: budget, into: &tensors, skipped: &skipped)
            }
            var seen = Set<String>()
            for t in tensors where !seen.insert(t.name).inserted {
                throw fail("two tensors are named '\(t.name)'")
            }
            return CheckpointReader.Loaded(archive: TensorArchive(path: file.path, format: format, tensors: tensors, file: file), skipped: skipped)
        } catch let error as FileFormatError {
            throw error.located(path: file.path, format: format.rawValue)
        }
    }

    /// `('storage', <storage class>, key, location, numel)` → the typed bytes of `data/<key>`.
    private static func loadStorage(_ pid: PickleValue, zip: ZipArchive, directory: String,
                                    cache: inout [String: (StorageDType, TensorStorage)]) throws -> PickleValue {
        func bad(_ message: String) -> FileFormatError { FileFormatError(path: "", format: "", "data.pkl: \(message)") }
        guard let items = pid.sequence, items.count >= 5, items[0].stringValue == "storage" else {
            throw bad("unsupported persistent id \(pid)")
        }
        let dtype: StorageDType
        switch items[1] {
        case let .global(module, name) where module == "torch":
            guard let d = StorageDType(torchStorageName: name) ?? (name == "UntypedStorage" ? .u8 : nil) else {
                throw bad("unsupported storage type torch.\(name)")
            }
            dtype = d
        default:
            throw bad("storage type \(items[1]) is not a torch storage class")
        }
        guard let key = items[2].stringValue, !key.contains("/"), !key.isEmpty else { throw bad("bad storage key \(items[2])") }
        guard let numel = items[4].intValue, numel >= 0 else { throw bad("storage '\(key)' has a bad size \(items[4])") }
        if let (cachedType, storage) = cache[key] {
            // Shared storage: the same bytes viewed again (typed views of one storage must agree).
            guard cachedType == dtype else { throw bad("storage '\(key)' is used as both \(cachedType) and \(dtype)") }
            return .persistent(StorageReference(dtype: dtype, storage: storage))
        }
        let bytes = try zip.contents(of: directory + key)
        let (needed, overflow) = Int(numel).multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, needed <= bytes.count else {
            throw bad("storage '\(key)' declares \(numel) \(dtype) elements, its entry holds \(bytes.count) bytes")
        }
        let storage = TensorStorage(bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<needed]), owner: zip.file)
        cache[key] = (dtype, storage)
        return .persistent(StorageReference(dtype: dtype, storage: storage))
    }

    /// The globals a checkpoint may call; everything else stays a placeholder.
    private static func rebuild(module: String, name: String, arguments: [PickleValue]) throws -> PickleValue? {
        func bad(_ message: String) -> FileFormatError { FileFormatError(path: "", format: "", "data.pkl: \(name): \(message)") }
        switch (module, name) {
        case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"):
            return .dict(PickleDict())
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard arguments.count >= 4, case let .persistent(ref as StorageReference) = arguments[0] else {
                throw bad("expected (storage, offset, size, stride, ...), got \(arguments.count) arguments")
            }
            guard let offset = arguments[1].intValue, let size = arguments[2].sequence, let stride = arguments[3].sequence else {
                throw bad("offset, size or stride has the wrong type")
            }
            let shape = try size.map { v -> Int in
                guard let i = v.intValue, i >= 0, i <= Int64(Int32.max) else { throw bad("bad dimension \(v)") }
                return Int(i)
            }
            let strides = try stride.map { v -> Int in
                guard let i = v.intValue, i >= 0, i <= Int64(Int32.max) * 64 else { throw bad("bad stride \(v)") }
                return Int(i)
            }
            guard offset >= 0, offset <= Int64(Int32.max) * 64 else { throw bad("bad storage offset \(offset)") }
            do {
                return .tensor(try StoredTensor(name: "view", dtype: ref.dtype, shape: shape, strides: strides, offset: Int(offset), storage: ref.storage))
            } catch let error as FileFormatError {
                throw bad(error.message)
            }
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"),
             ("torch.nn.parameter", "Parameter"):
            guard let first = arguments.first, case .tensor = first else { throw bad("expected a tensor argument") }
            return first
        default:
            return nil
        }
    }

    /// Walks the unpickled tree, collecting tensors under dotted names.
    private static func flatten(_ value: PickleValue, path: String, depth: Int, budget: VisitBudget,
                                into tensors: inout [StoredTensor], skipped: inout [String]) throws {
        try budget.spend()
        guard depth <= maximumDepth else {
            throw FileFormatError(path: "", format: "", "data.pkl: nesting deeper than \(maximumDepth) levels at '\(path)'")
        }
        func child(_ key: String) -> String { path.isEmpty ? key : path + "." + key }
        switch value {
        case var .tensor(t):
            t.name = path
            tensors.append(t)
        case let .dict(d):
            let keys = d.keys.map(\.keyText)
            // DataParallel / DistributedDataParallel wrap every key in `module.`.
            let stripModule = !keys.isEmpty && keys.allSatisfy { $0.hasPrefix("module.") }
            for (key, item) in zip(keys, d.values) {
                if depth == 0, trainingStateKeys.contains(key) {
                    if try containsTensors(item, depth: 0, budget: budget) { skipped.append("\(key): training state") }
                    continue
                }
                try flatten(item, path: child(stripModule ? String(key.dropFirst(7)) : key), depth: depth + 1, budget: budget,
                            into: &tensors, skipped: &skipped)
            }
        case let .list(l):
            for (i, item) in l.items.enumerated() { try flatten(item, path: child(String(i)), depth: depth + 1, budget: budget, into: &tensors, skipped: &skipped) }
        case let .tuple(items):
            for (i, item) in items.enumerated() { try flatten(item, path: child(String(i)), depth: depth + 1, budget: budget, into: &tensors, skipped: &skipped) }
        case let .object(o):
            // TorchScript modules (`__torch__.*`) carry their parameters as attributes.
            if o.module.hasPrefix("__torch__"), let state = o.state {
                try flatten(state, path: path, depth: depth + 1, budget: budget, into: &tensors, skipped: &skipped)
            } else if try containsTensors(.object(o), depth: 0, budget: budget) || depth <= 1 {
                skipped.append("\(path.isEmpty ? "(root)" : path): \(o.module).\(o.name) object")
            }
        default:
            break  // scalars, strings, None: not tensors
        }
    }

    private static func containsTensors(_ value: PickleValue, depth: Int, budget: VisitBudget) throws -> Bool {
        try budget.spend()
        guard depth <= maximumDepth else { return false }
        func any(_ items: [PickleValue]) throws -> Bool {
            for item in items where try containsTensors(item, depth: depth + 1, budget: budget) { return true }
            return false
        }
        switch value {
        case .tensor: return true
        case let .dict(d): return try any(d.values)
        case let .list(l): return try any(l.items)
        case let .tuple(t): return try any(t)
        case let .object(o): return try any(o.arguments + (o.state.map { [$0] } ?? []) + o.items)
        default: return false
        }
    }
}

/// Bounds the work of walking an unpickled tree.
final class VisitBudget {
    private var left: Int
    init(limit: Int) { left = limit }
    func spend() throws {
        left -= 1
        guard left >= 0 else {
            throw FileFormatError(path: "", format: "", "data.pkl: the pickle refers to the same objects too many times (damaged or hostile file)")
        }
    }
}

/// A storage as the unpickler hands it to `_rebuild_tensor_v2`.
final class StorageReference {
    let dtype: StorageDType
    let storage: TensorStorage
    init(dtype: StorageDType, storage: TensorStorage) {
        self.dtype = dtype
        self.storage = storage
    }
}
