import Foundation
import FusionIO

/// The byte-level alphabet of GPT-2 and CLIP (`bytes_to_unicode`): every byte stands for
/// one printable character, so that byte strings can be merged as text.
///
/// Bytes `!`..`~`, `¡`..`¬` and `®`..`ÿ` (188 of them) stand for themselves; the other 68
/// get U+0100, U+0101, ... in byte order. The vocabulary lists the 256 symbols in *that*
/// order (the 188 printable bytes first), not in byte order.
public enum ByteLevelAlphabet {
    /// The character standing for each byte, indexed by byte.
    public static let characters: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The bytes in vocabulary order: token id `i < 256` is the symbol of `vocabularyOrder[i]`.
    public static let vocabularyOrder: [UInt8] =
        (0...255).map(UInt8.init).filter(isPrintable) + (0...255).map(UInt8.init).filter { !isPrintable($0) }

    /// The token id of each byte's symbol (without `</w>`), indexed by byte.
    public static let tokenIDs: [Int32] = {
        var ids = [Int32](repeating: 0, count: 256)
        for (id, byte) in vocabularyOrder.enumerated() { ids[Int(byte)] = Int32(id) }
        return ids
    }()

    /// The byte each alphabet character stands for.
    public static let bytes: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for (byte, character) in characters.enumerated() { map[character] = UInt8(byte) }
        return map
    }()

    static func isPrintable(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// `text`'s UTF-8 bytes written in the alphabet.
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var scalars = String.UnicodeScalarView()
        for byte in bytes { scalars.append(characters[Int(byte)]) }
        return String(scalars)
    }
}

/// CLIP's byte-pair encoding: the vocabulary and merge ranks of `bpe_simple_vocab_16e6.txt.gz`
/// and the merge loop of OpenAI's `SimpleTokenizer.bpe`.
///
/// Symbols are handled as token ids rather than strings: a word starts as the ids of its
/// bytes' symbols, the last one with `</w>` (id + 256); each step merges every
/// non-overlapping occurrence, left to right, of the adjacent pair with the lowest merge
/// rank, until no adjacent pair has a rank. Since every merged symbol is a vocabulary
/// entry, this is the reference's string algorithm exactly. Immutable, so thread-safe.
public struct BytePairEncoding: Sendable {
    /// Merge lines CLIP uses: lines 2 ... 48,895 of the file (`merges[1:49152-256-2+1]`).
    public static let mergeCount = 49152 - 256 - 2
    public static let wordEnd = "</w>"
    public static let startOfTextSymbol = "<|startoftext|>"
    public static let endOfTextSymbol = "<|endoftext|>"

    /// Vocabulary symbols by token id: 256 bytes, 256 bytes + `</w>`, one per merge, then
    /// `<|startoftext|>` and `<|endoftext|>`.
    public let symbols: [String]
    /// Token id of each symbol.
    public let ids: [String: Int32]
    /// (left id << 32 | right id) -> (rank << 32 | merged id).
    private let merges: [UInt64: UInt64]

    /// Builds the vocabulary from the text of the merges file (already decompressed);
    /// `path` names the file in errors.
    public init(mergesText data: Data, path: String) throws {
        func fail(_ message: String) -> FileFormatError { FileFormatError(path: path, format: "CLIP BPE vocabulary", message) }
        let needed = Self.mergeCount
        var pairs: [(Substring, Substring)] = []
        pairs.reserveCapacity(needed)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var lineStart = 0
            var lineNumber = 0  // 0-based; line 0 is the "#version" header
            var i = 0
            while pairs.count < needed {
                guard i < bytes.count else {
                    throw fail("has \(pairs.count) merge lines after its header; CLIP needs \(needed)")
                }
                if bytes[i] != 0x0A { i += 1; continue }
                defer { lineNumber += 1; i += 1; lineStart = i }
                if lineNumber == 0 { continue }
                let line = UnsafeBufferPointer(rebasing: bytes[lineStart..<i])
                guard let text = Self.decodeUTF8(line) else {
                    throw fail("line \(lineNumber + 1) is not valid UTF-8")
                }
                let parts = text.split(separator: " ", omittingEmptySubsequences: true)
                guard parts.count == 2, !parts.contains(where: { $0.unicodeScalars.contains(where: \.properties.isWhitespace) }) else {
                    throw fail("line \(lineNumber + 1) is not a merge of two symbols: \"\(text.prefix(80))\"")
                }
                pairs.append((parts[0], parts[1]))
            }
        }

        var symbols: [String] = []
        symbols.reserveCapacity(512 + needed + 2)
        let byteSymbols = ByteLevelAlphabet.vocabularyOrder.map { String(ByteLevelAlphabet.characters[Int($0)]) }
        symbols += byteSymbols
        symbols += byteSymbols.map { $0 + Self.wordEnd }
        for (left, right) in pairs { symbols.append(String(left) + String(right)) }
        symbols += [Self.startOfTextSymbol, Self.endOfTextSymbol]

        // As `dict(zip(vocab, range(len(vocab))))`: a repeated symbol keeps its last id.
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(symbols.count)
        for (id, symbol) in symbols.enumerated() { ids[symbol] = Int32(id) }

