import Foundation
import Testing
import TensorCore
@testable import SynthFaces

// MARK: - Priors

/// Checks the observed frequency of each value against the expected probability with a 4.5σ
/// binomial band (plus 0.005 slack).
func expectFrequencies<T: Hashable>(_ name: String, _ observed: [T], _ expected: [T: Double]) {
    let n = Double(observed.count)
    var counts: [T: Int] = [:]
    for v in observed { counts[v, default: 0] += 1 }
    for (v, p) in expected {
        let f = Double(counts[v] ?? 0) / n
        let tol = 4.5 * (p * (1 - p) / n).squareRoot() + 0.005
        #expect(abs(f - p) <= tol, "\(name)=\(v): observed \(f), prior \(p) (tolerance \(tol))")
    }
}

@Test func attributeFrequenciesMatchPriors() throws {
    let n = 2000
    let attrs = try (0..<n).map { try SynthFaces.attributes(seed: 77, index: $0) }
    typealias P = FaceAttributes.Priors
    // Marginals computed by summing the documented conditional tables over their parents, in Double.
    var pP: [Presentation: Double] = [:]; for (v, p) in P.presentation { pP[v] = p }
    var pA: [AgeGroup: Double] = [:]; for (v, p) in P.age { pA[v] = p }
    expectFrequencies("presentation", attrs.map(\.presentation), pP)
    expectFrequencies("age", attrs.map(\.age), pA)
    var hc: [HairColor: Double] = [:], hs: [HairStyle: Double] = [:], fh: [FacialHair: Double] = [:], fs: [FaceShape: Double] = [:]
    var lip = 0.0, glasses = 0.0, ear = 0.0, neck = 0.0, wr = 0.0, bushy = 0.0, narrow = 0.0
    for (a, pa) in P.age {
        for (v, p) in P.hairColor(a) { hc[v, default: 0] += pa * p }
        glasses += pa * P.eyeglasses(a); wr += pa * P.wrinkles(a); narrow += pa * P.narrowEyes(a)
        for (g, pg) in P.presentation { for (v, p) in P.hairStyle(g, a) { hs[v, default: 0] += pa * pg * p } }
    }
    for (g, pg) in P.presentation {
        for (v, p) in P.facialHair(g) { fh[v, default: 0] += pg * p }
        for (v, p) in P.faceShape(g) { fs[v, default: 0] += pg * p }
        lip += pg * P.lipstick(g); ear += pg * P.earrings(g); neck += pg * P.necklace(g); bushy += pg * P.bushyBrows(g)
    }
    expectFrequencies("hairColor", attrs.map(\.hairColor), hc)
    expectFrequencies("hairStyle", attrs.map(\.hairStyle), hs)
    expectFrequencies("facialHair", attrs.map(\.facialHair), fh)
    expectFrequencies("faceShape", attrs.map(\.faceShape), fs)
    expectFrequencies("lipstick", attrs.map(\.lipstick), [true: lip])
    expectFrequencies("eyeglasses", attrs.map(\.eyeglasses), [true: glasses])
    expectFrequencies("earrings", attrs.map(\.earrings), [true: ear])
    expectFrequencies("necklace", attrs.map(\.necklace), [true: neck])
    expectFrequencies("wrinkles", attrs.map(\.wrinkles), [true: wr])
    expectFrequencies("eyebrows", attrs.map(\.eyebrows), [.bushy: bushy])
    expectFrequencies("eyes", attrs.map(\.eyes), [.narrow: narrow])
    expectFrequencies("hat", attrs.map(\.hat), [true: P.hat])
    var e: [MouthExpression: Double] = [:]; for (v, p) in P.expression { e[v] = p }
    expectFrequencies("expression", attrs.map(\.expression), e)
    var ec: [EyeColor: Double] = [:]; for (v, p) in P.eyeColor { ec[v] = p }
    expectFrequencies("eyeColor", attrs.map(\.eyeColor), ec)
    var st: [SkinTone: Double] = [:]; for (v, p) in P.skinTone { st[v] = p }
    expectFrequencies("skinTone", attrs.map(\.skinTone), st)
    expectFrequencies("clothing", attrs.map(\.clothing), Dictionary(uniqueKeysWithValues: ClothingColor.allCases.map { ($0, 0.125) }))
    expectFrequencies("background", attrs.map(\.background), Dictionary(uniqueKeysWithValues: BackgroundColor.allCases.map { ($0, 1.0 / 6) }))
    // Dependencies: beards only on masculine faces here, gray hair concentrated in the old.
    #expect(!attrs.contains { $0.presentation == .feminine && $0.facialHair != .none })
    let old = attrs.filter { $0.age == .old }, young = attrs.filter { $0.age == .young }
    #expect(Double(old.filter { $0.hairColor == .gray }.count) / Double(old.count) > 0.6)
    #expect(Double(young.filter { $0.hairColor == .gray }.count) / Double(young.count) < 0.05)
    // Continuous attributes stay in their documented ranges.
    #expect(attrs.allSatisfy { abs($0.yaw) <= 1 && abs($0.tilt) <= 7 && $0.faceWidth >= 0.92 && $0.faceWidth <= 1.08 })
}

