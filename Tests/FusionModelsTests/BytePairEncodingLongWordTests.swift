import Foundation
@testable import FusionModels
import FusionTestSupport
import XCTest

/// Long words (issue: one 130,000-letter word took 10 s to tokenise): the heap merge must
/// give exactly the reference loop's symbols, and stay fast.
final class BytePairEncodingLongWordTests: XCTestCase {
    private static var shared: CLIPTokenizer?
    private func tokenizer() throws -> CLIPTokenizer {
        if let shared = Self.shared { return shared }
        let made = try CLIPTokenizer(mergesPath: TestData.path("vocab/\(CLIPTokenizer.vocabularyFileName)"))
        Self.shared = made
        return made
    }

    func testHeapMergeEqualsTheReferenceLoop() throws {
        let bpe = try tokenizer().bpe
        var seeded = SplitMixForTests(seed: 7)
        let alphabets: [[UInt8]] = [Array("ab".utf8), Array("aeiou".utf8), Array("thequickbrownfox".utf8), Array("a".utf8), (0..<255).map(UInt8.init)]
        for trial in 0..<200 {
            let alphabet = alphabets[trial % alphabets.count]
            let length = 2 + Int(seeded.next() % 3000)
            let word = (0..<length).map { _ in alphabet[Int(seeded.next() % UInt64(alphabet.count))] }
            var symbols = word.map { ByteLevelAlphabet.tokenIDs[Int($0)] }
            symbols[symbols.count - 1] += 256
            XCTAssertEqual(bpe.mergeWithHeap(symbols), bpe.mergeByScanning(symbols), "trial \(trial), \(length) bytes")
        }
    }

    func testA130000LetterWordTokenisesQuickly() throws {
        let t = try tokenizer()
        let word = String(repeating: "pneumonoultramicroscopicsilicovolcanoconiosis", count: 130_000 / 45)
        let start = Date()
        XCTAssertThrowsError(try t.tokenize(word, truncate: false))
        let row = try t.tokenize(word, truncate: true)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(row.count, 77)
        XCTAssertEqual(row.last, CLIPTokenizer.endOfText)
        // The scanning loop took about 10 s on this word; the heap merge takes well under one.
        XCTAssertLessThan(seconds, 5, "tokenising a 130,000-letter word took \(seconds) s")
    }
}

/// A tiny seeded generator (tests only).
struct SplitMixForTests {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
