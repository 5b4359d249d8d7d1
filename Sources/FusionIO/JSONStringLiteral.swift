/// `text` as a JSON string literal, escaped as serde_json escapes: quote, backslash and
/// control characters only (`\b \t \n \f \r`, others `\u00XX`); the rest is raw UTF-8.
/// Used where JSON is written by hand to keep a fixed key order (safetensors headers,
/// `fusion eval --format json`).
public func jsonStringLiteral(_ text: String) -> String {
    var out = "\""
    out.reserveCapacity(text.utf8.count + 2)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\u{08}": out += "\\b"
        case "\u{09}": out += "\\t"
        case "\u{0A}": out += "\\n"
        case "\u{0C}": out += "\\f"
        case "\u{0D}": out += "\\r"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    out += "\""
    return out
}