@Test func jsonLineHasFixedKeyOrderAndParses() throws {
    let a = try SynthFaces.attributes(seed: 1, index: 2)
    let line = a.jsonLine(index: 2)
    #expect(!line.contains("\n"))
    let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    #expect(obj["index"] as? Int == 2)
    #expect(obj["hair_color"] as? String == a.hairColor.rawValue)
    #expect(obj["eyeglasses"] as? Bool == a.eyeglasses)
    #expect(abs((obj["yaw"] as? Double ?? 99) - Double(a.yaw)) < 1e-4)
    let keys = ["\"index\"", "\"presentation\"", "\"age\"", "\"face_shape\"", "\"hair_color\"", "\"hair_style\"", "\"wrinkles\""]
    let positions = keys.map { line.range(of: $0)!.lowerBound }
    #expect(positions == positions.sorted())
    #expect(line == (try SynthFaces.attributes(seed: 1, index: 2)).jsonLine(index: 2))
}

// MARK: - Captions

/// Reads the attribute claims out of a caption's words, independently of the grammar's tables,
/// and checks each against the attributes. Returns the attribute keys the words mention.
func checkCaption(_ text: String, _ a: FaceAttributes) -> Set<AttributeKey> {
    let w = text.lowercased().split { !$0.isLetter }.map(String.init)
    var m = Set<AttributeKey>()
    func claim(_ key: AttributeKey, _ ok: Bool, _ word: String) {
        m.insert(key)
        #expect(ok, "caption \"\(text)\" says '\(word)' but attributes disagree: \(a.jsonLine())")
    }
    for (i, word) in w.enumerated() {
        let next = i + 1 < w.count ? w[i + 1] : ""
        let prev = i > 0 ? w[i - 1] : ""
        switch word {
        case "woman", "lady", "she", "her": claim(.presentation, a.presentation == .feminine, word)
        case "man", "gentleman", "he", "his": claim(.presentation, a.presentation == .masculine, word)
        case "young": claim(.age, a.age == .young, word)
        case "middle": claim(.age, a.age == .middleAged, word)
        case "old", "elderly": claim(.age, a.age == .old, word)
        case "hair":
            var j = i - 1
            while j >= 0, ["long", "short", "wavy", "straight"].contains(w[j]) { j -= 1 }
            if j >= 0 {
                switch w[j] {
                case "black": claim(.hairColor, a.hairColor == .black, "black hair")
                case "brown": claim(.hairColor, a.hairColor == .brown, "brown hair")
                case "blond": claim(.hairColor, a.hairColor == .blond, "blond hair")
                case "gray", "grey": claim(.hairColor, a.hairColor == .gray, "gray hair")
                case "red", "ginger": claim(.hairColor, a.hairColor == .red, "red hair")
                default: break
                }
            }
        case "short":
            claim(.hairStyle, a.hairStyle == .short, word)
        case "long" where next != "face":
            claim(.hairStyle, a.hairStyle == .long || a.hairStyle == .wavy, word)
        case "straight": claim(.hairStyle, a.hairStyle == .long, word)
        case "wavy": claim(.hairStyle, a.hairStyle == .wavy, word)
        case "bangs": claim(.hairStyle, a.hairStyle == .bangs, word)
        case "bald", "balding": claim(.hairStyle, a.hairStyle == .bald, word)
        case "bushy", "thick": claim(.eyebrows, a.eyebrows == .bushy, word)
        case "thin", "fine": claim(.eyebrows, a.eyebrows == .thin, word)
        case "eyes":
            switch prev {
            case "narrow": claim(.eyes, a.eyes == .narrow, "narrow eyes")
            case "blue": claim(.eyeColor, a.eyeColor == .blue, "blue eyes")
            case "green": claim(.eyeColor, a.eyeColor == .green, "green eyes")
            case "hazel": claim(.eyeColor, a.eyeColor == .hazel, "hazel eyes")
            case "dark": claim(.eyeColor, a.eyeColor == .dark, "dark eyes")
            case "brown": claim(.eyeColor, a.eyeColor == (i >= 2 && w[i - 2] == "dark" ? .dark : .brown), "brown eyes")
            default: break
            }
        case "smile", "smiling": claim(.expression, a.isSmiling, word)
        case "broadly", "wide", "big": claim(.expression, a.expression == .grinning, word)
        case "open": claim(.expression, a.isMouthOpen, word)
        case "neutral": claim(.expression, a.expression == .neutral, word)
        case "lipstick": claim(.lipstick, a.lipstick, word)
        case "glasses", "eyeglasses": claim(.eyeglasses, a.eyeglasses, word)
        case "hat": claim(.hat, a.hat, word)
        case "stubble", "shadow": claim(.facialHair, a.facialHair == .stubble, word)
        case "mustache": claim(.facialHair, a.facialHair == .mustache, word)
        case "beard": claim(.facialHair, a.facialHair == .beard, word)
        case "earrings": claim(.earrings, a.earrings, word)
        case "necklace": claim(.necklace, a.necklace, word)
        case "shirt", "top", "sweater": claim(.clothing, prev == a.clothing.rawValue, "\(prev) \(word)")
        case "wrinkles": claim(.wrinkles, a.wrinkles, word)
        case "face", "jaw":
            let shape: FaceShape? = ["oval": .oval, "round": .round, "long": .long, "square": .square][prev]
            claim(.faceShape, shape == a.faceShape, "\(prev) \(word)")
        case "skin": claim(.skinTone, (prev == "pale" && a.skinTone == .pale) || (prev == "dark" && a.skinTone == .dark), "\(prev) skin")
        default: break
        }
    }
    return m
}

