import Foundation
import SynthFaces
import TensorCore

/// A caption and the attributes it states: attribute name (as `AttributeHeads` and attributes.jsonl
/// spell them: "hair_color") → value ("blond"). Negations state a value too ("no glasses" →
/// eyeglasses = false; "not smiling" → expression = neutral); what the caption leaves open is absent.
public struct StatedCaption: Equatable, Sendable {
    public var text: String
    public var stated: [String: String]
    /// Values the caption rules out while leaving the attribute open ("not bald": hair_style ≠ bald).
    public var excluded: [String: String]

    public init(text: String, stated: [String: String], excluded: [String: String] = [:]) { self.text = text; self.stated = stated; self.excluded = excluded }
}

/// Captions written the way people write them, for training the text models beyond
/// SynthFaces' grammar: the grammar's captions with synonyms swapped in, clauses reordered,
/// function words dropped and typos; and captions in other shapes — fragment lists ("bearded
/// fellow, grey sweater"), adjectives first ("Blond and smiling, she wears a red top."),
/// negations ("no glasses, clean-shaven"), backgrounds. Every caption states only true facts.
/// The held-out paraphrase set (Examples/captions/paraphrases.tsv) was written by hand apart from
/// this generator, so its words and shapes are not all here.
public enum Paraphraser {
    /// The value name of every categorical attribute of `a`, by attribute name.
    public static func values(_ a: FaceAttributes) -> [String: String] {
        ["presentation": a.presentation.rawValue, "age": a.age.rawValue, "face_shape": a.faceShape.rawValue,
         "skin_tone": a.skinTone.rawValue, "hair_color": a.hairColor.rawValue, "hair_style": a.hairStyle.rawValue,
         "eyebrows": a.eyebrows.rawValue, "eye_color": a.eyeColor.rawValue, "eyes": a.eyes.rawValue,
         "expression": a.expression.rawValue, "lipstick": String(a.lipstick), "eyeglasses": String(a.eyeglasses),
         "hat": String(a.hat), "facial_hair": a.facialHair.rawValue, "earrings": String(a.earrings),
         "necklace": String(a.necklace), "clothing": a.clothing.rawValue, "background": a.background.rawValue,
         "wrinkles": String(a.wrinkles)]
    }

    /// The attribute name of a grammar mention ("hairColor" → "hair_color").
    public static func name(_ k: AttributeKey) -> String {
        k.rawValue.reduce(into: "") { s, c in
            if c.isUppercase { s += "_" + c.lowercased() } else { s.append(c) }
        }
    }

    /// A grammar caption with what it states.
    public static func stated(_ c: Caption, _ a: FaceAttributes) -> StatedCaption {
        let v = values(a)
        return StatedCaption(text: c.text, stated: Dictionary(uniqueKeysWithValues: c.mentions.map { (name($0), v[name($0)]!) }))
    }

    /// One training caption for a face with attributes `a` and grammar captions `grammar`:
    /// a reworded grammar caption 40% of the time, an editing instruction 12%, else one in
    /// another shape; then typos in 25%.
    /// `typos: false` leaves the words as written (the vocabulary is built from such captions).
    public static func caption(_ a: FaceAttributes, grammar: [Caption], typos withTypos: Bool = true, rng: inout Philox) -> StatedCaption {
        var c: StatedCaption
        if !grammar.isEmpty && rng.chance(0.4) {
            c = stated(grammar[rng.int(below: grammar.count)], a)
            c.text = reworded(c.text, rng: &rng)
        } else if rng.chance(0.2) {
            c = instruction(a, rng: &rng)
        } else {
            c = free(a, rng: &rng)
        }
        if rng.chance(0.25) && withTypos { c.text = typos(c.text, rate: 0.08, rng: &rng) }
        if rng.chance(0.15) { c.text = c.text.lowercased().filter { $0 != "." } }
        return c
    }

    static func pick<T>(_ xs: [T], _ rng: inout Philox) -> T { xs[rng.int(below: xs.count)] }

