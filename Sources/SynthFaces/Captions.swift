import TensorCore

/// Attribute fields a caption can mention (the names of `FaceAttributes` properties).
public enum AttributeKey: String, CaseIterable, Comparable, Sendable {
    case presentation, age, faceShape, skinTone, hairColor, hairStyle, eyebrows, eyeColor, eyes
    case expression, lipstick, eyeglasses, hat, facialHair, earrings, necklace, clothing, wrinkles

    public static func < (a: AttributeKey, b: AttributeKey) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One generated description and the attributes it states.
public struct Caption: Equatable, Sendable {
    /// The sentence(s), e.g. "The woman has long wavy blond hair and wears eyeglasses. She is smiling."
    public var text: String
    /// Attributes the text states, sorted and without repeats.
    public var mentions: [AttributeKey]
}

/// A small probabilistic grammar over `FaceAttributes` in the style of Multi-Modal CelebA-HQ's
/// captions. Every fact it emits is true of the attributes; no negations are used.
///
/// caption  → subject-sentence [pronoun-sentence] | "A/An" noun "with" np-list "."
/// sentence → subject verb-group ("," verb-group)* "and" verb-group "."
/// verb-group → "has" np-list | "wears"/"is wearing" np-list | "is" adjective-list
enum CaptionGrammar {
    enum Verb { case has, wears, isA }
    struct Fact {
        var verb: Verb
        var phrase: String
        var mentions: [AttributeKey]
    }

    /// 5 to 10 distinct captions (count drawn uniformly) for `a`, drawn from `rng`.
    static func captions(for a: FaceAttributes, rng: inout Philox) -> [Caption] {
        let want = 5 + rng.int(below: 6)
        var out: [Caption] = []
        var seen = Set<String>()
        var attempts = 0
        while out.count < want && attempts < 60 {
            attempts += 1
            let c = caption(for: a, rng: &rng)
            if seen.insert(c.text).inserted { out.append(c) }
        }
        return out
    }

    static func choose<T>(_ xs: [T], _ rng: inout Philox) -> T { xs[rng.int(below: xs.count)] }

    static func hairColorWord(_ c: HairColor, _ rng: inout Philox) -> String {
        switch c {
        case .black: return "black"
        case .brown: return choose(["brown", "dark brown"], &rng)
        case .blond: return "blond"
        case .gray: return choose(["gray", "grey", "silver gray"], &rng)
        case .red: return choose(["red", "ginger"], &rng)
        }
    }

