import Foundation

/// A value rebuilt from a pickle by `Unpickler`. Nothing a pickle names is ever executed:
/// classes and functions the unpickler does not know become `.object` placeholders that
/// only record what was asked for.
public indirect enum PickleValue: CustomStringConvertible {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer wider than 64 bits (kept as its little-endian two's-complement bytes).
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case set([PickleValue])
    /// A module-level name (`GLOBAL`), not resolved to anything.
    case global(module: String, name: String)
    /// A call or instantiation of a global the unpickler does not know, never performed.
    case object(PickleObject)
    /// A persistent reference (`BINPERSID`) as resolved by the unpickler's delegate.
    case persistent(AnyObject)
    /// A tensor rebuilt from a storage by `_rebuild_tensor_v2` and friends.
    case tensor(StoredTensor)

    public var description: String {
        switch self {
        case .none: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(i): return String(i)
        case .bigInt: return "<big int>"
        case let .float(f): return String(f)
        case let .string(s): return "'\(s)'"
        case let .bytes(b): return "<\(b.count) bytes>"
        case let .tuple(t): return "tuple(\(t.count))"
        case let .list(l): return "list(\(l.items.count))"
        case let .dict(d): return "dict(\(d.keys.count))"
        case let .set(s): return "set(\(s.count))"
        case let .global(m, n): return "\(m).\(n)"
        case let .object(o): return "<\(o.module).\(o.name)>"
        case .persistent: return "<persistent>"
        case let .tensor(t): return "tensor(\(t.dtype), \(t.shape))"
        }
    }

    public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }

    public var intValue: Int64? {
        switch self {
        case let .int(i): return i
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }

    /// The items of a tuple or a list.
    public var sequence: [PickleValue]? {
        switch self {
        case let .tuple(t): return t
        case let .list(l): return l.items
        default: return nil
        }
    }

    /// A dictionary key as a path component ("model", "0"...).
    var keyText: String {
        switch self {
        case let .string(s): return s
        case let .int(i): return String(i)
        case let .bool(b): return b ? "True" : "False"
        default: return description
        }
    }
}

/// What the unpickler records about a mutable container to bound nesting (see
/// `Unpickler.maxNestingDepth`).
protocol NestingTracked: AnyObject {
    /// Levels of containers from this one down, as far as the unpickler has seen (1: no
    /// container inside).
    var height: Int { get set }
    /// Whether it has been stored inside another container (whose recorded height then
    /// does not see later growth of this one).
    var embedded: Bool { get set }
    /// False once a value inside was replaced, so `height` may be more than the truth.
    var heightExact: Bool { get set }
    /// Drops everything inside (breaks reference cycles; see `Unpickler.load(_:use:)`).
    func removeContents()
    /// Whether `height` was at least the true height when recorded (nothing inside had
    /// grown after being stored), and the unpickler's growth count then (see `Unpickler`).
    var notUnder: Bool { get set }
    var epoch: Int { get set }
}

/// A list, a reference so that `APPEND` after `PUT` reaches every holder, as in Python.
public final class PickleList: NestingTracked {
    public var items: [PickleValue] = []
    var height = 1
    var embedded = false
    var heightExact = true
    var notUnder = true
    var epoch = 0
    init(_ items: [PickleValue] = []) { self.items = items }
    func removeContents() { items = [] }
}

/// A dict that keeps insertion order (state dicts are ordered).
public final class PickleDict: NestingTracked {
    var height = 1
    var embedded = false
    var heightExact = true
    var notUnder = true
    var epoch = 0
    public private(set) var keys: [PickleValue] = []
    public private(set) var values: [PickleValue] = []
    private var positions: [String: Int] = [:]

    /// Sets `key`; a repeated hashable key (string, int, bool) replaces the old value.
    func set(_ key: PickleValue, _ value: PickleValue) {
        let hashKey: String?
        switch key {
        case let .string(s): hashKey = "s" + s
        case let .int(i): hashKey = "i\(i)"
        case let .bool(b): hashKey = b ? "i1" : "i0"
        default: hashKey = nil
        }
        if let h = hashKey, let p = positions[h] {
            values[p] = value
            heightExact = false
            return
        }
        if let h = hashKey { positions[h] = keys.count }
        keys.append(key)
        values.append(value)
    }

    public subscript(key: String) -> PickleValue? {
        positions["s" + key].map { values[$0] }
    }

    public var items: Zip2Sequence<[PickleValue], [PickleValue]> { zip(keys, values) }

    func removeContents() {
        keys = []
        values = []
        positions = [:]
    }
}

/// What a pickle asked to build from a class or function it named: recorded, never run.
public final class PickleObject: NestingTracked {
    var height = 1
    var embedded = false
    var heightExact = true
    var notUnder = true
    var epoch = 0
    public let module: String
    public let name: String
    public private(set) var arguments: [PickleValue]
    /// What `BUILD` set (usually the instance `__dict__`).
    public var state: PickleValue?
    /// Items appended or set on the object (subclasses of list or dict).
    public var items: [PickleValue] = []

    init(module: String, name: String, arguments: [PickleValue]) {
        self.module = module
        self.name = name
        self.arguments = arguments
    }

    func removeContents() {
        arguments = []
        state = nil
        items = []
    }
}