    /// Word and phrase swaps that keep the meaning in the grammar's wording.
    static let synonyms: [(String, [String])] = [
        ("eyeglasses", ["spectacles", "specs", "glasses"]), ("a pair of glasses", ["spectacles", "specs"]),
        ("glasses", ["spectacles", "specs", "eyeglasses"]), ("blond hair", ["blonde hair", "fair hair", "golden hair"]),
        ("grey", ["gray", "silver"]), ("gray", ["grey", "silver"]), ("ginger", ["red", "auburn", "copper"]),
        ("red hair", ["ginger hair", "auburn hair"]), ("dark brown hair", ["chestnut hair", "brunette hair"]),
        ("woman", ["lady", "female", "girl"]), ("lady", ["woman", "female"]), ("gentleman", ["man", "guy", "fellow"]),
        ("man", ["guy", "fellow", "male", "gentleman"]), ("sweater", ["jumper", "pullover"]), ("shirt", ["t-shirt", "tee", "blouse"]),
        ("top", ["shirt", "jacket", "hoodie"]), ("stubble", ["scruff", "a stubbly chin"]), ("mustache", ["moustache"]),
        ("a full beard", ["a thick beard", "a goatee"]), ("wrinkles", ["lines", "creases", "a wrinkled face"]),
        ("middle-aged", ["middle aged", "mature", "in midlife"]), ("elderly", ["senior", "aged", "older"]), ("old", ["elderly", "senior", "older"]),
        ("young", ["youthful", "teenage"]), ("a hat", ["a cap", "a beanie", "a fedora"]), ("bangs", ["a fringe", "fringe"]),
        ("is smiling", ["smiles"]), ("a smile", ["a grin", "a slight smile"]), ("wavy", ["curly", "wavy"]),
        ("bushy eyebrows", ["thick brows", "heavy eyebrows"]), ("thin eyebrows", ["thin brows", "slim eyebrows"]),
        ("a neutral expression", ["a serious face", "a straight face", "a blank expression"]),
        ("lipstick", ["red lips", "lip colour"]), ("earrings", ["earings", "ear studs"]), ("a necklace", ["a pendant", "a chain"]),
        ("bald", ["bald-headed", "shaven-headed"]), ("smiling broadly", ["laughing", "beaming"]),
        ("a wide smile", ["a big grin", "a broad grin"]), ("navy", ["navy blue", "dark blue"]), ("beige", ["cream", "khaki"]),
        ("This person", ["Someone", "The individual"]), ("The person", ["The subject", "This face"]),
    ]

    /// `text` with synonyms swapped (each source phrase with probability 0.5), sentences
    /// sometimes reordered, and function words sometimes dropped.
    static func reworded(_ text: String, rng: inout Philox) -> String {
        var t = " " + text + " "
        for (from, tos) in synonyms where rng.chance(0.5) {
            for sep in [" ", ","] {
                t = t.replacingOccurrences(of: " " + from + sep, with: " " + pick(tos, &rng) + sep)
                t = t.replacingOccurrences(of: " " + from + ".", with: " " + pick(tos, &rng) + ".")
            }
        }
        var sentences = t.split(separator: ".").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if sentences.count > 1 && rng.chance(0.3) { sentences.reverse() }
        var out = sentences.joined(separator: ". ") + "."
        if rng.chance(0.3) {
            let drop: Set<String> = ["a", "an", "the", "is", "has", "this"]
            out = out.split(separator: " ").filter { !drop.contains($0.lowercased()) || !rng.chance(0.5) }.joined(separator: " ")
        }
        return out
    }

    /// Misspells each word of 4+ letters with probability `rate`: a swap, a drop or a doubled letter.
    static func typos(_ text: String, rate: Float, rng: inout Philox) -> String {
        text.split(separator: " ", omittingEmptySubsequences: false).map { word -> String in
            var w = Array(word)
            guard w.count >= 4, w.allSatisfy({ $0.isLetter }), rng.uniform() < rate else { return String(word) }
            let i = 1 + rng.int(below: w.count - 2)
            switch rng.int(below: 3) {
            case 0: w.swapAt(i, i + 1)
            case 1: w.remove(at: i)
            default: w.insert(w[i], at: i)
            }
            return String(w)
        }.joined(separator: " ")
    }

