import Foundation
import FusionIO
import FusionModels
import FusionTestSupport
import XCTest

/// The CLIP tokenizer against OpenAI `clip.tokenize` (golden tokens), its vocabulary,
/// text clean-up and pre-tokenising pattern, the vocabulary search, and gzip errors.
final class CLIPTokenizerTests: XCTestCase {



    private func vocabularyPath() throws -> String {
        try TestData.path("vocab/\(CLIPTokenizer.vocabularyFileName)")
    }

    /// One tokenizer for the tests that only read it (it is thread-safe).
    private static var shared: CLIPTokenizer?
    private func tokenizer() throws -> CLIPTokenizer {
        if let shared = Self.shared { return shared }
        let made = try CLIPTokenizer(mergesPath: vocabularyPath())
        Self.shared = made
        return made
    }

    /// The golden case's prompts and rows.
    private func golden() throws -> (prompts: [String], rows: [[Int32]]) {
        let archive = try SafetensorsReader.read(path: TestData.path("golden/tokenizer.safetensors"))
        let json = try XCTUnwrap(archive.metadata["json"], "tokenizer.safetensors has no metadata 'json'")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let prompts = try XCTUnwrap(object["prompts"] as? [String], "no prompts in \(object.keys)")
        let tokens = try archive.require("tokens")
        XCTAssertEqual(tokens.shape, [prompts.count, 77])
        let values = try tokens.integerValues().map { Int32($0) }
        let rows = (0..<prompts.count).map { Array(values[($0 * 77)..<($0 * 77 + 77)]) }
        return (prompts, rows)
    }

    // MARK: - Against the reference

    func testGoldenTokensMatchClipTokenize() throws {
        let tokenizer = try tokenizer()
        let (prompts, rows) = try golden()
        XCTAssertEqual(prompts.count, 13)
        var mismatches = 0
        for (i, prompt) in prompts.enumerated() {
            let ours = try tokenizer.tokenize(prompt, truncate: true)
            if ours != rows[i] {
                mismatches += 1
                print("MISMATCH prompt \(i) \(prompt.debugDescription)\n  expected \(rows[i])\n  got      \(ours)")
            }
            XCTAssertEqual(ours, rows[i], "prompt \(i): \(prompt.debugDescription)")
        }
        // The batch form gives the same rows.
        XCTAssertEqual(try tokenizer.tokenize(prompts, truncate: true), rows)
        print("CLIP tokenizer: \(prompts.count - mismatches)/\(prompts.count) golden prompts match clip.tokenize")
    }

    func testOverlongPromptIsAnErrorNamingItsLengthUnlessTruncated() throws {
        let tokenizer = try tokenizer()
        let (prompts, rows) = try golden()
        let long = try XCTUnwrap(prompts.max { $0.count < $1.count })
        let count = tokenizer.encode(long).count + 2
        XCTAssertGreaterThan(count, 77)
        XCTAssertThrowsError(try tokenizer.tokenize(long)) { error in
            XCTAssertEqual(error as? CLIPTokenizerError, .promptTooLong(prompt: long, tokenCount: count, contextLength: 77))
            let message = "\(error)"
            XCTAssertTrue(message.contains("\(count) tokens") && message.contains("77"), message)
        }
        let truncated = try tokenizer.tokenize(long, truncate: true)
        XCTAssertEqual(truncated.count, 77)
        XCTAssertEqual(truncated.first, CLIPTokenizer.startOfText)
        XCTAssertEqual(truncated.last, CLIPTokenizer.endOfText)
        XCTAssertEqual(truncated, rows[prompts.firstIndex(of: long)!])
        // Exactly full is not too long; other context lengths work the same way.
        let fits = Array(repeating: "a", count: 75).joined(separator: " ")
        XCTAssertEqual(try tokenizer.tokenize(fits).last, CLIPTokenizer.endOfText)
        XCTAssertThrowsError(try tokenizer.tokenize(fits + " a"))
        XCTAssertEqual(try tokenizer.tokenize("a photo", contextLength: 3, truncate: true), [49406, 320, 49407])
        XCTAssertThrowsError(try tokenizer.tokenize("a", contextLength: 0)) { error in
            XCTAssertEqual(error as? CLIPTokenizerError, .invalidContextLength(0))
        }
    }

    // MARK: - Vocabulary

