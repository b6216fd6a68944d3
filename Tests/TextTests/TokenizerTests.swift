import SynthFaces
import TensorCore
import Testing
@testable import Text

@Suite struct TokenizerTests {
    @Test func normalizesCaseWidthContractionsAndMarks() throws {
        // Full-width letters (NFKC), capitals, a contraction, a hyphen, a possessive, runs of marks.
        let (w, dropped) = try Tokenizer.words("ＴＨＥ Woman's hair isn't middle-aged-looking!!! Glasses , no hat")
        #expect(w == ["the", "woman", "hair", "is", "not", "middle", "aged", "looking", ".", "glasses", ",", "no", "hat"])
        #expect(dropped == 0)
    }

    @Test func dropsEmojiAndControlCharactersAndCountsThem() throws {
        let (w, dropped) = try Tokenizer.words("blond\u{0007} woman 😀 with\u{200B}glasses")
        #expect(w.contains("blond") && w.contains("woman"))
        #expect(dropped == 3) // BEL, the emoji, the zero-width space
        #expect(!w.contains { $0.unicodeScalars.contains { $0.properties.isEmoji && $0.value > 0x7F } })
    }

    @Test func refusesEmptyTooLongAndTooManyWords() throws {
        for bad in ["", "   ", "...,!", "😀😀"] {
            #expect(throws: TextError.self) { try Tokenizer.words(bad) }
        }
        let long = String(repeating: "a", count: 10_001)
        do { _ = try Tokenizer.words(long); Issue.record("10,001 characters were read") } catch let e as TextError {
            #expect(e.description.contains("10001") && e.description.contains("10000"))
        }
        let words = Array(repeating: "blond", count: 65).joined(separator: " ")
        do { _ = try Tokenizer.words(words); Issue.record("65 words were read") } catch let e as TextError {
            #expect(e.description.contains("65 words") && e.description.contains("at most 64"))
        }
        // 10,000 characters are within the character limit, and still refused for their word count.
        let tenK = String(repeating: "hair ", count: 2_000)
        #expect(tenK.count == 10_000)
        #expect(throws: TextError.self) { try Tokenizer.words(tenK) }
        #expect(try Tokenizer.words(Array(repeating: "hair", count: 64).joined(separator: " ")).words.count == 64)
    }

    @Test func vocabularyReportsUnknownWordsAndCorrectsTypos() throws {
        let v = Vocabulary(["a", "woman", "with", "eyeglasses", "blond", "hair", "smiling"])
        let e = try v.encode("A smilling womna with eyeglases, blond hair and a xylophone 😀")
        #expect(e.corrected.map(\.from) == ["smilling", "womna", "eyeglases"])
        #expect(e.corrected.map(\.to) == ["smiling", "woman", "eyeglasses"])
        #expect(e.unknown == ["and", "xylophone"])
        #expect(e.droppedCharacters == 1)
        #expect(e.ids.filter { $0 == Vocabulary.unknown }.count == 3) // and, xylophone and the "," this vocabulary lacks
        #expect(e.notes.contains { $0.hasPrefix("unknown words: and, xylophone") })
        // A pasted run of letters is noted by its start and length, not echoed whole.
        let long = try v.encode("blond " + String(repeating: "q", count: 5000))
        #expect(long.notes.first == "unknown words: \(String(repeating: "q", count: 40))… (5000 letters) (not in the text model's vocabulary; they are ignored)")
        // Short words are not guessed at: "hat" is not read as "hair", "make" not as "male".
        #expect(try v.encode("hat").unknown == ["hat"])
        #expect(try Vocabulary(["male"]).encode("make").unknown == ["make"])
        #expect(Vocabulary(metadata: v.metadataValue) == v)
    }

    @Test func quotesApostrophesAndStrayContractions() throws {
        // Curly and back-tick apostrophes open contractions; quotes are word breaks, not dropped
        // symbols; brackets mark a clause like a comma.
        let (w, dropped) = try Tokenizer.words("\"don‘t\" (smile) «please» n't")
        #expect(w == ["do", "not", ",", "smile", ",", "please", "not"])
        #expect(dropped == 0)
    }

    @Test func correctionsNeverFlipANegation() throws {
        let v = Vocabulary(["glasses", "wrinkled", "bearded", "smiling"])
        for word in ["glassless", "unwrinkled", "unbearded"] {
            let e = try v.encode(word)
            #expect(e.corrected.isEmpty && e.unknown == [word], "\(word): \(e)")
        }
        #expect(try v.encode("smilling").corrected.map(\.to) == ["smiling"])
    }

    @Test func correctionsKeepTheFirstLetter() throws {
        // A colour the vocabulary lacks is not read as the word one letter away ("yellow" as "fellow", a man).
        let v = Vocabulary(["fellow", "glasses", "yelling"])
        let e = try v.encode("yellow glases")
        #expect(e.unknown == ["yellow"], "\(e)")
        #expect(e.corrected == [.init(from: "glases", to: "glasses")], "\(e)")
    }

