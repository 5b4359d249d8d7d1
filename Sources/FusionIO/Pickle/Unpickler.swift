import Foundation

/// A restricted unpickler for the pickles inside PyTorch checkpoints (protocols 0 to 5).
///
/// It never imports or calls anything a pickle names: `GLOBAL` yields a name, and `REDUCE`
/// or `NEWOBJ` on a name asks `call` (the checkpoint reader knows `OrderedDict` and the
/// tensor rebuild functions); anything else becomes an inert `PickleObject` placeholder.
/// Every length and index comes from the file and is checked, so a damaged pickle ends in
/// an error, with memory and work bounded by the pickle's size and nesting bounded by
/// `maxNestingDepth` (so walking or freeing the result cannot exhaust the stack).
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

    /// The deepest nesting of containers (tuples, lists, dicts, sets, objects) a pickle may
    /// build: 1,000 levels. Checkpoints nest a handful of levels; the limit keeps parsing,
    /// walking and freeing the result (which recurses once per level) within the stack.
    /// Deeper pickles fail with "pickle nesting deeper than 1000 levels".
    public static let maxNestingDepth = 1_000

    /// What the unpickler knows about a value's nesting: its recorded `height` (0: not a
    /// container), whether that was not below the truth when recorded, and when.
    struct Nest {
        var height: Int
        var notUnder: Bool
        var epoch: Int
        static let scalar = Nest(height: 0, notUnder: true, epoch: 0)
    }

    /// Parses `bytes` and hands the result to `body`; then empties every list, dict and
    /// object the pickle built, so that reference cycles (a dict holding itself through the
    /// memo) are not leaked and nothing is freed recursively. `body` must copy out what it
    /// keeps (tensors, strings): the containers it saw are empty afterwards.
    public func load<T>(_ bytes: UnsafeRawBufferPointer, use body: (PickleValue) throws -> T) throws -> T {
        var containers: [NestingTracked] = []
        defer { for c in containers { c.removeContents() } }
        return try body(try parse(bytes, containers: &containers))
    }

    /// Parses `bytes`. A pickle with reference cycles leaks them (they are never freed):
    /// prefer `load(_:use:)`, which also breaks them. On errors, nothing leaks.
    public func load(_ bytes: UnsafeRawBufferPointer) throws -> PickleValue {
        var containers: [NestingTracked] = []
        do {
            return try parse(bytes, containers: &containers)
        } catch {
            for c in containers { c.removeContents() }
            throw error
        }
    }

    private func parse(_ bytes: UnsafeRawBufferPointer, containers: inout [NestingTracked]) throws -> PickleValue {
        var reader = ByteReader(bytes: bytes)
        // The stack, with each value's nesting alongside.
        var stack: [PickleValue] = []
        var nests: [Nest] = []
        var marks: [Int] = []
        var memo: [Int: (PickleValue, Nest)] = [:]
        // Nesting bound. Every container records its height when built or changed. A list,
        // dict or object changed after it was stored in another container leaves the heights
        // recorded by its holders short by at most its growth: `slack` adds up those
        // growths, so every true height is at most recorded + slack, and recorded + slack
        // must stay within the limit. `growths` counts such changes: a height recorded
        // since the last one, from values that were then exact, is exact.
        var slack = 0
        // Elements ADDITEMS may copy in all (sets are values here, Python's are objects).
        var setCopyBudget = 64 * bytes.count + 1_000_000
        var growths = 0
        var tallest = 0
        let limit = Unpickler.maxNestingDepth

        func fail(_ message: String) -> FileFormatError {
            FileFormatError(path: "", format: "", "\(name): \(message) at byte \(reader.position)")
        }
        func tracked(_ v: PickleValue) -> NestingTracked? {
            switch v {
            case let .list(l): return l
            case let .dict(d): return d
            case let .object(o): return o
            default: return nil
            }
        }
        /// A value's nesting: a mutable container's own record, else the stack's.
        func nest(_ v: PickleValue, _ recorded: Nest) -> Nest {
            guard let box = tracked(v) else { return recorded }
            return Nest(height: box.height, notUnder: box.notUnder, epoch: box.epoch)
        }
        /// Whether `n.height` is at least the value's true height now.
        func sound(_ n: Nest) -> Bool { n.height == 0 || (n.notUnder && n.epoch == growths) }
        /// The tallest of `children`, and whether all are sound: what a new holder records.
        func summary(_ children: [Nest]) -> Nest {
            var s = Nest(height: 0, notUnder: true, epoch: growths)
            for c in children {
                s.height = max(s.height, c.height)
                if !sound(c) { s.notUnder = false }
            }
            return s
        }
        /// A value made outside the stack (by a delegate): assumed new and flat.
        func freshNest(_ v: PickleValue) -> Nest {
            switch v {
            case .tuple, .set: return Nest(height: 1, notUnder: true, epoch: growths)
            default:
                if let box = tracked(v), box.height <= 1 {
                    containers.append(box)
                    box.height = 1
                    box.notUnder = true
                    box.epoch = growths
                }
                return nest(v, .scalar)
            }
        }
        /// Pushes a new empty list or dict.
        func pushEmpty(_ v: PickleValue) {
            if let box = tracked(v) {
                box.epoch = growths
                containers.append(box)
            }
            push(v, Nest(height: 1, notUnder: true, epoch: growths))
        }
        func checkHeight(_ h: Int) throws {
            tallest = max(tallest, h)
            guard tallest + slack <= limit else { throw fail("pickle nesting deeper than \(limit) levels") }
        }
        func push(_ v: PickleValue, _ n: Nest) {
            stack.append(v)
            nests.append(n)
        }
        func popSlot() throws -> (PickleValue, Nest) {
            guard let v = stack.popLast(), let n = nests.popLast(), stack.count >= (marks.last ?? 0) else { throw fail("stack underflow") }
            return (v, nest(v, n))
        }
        func pop() throws -> PickleValue { try popSlot().0 }
        func popMark() throws -> (items: [PickleValue], summary: Nest) {
            guard let m = marks.popLast(), m <= stack.count else { throw fail("no MARK on the stack") }
            let items = Array(stack[m...])
            let s = summary((m..<stack.count).map { nest(stack[$0], nests[$0]) })
            stack.removeSubrange(m...)
            nests.removeSubrange(m...)
            return (items, s)
        }
        func top() throws -> PickleValue {
            guard let v = stack.last, stack.count > (marks.last ?? 0) else { throw fail("stack underflow") }
            return v
        }
        /// Marks `children` as stored inside another container.
        func embed(_ children: [PickleValue]) {
            for c in children { tracked(c)?.embedded = true }
        }
        /// Pushes a new container holding `children` (summarised by `s`).
        func pushContainer(_ v: PickleValue, children: [PickleValue], _ s: Nest) throws {
            embed(children)
            let n = Nest(height: s.height + 1, notUnder: s.notUnder, epoch: growths)
            if let box = tracked(v) {
                containers.append(box)
                box.height = n.height
                box.notUnder = n.notUnder
                box.epoch = n.epoch
            }
            try checkHeight(n.height)
            push(v, n)
        }
        /// Records that `target` now also holds `children` (summarised by `s`).
        func grow(_ target: PickleValue, children: [PickleValue], _ s: Nest) throws {
            embed(children)
            guard let box = tracked(target), s.height > 0 else { return }
            let wasSound = sound(nest(target, .scalar))
            let newHeight = max(box.height, s.height + 1)
            if box.embedded {
                // Whatever holds `target` recorded its old height: it may now be deeper by
                // up to the growth (true heights are within recorded + slack).
                let childBound = s.height + 1 + (s.notUnder ? 0 : slack)
                let oldLowerBound = box.heightExact ? box.height : 1
                let growth = max(0, childBound - oldLowerBound)
                if growth > 0 {
                    slack += growth
                    growths += 1
                }
            }
            box.height = newHeight
            box.notUnder = wasSound && s.notUnder
            box.epoch = growths
            try checkHeight(newHeight)
        }
        func get(_ index: Int) throws -> (PickleValue, Nest) {
            guard let v = memo[index] else { throw fail("memo entry \(index) is not defined") }
            return v
        }
        func put(_ index: Int) throws {
            let v = try top()
            memo[index] = (v, nest(v, nests[nests.count - 1]))
        }
        func makeCall(_ callee: PickleValue, _ arguments: [PickleValue], _ s: Nest) throws {
            guard case let .global(module, name) = callee else {
                if case let .object(o) = callee {  // calling a placeholder: still a placeholder
                    try pushContainer(.object(PickleObject(module: o.module, name: o.name, arguments: arguments)), children: arguments, s)
                    return
                }
                throw fail("cannot call \(callee)")
            }
            if let v = try withKeyContext({ try call(module, name, arguments) }) {
                embed(arguments)
                let n = freshNest(v)
                try checkHeight(n.height)
                push(v, n)
                return
            }
            try pushContainer(.object(PickleObject(module: module, name: name, arguments: arguments)), children: arguments, s)
        }
        /// The children of a tuple, summarised from the tuple's own record.
        func inner(_ tuple: Nest) -> Nest {
            Nest(height: max(0, tuple.height - 1), notUnder: sound(tuple), epoch: growths)
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
        func setItems(_ target: PickleValue, _ items: [PickleValue], _ s: Nest) throws {
            guard items.count % 2 == 0 else { throw fail("odd number of items for SETITEMS") }
            switch target {
            case let .dict(d):
                for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
            case let .object(o):
                o.items.append(contentsOf: items)
            default:
                throw fail("SETITEM on \(target)")
            }
            try grow(target, children: items, s)
        }
        func append(_ target: PickleValue, _ items: [PickleValue], _ s: Nest) throws {
            switch target {
            case let .list(l): l.items.append(contentsOf: items)
            case let .object(o): o.items.append(contentsOf: items)
            default: throw fail("APPEND on \(target)")
            }
            try grow(target, children: items, s)
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
            case 0x32:  // DUP
                let v = try top()
                push(v, nest(v, nests[nests.count - 1]))
            case 0x4E: push(.none, .scalar)
            case 0x88: push(.bool(true), .scalar)
            case 0x89: push(.bool(false), .scalar)
            case 0x4B:  // BININT1
                guard let v = reader.byte() else { throw fail("truncated BININT1") }
                push(.int(Int64(v)), .scalar)
            case 0x4D:  // BININT2
                guard let v = reader.uint(2) else { throw fail("truncated BININT2") }
                push(.int(Int64(v)), .scalar)
            case 0x4A:  // BININT
                guard let v = reader.uint(4) else { throw fail("truncated BININT") }
                push(.int(Int64(Int32(bitPattern: UInt32(v)))), .scalar)
            case 0x8A, 0x8B:  // LONG1, LONG4
                guard let n = reader.uint(op == 0x8A ? 1 : 4), let raw = reader.take(Int(n)) else { throw fail("truncated LONG") }
                push(Unpickler.long(Array(raw)), .scalar)
            case 0x47:  // BINFLOAT (big-endian)
                guard let raw = reader.take(8) else { throw fail("truncated BINFLOAT") }
                var bits: UInt64 = 0
                for b in raw { bits = bits << 8 | UInt64(b) }
                push(.float(Double(bitPattern: bits)), .scalar)
            case 0x58, 0x8C, 0x8D:  // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                guard let n = reader.uint(op == 0x8C ? 1 : op == 0x58 ? 4 : 8), n <= UInt64(Int.max),
                      let raw = reader.take(Int(n)) else { throw fail("truncated string") }
                guard let s = String(validating: raw, as: UTF8.self) else { throw fail("string is not UTF-8") }
                push(.string(s), .scalar)
            case 0x54, 0x55, 0x42, 0x43, 0x8E, 0x96:  // BINSTRING, SHORT_BINSTRING, BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
                let width = (op == 0x55 || op == 0x43) ? 1 : (op == 0x8E || op == 0x96) ? 8 : 4
                guard let n = reader.uint(width), n <= UInt64(Int.max), let raw = reader.take(Int(n)) else {
                    throw fail("truncated bytes")
                }
                if op == 0x54 || op == 0x55, let s = String(validating: raw, as: UTF8.self) {
                    push(.string(s), .scalar)  // Python 2 str
                } else {
                    push(.bytes(Array(raw)), .scalar)
                }
            case 0x49, 0x4C:  // INT, LONG (text)
                guard let line = reader.line() else { throw fail("truncated INT") }
                let text = line.hasSuffix("L") ? String(line.dropLast()) : line
                if text == "01" { push(.bool(true), .scalar) } else if text == "00" { push(.bool(false), .scalar) } else {
                    guard let v = Int64(text) else { throw fail("bad integer '\(line.prefix(40))'") }
                    push(.int(v), .scalar)
                }
            case 0x46:  // FLOAT (text)
                guard let line = reader.line(), let v = Double(line) else { throw fail("bad FLOAT") }
                push(.float(v), .scalar)
            case 0x53, 0x56:  // STRING, UNICODE (text)
                guard let line = reader.line() else { throw fail("truncated STRING") }
                var s = line
                if op == 0x53, s.count >= 2, let f = s.first, f == "'" || f == "\"", s.last == f { s = String(s.dropFirst().dropLast()) }
                push(.string(s), .scalar)
            case 0x29: push(.tuple([]), Nest(height: 1, notUnder: true, epoch: growths))  // EMPTY_TUPLE
            case 0x74:  // TUPLE
                let (items, h) = try popMark()
                try pushContainer(.tuple(items), children: items, h)
            case 0x85:  // TUPLE1
                let (a, h) = try popSlot()
                try pushContainer(.tuple([a]), children: [a], summary([h]))
            case 0x86:  // TUPLE2
                let (b, hb) = try popSlot(), (a, ha) = try popSlot()
                try pushContainer(.tuple([a, b]), children: [a, b], summary([ha, hb]))
            case 0x87:  // TUPLE3
                let (c, hc) = try popSlot(), (b, hb) = try popSlot(), (a, ha) = try popSlot()
                try pushContainer(.tuple([a, b, c]), children: [a, b, c], summary([ha, hb, hc]))
            case 0x5D: pushEmpty(.list(PickleList()))  // EMPTY_LIST
            case 0x6C:  // LIST
                let (items, h) = try popMark()
                try pushContainer(.list(PickleList(items)), children: items, h)
            case 0x61:  // APPEND
                let (v, h) = try popSlot()
                try append(try top(), [v], summary([h]))
            case 0x65:  // APPENDS
                let (items, h) = try popMark()
                try append(try top(), items, h)
            case 0x7D: pushEmpty(.dict(PickleDict()))  // EMPTY_DICT
            case 0x64:  // DICT
                let (items, h) = try popMark()
                let d = PickleDict()
                guard items.count % 2 == 0 else { throw fail("odd number of items for DICT") }
                for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
                try pushContainer(.dict(d), children: items, h)
            case 0x73:  // SETITEM
                let (v, hv) = try popSlot(), (k, hk) = try popSlot()
                try setItems(try top(), [k, v], summary([hk, hv]))
            case 0x75:  // SETITEMS
                let (items, h) = try popMark()
                try setItems(try top(), items, h)
            case 0x8F: push(.set([]), Nest(height: 1, notUnder: true, epoch: growths))  // EMPTY_SET
            case 0x90:  // ADDITEMS
                let (items, h) = try popMark()
                var target: PickleValue
                let hs: Nest
                (target, hs) = try popSlot()
                guard case var .set(s) = target else { throw fail("ADDITEMS on a non-set") }
                // Let go of the popped set first, so that the items are appended in place:
                // copying it on every ADDITEMS made a 1 MB pickle take hours. A set the memo
                // also holds is still copied: that work is bounded by the pickle's size.
                target = .none
                let before = s.withUnsafeBufferPointer { $0.baseAddress }
                s.append(contentsOf: items)
                if s.withUnsafeBufferPointer({ $0.baseAddress }) != before {
                    // Copied (shared, or grown: amortised, at most twice the final size).
                    setCopyBudget -= s.count
                    guard setCopyBudget >= 0 else { throw fail("ADDITEMS copies sets too many times (damaged or hostile pickle)") }
                }
                try pushContainer(.set(s), children: items, summary([h, inner(hs)]))
            case 0x91:  // FROZENSET
                let (items, h) = try popMark()
                try pushContainer(.set(items), children: items, h)
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                guard let i = reader.uint(op == 0x68 ? 1 : 4) else { throw fail("truncated GET") }
                let (v, n) = try get(Int(i))
                push(v, nest(v, n))
            case 0x71, 0x72:  // BINPUT, LONG_BINPUT
                guard let i = reader.uint(op == 0x71 ? 1 : 4) else { throw fail("truncated PUT") }
                try put(Int(i))
            case 0x94: try put(memo.count)  // MEMOIZE
            case 0x67, 0x70:  // GET, PUT (text)
                guard let line = reader.line(), let i = Int(line), i >= 0 else { throw fail("bad memo index") }
                if op == 0x67 {
                    let (v, n) = try get(i)
                    push(v, nest(v, n))
                } else {
                    try put(i)
                }
            case 0x63:  // GLOBAL
                guard let module = reader.line(), let name = reader.line() else { throw fail("truncated GLOBAL") }
                push(.global(module: module, name: name), .scalar)
            case 0x93:  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard let m = module.stringValue, let n = name.stringValue else { throw fail("STACK_GLOBAL needs two strings") }
                push(.global(module: m, name: n), .scalar)
            case 0x52:  // REDUCE
                let (args, h) = try popSlot()
                let callee = try pop()
                guard let a = args.sequence else { throw fail("REDUCE arguments are \(args), not a tuple") }
                try makeCall(callee, a, inner(h))
            case 0x81:  // NEWOBJ
                let (args, h) = try popSlot()
                let cls = try pop()
                guard let a = args.sequence else { throw fail("NEWOBJ arguments are not a tuple") }
                try makeCall(cls, a, inner(h))
            case 0x92:  // NEWOBJ_EX
                _ = try pop()
                let (args, h) = try popSlot()
                let cls = try pop()
                guard let a = args.sequence else { throw fail("NEWOBJ_EX arguments are not a tuple") }
                try makeCall(cls, a, inner(h))
            case 0x69:  // INST
                guard let module = reader.line(), let name = reader.line() else { throw fail("truncated INST") }
                let (args, h) = try popMark()
                try pushContainer(.object(PickleObject(module: module, name: name, arguments: args)), children: args, h)
            case 0x6F:  // OBJ
                let (popped, h) = try popMark()
                var items = popped
                guard !items.isEmpty else { throw fail("OBJ without a class") }
                let cls = items.removeFirst()
                try makeCall(cls, items, h)
            case 0x62:  // BUILD
                let (state, h) = try popSlot()
                let target = try top()
                switch target {
                case let .object(o):
                    if o.state != nil { o.heightExact = false }
                    o.state = state
                    try grow(target, children: [state], summary([h]))
                case .tensor, .dict, .list: break  // tensor/collection state (hooks...): not needed
                default: throw fail("BUILD on \(target)")
                }
            case 0x51:  // BINPERSID
                let pid = try pop()
                let v = try withKeyContext { try persistentLoad(pid) }
                let n = freshNest(v)
                try checkHeight(n.height)
                push(v, n)
            case 0x50:  // PERSID
                guard let line = reader.line() else { throw fail("truncated PERSID") }
                let v = try persistentLoad(.string(line))
                let n = freshNest(v)
                try checkHeight(n.height)
                push(v, n)
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
