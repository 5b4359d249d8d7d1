/// Where RFC's instruction says to act: nowhere in particular ("none" / empty prompt: the
/// CLIPSeg stage is skipped), the whole image (target word `image`: CLIPSeg's "image" path),
/// or a CLIPSeg text query.
public enum RFCTarget: Equatable, Sendable, CustomStringConvertible {
    case none
    case image
    case text(String)

    /// The target as the original code holds it: `0` for none, else the string.
    public init(_ string: String?) {
        switch string {
        case nil: self = .none
        case "image"?: self = .image
        case let s?: self = .text(s)
        }
    }

    public var description: String {
        switch self {
        case .none: return "0"
        case .image: return "image"
        case let .text(s): return s
        }
    }
}

/// An instruction split into the target (where to act) and the process phrase (what to do,
/// the target words replaced by `photo`), as RFC's `utils.text_token` gives it.
public struct RFCInstruction: Equatable, Sendable {
    public var target: RFCTarget
    public var process: String

    public init(target: RFCTarget, process: String) {
        self.target = target
        self.process = process
    }
}

/// A prompt the deterministic splitter does not recognise.
public struct InstructionSplitError: Error, CustomStringConvertible, Equatable {
    public let prompt: String
    public let reason: String

    public var description: String {
        "instruction \"\(prompt)\": \(reason). RFC's original code parses prompts with spaCy; this engine "
            + "recognises the README templates only ('VERB the NOUN of the OBJ', 'make the OBJ ADJ', "
            + "'I want the OBJ to ...', 'I want the X of the OBJ to ...', 'none'). Give the split explicitly, "
            + "e.g. --target \"car\" --process \"enhance the light of the photo\" (--target none for no target)"
    }
}

/// The deterministic replacement for RFC's spaCy-based instruction split
/// (`models/rfc.md` section 2.1): it gives spaCy's split on the README's templates and
/// rejects every other prompt rather than guess. Rule:
/// 1. lower-case (not stripped); `none` or empty: target none, process `the photo`;
/// 2. tokens `'s|\w+|[^\w\s]`; words are the `\w+` tokens, and only trailing punctuation
///    may follow the last word (it stays in the process as separate tokens);
/// 3. the object words OBJ (non-empty, without `and`, `the`, `of`, `to`) from the first
///    template that yields valid ones: T1 `i want the X of the OBJ to ...`, T2 `i want the
///    OBJ to ...`, T3 `make the OBJ ADJ`, T4 `VERB the NOUN of the OBJ`;
/// 4. target = OBJ joined by spaces, process = the tokens joined by spaces with each OBJ
///    word replaced by `photo`.
public enum InstructionSplitter {
    public static func split(_ prompt: String) throws -> RFCInstruction {
        let p = prompt.lowercased()
        if p == "none" || p.isEmpty { return RFCInstruction(target: .none, process: "the photo") }
        func reject(_ reason: String) -> InstructionSplitError { InstructionSplitError(prompt: prompt, reason: reason) }

        let tokens = tokenize(p)
        let firstPunctuation = tokens.firstIndex(where: { !$0.isWord }) ?? tokens.count
        guard tokens[firstPunctuation...].allSatisfy({ !$0.isWord }) else {
            throw reject("only trailing punctuation may follow the words")
        }
        let words = tokens[..<firstPunctuation].map(\.text)
        guard !words.isEmpty else { throw reject("it has no words") }
        guard let object = objectRange(words) else {
            throw reject("it matches none of the templates")
        }
        var process = tokens.map(\.text)
        for i in object { process[i] = "photo" }
        return RFCInstruction(target: RFCTarget(words[object].joined(separator: " ")), process: process.joined(separator: " "))
    }

    /// The index range of the object words in `words`, from the first template that gives
    /// a valid one.
    static func objectRange(_ words: [String]) -> Range<Int>? {
        func valid(_ r: Range<Int>) -> Range<Int>? {
            guard !r.isEmpty, r.lowerBound >= 0, r.upperBound <= words.count else { return nil }
            return words[r].contains(where: { ["and", "the", "of", "to"].contains($0) }) ? nil : r
        }
        var candidates: [Range<Int>?] = []
        if words.count >= 4, Array(words[0..<3]) == ["i", "want", "the"],
           let to = words.indices.first(where: { $0 > 3 && words[$0] == "to" }) {
            // T1: after the first "of the" (past word 3) up to the first "to".
            if let of = (3..<(to - 1)).first(where: { words[$0] == "of" && words[$0 + 1] == "the" }) {
                candidates.append(valid((of + 2)..<to))
            }
            // T2: from word 3 up to the first "to".
            candidates.append(valid(3..<to))
        }
        if words.count >= 4, words[0] == "make", words[1] == "the" {
            candidates.append(valid(2..<(words.count - 1)))   // T3
        }
        if words.count >= 6, words[1] == "the", words[3] == "of", words[4] == "the" {
            candidates.append(valid(5..<words.count))          // T4
        }
        return candidates.lazy.compactMap { $0 }.first
    }

    struct Token { var text: String; var isWord: Bool }

    /// Python's `re.findall(r"'s|\w+|[^\w\s]", p)`, keeping whether each token is a word.
    static func tokenize(_ p: String) -> [Token] {
        let scalars = Array(p.unicodeScalars)
        func isWordScalar(_ s: Unicode.Scalar) -> Bool {
            s == "_" || s.properties.isAlphabetic || s.properties.numericType != nil
        }
        var tokens: [Token] = []
        var i = 0
        while i < scalars.count {
            let s = scalars[i]
            if s == "'", i + 1 < scalars.count, scalars[i + 1] == "s" {
                tokens.append(Token(text: "'s", isWord: false)); i += 2
            } else if isWordScalar(s) {
                var j = i
                while j < scalars.count, isWordScalar(scalars[j]) { j += 1 }
                var text = String.UnicodeScalarView(); text.append(contentsOf: scalars[i..<j])
                tokens.append(Token(text: String(text), isWord: true)); i = j
            } else if s.properties.isWhitespace {
                i += 1
            } else {
                tokens.append(Token(text: String(Character(s)), isWord: false)); i += 1
            }
        }
        return tokens
    }
}
