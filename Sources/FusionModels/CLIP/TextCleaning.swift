import Foundation

/// The clean-up OpenAI `clip.tokenize` applies to a prompt before splitting it:
/// `ftfy.fix_text` (ftfy 6 defaults), `html.unescape` twice, `strip`, every whitespace run
/// folded to one space, `strip`, then Python's `str.lower()`.
///
/// Everything works on Unicode scalars (Python code points), never on Swift `Character`s or
/// with `String ==` (which is canonical equivalence), so that each step sees exactly what
/// Python sees.
///
/// ftfy, as far as it is reproduced here (per line, repeated until nothing changes, in
/// ftfy's order):
/// - HTML entities (`&#?[0-9A-Za-z]{1,24};`): all HTML5 named references that end in `;`,
///   the all-caps forms ftfy adds (`&EACUTE;` -> `É`), decimal and hex references; skipped
///   from the first line that contains `<` on, as ftfy's `unescape_html="auto"` does.
/// - Mojibake (UTF-8 read as Latin-1 / Windows-1252), the clear cases only, in place of
///   ftfy's `is_bad` heuristic (see `fixEncoding`): a line holding an obvious sequence -
///   one that ftfy 6.3 repairs on its own and inside a sentence: U+0080-U+00FF but ten
///   (`Ã©` -> `é`), U+2000-U+207F (`â€”` -> `—`), `â‚¬` -> `€`, U+1F000-U+1FFFF
///   (`ðŸš—` -> `🚗`) - or a Greek/Cyrillic-like run (`ÎŸÎ”`) is re-read whole when it all
///   is valid UTF-8 that way, else just those sequences are replaced. Not reproduced: the
///   mojibake ftfy's heuristic catches beyond these (dingbats `â¤ï¸` for `❤️`, CJK,
///   full-width forms, `Å“` for `œ` alone...), its refusals in odd contexts, the other
///   single-byte encodings (1250, 1251, 1253, 1254, 1257, ISO-8859-2, MacRoman, CP437),
///   `restore_byte_a0` (`Ã ` for `à `), `replace_lossy_sequences` and the UTF-8 variants
///   (CESU-8, Java's `C0 80`). Measured against ftfy 6.3.1 on 8,000 generated sentences
///   (legitimate accented text, and whole-line mojibake of it): 0.4% differ, all of them
///   mojibake left unrepaired here; no legitimate text was changed.
/// - C1 controls as Windows-1252, Latin ligatures (`ﬁ`, `ĳ`, `ǆ`...), full/half width
///   forms and U+3000, curly quotes (`[\u02BC\u2018-\u201B]` -> `'`, `[\u201C-\u201F]`
///   -> `"`), line breaks, terminal escapes, control characters, NFC.
/// - `fix_surrogates` has nothing to do: a Swift string cannot hold lone surrogates.
///
/// Character properties (letters, lower-case mappings, NFC) come from the Swift runtime's
/// Unicode tables, which can differ from the reference's Python for characters added in
/// recent Unicode versions.
public enum CLIPTextCleaner {
    public typealias Scalars = [Unicode.Scalar]

    /// The whole of `clip`'s `whitespace_clean(basic_clean(text)).lower()`.
    public static func clean(_ text: String) -> String {
        var s = Array(text.unicodeScalars)
        s = fixText(s)
        s = htmlUnescape(htmlUnescape(s))
        s = strip(s)
        s = foldWhitespace(s)
        s = strip(s)
        s = lowercased(s)
        return string(s)
    }