    /// A fact in the words people use: adjectives that go before the noun ("bearded"), phrases
    /// that follow "with" or stand alone ("a grey beard", "no glasses").
    struct Fact {
        var name: String
        var value: String
        var adjectives: [String]
        var phrases: [String]
        /// What the face is not, as clauses (`Negation`): "not smiling", "who doesn't wear glasses".
        var negations: [Negation] = []
    }

    /// A negated predicate in two forms: `ing` after "is not" ("smiling", "wearing glasses",
    /// "bald") and `verb` after "does not" ("smile", "wear glasses", "have a beard"); `without`
    /// after "without" where English allows it ("glasses").
    struct Negation {
        var ing: String
        var verb: String
        var without: String? = nil

        /// The clause alone, as a fragment or tag: "not smiling", "without glasses".
        func fragment(_ rng: inout Philox) -> String {
            if let w = without, rng.chance(0.3) { return "without \(w)" }
            return "not \(ing)"
        }

        /// The clause after a noun: "who is not smiling", "that doesn't wear glasses", "not wearing glasses".
        func relative(_ rng: inout Philox) -> String {
            switch rng.int(below: 6) {
            case 0, 1: return pick(["who is not", "who isn't", "that is not", "that isn't", "who's not"], &rng) + " " + ing
            case 2: return pick(["who does not", "who doesn't", "that doesn't", "that does not"], &rng) + " " + verb
            case 3: return "who never " + thirdPerson
            case 4: return without.map { "without \($0)" } ?? "not \(ing)"
            default: return "not \(ing)"
            }
        }

        /// The clause with a pronoun: "she isn't smiling", "he does not wear glasses", "they don't have a beard".
        func sentence(_ pronoun: String, _ rng: inout Philox) -> String {
            let plural = pronoun == "they"
            switch rng.int(below: 5) {
            case 0, 1: return pronoun + pick(plural ? [" are not", " aren't", "'re not"] : [" is not", " isn't", "'s not"], &rng) + " " + ing
            case 2 where !plural: return pronoun + " never " + thirdPerson
            default: return pronoun + " " + pick(plural ? ["do not", "don't"] : ["does not", "doesn't"], &rng) + " " + verb
            }
        }

        /// `verb` after "he": "wear glasses" → "wears glasses", "have a beard" → "has a beard".
        var thirdPerson: String {
            let parts = verb.split(separator: " ", maxSplits: 1).map(String.init)
            let head = parts[0] == "have" ? "has" : parts[0] + "s"
            return ([head] + parts.dropFirst()).joined(separator: " ")
        }
    }

    static func colourWords(_ c: String) -> [String] {
        switch c {
        case "gray": return ["gray", "grey", "silver", "charcoal"]
        case "navy": return ["navy", "navy blue", "dark blue"]
        case "beige": return ["beige", "cream", "khaki", "sand"]
        case "teal": return ["teal", "turquoise", "blue-green"]
        case "blue": return ["blue", "light blue", "sky blue"]
        default: return [c]
        }
    }

