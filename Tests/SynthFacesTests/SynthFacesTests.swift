import Foundation
import Testing
import TensorCore
@testable import SynthFaces

// MARK: - Determinism

@Test func sameSeedAndIndexGiveIdenticalBytes() throws {
    let a = try SynthFaces.sample(seed: 42, index: 123, size: 64)
    let b = try SynthFaces.sample(seed: 42, index: 123, size: 64)
    #expect(a.image == b.image)
    #expect(a.label == b.label)
    #expect(a.sketch == b.sketch)
    #expect(a.captions == b.captions)
    #expect(a.attributes == b.attributes)
    let c = try SynthFaces.sample(seed: 43, index: 123, size: 64)
    #expect(c.image != a.image, "a different seed must give a different face")
}

@Test func batchesAreIndependentOfThreadCount() throws {
    let one = try SynthFaces.samples(seed: 9, indices: 30..<37, size: 64, threads: 1)
    let two = try SynthFaces.samples(seed: 9, indices: 30..<37, size: 64, threads: 2)
    let four = try SynthFaces.samples(seed: 9, indices: 30..<37, size: 64, threads: 4)
    #expect(one.count == 7)
    for k in 0..<7 {
        #expect(one[k].index == 30 + k)
        #expect(one[k].image == two[k].image && one[k].image == four[k].image)
        #expect(one[k].label == two[k].label && one[k].sketch == four[k].sketch)
        let single = try SynthFaces.sample(seed: 9, index: 30 + k, size: 64)
        #expect(single.image == one[k].image)
    }
}

@Test func streamCoversSplitInOrder() throws {
    var stream = try SynthFaces.BatchStream(seed: 3, split: .val, size: 32, batchSize: 3, offset: 9_995)
    var seen: [Int] = []
    while let batch = stream.next() { seen += batch.map(\.index) }
    #expect(seen == Array(19_995..<20_000))
}

// MARK: - Inputs

@Test func badInputsThrowClearErrors() {
    #expect(throws: SynthFacesError.badSize(8)) { try SynthFaces.sample(seed: 0, index: 0, size: 8) }
    #expect(throws: SynthFacesError.badIndex(-1)) { try SynthFaces.sample(seed: 0, index: -1, size: 64) }
    #expect(throws: SynthFacesError.badBatch(0)) { try SynthFaces.BatchStream(seed: 0, size: 64, batchSize: 0) }
    #expect(throws: (any Error).self) { try SynthFaces.Split.test.index(10_000) }
    #expect(SynthFacesError.badSize(8).description.contains("64"))
}

