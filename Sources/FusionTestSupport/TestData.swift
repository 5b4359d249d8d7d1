import Foundation
import FusionCore
import XCTest

/// Where the shared test data lives (`FUSIONKIT_TEST_DATA`, default `../shared`), or nil
/// with a visible skip message when it is absent.
public enum TestData {
    public static var root: String {
        if FusionOptions.current.sharedDataGiven, let given = FusionOptions.current.sharedData { return given.path }
        // Sources/FusionTestSupport/TestData.swift -> the package root's sibling `shared`.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.deletingLastPathComponent().appendingPathComponent("shared").path
    }

    /// The path of `relative` under the data root; skips the test (with a message) when missing.
    public static func path(_ relative: String) throws -> String {
        let p = root + "/" + relative
        guard FileManager.default.fileExists(atPath: p) else {
            print("SKIP: test data \(p) is missing (set FUSIONKIT_TEST_DATA)")
            throw XCTSkip("test data \(p) is missing (set FUSIONKIT_TEST_DATA)")
        }
        return p
    }
}