    /// Facts checked against the vocabulary file itself, not against remembered ids.
    func testVocabularyLayout() throws {
        let tokenizer = try tokenizer()
        XCTAssertEqual(tokenizer.vocabularySize, 49408)
        XCTAssertEqual(tokenizer.id(of: "<|startoftext|>"), CLIPTokenizer.startOfText)
        XCTAssertEqual(tokenizer.id(of: "<|endoftext|>"), CLIPTokenizer.endOfText)
        // The byte symbols: printable bytes first ("!" is 0), then the other 68 from U+0100
        // in byte order (space is the 33rd: U+0120, id 188 + 32).
        XCTAssertEqual(tokenizer.symbol(of: 0), "!")
        XCTAssertEqual(ByteLevelAlphabet.characters[0x20], "\u{120}")
        XCTAssertEqual(tokenizer.id(of: "\u{120}"), 220)
        XCTAssertEqual(tokenizer.id(of: "!</w>"), 256)
        // Id 512 on: one merged symbol per merge line of the file, in file order.
        let text = try Gzip.decompress(path: vocabularyPath())
        let lines = String(decoding: text, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertTrue(lines[0].contains("version"), "\(lines[0])")
        for (offset, line) in [(0, lines[1]), (1, lines[2]), (48893, lines[48894])] {
            let merged = line.split(separator: " ").joined()
            XCTAssertEqual(tokenizer.id(of: merged), Int32(512 + offset), "merge line \(offset + 2): \(line)")
            XCTAssertEqual(tokenizer.symbol(of: Int32(512 + offset)), merged)
        }
        // A one-letter word is its byte symbol with </w>; a word that is a vocabulary entry
        // is that entry.
        XCTAssertEqual(tokenizer.encode("a"), [try XCTUnwrap(tokenizer.id(of: "a</w>"))])
        XCTAssertEqual(tokenizer.encode("A"), tokenizer.encode("a"))
        XCTAssertEqual(tokenizer.encode("photo"), [try XCTUnwrap(tokenizer.id(of: "photo</w>"))])
        XCTAssertEqual(tokenizer.encode("<|endoftext|>"), [CLIPTokenizer.endOfText])
        XCTAssertEqual(tokenizer.encode(""), [])
        XCTAssertEqual(try tokenizer.tokenize(""), [49406, 49407] + [Int32](repeating: 0, count: 75))
    }

    func testEncodeDecodeRoundTrip() throws {
        let tokenizer = try tokenizer()
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("Hello World, 3.14!")), "hello world , 3 . 1 4 ! ")
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("naïve résumé 🚗🔥")), "naïve résumé 🚗🔥 ")
        // A rare character splits into byte symbols; the bytes still come back.
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("𓀀")), "𓀀 ")
    }

    // MARK: - Pattern and clean-up (expected values from Python's `regex`, `html`, `str`
    // and ftfy 6.3.1)

    func testPreTokenisingPattern() throws {
        let tokenizer = try tokenizer()
        XCTAssertEqual(tokenizer.split("it's 42nd"), ["it", "'s", "4", "2", "nd"])
        XCTAssertEqual(tokenizer.split("we'll they're i'm"), ["we", "'ll", "they", "'re", "i", "'m"])
        XCTAssertEqual(tokenizer.split("3.14"), ["3", ".", "1", "4"])
        XCTAssertEqual(tokenizer.split("naïve—\"q\""), ["naïve", "—\"", "q", "\""])
        XCTAssertEqual(tokenizer.split("🚗🔥!"), ["🚗🔥!"])  // surrogate pairs in UTF-16
        XCTAssertEqual(tokenizer.split("q\u{303}x"), ["q", "\u{303}", "x"])  // not rounded to Characters
        XCTAssertEqual(tokenizer.split("<|endoftext|>"), ["<|endoftext|>"])
        XCTAssertEqual(tokenizer.split("\u{661}\u{662}abc"), ["\u{661}", "\u{662}", "abc"])
        // Case-insensitive literals: long s folds to s, as in Python's regex.IGNORECASE.
        XCTAssertEqual(tokenizer.split("x'\u{17F}y"), ["x", "'\u{17F}", "y"])
        // Python's regex drops U+0345 under IGNORECASE; so does ours.
        XCTAssertEqual(tokenizer.split("a\u{345}b"), ["a", "b"])
        XCTAssertEqual(tokenizer.split("<|\u{17F}tartoftext|>"), ["<|\u{17F}tartoftext|>"])
        XCTAssertNotEqual(tokenizer.encode("<|\u{17F}tartoftext|>"), [CLIPTokenizer.startOfText])
    }

    func testTextCleaning() {
        let cases: [(String, String)] = [
            ("  MULTIPLE   spaces\tand\nnewlines  ", "multiple spaces and newlines"),
            (" \u{2003} A\u{A0}\u{A0}B\t\nC \u{3000}", "a b c"),
            ("\u{201C}quotes\u{201D} it\u{2019}s", "\"quotes\" it's"),
            ("P&EACUTE;REZ", "pérez"),  // ftfy's all-caps entities
            ("&amp;amp;", "&"),  // ftfy repeats until nothing changes
            ("&amp;lt;b&amp;gt;", "<b>"),
            ("<em>HTML entities &lt;3</em>", "<em>html entities <3</em>"),  // ftfy skips, html.unescape does it
            ("I&#x92;m blue", "i'm blue"),  // C1 as Windows-1252, then uncurled
            ("\u{FEFF}Party like\nit&rsquo;s 1999!", "party like it's 1999!"),
            ("schÃ¶n", "schön"),
            ("This â€” should be an em dash", "this — should be an em dash"),
            ("ðŸš— car", "🚗 car"),
            ("not such a fan of Charlotte Brontë…\u{201D}", "not such a fan of charlotte brontë…\""),
            ("ＬＯＵＤ　ＮＯＩＳＥＳ", "loud noises"),
            ("ﬂuﬃeﬆ", "fluffiest"),
            ("\u{1B}[36;44mblue\u{1B}[0m", "blue"),
            ("e\u{301}t\u{E9}", "\u{E9}t\u{E9}"),  // NFC
            ("ΟΔΟΣ ΣΑ", "οδος σα"),  // Python's final sigma
            ("İSTANBUL", "i\u{307}stanbul"),
            ("a\u{0}b\u{7}c", "abc"),
            ("SÃO PAULO À la carte", "são paulo à la carte"),  // legitimate Latin-1 stays
            ("ÎŸÎ”ÎŸÎ£ visible", "οδος visible"),
            ("naÃ¯ve cafÃ© â€“ â‚¬10 ðŸ˜€", "naïve café – €10 😀"),
            ("cafÃ© &amp; ﬁsh\u{92}s", "café & fish's"),
            // ftfy unescapes (and so uncurls) only until a line holds a '<'.
            ("&ldquo;hi&rdquo;\n<b>", "\"hi\" <b>"),
            ("<b>\n&ldquo;hi&rdquo;", "<b> \u{201C}hi\u{201D}"),
            ("a < b &ldquo;hi&rdquo;", "a < b \u{201C}hi\u{201D}"),
            ("", ""),
        ]
        for (input, expected) in cases {
            let cleaned = CLIPTextCleaner.clean(input)
            XCTAssertEqual(Array(cleaned.unicodeScalars), Array(expected.unicodeScalars),
                           "clean(\(input.debugDescription)) = \(cleaned.debugDescription)")
        }
    }

    func testPythonHTMLUnescape() {
        let cases: [(String, String)] = [
            ("&notit; &amp &ampx &#65;&#x42;&#0;&#128;&#150;&#xD800;&#1114112;&#11;&#65534; &#99999999999999;",
             "¬it; & &x AB\u{FFFD}€–\u{FFFD}\u{FFFD} \u{FFFD}"),
            ("a &unknown; b", "a &unknown; b"),
            ("&#59;", ";"),
            ("&frac12x;", "½x;"),
            ("&Kopf; &\u{212A}opf;", "\u{1D542} &\u{212A}opf;"),  // no canonical-equivalence match
        ]
        for (input, expected) in cases {
            let out = CLIPTextCleaner.htmlUnescape(Array(input.unicodeScalars))
            XCTAssertEqual(out, Array(expected.unicodeScalars), input)
        }
    }

    // MARK: - Finding the vocabulary

    func testMissingVocabularyListsEveryPlaceSearched() throws {
        let cache = try makeTemporaryDirectory("cache")
        let data = try makeTemporaryDirectory("data")
        let env = ["FUSIONKIT_CACHE": cache.path, "FUSIONKIT_TEST_DATA": data.path]
        let expected = [cache.appendingPathComponent(CLIPTokenizer.vocabularyFileName).path,
                        data.appendingPathComponent("vocab/" + CLIPTokenizer.vocabularyFileName).path]
        XCTAssertThrowsError(try CLIPTokenizer(searching: nil, environment: env)) { error in
            XCTAssertEqual(error as? CLIPTokenizerError, .vocabularyNotFound(searched: expected))
            for path in expected { XCTAssertTrue("\(error)".contains(path), "\(error)") }
        }
        // Without FUSIONKIT_CACHE: the home cache; without FUSIONKIT_TEST_DATA: ../shared.
        let home = try makeTemporaryDirectory("home")
        XCTAssertEqual(CLIPTokenizer.vocabularyCandidates(explicitPath: nil, environment: ["HOME": home.path]),
                       [home.appendingPathComponent(".cache/fusionkit/" + CLIPTokenizer.vocabularyFileName).path,
                        "../shared/vocab/" + CLIPTokenizer.vocabularyFileName])
        // A named file is the only place looked at.
        let named = cache.appendingPathComponent("elsewhere.txt.gz").path
        XCTAssertThrowsError(try CLIPTokenizer(searching: named, environment: env)) { error in
            XCTAssertEqual(error as? CLIPTokenizerError, .vocabularyNotFound(searched: [named]))
        }
        XCTAssertThrowsError(try CLIPTokenizer(searching: nil, environment: env.merging(["FUSIONKIT_CLIP_VOCAB": named]) { $1 })) { error in
            XCTAssertEqual(error as? CLIPTokenizerError, .vocabularyNotFound(searched: [named]))
        }
    }

    func testVocabularyIsFoundInOrder() throws {
        let shared = try vocabularyPath()
        let cache = try makeTemporaryDirectory("cache")
        // Test data when the cache is empty.
        var env = ["FUSIONKIT_CACHE": cache.path, "FUSIONKIT_TEST_DATA": TestData.root]
        XCTAssertEqual(try CLIPTokenizer.locateVocabulary(environment: env), TestData.root + "/vocab/" + CLIPTokenizer.vocabularyFileName)
        // The cache before the test data.
        let cached = cache.appendingPathComponent(CLIPTokenizer.vocabularyFileName).path
        try FileManager.default.copyItem(atPath: shared, toPath: cached)
        XCTAssertEqual(try CLIPTokenizer.locateVocabulary(environment: env), cached)
        // FUSIONKIT_CLIP_VOCAB before both, an explicit path before everything.
        env["FUSIONKIT_CLIP_VOCAB"] = shared
        XCTAssertEqual(try CLIPTokenizer.locateVocabulary(environment: env), shared)
        XCTAssertEqual(try CLIPTokenizer.locateVocabulary(explicitPath: cached, environment: env), cached)
        let tokenizer = try CLIPTokenizer(searching: cached, environment: env)
        XCTAssertEqual(tokenizer.mergesPath, cached)
        XCTAssertEqual(tokenizer.encode("a"), [320])
    }

    // MARK: - Damaged files

    /// A truncated or altered copy of the vocabulary is a FileFormatError naming the file.
    func testDamagedVocabularyIsAnErrorNamingTheFile() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: vocabularyPath()))
        let folder = try makeTemporaryDirectory("damaged")
        var variants: [(String, Data)] = [
            ("empty", Data()),
            ("not gzip", Data("bpe_simple_vocab_16e6.txt#version: 0.2\ni n\n".utf8)),
            ("header only", original.prefix(10)),
            ("truncated half", original.prefix(original.count / 2)),
            ("truncated trailer", original.prefix(original.count - 4)),
        ]
        for (label, offset) in [("flipped method", 2), ("flipped data", original.count / 3),
                                ("flipped crc", original.count - 6), ("flipped length", original.count - 2)] {
            var copy = original
            copy[offset] ^= 0x5A
            variants.append((label, copy))
        }
        var garbage = original
        garbage.append(contentsOf: [0x42, 0x42, 0x42])
        variants.append(("trailing garbage", garbage))
        for (label, data) in variants {
            let path = folder.appendingPathComponent(label.replacingOccurrences(of: " ", with: "-") + ".txt.gz").path
            try data.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try CLIPTokenizer(mergesPath: path), label) { error in
                guard let error = error as? FileFormatError else { return XCTFail("\(label): \(type(of: error)) \(error)") }
                XCTAssertEqual(error.path, path, label)
                print("\(label): \(error.format): \(error.message)")
            }
        }
        // Zero padding after the last member is accepted, as by Python's gzip.
        var padded = original
        padded.append(contentsOf: [0, 0, 0, 0])
        let paddedPath = folder.appendingPathComponent("padded.txt.gz").path
        try padded.write(to: URL(fileURLWithPath: paddedPath))
        XCTAssertEqual(try CLIPTokenizer(mergesPath: paddedPath).vocabularySize, 49408)
        // A missing file names itself too.
        let missing = folder.appendingPathComponent("missing.txt.gz").path
        XCTAssertThrowsError(try CLIPTokenizer(mergesPath: missing)) { error in
            XCTAssertEqual((error as? FileFormatError)?.path, missing, "\(error)")
        }
    }

    func testGzipMembersAndOutputBound() throws {
        // gzip.compress(b"hello\n", mtime=0) and gzip.compress(b"world\n", mtime=0).
        let hello: [UInt8] = [31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 203, 72, 205, 201, 201, 231, 2, 0, 32, 48, 58, 54, 6, 0, 0, 0]
        let world: [UInt8] = [31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 43, 207, 47, 202, 73, 225, 2, 0, 168, 97, 56, 221, 6, 0, 0, 0]
        XCTAssertEqual(try Gzip.decompress(Data(hello), path: "hello.gz"), Data("hello\n".utf8))
        XCTAssertEqual(try Gzip.decompress(Data(hello + world), path: "two.gz"), Data("hello\nworld\n".utf8))
        XCTAssertEqual(try Gzip.decompress(Data(hello + [0, 0]), path: "padded.gz"), Data("hello\n".utf8))
        XCTAssertThrowsError(try Gzip.decompress(Data(hello + [1]), path: "garbage.gz")) { error in
            XCTAssertEqual((error as? FileFormatError)?.path, "garbage.gz")
        }
        XCTAssertThrowsError(try Gzip.decompress(Data(hello + world), path: "big.gz", maxOutputBytes: 8)) { error in
            XCTAssertTrue("\(error)".contains("more than 8 bytes"), "\(error)")
        }
        for cut in 1..<hello.count {
            XCTAssertThrowsError(try Gzip.decompress(Data(hello.prefix(cut)), path: "cut.gz"), "cut at \(cut)")
        }
    }

    // MARK: - Speed and threads

    func testVocabularyLoadsQuickly() throws {
        let path = try vocabularyPath()
        _ = try CLIPTokenizer(mergesPath: path)  // warm the file cache
        var best = Double.infinity
        for _ in 0..<3 {
            let start = Date()
            let tokenizer = try CLIPTokenizer(mergesPath: path)
            best = min(best, Date().timeIntervalSince(start))
            XCTAssertEqual(tokenizer.vocabularySize, 49408)
        }
        print(String(format: "CLIP vocabulary load: %.1f ms (best of 3)", best * 1000))
        #if !DEBUG
        XCTAssertLessThan(best, 1.0)
        #endif
        let tokenizer = try tokenizer()
        let (prompts, _) = try golden()
        let start = Date()
        for _ in 0..<10 { _ = try tokenizer.tokenize(prompts, truncate: true) }
        print(String(format: "CLIP tokenize: %.3f ms per prompt (cached)", Date().timeIntervalSince(start) * 1000 / Double(10 * prompts.count)))
    }

    func testConcurrentTokenizingAgrees() throws {
        let tokenizer = try CLIPTokenizer(mergesPath: vocabularyPath())  // fresh, empty cache
        let (prompts, rows) = try golden()
        let results = UnsafeMutableBufferPointer<[Int32]>.allocate(capacity: prompts.count * 8)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: prompts.count * 8) { i in
            results[i] = (try? tokenizer.tokenize(prompts[i % prompts.count], truncate: true)) ?? []
        }
        for i in 0..<(prompts.count * 8) { XCTAssertEqual(results[i], rows[i % prompts.count], "run \(i)") }
    }
}