@Test func splitsAreDisjoint() throws {
    let r = SynthFaces.Split.allCases.map(\.range)
    for i in 0..<r.count { for j in (i + 1)..<r.count { #expect(!r[i].overlaps(r[j])) } }
    #expect(try SynthFaces.Split.train.index(0) == 20_000)
    #expect(try SynthFaces.Split.val.index(5) == 10_005)
}

// MARK: - Rendering sizes and labels

@Test(arguments: [64, 128, 256]) func rendersAtSize(size: Int) throws {
    let s = try SynthFaces.sample(seed: 5, index: 17, size: size)
    #expect(s.image.count == size * size * 3)
    #expect(s.label.count == size * size && s.sketch.count == size * size)
    #expect(s.label.allSatisfy { $0 < 19 })
    let present = Set(s.label)
    for needed: UInt8 in [0, 1, 2, 4, 5, 6, 7, 11, 12, 17, 18] { #expect(present.contains(needed), "class \(needed) missing at \(size)px") }
    // Geometry is resolution independent: the label map at S agrees with 64 px almost everywhere.
    let small = try SynthFaces.sample(seed: 5, index: 17, size: 64)
    let f = size / 64
    var agree = 0
    for y in 0..<64 { for x in 0..<64 where s.label[(y * f + f / 2) * size + x * f + f / 2] == small.label[y * 64 + x] { agree += 1 } }
    #expect(Double(agree) / 4096 > 0.9)
}

@Test func tensorsHaveExpectedShapesAndRanges() throws {
    let s = try SynthFaces.samples(seed: 1, indices: 0..<2, size: 32)
    let img = try SynthFaces.imageTensor(s)
    #expect(img.shape == [2, 3, 32, 32])
    #expect(img.scalars.allSatisfy { $0 >= -1 && $0 <= 1 })
    #expect(abs(img.scalars[0] - (Float(s[0].image[0]) / 127.5 - 1)) < 1e-6)
    let lab = try SynthFaces.labelTensor(s)
    #expect(lab.shape == [2, 19, 32, 32])
    #expect(lab.scalars.reduce(0, +) == Float(2 * 32 * 32))
    #expect(try SynthFaces.sketchTensor(s).shape == [2, 1, 32, 32])
}

/// Mean RGB in [0, 1] over pixels of class `c`, and their count.
func classMean(_ s: FaceSample, _ c: UInt8) -> ([Double], Int) {
    var m = [0.0, 0.0, 0.0], n = 0
    for i in 0..<s.label.count where s.label[i] == c {
        for k in 0..<3 { m[k] += Double(s.image[3 * i + k]) / 255 }
        n += 1
    }
    return (n > 0 ? m.map { $0 / Double(n) } : m, n)
}

func dist(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot() }

@Test func labelledRegionsLookLikeTheirClass() throws {
    let samples = try SynthFaces.samples(seed: 11, indices: 0..<24, size: 64)
    // Reference colours written independently of the renderer's tables (approximate, unshaded).
    let clothRef: [ClothingColor: [Double]] = [.black: [0.1, 0.1, 0.1], .white: [0.9, 0.9, 0.9], .gray: [0.5, 0.5, 0.5],
        .navy: [0.12, 0.16, 0.35], .red: [0.7, 0.12, 0.12], .green: [0.2, 0.45, 0.25], .beige: [0.8, 0.7, 0.55], .blue: [0.25, 0.45, 0.8]]
    var clothRight = 0
    for s in samples {
        let (bg, _) = classMean(s, 0)
        for c in Set(s.label) where c != 0 {
            let (m, n) = classMean(s, c)
            #expect(n > 0)
            // Present ⇒ visible: a region does not just continue the backdrop.
            if n >= 6 && ![15, 16].contains(c) { #expect(dist(m, bg) > 0.03, "class \(c) of sample \(s.index) blends into the background") }
        }
        // Skin is warm: R > G > B on average.
        let (skin, _) = classMean(s, 1)
        #expect(skin[0] > skin[1] && skin[1] > skin[2], "skin of sample \(s.index) is not skin coloured: \(skin)")
        // Eyes hold both bright sclera and dark iris/pupil pixels.
        for c: UInt8 in [4, 5] {
            var lum: [Int] = []
            for i in 0..<s.label.count where s.label[i] == c {
                let r = Int(s.image[3 * i]), g = Int(s.image[3 * i + 1]), b = Int(s.image[3 * i + 2])
                lum.append(r + g + b)
            }
            #expect(!lum.isEmpty)
            #expect((lum.max() ?? 0) - (lum.min() ?? 0) > 150, "eye \(c) of sample \(s.index) has no contrast")
        }
        // Lips are redder than the skin around them.
        let (lip, _) = classMean(s, 12)
        #expect(lip[0] / max(0.01, lip[1]) > skin[0] / max(0.01, skin[1]))
        // Clothing region's colour is closest to the clothing attribute's reference.
        let (cl, _) = classMean(s, 18)
        let best = clothRef.min { dist($0.value, cl) < dist($1.value, cl) }!.key
        if best == s.attributes.clothing { clothRight += 1 }
    }
    #expect(clothRight >= 20, "clothing colour matched attribute in only \(clothRight)/24 samples")
}

@Test func accessoriesAppearInTheLabelMapIffPresent() throws {
    for i in 0..<40 {
        let a = try SynthFaces.attributes(seed: 21, index: i)
        guard a.hat || a.eyeglasses || a.necklace || a.earrings || i < 8 else { continue }
        let s = try SynthFaces.sample(seed: 21, index: i, size: 64)
        let present = Set(s.label)
        #expect(present.contains(14) == a.hat, "hat mismatch at \(i)")
        #expect(present.contains(3) == a.eyeglasses, "eyeglasses mismatch at \(i)")
        #expect(present.contains(16) == a.necklace, "necklace mismatch at \(i)")
        if !a.earrings { #expect(!present.contains(15)) }
        #expect(present.contains(10) == (a.isMouthOpen), "mouth interior mismatch at \(i)")
    }
}

// MARK: - Sketch

@Test func sketchLinesLieOnLabelBoundaries() throws {
    var dark = 0, near = 0, boundaryCovered = 0, boundary = 0
    for size in [64, 128] {
        let r = size / 32 // 2 px at 64, 4 px at 128
        for s in try SynthFaces.samples(seed: 4, indices: 0..<12, size: size) {
            var isB = [Bool](repeating: false, count: size * size)
            for y in 0..<size { for x in 0..<size {
                let l = s.label[y * size + x]
                if (x + 1 < size && s.label[y * size + x + 1] != l) || (y + 1 < size && s.label[(y + 1) * size + x] != l)
                    || (x > 0 && s.label[y * size + x - 1] != l) || (y > 0 && s.label[(y - 1) * size + x] != l) { isB[y * size + x] = true }
            } }
            for y in 0..<size { for x in 0..<size {
                let i = y * size + x
                if s.sketch[i] < 128 {
                    dark += 1
                    var ok = false
                    for yy in max(0, y - r)...min(size - 1, y + r) { for xx in max(0, x - r)...min(size - 1, x + r) where isB[yy * size + xx] { ok = true } }
                    if ok { near += 1 }
                }
                if isB[i] && s.label[i] != 0 {
                    boundary += 1
                    var inked = false
                    for yy in max(0, y - 1)...min(size - 1, y + 1) { for xx in max(0, x - 1)...min(size - 1, x + 1) where s.sketch[yy * size + xx] < 200 { inked = true } }
                    if inked { boundaryCovered += 1 }
                }
            } }
        }
    }
    let fraction = Double(near) / Double(max(1, dark))
    print("sketch: \(dark) dark pixels, \(String(format: "%.3f", fraction)) near label boundaries; boundary coverage \(String(format: "%.3f", Double(boundaryCovered) / Double(boundary)))")
    #expect(dark > 1000)
    #expect(fraction >= 0.9)
    #expect(Double(boundaryCovered) / Double(boundary) >= 0.8)
}
