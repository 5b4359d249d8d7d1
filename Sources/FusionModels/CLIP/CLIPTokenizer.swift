import Foundation
import FusionCore
import FusionIO

/// What can go wrong turning prompts into CLIP tokens.
public enum CLIPTokenizerError: Error, CustomStringConvertible, Equatable {
    /// The vocabulary file is in none of the places searched (all listed, in order).
    case vocabularyNotFound(searched: [String])
    /// A prompt needs more tokens (start and end of text included) than the context holds.
    case promptTooLong(prompt: String, tokenCount: Int, contextLength: Int)
    case invalidContextLength(Int)

    public var description: String {
        switch self {
        case let .vocabularyNotFound(searched):
            return "the CLIP vocabulary \(CLIPTokenizer.vocabularyFileName) was not found; looked in: "
                + searched.joined(separator: ", ")
                + ". Pass its path, set FUSIONKIT_CLIP_VOCAB, or copy it into the cache folder"
        case let .promptTooLong(prompt, tokenCount, contextLength):
            let shown = prompt.count > 60 ? String(prompt.prefix(60)) + "..." : prompt
            return "the prompt \"\(shown)\" is \(tokenCount) tokens long (start and end of text included), "
                + "more than the context length \(contextLength); shorten it or pass --truncate to cut it"
        case let .invalidContextLength(length):
            return "context length \(length) is invalid: it must be at least 1"
        }
    }
}

/// OpenAI CLIP's tokenizer (`clip.tokenize` of `clip` 1.0.1): text clean-up, the
/// pre-tokenising pattern, byte-level BPE over `bpe_simple_vocab_16e6.txt.gz`, and the
/// fixed-length rows with start/end of text.
///
/// Thread-safe: the vocabulary is immutable, and the per-piece BPE cache (the reference's
/// `self.cache`) is guarded by a lock. The cache is cleared when it reaches
/// `maxCachedPieces`, where the reference lets it grow without bound.
public final class CLIPTokenizer: @unchecked Sendable {
    public static let startOfText: Int32 = 49406
    public static let endOfText: Int32 = 49407
    public static let contextLength = 77
    public static let vocabularyFileName = "bpe_simple_vocab_16e6.txt.gz"
    public static let maxCachedPieces = 100_000

    /// The spec's pattern. Case-insensitive as in the reference, except for the three
    /// character classes: ICU's case closure would let `[\p{L}]` match U+0345 (combining
    /// ypogegrammeni, which folds to iota), where Python's `regex` matches it with no
    /// alternative at all, so it is dropped; excluding it from the last class does the same.
    /// Python's `\s` and ICU's `\s` are both the 25 White_Space characters.
    public static let pattern =
        #"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|(?-i:[\p{L}]+)|(?-i:[\p{N}])|(?-i:[^\s\p{L}\p{N}\x{0345}]+)"#

    /// The merges file this tokenizer was built from.
    public let mergesPath: String
    public let bpe: BytePairEncoding
    private let splitter: NSRegularExpression
    private var cache: [[UInt8]: [Int32]] = [:]
    private let lock = NSLock()

    /// Loads the vocabulary from the (gzip-compressed) merges file.
    public init(mergesPath: String) throws {
        self.mergesPath = mergesPath
        bpe = try BytePairEncoding(mergesPath: mergesPath)
        splitter = try NSRegularExpression(pattern: Self.pattern, options: [.caseInsensitive])
    }

    /// Finds the vocabulary (see `vocabularyCandidates`) and loads it.
    public convenience init(searching explicitPath: String? = nil, options: FusionOptions = .current) throws {
        try self.init(mergesPath: Self.locateVocabulary(explicitPath: explicitPath, options: options))
    }

    /// The tokenizer an environment's options find (tests).
    public convenience init(searching explicitPath: String? = nil, environment: [String: String]) throws {
        try self.init(searching: explicitPath, options: FusionOptions(environment: environment))
    }

    /// Where the vocabulary is looked for, in order:
    /// - `explicitPath` when given: only there;
    /// - else `$FUSIONKIT_CLIP_VOCAB` when set: only there;
    /// - else the cache, `$FUSIONKIT_CACHE/bpe_simple_vocab_16e6.txt.gz` (or
    ///   `~/.cache/fusionkit/...` when FUSIONKIT_CACHE is unset), then the shared data,
    ///   `$FUSIONKIT_TEST_DATA/vocab/...` (`../shared/vocab/...` when unset; none when set
    ///   but empty), as for the published weights.
    public static func vocabularyCandidates(explicitPath: String?, options: FusionOptions = .current) -> [String] {
        if let explicitPath, !explicitPath.isEmpty { return [explicitPath] }
        if let named = options.clipVocabulary { return [named] }
        var candidates = [options.cacheRoot.appendingPathComponent(vocabularyFileName).path]
        if let shared = options.sharedData {
            candidates.append(shared.appendingPathComponent("vocab").appendingPathComponent(vocabularyFileName).relativePath)
        }
        return candidates
    }