    /// Every fact of `a` in free wording, negations included.
    static func facts(_ a: FaceAttributes) -> [Fact] {
        let v = values(a)
        var f: [Fact] = []
        func add(_ name: String, _ adjectives: [String], _ phrases: [String], not negations: [Negation] = []) {
            f.append(Fact(name: name, value: v[name]!, adjectives: adjectives, phrases: phrases, negations: negations))
        }
        // What the face is not where that leaves several values open ("not bald"): the caption
        // states nothing of it, and the reader learns that "not" undoes the word after it.
        func open(_ negations: [Negation]) { f.append(Fact(name: "", value: "", adjectives: [], phrases: [], negations: negations)) }
        let hair: [String: [String]] = ["black": ["black", "jet-black", "raven", "dark"], "brown": ["brown", "brunette", "chestnut", "dark brown"],
                                        "blond": ["blond", "blonde", "fair", "golden", "light blond"], "gray": ["gray", "grey", "silver", "white"],
                                        "red": ["red", "ginger", "auburn", "copper"]]
        // Hair colours English also uses alone: "a blonde woman", "a brunette", "a redheaded man".
        let alone: [String: [String]] = ["blond": ["blond", "blonde"], "brown": ["brunette"], "red": ["redheaded", "ginger"]]
        let hc = hair[v["hair_color"]!]!
        add("hair_color", hc.map { "\($0)-haired" } + (alone[v["hair_color"]!] ?? []), hc.map { "\($0) hair" } + (v["hair_color"] == "red" ? ["the hair of a redhead"] : []))
        if a.hairColor != .blond { open([Negation(ing: "blond", verb: "have blond hair", without: "blond hair")]) }
        switch a.hairStyle {
        case .short: add("hair_style", ["short-haired", "crew-cut"], ["short hair", "cropped hair", "a crew cut", "a short haircut"])
        case .long: add("hair_style", ["long-haired"], ["long hair", "long straight hair", "shoulder-length hair", "flowing hair", "a ponytail", "pigtails", "braids"])
        case .bangs: add("hair_style", [], ["bangs", "a fringe", "hair with bangs"])
        case .wavy: add("hair_style", ["curly-haired", "wavy-haired"], ["wavy hair", "curly hair", "curls", "waves"])
        case .bald: add("hair_style", ["bald", "balding", "bald-headed"], ["a bald head", "a shaved head", "no hair on top"])
        }
        if a.hairStyle != .bald { open([Negation(ing: "bald", verb: "have a bald head"), Negation(ing: "balding", verb: "lose hair")]) }
        add("eyebrows", a.eyebrows == .bushy ? ["bushy-browed"] : [],
            a.eyebrows == .bushy ? ["bushy eyebrows", "thick brows", "heavy eyebrows"] : ["thin eyebrows", "thin brows", "fine eyebrows"])
        let eye: [String: [String]] = ["brown": ["brown"], "dark": ["dark", "black", "dark brown"], "blue": ["blue"], "green": ["green"], "hazel": ["hazel"]]
        let ec = eye[v["eye_color"]!]!
        add("eye_color", ec.map { "\($0)-eyed" }, ec.map { "\($0) eyes" })
        add("eyes", a.eyes == .narrow ? ["squinting", "narrow-eyed"] : ["wide-eyed"],
            a.eyes == .narrow ? ["narrow eyes", "squinty eyes"] : ["wide open eyes", "big open eyes"])
        switch a.expression {
        case .neutral: add("expression", ["serious", "unsmiling", "stern", "expressionless", "frowning", "grim"], ["a neutral expression", "a straight face", "a serious look", "no smile", "a frown"],
                           not: [Negation(ing: "smiling", verb: "smile"), Negation(ing: "smiling at all", verb: "smile at all")])
        case .smiling: add("expression", ["smiling", "smiley", "happy", "cheerful"], ["a smile", "a gentle smile", "a closed-mouth smile", "a soft smile"])
        case .grinning: add("expression", ["grinning", "laughing", "beaming"], ["a big grin", "a toothy smile", "a broad open-mouthed smile", "a huge grin"])
        case .mouthOpen: add("expression", ["open-mouthed"], ["an open mouth", "the mouth open", "parted lips", "lips apart"])
        }
        if a.expression != .neutral { open([Negation(ing: "serious", verb: "look serious")]) }
        if a.expression != .smiling && a.expression != .grinning { open([Negation(ing: "laughing", verb: "laugh"), Negation(ing: "happy", verb: "look happy")]) }
        add("lipstick", a.lipstick ? ["lipsticked"] : [], a.lipstick ? ["lipstick", "red lips", "lip colour", "painted lips"] : ["no lipstick", "bare lips", "no makeup"],
            not: a.lipstick ? [] : [Negation(ing: "wearing lipstick", verb: "wear lipstick", without: "lipstick"), Negation(ing: "wearing any makeup", verb: "wear makeup", without: "makeup")])
        add("eyeglasses", a.eyeglasses ? ["bespectacled"] : [],
            a.eyeglasses ? ["glasses", "eyeglasses", "spectacles", "specs", "a pair of glasses", "sunglasses", "shades"] : ["no glasses", "no eyeglasses", "no specs", "no sunglasses"],
            not: a.eyeglasses ? [] : [Negation(ing: "wearing glasses", verb: "wear glasses", without: "glasses"), Negation(ing: "wearing any glasses", verb: "have glasses", without: "spectacles"),
                  Negation(ing: "wearing sunglasses", verb: "wear sunglasses", without: "sunglasses")])
        add("hat", a.hat ? [] : ["hatless", "bareheaded"], a.hat ? ["a hat", "a cap", "a beanie", "a woolly hat"] : ["no hat", "no cap"],
            not: a.hat ? [] : [Negation(ing: "wearing a hat", verb: "wear a hat", without: "a hat"), Negation(ing: "wearing a cap", verb: "have a hat on", without: "a cap")])
        switch a.facialHair {
        case .none: add("facial_hair", ["clean-shaven", "beardless", "smooth-shaven"], ["no beard", "no facial hair"],
                        not: [Negation(ing: "bearded", verb: "have a beard", without: "a beard"), Negation(ing: "wearing a beard", verb: "have facial hair", without: "facial hair")])
        case .stubble: add("facial_hair", ["unshaven", "stubbly", "scruffy"], ["stubble", "scruff", "a five o'clock shadow", "a stubbly chin"])
        case .mustache: add("facial_hair", ["mustachioed"], ["a mustache", "a moustache", "a thick mustache"])
        case .beard: add("facial_hair", ["bearded"], ["a beard", "a full beard", "a thick beard", "a goatee"])
        }
        add("earrings", [], a.earrings ? ["earrings", "earings", "ear studs", "hoop earrings"] : ["no earrings"],
            not: a.earrings ? [] : [Negation(ing: "wearing earrings", verb: "wear earrings", without: "earrings")])
        add("necklace", [], a.necklace ? ["a necklace", "a pendant", "a chain necklace"] : ["no necklace", "no jewellery"],
            not: a.necklace ? [] : [Negation(ing: "wearing a necklace", verb: "wear a necklace", without: "a necklace"), Negation(ing: "wearing jewellery", verb: "wear jewelry", without: "jewelry")])
        let garments = ["shirt", "top", "sweater", "jumper", "t-shirt", "jacket", "hoodie", "blouse", "dress"]
        add("clothing", [], colourWords(v["clothing"]!).flatMap { c in garments.map { "a \(c) \($0)" } })
        add("background", [], colourWords(v["background"]!).flatMap { ["a \($0) background", "a \($0) backdrop"] })
        add("wrinkles", a.wrinkles ? ["wrinkled", "wrinkly"] : ["smooth-skinned"], a.wrinkles ? ["wrinkles", "a lined face", "crow's feet"] : ["smooth skin", "no wrinkles"],
            not: a.wrinkles ? [] : [Negation(ing: "wrinkled", verb: "have wrinkles", without: "wrinkles")])
        switch a.faceShape {
        case .oval: add("face_shape", ["oval-faced"], ["an oval face"])
        case .round: add("face_shape", ["round-faced", "chubby-cheeked"], ["a round face", "chubby cheeks", "a full round face"])
        case .long: add("face_shape", ["long-faced"], ["a long face", "a narrow long face"])
        case .square: add("face_shape", ["square-jawed"], ["a square jaw", "a square face", "an angular jaw"])
        }
        switch a.skinTone {
        case .pale: add("skin_tone", ["pale", "pale-skinned"], ["pale skin", "very fair skin", "a pale complexion"])
        case .dark: add("skin_tone", ["dark-skinned"], ["dark skin", "a dark complexion", "deep brown skin"])
        case .olive: add("skin_tone", ["olive-skinned"], ["olive skin"])
        case .tan: add("skin_tone", ["tanned"], ["tanned skin", "a tan"])
        default: break
        }
        switch a.age {
        case .young: add("age", ["young", "youthful", "teenage", "twenty-something"], ["youth"])
        case .middleAged: add("age", ["middle-aged", "middle aged", "mature", "fortyish"], [])
        case .old: add("age", ["old", "elderly", "senior", "aged", "older"], [])
        }
        if a.age != .old { open([Negation(ing: "old", verb: "look old"), Negation(ing: "elderly", verb: "look elderly")]) }
        if a.age != .young { open([Negation(ing: "young", verb: "look young")]) }
        return f
    }