@Test func captionsStateOnlyTrueAttributesAndRecordTheirMentions() throws {
    var total = 0
    var mentioned = Set<AttributeKey>()
    for i in 0..<400 {
        let a = try SynthFaces.attributes(seed: 5, index: i)
        let caps = try SynthFaces.captions(seed: 5, index: i)
        #expect(caps.count >= 5 && caps.count <= 10, "sample \(i) has \(caps.count) captions")
        #expect(Set(caps.map(\.text)).count == caps.count)
        for c in caps {
            total += 1
            let found = checkCaption(c.text, a)
            #expect(found == Set(c.mentions), "caption \"\(c.text)\": words mention \(found.map(\.rawValue).sorted()), recorded \(c.mentions.map(\.rawValue))")
            #expect(c.text.first?.isUppercase == true && c.text.hasSuffix("."))
            mentioned.formUnion(c.mentions)
        }
    }
    #expect(total > 2000)
    // Over many samples the grammar reaches every attribute it knows about.
    #expect(mentioned == Set(AttributeKey.allCases), "never mentioned: \(Set(AttributeKey.allCases).subtracting(mentioned))")
}

@Test func captionsMatchTheRenderedSample() throws {
    let s = try SynthFaces.sample(seed: 5, index: 3, size: 32)
    #expect(s.captions == (try SynthFaces.captions(seed: 5, index: 3)))
}

// MARK: - Opt-in timing (TEDI_SLOW=1)

@Test func samplesPerSecond() throws {
    guard ProcessInfo.processInfo.environment["TEDI_SLOW"] == "1" else { return }
    for size in [64, 128, 256] {
        for threads in [1, 2] {
            let n = size == 64 ? 800 : size == 128 ? 200 : 60
            _ = try SynthFaces.samples(seed: 0, indices: 0..<threads * 2, size: size, threads: threads)
            let t0 = Date()
            _ = try SynthFaces.samples(seed: 0, indices: 1000..<(1000 + n), size: size, threads: threads)
            let dt = Date().timeIntervalSince(t0)
            print("SynthFaces \(size)px, \(threads) thread(s): \(String(format: "%.1f", Double(n) / dt)) samples/s")
        }
    }
}
