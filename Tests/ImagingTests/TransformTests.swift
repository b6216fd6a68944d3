import Testing
import TensorCore
@testable import Imaging

@Suite struct TensorMappingTests {
    @Test func signedMappingRoundTripsAllValuesBitExactly() throws {
        let image = try Image(width: 16, height: 16, channels: 1, pixels: (0..<256).map { UInt8($0) })
        let t = image.tensor()
        #expect(t.shape == [1, 1, 16, 16])
        for v in 0..<256 {
            #expect(abs(Double(t.scalars[v]) - (Double(v) / 127.5 - 1)) < 1e-6)
        }
        #expect(t.scalars[0] == -1 && t.scalars[255] == 1)
        #expect(try Image(tensor: t) == image)
        let u = image.tensor(range: .unit)
        #expect(u.scalars[0] == 0 && u.scalars[255] == 1)
        #expect(try Image(tensor: u, range: .unit) == image)
    }

    @Test func backMappingRoundsAndClamps() throws {
        let values: [Float] = [-3, -1, -0.999, 0, 0.5, 1, 7, .nan, .infinity, -.infinity]
        let t = try Tensor(shape: [1, 1, 1, values.count], scalars: values)
        let image = try Image(tensor: t)
        // round((x + 1) * 127.5) clamped to 0...255, NaN -> 0: computed here in Double.
        let expected = values.map { x -> UInt8 in
            if x.isNaN { return 0 }
            let y = ((Double(x) + 1) * 127.5).rounded()
            return UInt8(min(max(y, 0), 255))
        }
        #expect(image.pixels == expected)
    }

    @Test func layoutIsNCHW() throws {
        let image = try Image(width: 3, height: 2, channels: 3, pixels: randomBytes(18, seed: 4))
        let t = image.tensor(range: .unit)
        for c in 0..<3 { for y in 0..<2 { for x in 0..<3 {
            #expect(t[0, c, y, x] == Float(image[x: x, y: y, c: c]) / 255)
        } } }
        let chw = try t.reshaped([3, 2, 3])
        #expect(try Image(tensor: chw, range: .unit) == image)
    }

    @Test func batches() throws {
        let images = try (0..<3).map { i in try Image(width: 4, height: 5, channels: 4, pixels: randomBytes(80, seed: UInt64(i))) }
        let batch = try Tensor(images: images)
        #expect(batch.shape == [3, 4, 5, 4])
        #expect(try Image.images(from: batch) == images)
        #expect(try batch.slice(axis: 0, 1..<2) == images[1].tensor())
        let other = try Image(width: 4, height: 5, channels: 3)
        #expect(imagingError { _ = try Tensor(images: [images[0], other]) }?.kind == .invalidArgument)
        #expect(imagingError { _ = try Tensor(images: []) }?.kind == .invalidArgument)
        #expect(imagingError { _ = try Image(tensor: batch) }?.kind == .invalidArgument)
        #expect(imagingError { _ = try Image(tensor: Tensor.zeros([1, 2, 3, 3])) }?.kind == .invalidArgument)
        #expect(imagingError { _ = try Image.images(from: Tensor.zeros([2, 3])) }?.kind == .invalidArgument)
    }
}

@Suite struct ColorTests {
    @Test func grayscaleMatchesRec601() throws {
        let image = try Image(width: 32, height: 8, channels: 4, pixels: randomBytes(32 * 8 * 4, seed: 9))
        let gray = image.grayscale()
        #expect(gray.channels == 1)
        for i in 0..<(32 * 8) {
            let p = image.pixels[(i * 4)..<(i * 4 + 3)].map(Double.init)
            let reference = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
            #expect(abs(Double(gray.pixels[i]) - reference) <= 0.51)
        }
        // A gray colour stays exactly itself.
        let grays = try Image(width: 256, height: 1, channels: 3, pixels: (0..<256).flatMap { [UInt8($0), UInt8($0), UInt8($0)] })
        #expect(grays.grayscale().pixels == (0..<256).map { UInt8($0) })
    }

    @Test func channelConversions() throws {
        let g = try Image(width: 2, height: 1, channels: 1, pixels: [10, 20])
        #expect(try g.withChannels(3).pixels == [10, 10, 10, 20, 20, 20])
        #expect(try g.withChannels(4).pixels == [10, 10, 10, 255, 20, 20, 20, 255])
        let rgba = try Image(width: 1, height: 1, channels: 4, pixels: [1, 2, 3, 4])
        #expect(try rgba.withChannels(3).pixels == [1, 2, 3])
        #expect(imagingError { _ = try g.withChannels(2) }?.kind == .invalidArgument)
    }
}