    /// A caption in one of the other shapes, of 1–6 true facts of `a`; a fact that can be said
    /// as what the face is not ("not smiling", "who doesn't wear glasses") is said so 40% of the time.
    static func free(_ a: FaceAttributes, rng: inout Philox) -> StatedCaption {
        var all = facts(a)
        // Rarely negate what the data rarely shows: most faces lack glasses, yet "no glasses" is rare in captions.
        all.removeAll { ["false", "none"].contains($0.value) && !rng.chance(0.5) }
        // Open negations ("not bald") are a few among the facts, not most of them.
        all.removeAll { $0.name.isEmpty && !rng.chance(0.25) }
        for i in stride(from: all.count - 1, to: 0, by: -1) { all.swapAt(i, rng.int(below: i + 1)) }
        let n = min(all.count, 1 + rng.int(below: 6))
        let chosen = Array(all.prefix(n))
        var stated: [String: String] = [:]
        for c in chosen where !c.name.isEmpty { stated[c.name] = c.value }
        let fem = a.presentation == .feminine
        let gendered = rng.chance(0.75)
        let noun: String
        if gendered {
            stated["presentation"] = a.presentation.rawValue
            noun = fem ? pick(["woman", "lady", "girl", "female", "woman", "gal", "women"], &rng) : pick(["man", "guy", "gentleman", "fellow", "male", "man", "dude", "men"], &rng)
        } else {
            noun = pick(["person", "face", "someone", "individual", "portrait of someone"], &rng)
        }
        // Adjectives go before the noun; negations become clauses; the rest become phrases.
        var adjectives: [String] = [], phrases: [String] = [], negations: [Negation] = []
        for c in chosen {
            if !c.negations.isEmpty && (c.name.isEmpty || rng.chance(0.4)) {
                negations.append(pick(c.negations, &rng))
            } else if !c.adjectives.isEmpty && (c.phrases.isEmpty || rng.chance(0.4)) {
                adjectives.append(pick(c.adjectives, &rng))
            } else if !c.phrases.isEmpty {
                phrases.append(pick(c.phrases, &rng))
            }
        }
        let subject = (adjectives + [noun]).joined(separator: " ")
        var text: String
        switch rng.int(below: 4) {
        case 0:
            // Fragments: "old bearded man, grey sweater, glasses, not smiling"
            let sep = pick([", ", ", ", " / ", "; ", " - ", " + "], &rng)
            text = ([subject] + phrases + negations.map { $0.fragment(&rng) }).joined(separator: sep)
        case 1:
            // "A smiling old man with a grey beard and no glasses who doesn't wear a hat."
            let art = pick(["A", "a", "The", "Photo of a", "Portrait of a"], &rng)
            text = "\(art) \(subject)"
            if !phrases.isEmpty { text += " " + pick(["with", "with", "having", "sporting"], &rng) + " " + CaptionList.join(phrases) }
            if !negations.isEmpty { text += pick([" ", ", "], &rng) + CaptionList.join(negations.map { $0.relative(&rng) }) }
            text += pick([".", "", "!"], &rng)
        case 2:
            // "Blond and smiling, she wears a red top. She isn't wearing glasses."
            let pronoun = gendered ? (fem ? "she" : "he") : "they"
            let lead = adjectives.isEmpty ? "" : CaptionList.join(adjectives) + ", "
            let verb = pronoun == "they" ? pick(["have", "show"], &rng) : pick(["has", "shows", "is wearing", "has got"], &rng)
            var sentences: [String] = []
            if !phrases.isEmpty || !adjectives.isEmpty || negations.isEmpty {
                sentences.append(lead + pronoun + " " + verb + " " + (phrases.isEmpty ? "a face" : CaptionList.join(phrases)))
            }
            sentences += negations.map { $0.sentence(pronoun, &rng) }
            text = sentences.map { $0.prefix(1).uppercased() + $0.dropFirst() + "." }.joined(separator: " ")
        default:
            // Tag list without a noun: "glasses, beard, red sweater, not bald"
            if rng.chance(0.5) { stated["presentation"] = nil }
            let tags = (adjectives + phrases).map { $0.hasPrefix("a ") ? String($0.dropFirst(2)) : $0 } + negations.map { $0.fragment(&rng) }
            text = stated["presentation"] == nil ? tags.joined(separator: ", ") : ([noun] + tags).joined(separator: ", ")
            if tags.isEmpty { text = stated["presentation"] == nil ? "a face" : noun }
        }
        return StatedCaption(text: text, stated: stated)
    }
}

