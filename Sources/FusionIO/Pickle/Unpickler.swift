import Foundation

/// A restricted unpickler for the pickles inside PyTorch checkpoints (protocols 0 to 5).
///
/// It never imports or calls anything a pickle names: `GLOBAL` yields a name, and `REDUCE`
/// or `NEWOBJ` on a name asks `call` (the checkpoint reader knows `OrderedDict` and the
/// tensor rebuild functions); anything else becomes an inert `PickleObject` placeholder.
/// Every length and index comes from the file and is checked, so a damaged pickle ends in
/// an error, with memory bounded by the pickle's size.
public struct Unpickler {
    /// Resolves `BINPERSID` / `PERSID` references (PyTorch's storages).
    public var persistentLoad: (PickleValue) throws -> PickleValue
    /// Handles a call of a global; nil means "unknown: keep a placeholder".
    public var call: (_ module: String, _ name: String, _ arguments: [PickleValue]) throws -> PickleValue?
    /// Name used in error messages ("data.pkl").
    public let name: String

    public init(name: String,
                persistentLoad: @escaping (PickleValue) throws -> PickleValue,
                call: @escaping (_ module: String, _ name: String, _ arguments: [PickleValue]) throws -> PickleValue?) {
        self.name = name
        self.persistentLoad = persistentLoad
        self.call = call
    }

    private struct Marked: Error {}

    public func load(_ bytes: UnsafeRawBufferPointer) throws -> PickleValue {
        var reader = ByteReader(bytes: bytes)
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]