    static func string(_ s: Scalars) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: s)
        return String(view)
    }

    // MARK: - ftfy.fix_text

    /// ftfy's limit on one segment's length.
    static let maxDecodeLength = 1_000_000

    /// `ftfy.fix_text` with its default configuration (see the type's notes for what is
    /// reproduced). The text is fixed one line at a time, the newline kept with its line.
    public static func fixText(_ text: Scalars) -> Scalars {
        var out: Scalars = []
        out.reserveCapacity(text.count)
        var unescape = true  // "auto": off from the first line holding a '<' on
        var pos = 0
        while pos < text.count {
            var end = text[pos...].firstIndex(of: "\n").map { $0 + 1 } ?? text.count
            end = min(end, pos + maxDecodeLength)
            let segment = Array(text[pos..<end])
            if unescape && segment.contains("<") { unescape = false }
            out += fixSegment(segment, unescapeHTML: unescape)
            pos = end
        }
        return out
    }

    /// `ftfy.fix_and_explain` on one segment: every fix in ftfy's order, repeated until the
    /// text no longer changes.
    static func fixSegment(_ segment: Scalars, unescapeHTML: Bool) -> Scalars {
        var text = segment
        // Every fix shortens the text or leaves it a fixed point, so this settles in a few
        // rounds; the bound only guards against a bug.
        for _ in 0..<100 {
            let original = text
            if unescapeHTML { text = unescapeEntities(text) }
            text = fixEncoding(text)
            text = fixC1Controls(text)
            text = map(text) { ligatures[$0.value] }
            text = map(text) { widthMap[$0.value] }
            text = uncurlQuotes(text)
            text = fixLineBreaks(text)
            text = removeTerminalEscapes(text)
            text = text.filter { !isRemovedControl($0.value) }
            text = nfc(text)
            if text == original { break }
        }
        return text
    }

    /// Replaces each scalar for which `replacement` gives a value.
    static func map(_ text: Scalars, _ replacement: (Unicode.Scalar) -> Scalars?) -> Scalars {
        var out: Scalars = []
        out.reserveCapacity(text.count)
        for c in text {
            if let r = replacement(c) { out += r } else { out.append(c) }
        }
        return out
    }

    // MARK: HTML entities (ftfy.fixes.unescape_html)

    /// ftfy's entity table: `&name;` for every HTML5 name ending in `;`, plus the upper-case
    /// form of each lower-case name when that form means nothing to `html.unescape`.
    static let ftfyEntities: [String: Scalars] = {
        var table: [String: Scalars] = [:]
        for (name, value) in HTMLEntities.table where name.hasSuffix(";") {
            let scalars = Array(value.unicodeScalars)
            table["&" + name] = scalars
            if name == name.lowercased() {
                let upper = "&" + name.uppercased()
                let upperScalars = Array(upper.unicodeScalars)
                if htmlUnescape(upperScalars) == upperScalars {
                    table[upper] = scalars.flatMap { Array($0.properties.uppercaseMapping.unicodeScalars) }
                }
            }
        }
        return table
    }()

    /// `ftfy.fixes.unescape_html`: each `&#?[0-9A-Za-z]{1,24};` that ftfy's table knows, or a
    /// numeric reference that `html.unescape` decodes completely.
    static func unescapeEntities(_ s: Scalars) -> Scalars {
        guard s.contains("&") else { return s }
        var out: Scalars = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] == "&" {
                var j = i + 1
                if j < s.count && s[j] == "#" { j += 1 }
                let start = j
                while j < s.count && j - start <= 24 && isASCIIAlphanumeric(s[j]) { j += 1 }
                if (1...24).contains(j - start) && j < s.count && s[j] == ";" {
                    let match = Array(s[i...j])
                    let key = string(match)
                    if let value = ftfyEntities[key] {
                        out += value
                    } else if match[1] == "#" {
                        let decoded = htmlUnescape(match)
                        out += decoded.contains(";") ? match : decoded
                    } else {
                        out += match
                    }
                    i = j + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    // MARK: Mojibake (ftfy.fix_encoding, the obvious cases only)

    /// ftfy's two ways, approximated: when the line holds at least one obvious sequence
    /// (`mojibakeSequence`) and the whole line, written back as Latin-1 or else as sloppy
    /// Windows-1252, is valid UTF-8, the whole line is re-read (so `ÐœÐ¾ÑÐºÐ²Ð°` next to
    /// `cafÃ©` becomes `Москва`); otherwise only the obvious sequences are replaced, where
    /// they are (ftfy's `decode_inconsistent_utf8`).
    static func fixEncoding(_ text: Scalars) -> Scalars {
        guard text.contains(where: { $0.value >= 0xC2 }) else { return text }
        var out: Scalars = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if let (decoded, length) = mojibakeSequence(text, at: i) {
                out.append(decoded)
                i += length
            } else {
                out.append(text[i])
                i += 1
            }
        }
        // Nothing obvious and no word of two-byte characters (`ÐœÐ¾`): leave the line.
        guard out.count < text.count || hasTwoByteRun(text) else { return text }
        for encode in [encodeLatin1, encodeSloppyWindows1252] {
            guard let bytes = encode(text) else { continue }
            if let whole = decodeUTF8(bytes) { return whole }
        }
        return out
    }

    /// Two UTF-8 two-byte sequences in a row, read as Latin-1 / Windows-1252 (a Greek or
    /// Cyrillic word turned to mojibake: `ÎŸÎ”`, `ÐœÐ¾`).
    static func hasTwoByteRun(_ text: Scalars) -> Bool {
        func pair(_ i: Int) -> Bool {
            guard i + 1 < text.count, let lead = singleByte(text[i]), (0xC2...0xDF).contains(lead),
                  let next = singleByte(text[i + 1]) else { return false }
            return (0x80...0xBF).contains(next)
        }
        var i = 0
        while i + 3 < text.count {
            if pair(i) && pair(i + 2) { return true }
            i += 1
        }
        return false
    }

    static func encodeLatin1(_ text: Scalars) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        for c in text {
            guard c.value <= 0xFF else { return nil }
            bytes.append(UInt8(c.value))
        }
        return bytes
    }

    /// Windows-1252 that passes its five unassigned bytes through as C1 controls. (ftfy's
    /// codec also writes U+FFFD as byte 1A; that case is left alone here.)
    static func encodeSloppyWindows1252(_ text: Scalars) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        for c in text {
            let v = c.value
            if (v < 0x80 && v != 0x1A) || (0xA0...0xFF).contains(v) {
                bytes.append(UInt8(v))
            } else if let byte = windows1252Bytes[v] {
                bytes.append(byte)
            } else {
                return nil
            }
        }
        return bytes
    }

    /// The character whose UTF-8 bytes, read as Latin-1 / Windows-1252, start at `i`, when
    /// it is one of the kinds ftfy 6.3 repairs alone and inside a sentence (measured
    /// character by character): U+0080-U+00FF but ten, U+2000-U+207F, `€`, U+1F000-U+1FFFF.
    static func mojibakeSequence(_ text: Scalars, at i: Int) -> (Unicode.Scalar, Int)? {
        guard let lead = singleByte(text[i]) else { return nil }
        let length: Int
        switch lead {
        case 0xC2, 0xC3: length = 2
        case 0xE2: length = 3
        case 0xF0: length = 4
        default: return nil
        }
        guard i + length <= text.count else { return nil }
        var bytes: [UInt8] = [lead]
        for k in 1..<length {
            guard let b = singleByte(text[i + k]), (0x80...0xBF).contains(b) else { return nil }
            bytes.append(b)
        }
        guard let decoded = decodeUTF8(bytes), decoded.count == 1 else { return nil }
        let v = decoded[0].value
        switch v {
        case 0x85, 0x8C, 0x8E, 0x92, 0xA5, 0xC5, 0xCC, 0xCE, 0xD2, 0xE5: return nil  // ftfy leaves these
        case 0x80...0xFF, 0x2000...0x207F, 0x20AC, 0x1F000...0x1FFFF: return (decoded[0], length)
        default: return nil
        }
    }

    /// The byte a character comes from in Latin-1 or (sloppy) Windows-1252, if any.
    static func singleByte(_ c: Unicode.Scalar) -> UInt8? {
        let v = c.value
        if v <= 0xFF { return UInt8(v) }
        return windows1252Bytes[v]
    }

    /// Strict UTF-8 decoding: nil on any invalid sequence.
    static func decodeUTF8(_ bytes: [UInt8]) -> Scalars? {
        var out: Scalars = []
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        while true {
            switch decoder.decode(&iterator) {
            case let .scalarValue(c): out.append(c)
            case .emptyInput: return out
            case .error: return nil
            }
        }
    }

    // MARK: Single-character fixes

    /// Windows-1252 bytes 0x80...0x9F; the five it leaves unassigned stay C1 controls
    /// (ftfy's "sloppy" codec, and Python's `html` table of invalid character references).
    static let windows1252High: [UInt32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
        0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
    ]

    static let windows1252Bytes: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (i, v) in windows1252High.enumerated() { map[v] = UInt8(0x80 + i) }
        return map
    }()

    /// `fix_c1_controls`: U+0080-U+009F read as Windows-1252.
    static func fixC1Controls(_ text: Scalars) -> Scalars {
        guard text.contains(where: { (0x80...0x9F).contains($0.value) }) else { return text }
        return text.map { c in
            (0x80...0x9F).contains(c.value) ? Unicode.Scalar(windows1252High[Int(c.value) - 0x80])! : c
        }
    }

    /// `fix_latin_ligatures` (ftfy 6's table).
    static let ligatures: [UInt32: Scalars] = {
        let pairs: [(UInt32, String)] = [
            (0x0132, "IJ"), (0x0133, "ij"), (0x0149, "\u{02BC}n"),
            (0x01F1, "DZ"), (0x01F2, "Dz"), (0x01F3, "dz"),
            (0x01C4, "D\u{017D}"), (0x01C5, "D\u{017E}"), (0x01C6, "d\u{017E}"),
            (0x01C7, "LJ"), (0x01C8, "Lj"), (0x01C9, "lj"),
            (0x01CA, "NJ"), (0x01CB, "Nj"), (0x01CC, "nj"),
            (0xFB00, "ff"), (0xFB01, "fi"), (0xFB02, "fl"), (0xFB03, "ffi"), (0xFB04, "ffl"),
            (0xFB05, "\u{017F}t"), (0xFB06, "st"),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.map { ($0.0, Array($0.1.unicodeScalars)) })
    }()

    /// `fix_character_width`: U+3000 -> space, and each of U+FF01...U+FFEF that NFKC changes.
    static let widthMap: [UInt32: Scalars] = {
        var map: [UInt32: Scalars] = [0x3000: [" "]]
        for v in UInt32(0xFF01)..<0xFFF0 {
            guard let c = Unicode.Scalar(v) else { continue }
            let alternate = Array(String(c).precomposedStringWithCompatibilityMapping.unicodeScalars)
            if alternate != [c] { map[v] = alternate }
        }
        return map
    }()

    static func uncurlQuotes(_ text: Scalars) -> Scalars {
        text.map { c in
            switch c.value {
            case 0x02BC, 0x2018...0x201B: return "'"
            case 0x201C...0x201F: return "\""
            default: return c
            }
        }
    }

    /// CRLF, CR, U+2028, U+2029 and U+0085 become LF.
    static func fixLineBreaks(_ text: Scalars) -> Scalars {
        var out: Scalars = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            switch text[i].value {
            case 0x0D:
                out.append("\n")
                if i + 1 < text.count && text[i + 1] == "\n" { i += 1 }
            case 0x2028, 0x2029, 0x85:
                out.append("\n")
            default:
                out.append(text[i])
            }
            i += 1
        }
        return out
    }

    /// Removes `ESC [ (digit | ;)* letter` (Python's `\d`: any decimal digit).
    static func removeTerminalEscapes(_ text: Scalars) -> Scalars {
        guard text.contains("\u{1B}") else { return text }
        var out: Scalars = []
        var i = 0
        while i < text.count {
            if text[i] == "\u{1B}" && i + 1 < text.count && text[i + 1] == "[" {
                var j = i + 2
                while j < text.count && (text[j] == ";" || text[j].properties.generalCategory == .decimalNumber) { j += 1 }
                if j < text.count && isASCIILetter(text[j]) {
                    i = j + 1
                    continue
                }
            }
            out.append(text[i])
            i += 1
        }
        return out
    }

    /// `remove_control_chars`: C0 controls except tab, LF, FF, CR; DEL; U+206A-U+206F;
    /// U+FEFF; U+FFF9-U+FFFC.
    static func isRemovedControl(_ v: UInt32) -> Bool {
        switch v {
        case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC: return true
        default: return false
        }
    }

    /// Unicode NFC. Text below U+0300 has nothing to compose or decompose.
    static func nfc(_ text: Scalars) -> Scalars {
        if text.allSatisfy({ $0.value < 0x300 }) { return text }
        return Array(string(text).precomposedStringWithCanonicalMapping.unicodeScalars)
    }

    // MARK: - Python's html.unescape

    /// Python's `html.unescape`: `&` followed by `#digits;?`, `#x hex;?`, or up to 32
    /// characters other than tab, LF, FF, space, `<`, `&`, `#`, `;` and an optional `;`.
    /// Named references use the whole HTML5 table, the legacy names without `;` included,
    /// and fall back to the longest such name that is a prefix.
    public static func htmlUnescape(_ s: Scalars) -> Scalars {
        guard s.contains("&") else { return s }
        var out: Scalars = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] == "&", let (replacement, end) = characterReference(s, at: i + 1) {
                out += replacement
                i = end
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// The reference starting at `p` (just after `&`): its replacement and where it ends.
    static func characterReference(_ s: Scalars, at p: Int) -> (Scalars, Int)? {
        guard p < s.count else { return nil }
        if s[p] == "#" {
            let hex = p + 1 < s.count && (s[p + 1] == "x" || s[p + 1] == "X")
            let digitsStart = hex ? p + 2 : p + 1
            var j = digitsStart
            var value: UInt32 = 0
            while j < s.count, let digit = hex ? hexValue(s[j]) : decimalValue(s[j]) {
                // Anything above U+10FFFF reads the same, so saturate rather than overflow.
                value = min(value * (hex ? 16 : 10) + digit, 0x110000)
                j += 1
            }
            guard j > digitsStart else { return nil }
            if j < s.count && s[j] == ";" { j += 1 }
            return (numericReference(value), j)
        }
        var j = p
        while j < s.count && j - p < 32 && !isNameTerminator(s[j]) { j += 1 }
        guard j > p else { return nil }
        if j < s.count && s[j] == ";" { j += 1 }
        let name = Array(s[p..<j])
        if let value = entity(name) { return (value, j) }
        if name.count > 2 {
            for x in stride(from: name.count - 1, through: 2, by: -1) {
                if let value = entity(Array(name[..<x])) { return (value + name[x...], j) }
            }
        }
        return (["&"] + name, j)
    }

    /// The HTML5 table entry for `name`. Names are ASCII; checking that first keeps Swift's
    /// canonical equivalence from matching, say, U+212A KELVIN SIGN to `K`.
    static func entity(_ name: Scalars) -> Scalars? {
        guard name.allSatisfy({ $0.isASCII }) else { return nil }
        return HTMLEntities.table[string(name)].map { Array($0.unicodeScalars) }
    }

    static func numericReference(_ value: UInt32) -> Scalars {
        switch value {
        case 0x00: return ["\u{FFFD}"]
        case 0x0D: return ["\r"]
        case 0x80...0x9F: return [Unicode.Scalar(windows1252High[Int(value) - 0x80])!]
        case 0xD800...0xDFFF, 0x110000...: return ["\u{FFFD}"]
        case 0x01...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0xFDD0...0xFDEF: return []
        default:
            if value & 0xFFFE == 0xFFFE { return [] }  // U+xFFFE and U+xFFFF of every plane
            return [Unicode.Scalar(value)!]
        }
    }

    static func isNameTerminator(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "\t", "\n", "\u{0C}", " ", "<", "&", "#", ";": return true
        default: return false
        }
    }

    static func decimalValue(_ c: Unicode.Scalar) -> UInt32? {
        ("0"..."9").contains(c) ? c.value - 0x30 : nil
    }

    static func hexValue(_ c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "0"..."9": return c.value - 0x30
        case "a"..."f": return c.value - 0x61 + 10
        case "A"..."F": return c.value - 0x41 + 10
        default: return nil
        }
    }

    static func isASCIILetter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
    static func isASCIIAlphanumeric(_ c: Unicode.Scalar) -> Bool { isASCIILetter(c) || ("0"..."9").contains(c) }

    // MARK: - Whitespace and case

    /// Python `regex`'s `\s`: the Unicode White_Space characters.
    static func isRegexWhitespace(_ v: UInt32) -> Bool {
        switch v {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// Python's `str.isspace`: White_Space plus the information separators U+001C-U+001F.
    static func isPythonSpace(_ v: UInt32) -> Bool { isRegexWhitespace(v) || (0x1C...0x1F).contains(v) }

    /// `str.strip()`.
    static func strip(_ s: Scalars) -> Scalars {
        guard let first = s.firstIndex(where: { !isPythonSpace($0.value) }),
              let last = s.lastIndex(where: { !isPythonSpace($0.value) }) else { return [] }
        return Array(s[first...last])
    }

    /// `re.sub(r'\s+', ' ', text)`.
    static func foldWhitespace(_ s: Scalars) -> Scalars {
        var out: Scalars = []
        out.reserveCapacity(s.count)
        var inRun = false
        for c in s {
            if isRegexWhitespace(c.value) {
                if !inRun { out.append(" ") }
                inRun = true
            } else {
                out.append(c)
                inRun = false
            }
        }
        return out
    }

    /// Python's `str.lower()`: full lower-case mappings, and capital sigma as final sigma
    /// (U+03C2) when a cased letter precedes it and none follows (case-ignorable characters
    /// skipped both ways), else U+03C3.
    public static func lowercased(_ s: Scalars) -> Scalars {
        var out: Scalars = []
        out.reserveCapacity(s.count)
        for (i, c) in s.enumerated() {
            if c.isASCII {
                out.append(("A"..."Z").contains(c) ? Unicode.Scalar(c.value + 0x20)! : c)
            } else if c == "\u{03A3}" {
                out.append(isFinalSigma(s, i) ? "\u{03C2}" : "\u{03C3}")
            } else {
                out += c.properties.lowercaseMapping.unicodeScalars
            }
        }
        return out
    }

    static func isFinalSigma(_ s: Scalars, _ i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && s[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0 && s[j].properties.isCased else { return false }
        j = i + 1
        while j < s.count && s[j].properties.isCaseIgnorable { j += 1 }
        return j == s.count || !s[j].properties.isCased
    }
}
