import Foundation

/// The JSON side of safetensors headers: a guarded front end to `JSONSerialization` for
/// reading, and a serializer that writes exactly what the official implementation
/// (serde_json) writes.
///
/// `JSONSerialization` is a well-kept parser, but on its own it is too lenient for input
/// that comes from a file: it guesses UTF-16/32 from zero bytes, accepts a trailing comma,
/// and hands back numbers as `NSNumber`s that convert to `Int` or `Bool` far too readily
/// (`1.0`, `true` and `1` all pass `as? Int`; `99999999999999999999` comes back as an
/// `NSDecimalNumber` whose `int64Value` is garbage). The helpers here close those gaps.
enum JSONHeader {
    /// Parses `bytes` as a JSON object. Throws a message (no file name) when the bytes are
    /// not UTF-8, do not start with `{`, or are not valid JSON.
    static func parseObject(_ bytes: UnsafeRawBufferPointer) throws -> [String: Any] {
        guard let first = bytes.first else { throw Problem("the header is empty") }
        guard first == UInt8(ascii: "{") else {
            throw Problem("the header does not start with '{' (first byte 0x\(String(first, radix: 16)))")
        }
        // Outside strings JSON allows only tab, newline and carriage return below 0x20, and
        // inside strings none at all. Rejecting them up front also keeps JSONSerialization
        // from reading the bytes as UTF-16 or UTF-32, which it guesses from zero bytes.
        if let index = bytes.firstIndex(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) {
            throw Problem("the header has a control byte 0x\(String(bytes[index], radix: 16)) at header offset \(index)")
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw Problem("the header is not valid UTF-8")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw Problem("the header is not valid JSON" + (detail.map { ": \($0)" } ?? ""))
        }
        guard let dictionary = object as? [String: Any] else { throw Problem("the header is not a JSON object") }
        return dictionary
    }

    /// A non-negative JSON integer as `Int`, or nil for anything else: booleans, numbers
    /// written with a fraction or exponent (`1.0`, `1e2`, as serde_json also rejects),
    /// negative numbers, and numbers above `Int.max`.
    static func nonNegativeInt(_ value: Any) -> Int? {
        // Only NSNumber is checked: a bridged `as? Int` would accept true and 1.5 (rounded).
        // Numbers beyond UInt64 come back as NSDecimalNumber, whose objCType is "d".
        guard let number = value as? NSNumber, !(number is NSDecimalNumber) else { return nil }
        switch number.objCType.pointee {
        case CChar(UInt8(ascii: "s")), CChar(UInt8(ascii: "i")), CChar(UInt8(ascii: "l")), CChar(UInt8(ascii: "q")):
            let v = number.int64Value
            return v >= 0 ? Int(exactly: v) : nil
        case CChar(UInt8(ascii: "S")), CChar(UInt8(ascii: "I")), CChar(UInt8(ascii: "L")), CChar(UInt8(ascii: "Q")):
            // int64Value wraps above Int64.max, so read the unsigned value.
            return Int(exactly: number.uint64Value)
        default:
            // "c" is a boolean (`true`/`false`); "f" and "d" are fractions or exponents.
            return nil
        }
    }

    /// A short description of a JSON value for error messages.
    static func describe(_ value: Any) -> String {
        switch value {
        case let string as String: return "the string \"\(shortened(string))\""
        case is NSNull: return "null"
        case let number as NSNumber:
            if number is NSDecimalNumber { return shortened(number.description) }
            switch number.objCType.pointee {
            case CChar(UInt8(ascii: "c")): return number.boolValue ? "true" : "false"
            // Swift's spelling keeps a fraction visible ("2.0", where NSNumber says "2").
            case CChar(UInt8(ascii: "d")), CChar(UInt8(ascii: "f")): return "\(number.doubleValue)"
            default: return number.description
            }
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        default: return "a \(type(of: value))"
        }
    }

    /// `text` cut to `limit` characters, so a hostile 100 MB name cannot flood a message.
    static func shortened(_ text: String, limit: Int = 80) -> String {
        text.count <= limit ? text : text.prefix(limit) + "…"
    }

    struct Problem: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }
}