/// Exact area average of a piecewise-constant 1-D signal, by integrating over real intervals.
func areaReference1D(_ input: [Double], outputs: Int) -> [Double] {
    let scale = Double(input.count) / Double(outputs)
    return (0..<outputs).map { i in
        let lo = Double(i) * scale, hi = Double(i + 1) * scale
        var sum = 0.0
        for (j, v) in input.enumerated() {
            sum += v * max(0, min(hi, Double(j + 1)) - max(lo, Double(j)))
        }
        return sum / (hi - lo)
    }
}

/// PyTorch's bilinear (align_corners=False) source index and weights, in Double.
func bilinearReference1D(_ input: [Double], outputs: Int) -> [Double] {
    let scale = Double(input.count) / Double(outputs)
    return (0..<outputs).map { i in
        let src = max(scale * (Double(i) + 0.5) - 0.5, 0)
        let j = Int(src.rounded(.down)), l = src - Double(j)
        let k = min(j + 1, input.count - 1)
        return (1 - l) * input[j] + l * input[k]
    }
}

@Suite struct ResizeTests {
    @Test func areaHalvesA4x4Exactly() throws {
        let values: [UInt8] = [0, 2, 10, 20,
                               4, 6, 30, 40,
                               100, 100, 1, 3,
                               200, 0, 5, 7]
        let image = try Image(width: 4, height: 4, channels: 1, pixels: values)
        let small = try image.resized(width: 2, height: 2, method: .area)
        // Block means: (0+2+4+6)/4, (10+20+30+40)/4, (100+100+200+0)/4, (1+3+5+7)/4.
        #expect(small.pixels == [3, 25, 100, 4])
        let t = try Tensor(shape: [1, 1, 4, 4], scalars: values.map(Float.init))
        #expect(try t.resized(height: 2, width: 2, method: .area).scalars == [3, 25, 100, 4])
    }

    @Test(arguments: [(7, 3), (6, 4), (5, 5), (3, 7), (10, 1), (2, 5)])
    func areaMatchesIntegralReference(sizes: (Int, Int)) throws {
        let (inSize, outSize) = sizes
        let inH = 3
        let data = Philox.normals(count: inH * inSize, seed: UInt64(inSize * 10 + outSize))
        let t = try Tensor(shape: [1, 1, inH, inSize], scalars: data)
        let r = try t.resized(height: inH, width: outSize, method: .area)
        for y in 0..<inH {
            let row = (0..<inSize).map { Double(data[y * inSize + $0]) }
            let ref = areaReference1D(row, outputs: outSize)
            for x in 0..<outSize { #expect(abs(Double(r[0, 0, y, x]) - ref[x]) < 1e-5) }
        }
        // The mean of the image is preserved by an exact box filter.
        let meanIn = data.reduce(0) { $0 + Double($1) } / Double(data.count)
        let meanOut = r.scalars.reduce(0) { $0 + Double($1) } / Double(r.count)
        #expect(abs(meanIn - meanOut) < 1e-5)
    }

    @Test func bilinearMatchesHandComputedPyTorch() throws {
        // torch.nn.functional.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), size=(4, 4),
        //                                 mode="bilinear", align_corners=False)
        let t = try Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4])
        let up = try t.resized(height: 4, width: 4, method: .bilinear)
        #expect(up.scalars == [1.00, 1.25, 1.75, 2.00,
                               1.50, 1.75, 2.25, 2.50,
                               2.50, 2.75, 3.25, 3.50,
                               3.00, 3.25, 3.75, 4.00])
        // 4x4 arange -> 2x2 samples at source 0.5, 2.5: means of 2x2 neighbourhoods (no antialias).
        let grid = try Tensor(shape: [1, 1, 4, 4], scalars: (0..<16).map(Float.init))
        #expect(try grid.resized(height: 2, width: 2, method: .bilinear).scalars == [2.5, 4.5, 10.5, 12.5])
        // 1-D cases: [0, 10, 20] -> 2 gives [2.5, 17.5]; -> 5 gives [0, 4, 10, 16, 20].
        let line = try Tensor(shape: [1, 1, 1, 3], scalars: [0, 10, 20])
        #expect(try line.resized(height: 1, width: 2, method: .bilinear).scalars == [2.5, 17.5])
        let five = try line.resized(height: 1, width: 5, method: .bilinear).scalars
        for (a, b) in zip(five, [0, 4, 10, 16, 20] as [Float]) { #expect(abs(a - b) < 1e-5) }
    }

    @Test func bilinearMatchesReferenceOnRandomData() throws {
        let (n, c, h, w, oh, ow) = (2, 3, 5, 7, 9, 4)
        let data = Philox.normals(count: n * c * h * w, seed: 77)
        let t = try Tensor(shape: [n, c, h, w], scalars: data)
        let r = try t.resized(height: oh, width: ow, method: .bilinear)
        #expect(r.shape == [n, c, oh, ow])
        for p in 0..<(n * c) {
            // Separable: rows first, then columns (PyTorch's weights are a product of 1-D weights).
            let rows = (0..<h).map { y in bilinearReference1D((0..<w).map { Double(data[(p * h + y) * w + $0]) }, outputs: ow) }
            for x in 0..<ow {
                let col = bilinearReference1D(rows.map { $0[x] }, outputs: oh)
                for y in 0..<oh { #expect(abs(Double(r.scalars[(p * oh + y) * ow + x]) - col[y]) < 1e-5) }
            }
        }
    }

    @Test func imageResizeTreatsChannelsIndependently() throws {
        let image = try Image(width: 9, height: 6, channels: 3, pixels: randomBytes(9 * 6 * 3, seed: 12))
        for method in [ResizeMethod.area, .bilinear] {
            let r = try image.resized(width: 4, height: 5, method: method)
            // Same arithmetic on planar data: each channel resized on its own, then rounded.
            let planar = (0..<3).flatMap { c in (0..<54).map { Float(image.pixels[$0 * 3 + c]) } }
            let t = try Tensor(shape: [1, 3, 6, 9], scalars: planar).resized(height: 5, width: 4, method: method)
            for c in 0..<3 { for y in 0..<5 { for x in 0..<4 {
                #expect(r[x: x, y: y, c: c] == UInt8(min(max(t[0, c, y, x].rounded(), 0), 255)))
            } } }
        }
        #expect(try image.resized(width: 9, height: 6, method: .area) == image)
    }

    @Test func badArgumentsThrow() throws {
        let image = try Image(width: 2, height: 2, channels: 1)
        #expect(imagingError { _ = try image.resized(width: 0, height: 2, method: .area) }?.kind == .invalidArgument)
        #expect(imagingError { _ = try image.resized(width: 100_000, height: 100_000, method: .area) }?.kind == .tooLarge)
        #expect(imagingError { _ = try Tensor.zeros([2, 2]).resized(height: 1, width: 1, method: .area) }?.kind == .invalidArgument)
        let tape = Tape()
        let watched = tape.watch(image.tensor())
        #expect(imagingError { _ = try watched.resized(height: 1, width: 1, method: .area) }?.kind == .invalidArgument)
        #expect(imagingError { _ = try Image(width: 3, height: 3, channels: 2) }?.kind == .invalidArgument)
        #expect(imagingError { _ = try Image(width: 1 << 14, height: 1 << 14, channels: 1) }?.kind == .tooLarge)
        #expect(imagingError { _ = try Image(width: 2, height: 2, channels: 3, pixels: [1, 2]) }?.kind == .invalidArgument)
    }
}