        // As `dict(zip(merges, range(len(merges))))`: a repeated pair keeps its last rank.
        // A pair whose parts are not symbols can never apply, exactly as in the reference.
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(pairs.count)
        for (rank, (left, right)) in pairs.enumerated() {
            guard let l = ids[String(left)], let r = ids[String(right)], let merged = ids[String(left) + String(right)] else { continue }
            merges[Self.key(l, r)] = UInt64(rank) << 32 | UInt64(UInt32(merged))
        }
        self.symbols = symbols
        self.ids = ids
        self.merges = merges
    }

    /// Reads and decompresses a `.gz` merges file (or reads a plain text one).
    public init(mergesPath path: String) throws {
        let text: Data
        if path.hasSuffix(".gz") {
            text = try Gzip.decompress(path: path, maxOutputBytes: 64 << 20)
        } else {
            text = try RegularFile.read(path: path, maxBytes: 64 << 20, format: "CLIP BPE vocabulary")
        }
        try self.init(mergesText: text, path: path)
    }

    public var count: Int { symbols.count }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// The token ids of one pre-tokenised piece, given as its UTF-8 bytes (`SimpleTokenizer.bpe`
    /// on the piece written in the byte alphabet). Empty input gives no tokens.
    public func encode<Bytes: Collection>(word bytes: Bytes) -> [Int32] where Bytes.Element == UInt8 {
        var symbols = bytes.map { ByteLevelAlphabet.tokenIDs[Int($0)] }
        guard !symbols.isEmpty else { return [] }
        symbols[symbols.count - 1] += 256  // the last symbol carries </w>
        return symbols.count <= 64 ? mergeByScanning(symbols) : mergeWithHeap(symbols)
    }

    /// The reference loop as written: find the lowest-ranked adjacent pair, merge all of its
    /// non-overlapping occurrences left to right, repeat. O(n) per step; fast for words.
    func mergeByScanning(_ symbols: [Int32]) -> [Int32] {
        var word = symbols
        var next: [Int32] = []
        next.reserveCapacity(word.count)
        while word.count > 1 {
            // The adjacent pair with the lowest rank (`min(pairs, key=rank)`); ranks are
            // unique and sit in the high bits, so the smallest packed value is that pair.
            var best = UInt64.max
            var first: Int32 = -1, second: Int32 = -1
            for i in 0..<(word.count - 1) {
                if let merge = merges[Self.key(word[i], word[i + 1])], merge < best {
                    best = merge
                    first = word[i]
                    second = word[i + 1]
                }
            }
            guard best != .max else { break }
            let merged = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            // Every non-overlapping occurrence, left to right.
            next.removeAll(keepingCapacity: true)
            var i = 0
            while i < word.count {
                if i < word.count - 1 && word[i] == first && word[i + 1] == second {
                    next.append(merged)
                    i += 2
                } else {
                    next.append(word[i])
                    i += 1
                }
            }
            swap(&word, &next)
        }
        return word
    }

    /// The same merges for long runs of text (a 130,000-letter "word" took 10 s by
    /// scanning): symbols in a linked list, candidate pairs in a min-heap keyed by (rank,
    /// position). All occurrences of one rank are merged left to right before any pair
    /// that those merges create is considered, exactly as the reference does; stale heap
    /// entries (a side already merged away) are skipped. O(n log n).
    func mergeWithHeap(_ symbols: [Int32]) -> [Int32] {
        let n = symbols.count
        var symbol = symbols
        var left = (0..<n).map { $0 - 1 }
        var right = (0..<n).map { $0 + 1 }  // n = end
        var alive = [Bool](repeating: true, count: n)
        var heap = PairHeap()
        func push(_ i: Int) {
            let j = right[i]
            guard j < n, let merge = merges[Self.key(symbol[i], symbol[j])] else { return }
            heap.push((merge >> 32, i, symbol[i], symbol[j], Int32(truncatingIfNeeded: merge & 0xFFFF_FFFF)))
        }
        for i in 0..<(n - 1) { push(i) }
        var created: [Int] = []
        while let top = heap.peek() {
            let rank = top.rank
            created.removeAll(keepingCapacity: true)
            while let e = heap.peek(), e.rank == rank {
                _ = heap.pop()
                let i = e.position
                guard alive[i], symbol[i] == e.first else { continue }
                let j = right[i]
                guard j < n, alive[j], symbol[j] == e.second else { continue }
                // Merge j into i.
                symbol[i] = e.merged
                alive[j] = false
                right[i] = right[j]
                if right[j] < n { left[right[j]] = i }
                created.append(i)
            }
            // New pairs: each merged symbol with its neighbours on both sides.
            for i in created where alive[i] {
                if left[i] >= 0 { push(left[i]) }
                push(i)
            }
        }
        var out: [Int32] = []
        var i = 0
        while i < n { out.append(symbol[i]); i = right[i] }
        return out
    }

    /// The text of `bytes` if they are valid UTF-8, else nil (no replacement characters).
    private static func decodeUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var scalars = String.UnicodeScalarView()
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        while true {
            switch decoder.decode(&iterator) {
            case let .scalarValue(scalar): scalars.append(scalar)
            case .emptyInput: return String(scalars)
            case .error: return nil
            }
        }
    }
}

/// A binary min-heap of candidate merges ordered by (rank, position).
private struct PairHeap {
    typealias Entry = (rank: UInt64, position: Int, first: Int32, second: Int32, merged: Int32)
    private var items: [Entry] = []

    private static func less(_ a: Entry, _ b: Entry) -> Bool { a.rank != b.rank ? a.rank < b.rank : a.position < b.position }

    func peek() -> Entry? { items.first }

    mutating func push(_ e: Entry) {
        items.append(e)
        var c = items.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard Self.less(items[c], items[p]) else { break }
            items.swapAt(c, p)
            c = p
        }
    }

    mutating func pop() -> Entry? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < items.count, Self.less(items[l], items[m]) { m = l }
                if r < items.count, Self.less(items[r], items[m]) { m = r }
                if m == p { break }
                items.swapAt(p, m)
                p = m
            }
        }
        return top
    }
}
