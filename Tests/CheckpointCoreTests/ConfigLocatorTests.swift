import Testing
@testable import CheckpointCore

@Suite struct ConfigLocatorTests {
    @Test func tablesDottedKeysAndInlineTables() {
        let text = """
            # comment with [fake] = header
            top = 1
            [camera]
            fps = 15 # trailing [comment]
            controls.gain = 3

            [camera.controls]
            exposure_mode = "manual"
              "quoted key" = 'x'
            inline = { a = 1, b = { c = 2 } }
            """
        let l = TOMLKeyLocator(source: text)
        #expect(l.line(for: ["top"]) == 2)
        #expect(l.line(for: ["camera"]) == 3)
        #expect(l.line(for: ["camera", "fps"]) == 4)
        #expect(l.line(for: ["camera", "controls", "gain"]) == 5)
        #expect(l.line(for: ["camera", "controls"]) == 5, "first mention wins")
        #expect(l.line(for: ["camera", "controls", "exposure_mode"]) == 8)
        #expect(l.line(for: ["camera", "controls", "quoted key"]) == 9)
        #expect(l.line(for: ["camera", "controls", "inline", "b", "c"]) == 10)
        #expect(l.line(for: ["fake"]) == nil)
    }

    /// Found by fuzzing: every table TOMLKit builds has a line, including those a header creates on the way
    /// (`[a.b]` creates `a`) and sub-tables of the latest element of an array of tables (`[p.q]` is `p[1].q`).
    @Test func tablesCreatedByHeadersHaveALine() {
        let text = """
            [a.b]
            k = 1
            [[p]]
            x = 1
            [[p]]
            x = 2
            [p.q]
            y = 2
            [[p.r]]
            z = 3
            """
        let l = TOMLKeyLocator(source: text)
        #expect(l.line(for: ["a"]) == 1)
        #expect(l.line(for: ["a", "b", "k"]) == 2)
        #expect(l.line(for: ["p", "[1]", "x"]) == 6)
        #expect(l.line(for: ["p", "[1]", "q"]) == 7)
        #expect(l.line(for: ["p", "[1]", "q", "y"]) == 8)
        #expect(l.line(for: ["p", "[1]", "r", "[0]", "z"]) == 10)
        #expect(l.line(for: ["p", "q"]) == nil)
        // a quoted key that looks like a bracket is a key, not an array index
        let q = TOMLKeyLocator(source: "[\"[\".o]\nk = 1\n")
        #expect(TOMLKeyPath.render(["[", "o"]) == "\"[\".o")
        #expect(q.line(for: ["["]) == 1 && q.line(for: ["[", "o", "k"]) == 2)
    }

    @Test func stringsAndMultiLineValuesDoNotConfuseIt() {
        let text = #"""
            a = """
            [not_a_table]
            b = 2
            """
            c = '''
            x = [1
            '''
            d = "has \" quote [x] = y"
            arr = [
              [1.0, 2.0], # comment ]
              [3.0, "]"],
            ]
            e = 5
            [[items]]
            name = "one"
            [[items]]
            name = "two"
            """#
        let l = TOMLKeyLocator(source: text)
        #expect(l.line(for: ["a"]) == 1)
        #expect(l.line(for: ["not_a_table"]) == nil)
        #expect(l.line(for: ["b"]) == nil)
        #expect(l.line(for: ["c"]) == 5)
        #expect(l.line(for: ["x"]) == nil)
        #expect(l.line(for: ["d"]) == 8)
        #expect(l.line(for: ["arr"]) == 9)
        #expect(l.line(for: ["arr", "[0]"]) == 10)
        #expect(l.line(for: ["arr", "[1]"]) == 11)
        #expect(l.line(for: ["arr", "[1]", "[1]"]) == 11)
        #expect(l.line(for: ["e"]) == 13)
        #expect(l.line(for: ["items", "[0]", "name"]) == 15)
        #expect(l.line(for: ["items", "[1]", "name"]) == 17)
    }

    @Test func nearestLineFallsBackToTableThenLineOne() {
        let l = TOMLKeyLocator(source: "x = 1\n\n[kiosk]\ndevice_id = \"a\"\n")
        #expect(l.nearestLine(for: ["kiosk", "checkpoint_id"]) == 3)
        #expect(l.nearestLine(for: ["upload", "endpoint"]) == 1)
    }

    @Test func byteOrderMarkAndCRLF() {
        let l = TOMLKeyLocator(source: "\u{FEFF}a = 1\r\n[t]\r\nb = 2\r\n")
        #expect(l.line(for: ["a"]) == 1)
        #expect(l.line(for: ["t", "b"]) == 3)
    }

    @Test func keyPathRendering() {
        #expect(TOMLKeyPath.render(["fit", "points", "[1]"]) == "fit.points[1]")
        #expect(TOMLKeyPath.render(["a b", "c"]) == "\"a b\".c")
    }
}
