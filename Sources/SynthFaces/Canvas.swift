import Foundation

typealias RGB = SIMD3<Float>

/// What a shape's shader returns for one pixel: colour, opacity and sketch ink (0 = none, 1 = black).
struct Paint {
    var c: RGB
    var a: Float = 1
    var ink: Float = 0
}

/// Working buffers for one render at S×S. Geometry is in normalized coordinates: x, y in [-1, 1],
/// x to the right, y down, pixel (px, py) centred at ((px + 0.5)·2/S − 1, (py + 0.5)·2/S − 1), so the
/// same face comes out at every size.
struct Canvas {
    let size: Int
    /// Pixel pitch in normalized units (2/S); also the antialiasing ramp width.
    let pw: Float
    /// S*S*3, row-major HWC, display-space colour in [0, 1].
    var rgb: [Float]
    /// S*S class ids (CelebAMask-HQ scheme).
    var label: [UInt8]
    /// S*S feature-stroke ink in [0, 1] (region boundaries are added from `label` later).
    var ink: [Float]
    /// Head frame: rotation by the head tilt about the chin.
    var frame = HeadFrame()

    init(size: Int) {
        self.size = size
        pw = 2 / Float(size)
        rgb = [Float](repeating: 0, count: size * size * 3)
        label = [UInt8](repeating: 0, count: size * size)
        ink = [Float](repeating: 0, count: size * size)
    }


    /// Paints a shape given by an (approximate) signed distance `sdf` (negative inside, normalized
    /// units) over the bounding box `box` = (x0, y0, x1, y1). Coverage is the SDF ramped over one
    /// pixel, so edges are antialiased; where coverage × opacity ≥ 0.5 the label becomes `cls`
    /// (`cls < 0` paints the image only). `head` evaluates both closures in the tilted head frame.
    mutating func fill(_ cls: Int, _ box: (Float, Float, Float, Float), head: Bool,
                       sdf: (Float, Float) -> Float, paint: (Float, Float, Float) -> Paint) {
        var bx0 = box.0, by0 = box.1, bx1 = box.2, by1 = box.3
        if head {
            let f = frame
            let c = [f.toCanvas(box.0, box.1), f.toCanvas(box.2, box.1), f.toCanvas(box.0, box.3), f.toCanvas(box.2, box.3)]
            bx0 = c.map(\.0).min()!; bx1 = c.map(\.0).max()!
            by0 = c.map(\.1).min()!; by1 = c.map(\.1).max()!
        }
        let px0 = max(0, Int(((bx0 + 1) / pw).rounded(.down)) - 1)
        let px1 = min(size, Int(((bx1 + 1) / pw).rounded(.up)) + 1)
        let py0 = max(0, Int(((by0 + 1) / pw).rounded(.down)) - 1)
        let py1 = min(size, Int(((by1 + 1) / pw).rounded(.up)) + 1)
        if px0 >= px1 || py0 >= py1 { return }
        let inv = 1 / pw
        let c = frame.cosT, sn = frame.sinT, ox = frame.pivotX, oy = frame.pivotY
        let n = size
        rgb.withUnsafeMutableBufferPointer { rgbp in
        label.withUnsafeMutableBufferPointer { lab in
        ink.withUnsafeMutableBufferPointer { inkp in
            for py in py0..<py1 {
                let v = (Float(py) + 0.5) * pw - 1
                for px in px0..<px1 {
                    let u = (Float(px) + 0.5) * pw - 1
                    var x = u, y = v
                    if head {
                        let dx = u - ox, dy = v - oy
                        x = c * dx + sn * dy + ox
                        y = -sn * dx + c * dy + oy
                    }
                    let d = sdf(x, y)
                    let cov = min(1, max(0, 0.5 - d * inv))
                    if cov <= 0 { continue }
                    let p = paint(x, y, d)
                    let a = cov * min(1, max(0, p.a))
                    let i = py * n + px
                    if a > 0 {
                        let j = 3 * i
                        rgbp[j] += (p.c.x - rgbp[j]) * a
                        rgbp[j + 1] += (p.c.y - rgbp[j + 1]) * a
                        rgbp[j + 2] += (p.c.z - rgbp[j + 2]) * a
                        if cls >= 0 && a >= 0.5 { lab[i] = UInt8(cls) }
                    }
                    if p.ink > 0 {
                        let k = min(1, p.ink) * cov
                        if k > inkp[i] { inkp[i] = k }
                    } else if a >= 0.5 && inkp[i] > 0 {
                        // An opaque shape on top hides strokes drawn earlier underneath it.
                        inkp[i] *= (1 - a)
                    }
                }
            }
        }}}
    }
}