    /// The candidates an environment's options give (tests).
    public static func vocabularyCandidates(explicitPath: String?, environment: [String: String]) -> [String] {
        vocabularyCandidates(explicitPath: explicitPath, options: FusionOptions(environment: environment))
    }

    /// The first candidate that is a file, or an error listing every candidate.
    public static func locateVocabulary(explicitPath: String? = nil, environment: [String: String]) throws -> String {
        try locateVocabulary(explicitPath: explicitPath, options: FusionOptions(environment: environment))
    }

    public static func locateVocabulary(explicitPath: String? = nil, options: FusionOptions = .current) throws -> String {
        let candidates = vocabularyCandidates(explicitPath: explicitPath, options: options)
        for path in candidates {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue { return path }
        }
        throw CLIPTokenizerError.vocabularyNotFound(searched: candidates)
    }

    /// 49,408 for the CLIP vocabulary.
    public var vocabularySize: Int { bpe.count }

    /// The token id of a vocabulary symbol (written in the byte alphabet, `</w>` included).
    public func id(of symbol: String) -> Int32? { bpe.ids[symbol] }

    /// The vocabulary symbol of a token id.
    public func symbol(of id: Int32) -> String? {
        bpe.symbols.indices.contains(Int(id)) ? bpe.symbols[Int(id)] : nil
    }

    /// The pieces the pattern cuts cleaned text into (`re.findall(self.pat, text)`).
    public func split(_ cleaned: String) -> [String] {
        let utf16 = Array(cleaned.utf16)
        return splitter.matches(in: cleaned, range: NSRange(location: 0, length: utf16.count)).map { match in
            // Decode the UTF-16 range directly: String indices would round to Characters.
            String(decoding: utf16[match.range.location ..< match.range.location + match.range.length], as: UTF16.self)
        }
    }

    /// BPE token ids of `text`, without start/end of text (`SimpleTokenizer.encode`).
    public func encode(_ text: String) -> [Int32] {
        var tokens: [Int32] = []
        for piece in split(CLIPTextCleaner.clean(text)) {
            let bytes = Array(piece.utf8)
            if bytes.elementsEqual(BytePairEncoding.startOfTextSymbol.utf8) {
                tokens.append(Self.startOfText)
            } else if bytes.elementsEqual(BytePairEncoding.endOfTextSymbol.utf8) {
                tokens.append(Self.endOfText)
            } else {
                tokens += encodePiece(bytes)
            }
        }
        return tokens
    }

    private func encodePiece(_ bytes: [UInt8]) -> [Int32] {
        lock.lock()
        let cached = cache[bytes]
        lock.unlock()
        if let cached { return cached }
        let tokens = bpe.encode(word: bytes)
        lock.lock()
        if cache.count >= Self.maxCachedPieces { cache.removeAll(keepingCapacity: true) }
        cache[bytes] = tokens
        lock.unlock()
        return tokens
    }

    /// One row of `clip.tokenize`: start of text, the tokens, end of text, zero-padded to
    /// `contextLength`. A longer prompt is an error, or with `truncate` is cut to
    /// `contextLength` tokens with end of text as the last.
    public func tokenize(_ text: String, contextLength: Int = CLIPTokenizer.contextLength, truncate: Bool = false) throws -> [Int32] {
        guard contextLength >= 1 else { throw CLIPTokenizerError.invalidContextLength(contextLength) }
        var tokens = [Self.startOfText] + encode(text) + [Self.endOfText]
        if tokens.count > contextLength {
            guard truncate else {
                throw CLIPTokenizerError.promptTooLong(prompt: text, tokenCount: tokens.count, contextLength: contextLength)
            }
            tokens.removeLast(tokens.count - contextLength)
            tokens[contextLength - 1] = Self.endOfText
        }
        return tokens + [Int32](repeating: 0, count: contextLength - tokens.count)
    }

    /// `clip.tokenize` of a batch: one row per prompt.
    public func tokenize(_ texts: [String], contextLength: Int = CLIPTokenizer.contextLength, truncate: Bool = false) throws -> [[Int32]] {
        try texts.map { try tokenize($0, contextLength: contextLength, truncate: truncate) }
    }

    /// Text back from token ids (`SimpleTokenizer.decode`): symbols joined, bytes read as
    /// UTF-8 with replacement characters, `</w>` turned into a space. Padding zeros are
    /// tokens like any other (`!`); drop them first.
    public func decode(_ tokens: [Int32]) -> String {
        var bytes: [UInt8] = []
        for token in tokens {
            guard let symbol = symbol(of: token) else { continue }
            for c in symbol.unicodeScalars {
                if let byte = ByteLevelAlphabet.bytes[c] { bytes.append(byte) }
            }
        }
        return String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: BytePairEncoding.wordEnd, with: " ")
    }
}
