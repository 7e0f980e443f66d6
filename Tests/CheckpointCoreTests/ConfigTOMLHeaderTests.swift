import Foundation
import Testing
@testable import CheckpointCore

/// A table header without a key (`[=`) made toml++ abort the process (an assertion, found by fuzzing) instead
/// of reporting a syntax error: `checkpointd --check-config` died, and so would a reload. It is now reported
/// as FILE:LINE like any other syntax error, and headers are only looked for where TOML has them.
@Suite struct ConfigTOMLHeaderTests {
    private func diagnostics(_ text: String) -> [ConfigDiagnostic] {
        switch TOMLDocument.parse(text, file: "k.toml") {
        case .success: return []
        case .failure(let e): return e.diagnostics
        }
    }

    @Test(arguments: [
        ("[=", 1, 2), ("[[=", 1, 3), ("[ =x]", 1, 3), ("a = 1\n\n  [\t.b]\n", 3, 5), ("[ok]\nx = 1\n[]\n", 3, 2), ("[", 1, 2),
    ])
    func headerWithoutAKeyIsASyntaxErrorWithItsLine(text: String, line: Int, column: Int) {
        let d = diagnostics(text)
        #expect(d.count == 1)
        #expect(d.first?.line == line)
        #expect(d.first?.description.contains("k.toml:\(line): TOML syntax error at column \(column): a table header must start with a key") == true,
                "\(d.first?.description ?? "no diagnostic")")
    }

    @Test func bracketsInsideStringsArraysAndCommentsAreNotHeaders() {
        let text = #"""
            [kiosk]
            note = """
            [= not a header, inside a multi-line string
            """
            raw = '''
            [[= nor this
            '''
            list = [
              [1, 2],
              ["[=", '[='],
            ]
            inline = { a = [1] }   # [= a comment
            ["quoted key"]
            ['literal key']
            [a.b-c_9]
            """#
        #expect(TOMLDocument.headerWithoutKey(in: text) == nil)
        #expect(diagnostics(text).isEmpty, "\(diagnostics(text))")
    }

    @Test func theDaemonsConfigLoaderReportsItToo() {
        let dir = ConfigFixtures.tempDir()
        ConfigFixtures.write("[=", dir + "/c.toml")
        let d = ConfigFixtures.diagnostics(dir + "/c.toml")
        #expect(d.map(\.line) == [1])
    }
}
