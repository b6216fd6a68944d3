/// Turns a label map plus feature-stroke ink into a pencil-style line drawing.
enum SketchRenderer {
    /// Line weight of the boundary between two classes (symmetric): outlines darkest, soft facial
    /// contours (nose, jaw, ear) lighter.
    static func weight(_ a: UInt8, _ b: UInt8) -> Float {
        let lo = min(a, b), hi = max(a, b)
        if lo == 0 { return 1.0 }                       // silhouette against the background
        if lo == 1 && hi == 2 { return 0.38 }            // nose on skin
        if lo == 1 && (hi == 8 || hi == 9) { return 0.6 } // ear joins the head
        if lo == 1 && hi == 17 { return 0.7 }            // jaw line
        if hi == 17 && lo >= 17 { return 0.8 }
        if lo == 11 && hi == 12 { return 0.9 }           // lips closing
        if lo == 1 && hi == 13 { return 0.85 }           // hairline
        if lo == 17 && hi == 18 { return 0.8 }           // collar
        return 0.9
    }

    /// S*S grayscale (255 white paper, 0 black ink). `label` S*S ids, `ink` S*S feature strokes in [0, 1].
    static func draw(label: [UInt8], ink: [Float], size n: Int, seed: UInt32) -> [UInt8] {
        // S*S boundary strength: a pixel is on a boundary when its right or lower neighbour differs.
        var b = [Float](repeating: 0, count: n * n)
        for y in 0..<n {
            for x in 0..<n {
                let i = y * n + x
                let l = label[i]
                var w: Float = 0
                if x + 1 < n, label[i + 1] != l { w = max(w, weight(l, label[i + 1])) }
                if y + 1 < n, label[i + n] != l { w = max(w, weight(l, label[i + n])) }
                b[i] = w
            }
        }
        // Strong lines get thicker at higher resolutions (one 3×3 dilation per doubling past 64).
        var passes = 0
        var s = n
        while s >= 128 { passes += 1; s /= 2 }
        for _ in 0..<passes {
            var d = b
            for y in 0..<n {
                for x in 0..<n {
                    var m: Float = 0
                    for yy in max(0, y - 1)...min(n - 1, y + 1) {
                        for xx in max(0, x - 1)...min(n - 1, x + 1) where b[yy * n + xx] >= 0.75 {
                            m = max(m, b[yy * n + xx])
                        }
                    }
                    d[y * n + x] = max(b[y * n + x], 0.85 * m)
                }
            }
            b = d
        }
        var out = [UInt8](repeating: 255, count: n * n)
        let pw = 2 / Float(n)
        for y in 0..<n {
            let v = (Float(y) + 0.5) * pw - 1
            for x in 0..<n {
                let u = (Float(x) + 0.5) * pw - 1
                let i = y * n + x
                // Pencil pressure varies slowly along the strokes.
                let pressure = 0.7 + 0.3 * vnoise(u * 5, v * 5, seed &+ 201)
                let k = max(b[i] * pressure, ink[i])
                out[i] = UInt8(max(0, min(255, (255 * (1 - k)).rounded())))
            }
        }
        return out
    }
}