/// Rotation of the head by its tilt about a pivot (the chin), canvas ↔ head coordinates.
struct HeadFrame {
    var cosT: Float = 1, sinT: Float = 0, pivotX: Float = 0, pivotY: Float = 0

    /// Canvas point of a head-frame point.
    @inline(__always) func toCanvas(_ x: Float, _ y: Float) -> (Float, Float) {
        let dx = x - pivotX, dy = y - pivotY
        return (cosT * dx - sinT * dy + pivotX, sinT * dx + cosT * dy + pivotY)
    }

    /// Head-frame point of a canvas point.
    @inline(__always) func toHead(_ x: Float, _ y: Float) -> (Float, Float) {
        let dx = x - pivotX, dy = y - pivotY
        return (cosT * dx + sinT * dy + pivotX, -sinT * dx + cosT * dy + pivotY)
    }
}

// MARK: - Noise (hash-based value noise in normalized coordinates, so it is the same at every size)

@inline(__always) func hash2(_ x: Int32, _ y: Int32, _ seed: UInt32) -> Float {
    var h = UInt32(bitPattern: x) &* 0x8DA6_B343
    h ^= UInt32(bitPattern: y) &* 0xD816_3841
    h ^= seed &* 0xCB1A_B31F
    h ^= h >> 13
    h = h &* 0x5BD1_E995
    h ^= h >> 15
    return Float(h & 0xFF_FFFF) * (1 / 16_777_216)
}

/// Smooth value noise in [0, 1] with unit lattice spacing.
@inline(__always) func vnoise(_ x: Float, _ y: Float, _ seed: UInt32) -> Float {
    let fx = x.rounded(.down), fy = y.rounded(.down)
    let ix = Int32(truncatingIfNeeded: Int(fx)), iy = Int32(truncatingIfNeeded: Int(fy))
    var tx = x - fx, ty = y - fy
    tx = tx * tx * (3 - 2 * tx)
    ty = ty * ty * (3 - 2 * ty)
    let a = hash2(ix, iy, seed), b = hash2(ix &+ 1, iy, seed)
    let c = hash2(ix, iy &+ 1, seed), d = hash2(ix &+ 1, iy &+ 1, seed)
    return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty
}

/// Two-octave value noise in [0, 1] at frequency `f` (cycles per normalized unit).
@inline(__always) func fbm(_ x: Float, _ y: Float, _ f: Float, _ seed: UInt32) -> Float {
    0.65 * vnoise(x * f, y * f, seed) + 0.35 * vnoise(x * f * 2.03 + 17.1, y * f * 2.03 - 5.3, seed &+ 1)
}

@inline(__always) func smoothstep(_ e0: Float, _ e1: Float, _ x: Float) -> Float {
    let t = min(1, max(0, (x - e0) / (e1 - e0)))
    return t * t * (3 - 2 * t)
}

@inline(__always) func mix(_ a: RGB, _ b: RGB, _ t: Float) -> RGB { a + (b - a) * t }

@inline(__always) func clamp01(_ x: Float) -> Float { min(1, max(0, x)) }

/// Approximate signed distance to an axis-aligned ellipse (Quilez's first-order estimate).
@inline(__always) func ellipseSDF(_ x: Float, _ y: Float, _ cx: Float, _ cy: Float, _ rx: Float, _ ry: Float) -> Float {
    let qx = (x - cx) / rx, qy = (y - cy) / ry
    let k0 = (qx * qx + qy * qy).squareRoot()
    let gx = qx / rx, gy = qy / ry
    let k1 = (gx * gx + gy * gy).squareRoot()
    if k1 < 1e-6 { return -min(rx, ry) }
    return k0 * (k0 - 1) / k1
}

/// Signed distance to the segment (ax, ay)–(bx, by) minus radius r (a capsule).
@inline(__always) func capsuleSDF(_ x: Float, _ y: Float, _ ax: Float, _ ay: Float, _ bx: Float, _ by: Float, _ r: Float) -> Float {
    let px = x - ax, py = y - ay, dx = bx - ax, dy = by - ay
    let h = clamp01((px * dx + py * dy) / max(1e-8, dx * dx + dy * dy))
    let ex = px - dx * h, ey = py - dy * h
    return (ex * ex + ey * ey).squareRoot() - r
}

/// Signed distance to a rounded box centred at (cx, cy) with half sizes (hx, hy) and corner radius r.
@inline(__always) func roundBoxSDF(_ x: Float, _ y: Float, _ cx: Float, _ cy: Float, _ hx: Float, _ hy: Float, _ r: Float) -> Float {
    let qx = abs(x - cx) - hx + r, qy = abs(y - cy) - hy + r
    let ox = max(qx, 0), oy = max(qy, 0)
    return (ox * ox + oy * oy).squareRoot() + min(max(qx, qy), 0) - r
}