    /// Every true fact about `a`, each with a randomly worded phrase.
    static func facts(for a: FaceAttributes, rng: inout Philox) -> [Fact] {
        var f: [Fact] = []
        // Hair: colour and style, sometimes one of them alone.
        let colour = hairColorWord(a.hairColor, &rng)
        let form = rng.int(below: 3) // 0: style+colour, 1: colour only, 2: style only
        switch a.hairStyle {
        case .bald:
            f.append(Fact(verb: .isA, phrase: choose(["bald", "balding"], &rng), mentions: [.hairStyle]))
            if form != 2 { f.append(Fact(verb: .has, phrase: "\(colour) hair on the sides", mentions: [.hairColor])) }
        case .short, .long, .wavy:
            let style = a.hairStyle == .short ? "short" : a.hairStyle == .long ? choose(["long", "long straight"], &rng)
                                                      : choose(["wavy", "long wavy"], &rng)
            switch form {
            case 0: f.append(Fact(verb: .has, phrase: "\(style) \(colour) hair", mentions: [.hairColor, .hairStyle]))
            case 1: f.append(Fact(verb: .has, phrase: "\(colour) hair", mentions: [.hairColor]))
            default: f.append(Fact(verb: .has, phrase: "\(style) hair", mentions: [.hairStyle]))
            }
        case .bangs:
            switch form {
            case 0: f.append(Fact(verb: .has, phrase: "\(colour) hair with bangs", mentions: [.hairColor, .hairStyle]))
            case 1: f.append(Fact(verb: .has, phrase: "\(colour) hair", mentions: [.hairColor]))
            default: f.append(Fact(verb: .has, phrase: "bangs", mentions: [.hairStyle]))
            }
        }
        f.append(Fact(verb: .has, phrase: a.eyebrows == .bushy ? choose(["bushy eyebrows", "thick bushy eyebrows"], &rng)
                                                               : choose(["thin eyebrows", "fine thin eyebrows"], &rng),
                      mentions: [.eyebrows]))
        let eyeWord: String
        switch a.eyeColor {
        case .brown: eyeWord = "brown"
        case .dark: eyeWord = choose(["dark", "dark brown"], &rng)
        case .blue: eyeWord = "blue"
        case .green: eyeWord = "green"
        case .hazel: eyeWord = "hazel"
        }
        f.append(Fact(verb: .has, phrase: "\(eyeWord) eyes", mentions: [.eyeColor]))
        if a.eyes == .narrow { f.append(Fact(verb: .has, phrase: "narrow eyes", mentions: [.eyes])) }
        switch a.expression {
        case .neutral:
            f.append(Fact(verb: .has, phrase: choose(["a neutral expression", "a calm neutral expression"], &rng), mentions: [.expression]))
        case .smiling:
            f.append(rng.chance(0.5) ? Fact(verb: .isA, phrase: "smiling", mentions: [.expression])
                                     : Fact(verb: .has, phrase: choose(["a smile", "a gentle smile"], &rng), mentions: [.expression]))
        case .grinning:
            f.append(rng.chance(0.5) ? Fact(verb: .isA, phrase: choose(["smiling with an open mouth", "smiling broadly"], &rng), mentions: [.expression])
                                     : Fact(verb: .has, phrase: choose(["a big open-mouthed smile", "a wide smile"], &rng), mentions: [.expression]))
        case .mouthOpen:
            f.append(Fact(verb: .has, phrase: choose(["a slightly open mouth", "the mouth slightly open"], &rng), mentions: [.expression]))
        }
        if a.lipstick { f.append(Fact(verb: .wears, phrase: choose(["lipstick", "bright lipstick"], &rng), mentions: [.lipstick])) }
        if a.eyeglasses { f.append(Fact(verb: .wears, phrase: choose(["eyeglasses", "glasses", "a pair of glasses"], &rng), mentions: [.eyeglasses])) }
        if a.hat { f.append(Fact(verb: .wears, phrase: "a hat", mentions: [.hat])) }
        switch a.facialHair {
        case .none: break
        case .stubble: f.append(Fact(verb: .has, phrase: choose(["stubble", "a five o'clock shadow"], &rng), mentions: [.facialHair]))
        case .mustache: f.append(Fact(verb: .has, phrase: "a mustache", mentions: [.facialHair]))
        case .beard: f.append(Fact(verb: .has, phrase: choose(["a beard", "a full beard"], &rng), mentions: [.facialHair]))
        }
        if a.earrings { f.append(Fact(verb: .wears, phrase: "earrings", mentions: [.earrings])) }
        if a.necklace { f.append(Fact(verb: .wears, phrase: "a necklace", mentions: [.necklace])) }
        let garment = choose(["shirt", "top", "sweater"], &rng)
        f.append(Fact(verb: .wears, phrase: "a \(a.clothing.rawValue) \(garment)", mentions: [.clothing]))
        switch a.age {
        case .young: f.append(Fact(verb: .isA, phrase: "young", mentions: [.age]))
        case .middleAged: f.append(Fact(verb: .isA, phrase: "middle-aged", mentions: [.age]))
        case .old: f.append(Fact(verb: .isA, phrase: choose(["old", "elderly"], &rng), mentions: [.age]))
        }
        if a.wrinkles { f.append(Fact(verb: .has, phrase: "wrinkles", mentions: [.wrinkles])) }
        switch a.faceShape {
        case .oval: f.append(Fact(verb: .has, phrase: "an oval face", mentions: [.faceShape]))
        case .round: f.append(Fact(verb: .has, phrase: "a round face", mentions: [.faceShape]))
        case .long: f.append(Fact(verb: .has, phrase: "a long face", mentions: [.faceShape]))
        case .square: f.append(Fact(verb: .has, phrase: choose(["a square face", "a square jaw"], &rng), mentions: [.faceShape]))
        }
        if a.skinTone == .pale { f.append(Fact(verb: .has, phrase: "pale skin", mentions: [.skinTone])) }
        if a.skinTone == .dark { f.append(Fact(verb: .has, phrase: "dark skin", mentions: [.skinTone])) }
        return f
    }

