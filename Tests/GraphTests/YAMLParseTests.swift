import Testing
@testable import Graph

@Suite struct YAMLParseTests {
    @Test func exampleGraphValues() throws {
        let g = try YAML.parse(yamlExampleGraph, path: "Graphs/example.yaml")
        #expect(g.keys == ["tedi", "name", "params", "models", "nodes"])
        #expect(g["tedi"]?.int == 1)
        #expect(g["name"]?.string == "sketch-plus-text")
        #expect(g["params"]?["seed"]?.int == 0)
        #expect(g["params"]?["caption"]?.string == "She has blond hair and is smiling.")
        #expect(g["params"]?["caption"]?.scalar?.style == .doubleQuoted)
        #expect(g["models"]?["faces"]?.string == "../Models/synthfaces64.safetensors")
        let ffhq = try #require(g["models"]?["ffhq"])
        #expect(ffhq.keys == ["path", "arch", "size", "style_dim", "n_mlp", "channel_multiplier"])
        #expect(ffhq["size"]?.int == 1024)
        #expect(ffhq["channel_multiplier"]?.int == 2)
        let nodes = try #require(g["nodes"])
        #expect(nodes.keys == ["sketch", "text", "layout", "look", "mixed", "refined", "image", "save"])
        #expect(nodes["text"]?["text"]?.string == "${caption}")
        #expect(nodes["mixed"]?["in"]?.keys == ["base", "style"])
        #expect(nodes["mixed"]?["in"]?["style"]?.string == "look")
        #expect(nodes["mixed"]?["layers"]?.string == "4-9")
        #expect(nodes["mixed"]?["alpha"]?.double == 1.0)
        #expect(nodes["mixed"]?["alpha"]?.int == nil)
        #expect(nodes["refined"]?["lr"]?.double == 0.01)
        #expect(nodes["refined"]?["steps"]?.int == 50)
        #expect(nodes["refined"]?["steps"]?.double == 50)
        #expect(nodes["image"]?["noise"]?.string == "const")
        #expect(nodes["save"]?["path"]?.string == "sketch_text_${seed}.png")
        #expect(nodes["missing"] == nil)
        #expect(nodes["save"]?["in"]?.kindDescription == "a string")
        #expect(nodes.kindDescription == "a mapping")
    }