@Suite struct GridTests {
    @Test func positionsMatchTheTorchvisionLayout() throws {
        // Three 2x3 images filled with 1, 2, 3; two columns; padding 1; background 9.
        let images = try (1...3).map { try Image(width: 2, height: 3, channels: 1, fill: UInt8($0)) }
        let g = try Image.grid(images, columns: 2, padding: 1, background: [9])
        #expect(g.width == 2 * (2 + 1) + 1 && g.height == 2 * (3 + 1) + 1)
        for y in 0..<g.height { for x in 0..<g.width {
            var expected: UInt8 = 9
            for k in 0..<3 {
                let x0 = 1 + (k % 2) * 3, y0 = 1 + (k / 2) * 4
                if (x0..<(x0 + 2)).contains(x) && (y0..<(y0 + 3)).contains(y) { expected = UInt8(k + 1) }
            }
            #expect(g[x: x, y: y, c: 0] == expected, "at (\(x), \(y))")
        } }
    }

    @Test func mixedChannelsAndSizesAreCentredInCells() throws {
        let big = try Image(width: 4, height: 4, channels: 3, fill: 50)
        let small = try Image(width: 2, height: 1, channels: 1, fill: 7)
        let g = try Image.grid([big, small], columns: 5, padding: 0, background: [1, 2, 3])
        #expect(g.channels == 3 && g.width == 8 && g.height == 4)
        // small sits at x 4 + (4-2)/2 = 5, y (4-1)/2 = 1 in the second cell.
        for y in 0..<4 { for x in 4..<8 {
            let inside = (5..<7).contains(x) && y == 1
            #expect((0..<3).map { g[x: x, y: y, c: $0] } == (inside ? [7, 7, 7] : [1, 2, 3]))
        } }
        #expect(g[x: 0, y: 0, c: 1] == 50)
    }

    @Test func badGridArguments() throws {
        let a = try Image(width: 2, height: 2, channels: 3)
        #expect(imagingError { _ = try Image.grid([], columns: 1) }?.kind == .invalidArgument)
        #expect(imagingError { _ = try Image.grid([a], columns: 0) }?.kind == .invalidArgument)
        #expect(imagingError { _ = try Image.grid([a], columns: 1, background: [1, 2]) }?.kind == .invalidArgument)
        #expect(imagingError { _ = try Image.grid([a], columns: 1, padding: -1) }?.kind == .invalidArgument)
    }
}