    static func list(_ xs: [String]) -> String {
        switch xs.count {
        case 0: return ""
        case 1: return xs[0]
        case 2: return "\(xs[0]) and \(xs[1])"
        default: return xs.dropLast().joined(separator: ", ") + " and " + xs[xs.count - 1]
        }
    }

    /// "has A and B, wears C and is D" from facts, grouping by verb in first-appearance order.
    static func predicate(_ facts: [Fact], _ rng: inout Philox) -> String {
        var order: [Verb] = []
        var groups: [Verb: [String]] = [:]
        // Adjectives before participles: "is young and smiling", not "is smiling and young".
        let adjectivesFirst = facts.filter { $0.verb != .isA || $0.mentions.contains(.age) }
            + facts.filter { $0.verb == .isA && !$0.mentions.contains(.age) }
        for f in adjectivesFirst {
            if groups[f.verb] == nil { order.append(f.verb) }
            groups[f.verb, default: []].append(f.phrase)
        }
        let wears = choose(["wears", "is wearing"], &rng)
        let parts = order.map { v -> String in
            let body = list(groups[v] ?? [])
            switch v {
            case .has: return "has \(body)"
            case .wears: return "\(wears) \(body)"
            case .isA: return "is \(body)"
            }
        }
        return list(parts)
    }

    static func shuffled<T>(_ xs: [T], _ rng: inout Philox) -> [T] {
        var a = xs
        if a.count < 2 { return a }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, rng.int(below: i + 1)) }
        return a
    }

    static func caption(for a: FaceAttributes, rng: inout Philox) -> Caption {
        var all = shuffled(facts(for: a, rng: &rng), &rng)
        let template = rng.int(below: 4)
        let ageInSubject = template >= 2 && rng.chance(0.3)
        if ageInSubject { all.removeAll { $0.mentions.contains(.age) } }
        let fem = a.presentation == .feminine
        let noun = fem ? choose(["woman", "woman", "lady"], &rng) : choose(["man", "man", "gentleman"], &rng)
        let pronoun = fem ? "She" : "He"
        var mentions = Set<AttributeKey>()
        // Put the hair fact first most of the time, like the dataset's captions.
        var facts = all
        if let h = facts.firstIndex(where: { $0.mentions.contains(.hairColor) || $0.mentions.contains(.hairStyle) }), rng.chance(0.7) {
            facts.insert(facts.remove(at: h), at: 0)
        }
        let n1 = min(facts.count, 1 + rng.int(below: 3))
        let first = Array(facts.prefix(n1))
        let rest = Array(facts.dropFirst(n1))
        let n2 = min(rest.count, rng.int(below: 3))
        let second = Array(rest.prefix(n2))
        for f in first + second { mentions.formUnion(f.mentions) }
        var text: String
        switch template {
        case 0 where first.allSatisfy({ $0.verb != .isA }):
            // Noun phrase: "A woman with long blond hair and earrings."
            text = "A \(noun) with " + list(first.map(\.phrase)) + "."
            mentions.insert(.presentation)
            if !second.isEmpty { text += " \(pronoun) " + predicate(second, &rng) + "." }
        case 1:
            // Gender-neutral opening.
            text = choose(["This person", "The person"], &rng) + " " + predicate(first, &rng) + "."
            if !second.isEmpty {
                text += " \(pronoun) " + predicate(second, &rng) + "."
                mentions.insert(.presentation)
            }
        default:
            var subject = choose(["The", "This"], &rng) + " "
            if ageInSubject {
                subject += (a.age == .young ? "young " : a.age == .old ? "old " : "middle-aged ")
                mentions.insert(.age)
            }
            text = subject + noun + " " + predicate(first, &rng) + "."
            mentions.insert(.presentation)
            if !second.isEmpty { text += " \(pronoun) " + predicate(second, &rng) + "." }
        }
        return Caption(text: text, mentions: mentions.sorted())
    }
}