extension Paraphraser {
    /// An editing instruction toward 1–2 of `a`'s values ("Make her hair blond.", "remove the
    /// glasses", "give him a beard and a red sweater"): it states those values, and the
    /// presentation when it says "her" or "him".
    static func instruction(_ a: FaceAttributes, rng: inout Philox) -> StatedCaption {
        let v = values(a)
        var options = facts(a).filter { !$0.name.isEmpty }.filter { !["eyes", "background", "face_shape", "eye_color", "eyebrows"].contains($0.name) || rng.chance(0.3) }
        for i in stride(from: options.count - 1, to: 0, by: -1) { options.swapAt(i, rng.int(below: i + 1)) }
        let chosen = Array(options.prefix(1 + (rng.chance(0.25) ? 1 : 0)))
        var stated: [String: String] = [:]
        let fem = a.presentation == .feminine
        let gendered = rng.chance(0.5)
        let obj = gendered ? (fem ? "her" : "him") : pick(["the person", "them", "the face", "this person"], &rng)
        let poss = gendered ? (fem ? "her" : "his") : pick(["the", "their"], &rng)
        if gendered { stated["presentation"] = v["presentation"] }
        var parts: [String] = []
        for f in chosen {
            stated[f.name] = f.value
            let negative = ["false", "none"].contains(f.value)
            let noPhrases = f.phrases.filter { $0.hasPrefix("no ") }
            let pool = negative && !noPhrases.isEmpty ? noPhrases : f.phrases
            let thing = pool.isEmpty ? pick(f.adjectives, &rng) : pick(pool, &rng)
            if negative {
                // "no glasses" → "remove the glasses"
                let bare = thing.replacingOccurrences(of: "no ", with: "")
                parts.append(pick(["remove \(poss) \(bare)", "take off \(poss) \(bare)", "get rid of \(poss) \(bare)", "without \(bare)", "make \(obj) \(f.adjectives.first ?? "have no \(bare)")"], &rng))
                continue
            }
            switch f.name {
            case "hair_color" where thing.hasSuffix(" hair"), "hair_style" where thing.hasSuffix(" hair"):
                let colourOrStyle = thing.replacingOccurrences(of: " hair", with: "")
                parts.append(pick(["make \(poss) hair \(colourOrStyle)", "turn \(poss) hair \(colourOrStyle)", "give \(obj) \(thing)", "change \(poss) hair to \(colourOrStyle)",
                                   "\(obj) with \(thing)"], &rng))
            case "expression":
                parts.append(pick(["make \(obj) \(f.adjectives.first ?? thing)", "give \(obj) \(thing)", "\(obj) \(f.adjectives.first ?? thing)"], &rng))
            case "age":
                let adj = pick(f.adjectives, &rng)
                parts.append(pick(["make \(obj) \(adj)", "make \(obj) look \(adj)", "turn \(obj) \(adj)"], &rng))
            case "clothing":
                let colour = thing.split(separator: " ").dropFirst().dropLast().joined(separator: " ")
                parts.append(pick(["put \(obj) in \(thing)", "change the \(thing.split(separator: " ").last!) to \(colour)", "dress \(obj) in \(colour)", "give \(obj) \(thing)"], &rng))
            default:
                parts.append(pick(["give \(obj) \(thing)", "add \(thing)", "put \(thing) on \(obj)", "\(obj) should have \(thing)", "with \(thing)"], &rng))
            }
        }
        var text = CaptionList.join(parts)
        if rng.chance(0.6) { text = text.prefix(1).uppercased() + text.dropFirst() + pick([".", "!", ""], &rng) }
        return StatedCaption(text: text, stated: stated)
    }
}

enum CaptionList {
    /// "a", "a and b", "a, b and c".
    static func join(_ xs: [String]) -> String {
        switch xs.count {
        case 0: return ""
        case 1: return xs[0]
        default: return xs.dropLast().joined(separator: ", ") + " and " + xs[xs.count - 1]
        }
    }
}