    @Test func editDistanceCountsTranspositionsOnce() {
        func d(_ a: String, _ b: String) -> Int { Vocabulary.distance(Array(a), Array(b), limit: 3) }
        #expect(d("glasses", "glasses") == 0)
        #expect(d("galsses", "glasses") == 1)
        #expect(d("glases", "glasses") == 1)
        #expect(d("kitten", "sitting") == 3)
        #expect(Vocabulary.distance(Array("abcdefgh"), Array("zzzzzzzz"), limit: 2) == 3)
    }
}

@Suite struct ParaphraserTests {
    @Test func statesOnlyTrueValuesAndIsDeterministic() throws {
        var shapes = Set<String>()
        for i in 20_000..<20_300 {
            let a = try SynthFaces.attributes(seed: 0, index: i)
            let truth = Paraphraser.values(a)
            let g = try SynthFaces.captions(seed: 0, index: i)
            var r1 = Philox(seed: 9, stream: UInt64(i)), r2 = Philox(seed: 9, stream: UInt64(i))
            let c = Paraphraser.caption(a, grammar: g, rng: &r1)
            #expect(c == Paraphraser.caption(a, grammar: g, rng: &r2))
            for (k, v) in c.stated { #expect(truth[k] == v, "\(c.text): \(k)=\(v), truth \(truth[k] ?? "?")") }
            // Only a caption of what the face is not ("not bald") may leave every attribute open.
            #expect(!c.stated.isEmpty || c.text.contains("not ") || c.text.contains("without "), "\(c.text) states nothing")
            _ = try Tokenizer.words(c.text)
            shapes.insert(c.text.contains(" with ") ? "with" : c.text.contains(",") ? "list" : "other")
            if c.text.contains("no glasses") { #expect(c.stated["eyeglasses"] == "false") }
        }
        #expect(shapes.count == 3)
    }

    /// Negations come in the forms people write ("isn't smiling", "who doesn't wear glasses", "not
    /// bald"); a negated two-valued attribute is stated as the other value, an open one ("not
    /// bald") is not stated, and every word of them is in the vocabulary T is built with.
    @Test func negationsStateWhatTheFaceIsNot() throws {
        var forms = Set<String>(), open = 0, stated = 0
        for i in 20_000..<22_000 {
            let a = try SynthFaces.attributes(seed: 0, index: i)
            let truth = Paraphraser.values(a)
            var rng = Philox(seed: 3, stream: UInt64(i))
            let c = Paraphraser.caption(a, grammar: try SynthFaces.captions(seed: 0, index: i), typos: false, rng: &rng)
            let words = try Tokenizer.words(c.text).words.joined(separator: " ")
            for form in ["is not", "does not", "never", "not", "without", "are not", "do not"] where words.contains(" \(form) ") || words.hasPrefix("\(form) ") {
                forms.insert(form)
            }
            for (k, v) in c.stated { #expect(truth[k] == v, "\(c.text): \(k)=\(v), truth \(truth[k] ?? "?")") }
            if words.contains("not smiling") || words.contains("not smile") {
                #expect(c.stated["expression"] == "neutral", "\(c.text)"); stated += 1
            }
            if words.contains("not wearing glasses") || words.contains("not wear glasses") { #expect(c.stated["eyeglasses"] == "false", "\(c.text)"); stated += 1 }
            if words.contains("not bald") {
                #expect(a.hairStyle != .bald && c.stated["hair_style"] != "bald", "\(c.text)"); open += 1
            }
        }
        #expect(forms.isSuperset(of: ["is not", "does not", "never", "not", "without"]), "\(forms.sorted())")
        #expect(stated > 20 && open > 5, "\(stated) stated, \(open) open")
    }

    @Test func attributeNamesMatchTheirSpelling() {
        #expect(Paraphraser.name(.hairColor) == "hair_color")
        #expect(Paraphraser.name(.facialHair) == "facial_hair")
        #expect(Paraphraser.name(.age) == "age")
    }
}

@Suite struct GrammarReaderTests {
    /// The baseline knows the grammar: on held-out grammar captions it reads what they state.
    @Test func readsGrammarCaptionsExactly() throws {
        var right = 0, total = 0, spurious = 0
        for i in 0..<300 {
            let a = try SynthFaces.attributes(seed: 0, index: i)
            for c in try SynthFaces.captions(seed: 0, index: i) {
                let truth = Paraphraser.stated(c, a).stated
                let read = try GrammarReader.read(c.text)
                for (k, v) in truth { total += 1; if read[k] == v { right += 1 } }
                spurious += read.keys.filter { truth[$0] == nil }.count
            }
        }
        #expect(Double(right) / Double(total) > 0.99, "\(right) / \(total)")
        #expect(spurious == 0)
    }

    @Test func missesWhatTheGrammarNeverSays() throws {
        #expect(try GrammarReader.read("a woman with long wavy blond hair") == ["presentation": "feminine", "hair_color": "blond", "hair_style": "wavy"])
        // Synonyms and negations are outside the grammar.
        #expect(try GrammarReader.read("bespectacled fellow, no hat").isEmpty)
    }
}