        func fail(_ message: String) -> FileFormatError {
            FileFormatError(path: "", format: "", "\(name): \(message) at byte \(reader.position)")
        }
        func pop() throws -> PickleValue {
            guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw fail("stack underflow") }
            return v
        }
        func popMark() throws -> [PickleValue] {
            guard let m = marks.popLast(), m <= stack.count else { throw fail("no MARK on the stack") }
            let items = Array(stack[m...])
            stack.removeSubrange(m...)
            return items
        }
        func top() throws -> PickleValue {
            guard let v = stack.last, stack.count > (marks.last ?? 0) else { throw fail("stack underflow") }
            return v
        }
        func get(_ index: Int) throws -> PickleValue {
            guard let v = memo[index] else { throw fail("memo entry \(index) is not defined") }
            return v
        }
        func put(_ index: Int) throws {
            memo[index] = try top()
        }
        func makeCall(_ callee: PickleValue, _ arguments: [PickleValue]) throws -> PickleValue {
            guard case let .global(module, name) = callee else {
                if case let .object(o) = callee {  // calling a placeholder: still a placeholder
                    return .object(PickleObject(module: o.module, name: o.name, arguments: arguments))
                }
                throw fail("cannot call \(callee)")
            }
            if let v = try withKeyContext({ try call(module, name, arguments) }) { return v }
            return .object(PickleObject(module: module, name: name, arguments: arguments))
        }
        /// Adds the entry being read to a delegate's error: the nearest key below on the stack.
        func withKeyContext<T>(_ body: () throws -> T) throws -> T {
            do {
                return try body()
            } catch let error as FileFormatError {
                guard let key = stack.last(where: { $0.stringValue != nil })?.stringValue else { throw error }
                throw FileFormatError(path: error.path, format: error.format, "\(error.message) (reading '\(key)')")
            }
        }
        func setItems(_ target: PickleValue, _ items: [PickleValue]) throws {
            guard items.count % 2 == 0 else { throw fail("odd number of items for SETITEMS") }
            switch target {
            case let .dict(d):
                for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
            case let .object(o):
                o.items.append(contentsOf: items)
            default:
                throw fail("SETITEM on \(target)")
            }
        }
        func append(_ target: PickleValue, _ items: [PickleValue]) throws {
            switch target {
            case let .list(l): l.items.append(contentsOf: items)
            case let .object(o): o.items.append(contentsOf: items)
            default: throw fail("APPEND on \(target)")
            }
        }

        while true {
            guard let op = reader.byte() else { throw fail("pickle ends without STOP (truncated?)") }
            switch op {
            case 0x80:  // PROTO
                guard let v = reader.byte() else { throw fail("truncated PROTO") }
                guard v <= 5 else { throw fail("unsupported pickle protocol \(v)") }
            case 0x95:  // FRAME
                guard reader.skip(8) else { throw fail("truncated FRAME") }
            case 0x2E:  // STOP
                guard stack.count == 1 else { throw fail("STOP with \(stack.count) values on the stack") }
                return stack[0]
            case 0x28: marks.append(stack.count)  // MARK
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32: stack.append(try top())  // DUP
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4B:  // BININT1
                guard let v = reader.byte() else { throw fail("truncated BININT1") }
                stack.append(.int(Int64(v)))
            case 0x4D:  // BININT2
                guard let v = reader.uint(2) else { throw fail("truncated BININT2") }
                stack.append(.int(Int64(v)))
            case 0x4A:  // BININT
                guard let v = reader.uint(4) else { throw fail("truncated BININT") }
                stack.append(.int(Int64(Int32(bitPattern: UInt32(v)))))
            case 0x8A, 0x8B:  // LONG1, LONG4
                guard let n = reader.uint(op == 0x8A ? 1 : 4), let raw = reader.take(Int(n)) else { throw fail("truncated LONG") }
                stack.append(Unpickler.long(Array(raw)))
            case 0x47:  // BINFLOAT (big-endian)
                guard let raw = reader.take(8) else { throw fail("truncated BINFLOAT") }
                var bits: UInt64 = 0
                for b in raw { bits = bits << 8 | UInt64(b) }
                stack.append(.float(Double(bitPattern: bits)))
            case 0x58, 0x8C, 0x8D:  // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                guard let n = reader.uint(op == 0x8C ? 1 : op == 0x58 ? 4 : 8), n <= UInt64(Int.max),
                      let raw = reader.take(Int(n)) else { throw fail("truncated string") }
                guard let s = String(validating: raw, as: UTF8.self) else { throw fail("string is not UTF-8") }
                stack.append(.string(s))
            case 0x54, 0x55, 0x42, 0x43, 0x8E, 0x96:  // BINSTRING, SHORT_BINSTRING, BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
                let width = (op == 0x55 || op == 0x43) ? 1 : (op == 0x8E || op == 0x96) ? 8 : 4
                guard let n = reader.uint(width), n <= UInt64(Int.max), let raw = reader.take(Int(n)) else {
                    throw fail("truncated bytes")
                }
                if op == 0x54 || op == 0x55, let s = String(validating: raw, as: UTF8.self) {
                    stack.append(.string(s))  // Python 2 str
                } else {
                    stack.append(.bytes(Array(raw)))
                }
            case 0x49, 0x4C:  // INT, LONG (text)
                guard let line = reader.line() else { throw fail("truncated INT") }
                let text = line.hasSuffix("L") ? String(line.dropLast()) : line
                if text == "01" { stack.append(.bool(true)) } else if text == "00" { stack.append(.bool(false)) } else {
                    guard let v = Int64(text) else { throw fail("bad integer '\(line.prefix(40))'") }
                    stack.append(.int(v))
                }
            case 0x46:  // FLOAT (text)
                guard let line = reader.line(), let v = Double(line) else { throw fail("bad FLOAT") }
                stack.append(.float(v))
            case 0x53, 0x56:  // STRING, UNICODE (text)
                guard let line = reader.line() else { throw fail("truncated STRING") }
                var s = line
                if op == 0x53, s.count >= 2, let f = s.first, f == "'" || f == "\"", s.last == f { s = String(s.dropFirst().dropLast()) }
                stack.append(.string(s))
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))
            case 0x86:
                let b = try pop(), a = try pop()
                stack.append(.tuple([a, b]))
            case 0x87:
                let c = try pop(), b = try pop(), a = try pop()
                stack.append(.tuple([a, b, c]))
            case 0x5D: stack.append(.list(PickleList()))  // EMPTY_LIST
            case 0x6C: stack.append(.list(PickleList(try popMark())))  // LIST
            case 0x61:  // APPEND
                let v = try pop()
                try append(try top(), [v])
            case 0x65:  // APPENDS
                let items = try popMark()
                try append(try top(), items)
            case 0x7D: stack.append(.dict(PickleDict()))  // EMPTY_DICT
            case 0x64:  // DICT
                let items = try popMark()
                let d = PickleDict()
                try setItems(.dict(d), items)
                stack.append(.dict(d))
            case 0x73:  // SETITEM
                let v = try pop(), k = try pop()
                try setItems(try top(), [k, v])
            case 0x75:  // SETITEMS
                let items = try popMark()
                try setItems(try top(), items)
            case 0x8F: stack.append(.set([]))  // EMPTY_SET
            case 0x90:  // ADDITEMS
                let items = try popMark()
                guard case let .set(s) = try pop() else { throw fail("ADDITEMS on a non-set") }
                stack.append(.set(s + items))
            case 0x91: stack.append(.set(try popMark()))  // FROZENSET
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                guard let i = reader.uint(op == 0x68 ? 1 : 4) else { throw fail("truncated GET") }
                stack.append(try get(Int(i)))
            case 0x71, 0x72:  // BINPUT, LONG_BINPUT
                guard let i = reader.uint(op == 0x71 ? 1 : 4) else { throw fail("truncated PUT") }
                try put(Int(i))
            case 0x94: try put(memo.count)  // MEMOIZE
            case 0x67, 0x70:  // GET, PUT (text)
                guard let line = reader.line(), let i = Int(line), i >= 0 else { throw fail("bad memo index") }
                if op == 0x67 { stack.append(try get(i)) } else { try put(i) }
            case 0x63:  // GLOBAL
                guard let module = reader.line(), let name = reader.line() else { throw fail("truncated GLOBAL") }
                stack.append(.global(module: module, name: name))
            case 0x93:  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard let m = module.stringValue, let n = name.stringValue else { throw fail("STACK_GLOBAL needs two strings") }
                stack.append(.global(module: m, name: n))
            case 0x52:  // REDUCE
                let args = try pop(), callee = try pop()
                guard let a = args.sequence else { throw fail("REDUCE arguments are \(args), not a tuple") }
                stack.append(try makeCall(callee, a))
            case 0x81:  // NEWOBJ
                let args = try pop(), cls = try pop()
                guard let a = args.sequence else { throw fail("NEWOBJ arguments are not a tuple") }
                stack.append(try makeCall(cls, a))
            case 0x92:  // NEWOBJ_EX
                _ = try pop()
                let args = try pop(), cls = try pop()
                guard let a = args.sequence else { throw fail("NEWOBJ_EX arguments are not a tuple") }
                stack.append(try makeCall(cls, a))
            case 0x69:  // INST
                guard let module = reader.line(), let name = reader.line() else { throw fail("truncated INST") }
                let args = try popMark()
                stack.append(.object(PickleObject(module: module, name: name, arguments: args)))
            case 0x6F:  // OBJ
                var items = try popMark()
                guard !items.isEmpty else { throw fail("OBJ without a class") }
                let cls = items.removeFirst()
                stack.append(try makeCall(cls, items))
            case 0x62:  // BUILD
                let state = try pop()
                let target = try top()
                switch target {
                case let .object(o): o.state = state
                case .tensor, .dict, .list: break  // tensor/collection state (hooks...): not needed
                default: throw fail("BUILD on \(target)")
                }
            case 0x51:  // BINPERSID
                let pid = try pop()
                stack.append(try withKeyContext { try persistentLoad(pid) })
            case 0x50:  // PERSID
                guard let line = reader.line() else { throw fail("truncated PERSID") }
                stack.append(try persistentLoad(.string(line)))
            default:
                throw fail(String(format: "unsupported pickle opcode 0x%02x", op))
            }
        }
    }

    /// A little-endian two's-complement integer of any width.
    static func long(_ bytes: [UInt8]) -> PickleValue {
        if bytes.isEmpty { return .int(0) }
        if bytes.count > 8 {
            // Fits in 64 bits when the extra bytes only repeat the sign.
            let sign: UInt8 = bytes[7] & 0x80 != 0 ? 0xFF : 0
            guard bytes[8...].allSatisfy({ $0 == sign }) else { return .bigInt(bytes) }
        }
        var v: UInt64 = 0
        for (i, b) in bytes.prefix(8).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        let n = min(bytes.count, 8)
        if n < 8, bytes[n - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(n)) }
        return .int(Int64(bitPattern: v))
    }
}

/// A bounds-checked cursor over pickle bytes.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    mutating func byte() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func take(_ n: Int) -> UnsafeRawBufferPointer? {
        guard n >= 0, n <= bytes.count - position else { return nil }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + n])
    }

    mutating func skip(_ n: Int) -> Bool { take(n) != nil }

    /// An unsigned little-endian integer of `width` bytes.
    mutating func uint(_ width: Int) -> UInt64? {
        guard let raw = take(width) else { return nil }
        var v: UInt64 = 0
        for (i, b) in raw.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    /// Text up to the next newline (protocol 0 arguments), at most 64 KiB.
    mutating func line() -> String? {
        let start = position
        let limit = min(bytes.count, start + 65_536)
        var end = start
        while end < limit, bytes[end] != 0x0A { end += 1 }
        guard end < limit else { return nil }
        position = end + 1
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }
}