    @Test func exampleGraphMarks() throws {
        let text = yamlExampleGraph
        let g = try YAML.parse(text, path: "Graphs/example.yaml")
        // Hand-counted positions.
        #expect(g.mark == YAMLMark(line: 1, column: 1))
        #expect(g.mapping?[0].key.mark == YAMLMark(line: 1, column: 1))
        #expect(g["tedi"]?.mark == YAMLMark(line: 1, column: 7))
        #expect(g["params"]?["seed"]?.mark == YAMLMark(line: 4, column: 9))
        #expect(g["params"]?["caption"]?.mark == YAMLMark(line: 5, column: 12))  // the opening quote
        #expect(g["models"]?["ffhq"]?.mark == YAMLMark(line: 8, column: 9))
        #expect(g["models"]?["ffhq"]?.pair(forKey: "n_mlp")?.key.mark == YAMLMark(line: 9, column: 11))
        #expect(g["nodes"]?["mixed"]?.mark == YAMLMark(line: 15, column: 13))
        #expect(g["nodes"]?["mixed"]?["in"]?.mark == YAMLMark(line: 15, column: 28))
        #expect(g["nodes"]?["mixed"]?["in"]?["base"]?.mark == YAMLMark(line: 15, column: 36))
        // Positions found by searching the text.
        #expect(g["nodes"]?["mixed"]?["layers"]?.mark == yamlMark(of: "\"4-9\"", in: text))
        #expect(g["nodes"]?["refined"]?.pair(forKey: "lr")?.key.mark == yamlMark(of: "lr:", in: text))
        #expect(g["nodes"]?["refined"]?["lr"]?.mark == yamlMark(of: "0.01", in: text))
        #expect(g["nodes"]?["save"]?["path"]?.mark == yamlMark(of: "\"sketch_text_", in: text))
        #expect(g["nodes"]?.pair(forKey: "look")?.key.mark == yamlMark(of: "look:", in: text))
        #expect(g["nodes"]?["look"]?["in"]?.mark == yamlMark(of: "in: text", in: text).map {
            YAMLMark(line: $0.line, column: $0.column + 4)
        })
    }

    @Test func blockCollectionsAndScalarStyles() throws {
        let text = """
        seeds:
          - 1
          - two
          -
            nested: [a, 'b']
        poem: |
          line one
          line two
        folded: >
          joined
          words
        single: 'it''s'
        """
        let d = try YAML.parse(text, path: "s.yaml")
        let seeds = try #require(d["seeds"]?.sequence)
        #expect(seeds.count == 3)
        #expect(d["seeds"]?[0]?.int == 1)
        #expect(d["seeds"]?[0]?.mark == YAMLMark(line: 2, column: 5))
        #expect(d["seeds"]?[1]?.string == "two")
        #expect(d["seeds"]?[2]?["nested"]?[1]?.string == "b")
        #expect(d["seeds"]?[2]?["nested"]?[1]?.scalar?.style == .singleQuoted)
        #expect(d["seeds"]?[2]?["nested"]?[1]?.mark == YAMLMark(line: 5, column: 17))
        #expect(d["seeds"]?[3] == nil)
        #expect(d["poem"]?.string == "line one\nline two\n")
        #expect(d["poem"]?.scalar?.style == .literal)
        #expect(d["folded"]?.string == "joined words\n")
        #expect(d["folded"]?.scalar?.style == .folded)
        #expect(d["single"]?.string == "it's")
    }

    @Test func utf8TextAndColumns() throws {
        let text = "name: \"Zoë 😀 – ok\"\nmap: {ü: 1, ß: 2, 日本: 語}\n"
        let d = try YAML.parse(text, path: "u.yaml")
        #expect(d["name"]?.string == "Zoë 😀 – ok")
        #expect(d["map"]?.keys == ["ü", "ß", "日本"])
        #expect(d["map"]?["日本"]?.string == "語")
        // Columns count characters: "map: {ü: 1, " is 12 scalars, so ß is at column 13.
        #expect(d["map"]?.pair(forKey: "ß")?.key.mark == YAMLMark(line: 2, column: 13))
        #expect(d["map"]?["日本"]?.mark == yamlMark(of: "語", in: text))
        // Same bytes through the [UInt8] entry point, with a UTF-8 byte-order mark in front.
        let withBOM = try YAML.parse([0xEF, 0xBB, 0xBF] + Array(text.utf8), path: "u.yaml")
        #expect(withBOM.isEquivalent(to: d))
        #expect(withBOM["name"]?.string == "Zoë 😀 – ok")
    }

    @Test func aliasesExpandByReference() throws {
        let text = """
        base: &cfg { size: 64, arch: stylegan2 }
        copy: *cfg
        list: [&one 1, *one, *one]
        """
        let d = try YAML.parse(text, path: "a.yaml")
        let copy = try #require(d["copy"])
        #expect(copy.isEquivalent(to: try #require(d["base"])))
        #expect(copy["size"]?.int == 64)
        // The alias node sits where the alias is written; its children keep the anchored marks.
        #expect(copy.mark == YAMLMark(line: 2, column: 7))
        #expect(copy["arch"]?.mark == yamlMark(of: "stylegan2", in: text))
        #expect(d["list"]?.sequence?.compactMap(\.int) == [1, 1, 1])
        #expect(d["list"]?[2]?.mark == YAMLMark(line: 3, column: 22))
    }

    @Test func explicitEmptyDocumentIsNull() throws {
        #expect(try YAML.parse("---\n", path: "e.yaml").isNull)
        #expect(try YAML.parse("--- # nothing\n...\n", path: "e.yaml").isNull)
        #expect(try YAML.parse("just text", path: "e.yaml").string == "just text")
    }

    @Test func tagsForceTypes() throws {
        let d = try YAML.parse("""
        a: !!str 12
        b: !!int "12"
        c: !!float 3
        d: !!bool "false"
        e: !!null ""
        f: ! 7
        g: !!map {x: 1}
        h: !!seq [1]
        """, path: "t.yaml")
        #expect(d["a"]?.string == "12")
        #expect(d["a"]?.scalar?.tag == "!!str")
        #expect(d["b"]?.int == 12)
        #expect(d["c"]?.scalar?.value == .float(3))
        #expect(d["d"]?.bool == false)
        #expect(d["e"]?.isNull == true)
        #expect(d["f"]?.string == "7")
        #expect(d["g"]?["x"]?.int == 1)
        #expect(d["h"]?[0]?.int == 1)
    }
}
