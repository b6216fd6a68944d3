import Foundation
import TensorCore

/// Continuous geometry and colours of one face, derived from its attributes plus per-sample jitter
/// drawn from the render stream. All lengths are normalized units (the image spans [-1, 1]); head
/// parts live in the head frame (rotated by the tilt about the chin), the rest in canvas coordinates.
struct FaceRig {
    let a: FaceAttributes
    // Head ellipse, jaw taper (rx shrinks by taper·t^jawPow toward the chin, t = (y − cy)/ry).
    var cx: Float = 0, cy: Float = -0.06, rx: Float = 0.4, ry: Float = 0.54, taper: Float = 0.3, jawPow: Float = 2
    var tilt: Float = 0
    /// Horizontal shift of the features for the head turn.
    var yawS: Float = 0
    var eyeY: Float = 0, eyeDX: Float = 0, eyeW: Float = 0, eyeH: Float = 0
    var browY: Float = 0, browLen: Float = 0, browThick: Float = 0, browArch: Float = 0
    var noseTop: Float = 0, noseTip: Float = 0, noseW: Float = 0
    var mouthY: Float = 0, mouthW: Float = 0, upperLip: Float = 0, lowerLip: Float = 0, smile: Float = 0, open: Float = 0
    var earY: Float = 0, earRX: Float = 0, earRY: Float = 0
    var neckW: Float = 0, neckTop: Float = 0
    var clothTop: Float = 0, necklineDepth: Float = 0, necklineW: Float = 0, vNeck = false
    var hairVol: Float = 0, hairTop: Float = 0, hairEnd: Float = 0, wave: Float = 0, partX: Float = 0
    var light = SIMD3<Float>(0, 0, 1)
    var skin = RGB(0, 0, 0), hair = RGB(0, 0, 0), browC = RGB(0, 0, 0), iris = RGB(0, 0, 0), lip = RGB(0, 0, 0)
    var cloth = RGB(0, 0, 0), bg = RGB(0, 0, 0), bg2 = RGB(0, 0, 0), hatC = RGB(0, 0, 0), metal = RGB(0, 0, 0), frameC = RGB(0, 0, 0)
    var hatBrim = false, hoops = false, roundGlasses = false, blush: Float = 0
    var seed: UInt32 = 0

    init(_ a: FaceAttributes, rng: inout Philox) {
        self.a = a
        func jit(_ x: Float, _ r: Float) -> Float { x * (1 + r * (2 * rng.uniform() - 1)) }
        func cjit(_ c: RGB, _ r: Float) -> RGB {
            RGB(clamp01(c.x + r * (2 * rng.uniform() - 1)), clamp01(c.y + r * (2 * rng.uniform() - 1)), clamp01(c.z + r * (2 * rng.uniform() - 1)))
        }
        seed = rng.next()
        let fem = a.presentation == .feminine
        switch a.faceShape {
        case .oval: rx = 0.38; ry = 0.54; taper = 0.38; jawPow = 2
        case .round: rx = 0.41; ry = 0.52; taper = 0.26; jawPow = 2
        case .long: rx = 0.35; ry = 0.57; taper = 0.34; jawPow = 2
        case .square: rx = 0.40; ry = 0.53; taper = 0.30; jawPow = 4
        }
        let k: Float = 1.12 // overall head scale (portrait crop)
        rx *= a.faceWidth * (fem ? 0.97 : 1.02) * k
        ry *= k
        cx = 0.03 * (2 * rng.uniform() - 1)
        cy = -0.1 + 0.03 * (2 * rng.uniform() - 1)
        tilt = a.tilt * .pi / 180
        yawS = a.yaw * 0.07
        eyeY = cy + jit(0.0, 0) + 0.01 * (2 * rng.uniform() - 1)
        eyeDX = jit(0.36, 0.06) * rx
        eyeW = jit(0.095, 0.08) * (rx / 0.38)
        eyeH = (a.eyes == .narrow ? 0.026 : 0.044) * (fem ? 1.08 : 1.0) * k
        browY = eyeY - jit(0.105, 0.1) * k
        browLen = jit(0.115, 0.08) * k
        browThick = (a.eyebrows == .bushy ? jit(0.024, 0.1) : jit(fem ? 0.010 : 0.013, 0.15)) * k
        browArch = fem ? jit(0.035, 0.2) : jit(0.018, 0.3)
        noseTop = eyeY - 0.01
        noseTip = eyeY + jit(0.2, 0.07) * k
        noseW = jit(fem ? 0.066 : 0.078, 0.1) * k
        mouthY = noseTip + jit(0.125, 0.08) * k
        mouthW = jit(0.12, 0.08) * (a.isSmiling ? 1.15 : 1) * k
        upperLip = jit(fem ? 0.024 : 0.018, 0.15) * (a.lipstick ? 1.15 : 1) * k
        lowerLip = jit(fem ? 0.034 : 0.026, 0.15) * (a.lipstick ? 1.15 : 1) * k
        switch a.expression {
        case .neutral: smile = 0.003; open = 0
        case .smiling: smile = jit(0.03, 0.2); open = 0
        case .grinning: smile = jit(0.035, 0.2); open = jit(0.045, 0.15)
        case .mouthOpen: smile = 0; open = jit(0.035, 0.2)
        }
        earY = eyeY + 0.08 * k
        earRX = jit(0.055, 0.1) * k; earRY = jit(0.1, 0.1) * k
        neckW = jit(fem ? 0.15 : 0.185, 0.06) * k
        neckTop = cy + ry * 0.35
        clothTop = cy + ry + jit(0.12, 0.25)
        vNeck = rng.chance(0.35)
        necklineW = jit(0.2, 0.2); necklineDepth = jit(0.12, 0.3)
        switch a.hairStyle {
        case .short: hairVol = jit(0.045, 0.3); hairEnd = 0
        case .long: hairVol = jit(0.06, 0.2); hairEnd = jit(0.78, 0.1)
        case .wavy: hairVol = jit(0.08, 0.2); hairEnd = jit(0.62, 0.1)
        case .bangs: hairVol = jit(0.06, 0.2); hairEnd = fem ? jit(0.62, 0.15) : 0
        case .bald: hairVol = 0.02; hairEnd = 0
        }
        hairTop = cy - ry * jit(0.5, 0.08)
        wave = a.hairStyle == .wavy ? jit(0.03, 0.2) : 0.006
        partX = cx + 0.12 * (2 * rng.uniform() - 1)
        let lx = 0.7 * (2 * rng.uniform() - 1), ly = -0.25 - 0.45 * rng.uniform()
        light = SIMD3<Float>(lx, ly, 1) / (lx * lx + ly * ly + 1).squareRoot()

        let skinBase: RGB
        switch a.skinTone {
        case .pale: skinBase = RGB(0.96, 0.84, 0.76)
        case .light: skinBase = RGB(0.93, 0.76, 0.64)
        case .medium: skinBase = RGB(0.84, 0.63, 0.49)
        case .olive: skinBase = RGB(0.76, 0.60, 0.43)
        case .tan: skinBase = RGB(0.64, 0.45, 0.31)
        case .dark: skinBase = RGB(0.42, 0.28, 0.19)
        }
        skin = cjit(skinBase, 0.025)
        let hairBase: RGB
        switch a.hairColor {
        case .black: hairBase = RGB(0.09, 0.07, 0.06)
        case .brown: hairBase = RGB(0.36, 0.22, 0.12)
        case .blond: hairBase = RGB(0.86, 0.70, 0.42)
        case .gray: hairBase = RGB(0.70, 0.69, 0.68)
        case .red: hairBase = RGB(0.66, 0.27, 0.11)
        }
        hair = cjit(hairBase, 0.04)
        browC = a.hairColor == .blond ? hair * 0.7 : a.hairColor == .gray ? hair * 0.8 : hair * 0.9
        switch a.eyeColor {
        case .brown: iris = RGB(0.42, 0.25, 0.12)
        case .dark: iris = RGB(0.17, 0.10, 0.06)
        case .blue: iris = RGB(0.32, 0.52, 0.76)
        case .green: iris = RGB(0.32, 0.54, 0.33)
        case .hazel: iris = RGB(0.54, 0.42, 0.20)
        }
        iris = cjit(iris, 0.03)
        if a.lipstick {
            let shades = [RGB(0.78, 0.12, 0.16), RGB(0.85, 0.35, 0.45), RGB(0.55, 0.10, 0.22), RGB(0.80, 0.28, 0.25)]
            lip = cjit(shades[rng.int(below: shades.count)], 0.03)
        } else {
            lip = skin * RGB(0.92, 0.66, 0.64)
            _ = rng.next()
        }
        blush = fem ? 0.10 + 0.08 * rng.uniform() : 0.04 * rng.uniform()
        let clothBase: RGB
        switch a.clothing {
        case .black: clothBase = RGB(0.11, 0.11, 0.12)
        case .white: clothBase = RGB(0.92, 0.92, 0.90)
        case .gray: clothBase = RGB(0.50, 0.50, 0.52)
        case .navy: clothBase = RGB(0.13, 0.17, 0.36)
        case .red: clothBase = RGB(0.72, 0.13, 0.13)
        case .green: clothBase = RGB(0.19, 0.46, 0.26)
        case .beige: clothBase = RGB(0.82, 0.72, 0.56)
        case .blue: clothBase = RGB(0.26, 0.46, 0.80)
        }
        cloth = cjit(clothBase, 0.03)
        let bgBase: RGB
        switch a.background {
        case .gray: bgBase = RGB(0.62, 0.62, 0.64)
        case .blue: bgBase = RGB(0.47, 0.61, 0.80)
        case .beige: bgBase = RGB(0.86, 0.79, 0.67)
        case .green: bgBase = RGB(0.56, 0.70, 0.55)
        case .pink: bgBase = RGB(0.88, 0.69, 0.73)
        case .teal: bgBase = RGB(0.35, 0.60, 0.62)
        }
        bg = cjit(bgBase, 0.04)
        bg2 = bg * (0.72 + 0.15 * rng.uniform())
        let hats = [RGB(0.15, 0.15, 0.17), RGB(0.55, 0.38, 0.22), RGB(0.70, 0.15, 0.15), RGB(0.20, 0.30, 0.55), RGB(0.85, 0.80, 0.68)]
        hatC = cjit(hats[rng.int(below: hats.count)], 0.03)
        hatBrim = rng.chance(0.6)
        hoops = rng.chance(0.5)
        metal = rng.chance(0.6) ? RGB(0.88, 0.70, 0.30) : RGB(0.82, 0.82, 0.86)
        roundGlasses = rng.chance(0.4)
        let frames = [RGB(0.08, 0.08, 0.09), RGB(0.35, 0.20, 0.10), RGB(0.70, 0.60, 0.35)]
        frameC = frames[rng.int(below: frames.count)]
    }

    // MARK: geometry helpers (head frame)

    /// Face half-width at height y.
    @inline(__always) func faceRX(_ y: Float) -> Float {
        let t = max(0, (y - cy) / ry)
        let tp = jawPow == 2 ? t * t : t * t * t * t
        return rx * (1 - taper * tp)
    }

    /// Signed distance to the head/face outline (the skin region, crown included).
    @inline(__always) func faceSDF(_ x: Float, _ y: Float) -> Float {
        let r = faceRX(y)
        return ellipseSDF(x, y, cx, cy, r, ry)
    }

    var eyeL: (Float, Float) { (cx - eyeDX + yawS, eyeY) }
    var eyeR: (Float, Float) { (cx + eyeDX + yawS, eyeY) }
    /// Foreshortening of the eye on the side the head turns away from.
    var scaleL: Float { 1 + 0.12 * a.yaw }
    var scaleR: Float { 1 - 0.12 * a.yaw }
    var noseX: Float { cx + 1.5 * yawS }
    var mouthX: Float { cx + 1.1 * yawS }

    /// Signed distance to an almond eye centred at (ex, ey) with scale s.
    @inline(__always) func eyeSDF(_ x: Float, _ y: Float, _ ex: Float, _ ey: Float, _ s: Float) -> Float {
        let w = eyeW * s, h = eyeH
        let lx = x - ex, ly = y - ey
        let t = lx / w
        let prof = max(0, 1 - t * t)
        let top = h * prof, bot = 0.7 * h * prof
        let slope = 2 * h * lx / (w * w)
        let dv = ly < 0 ? (-ly - top) : (ly - bot)
        return max(dv / (1 + slope * slope).squareRoot(), abs(lx) - w)
    }

    /// Mouth line y at x (corners lift by `smile`), and the half opening there.
    @inline(__always) func mouthLine(_ x: Float) -> (Float, Float, Float) {
        let t = (x - mouthX) / mouthW
        let tt = min(1, t * t)
        return (mouthY - smile * tt, 0.5 * open * (1 - tt), t)
    }

    /// Hairline (upper face boundary) at x: hair covers the head above it.
    @inline(__always) func hairline(_ x: Float) -> Float {
        let dx = (x - cx) / rx
        let d2 = dx * dx
        switch a.hairStyle {
        case .bangs:
            let fringe = 0.012 * sin((x - cx) * 55 + Float(seed & 7))
            return browY - 0.045 + fringe + 0.18 * d2 * d2
        case .long, .wavy:
            return hairTop + 0.12 * ry * d2 + (0.9 * ry) * d2 * d2 * d2
        case .short:
            let c2 = min(d2, 1)
            return hairTop + 0.1 * ry * c2 + 0.38 * ry * c2 * c2
        case .bald:
            return eyeY - 0.02
        }
    }

    /// Signed distance to the front hair (cap over the crown, fringe, side curtains).
    @inline(__always) func hairFrontSDF(_ x: Float, _ y: Float) -> Float {
        let cap = ellipseSDF(x, y, cx, cy - 0.01, rx + hairVol, ry + hairVol * 0.9)
        if a.hairStyle == .bald {
            // Fringe of hair around the sides and back only.
            return max(max(cap, y - hairline(x)), max(0.74 * rx - abs(x - cx), (cy - 0.55 * ry) - y))
        }
        return max(cap, y - hairline(x))
    }

    /// Signed distance to the hair hanging behind the head and neck (long styles), or +inf.
    @inline(__always) func hairBackSDF(_ x: Float, _ y: Float) -> Float {
        if hairEnd <= 0 { return 1 }
        let top = ellipseSDF(x, y, cx, cy - 0.02, rx + hairVol * 1.3, ry + hairVol)
        let dx = abs(x - cx)
        let w = rx + hairVol * 1.2 + 0.1 * max(0, y - cy)
        let end = hairEnd + wave * sin(x * 28 + Float(seed & 15)) + 0.008 * sin(x * 45)
        let hang = max(max(dx - w, cy - y), y - end)
        return min(top, hang)
    }

    /// Hair colour with strands running from the parting (or downward for hanging hair).
    @inline(__always) func hairPaint(_ x: Float, _ y: Float, _ back: Bool) -> Paint {
        // Strands fan out from a point high above the parting, so they run down and slightly outward.
        let px = partX, py = cy - ry * 2.2
        let dx = x - px, dy = y - py
        let r = (dx * dx + dy * dy).squareRoot()
        var ang = atan2(dx, dy) * 2.2
        if back && y > cy { ang = (x - cx) * 1.6 }
        ang += wave * 1.2 * sin(r * 30)
        let strands = vnoise(ang * 26, r * 3, seed &+ 11)
        let fine = vnoise(ang * 90, r * 8, seed &+ 12)
        // Shading on the hair volume: an ellipsoid a bit larger than the head.
        let nx = (x - cx) / (rx + hairVol * 1.5), ny = (y - cy) / (ry + hairVol * 1.5)
        let nz = max(0.15, 1 - nx * nx - ny * ny).squareRoot()
        let diff = max(0, nx * light.x + ny * light.y + nz * light.z)
        var c = hair * (0.55 + 0.5 * diff) * (0.72 + 0.42 * strands + 0.16 * fine)
        // Anisotropic sheen band across the strands.
        let sheen = exp(-pow((y - (cy - ry * 0.72)) / 0.05, 2)) * 0.18 * (0.5 + strands)
        c += RGB(repeating: sheen) * (0.4 + diff)
        if back { c *= 0.78 }
        let line = max(0, 1 - abs(strands - 0.5) * 14) * (vnoise(ang * 8, r * 6, seed &+ 13) > 0.6 ? 1 : 0)
        return Paint(c: c, a: 1, ink: 0.42 * line)
    }

    /// Skin shading on an ellipsoid-ish surface with normal from (nx, ny).
    @inline(__always) func shadeSkin(_ base: RGB, _ nx: Float, _ ny: Float, _ x: Float, _ y: Float) -> RGB {
        let nz = max(0.05, 1 - nx * nx - ny * ny).squareRoot()
        let l = nx * light.x + ny * light.y + nz * light.z
        let diff = max(0, l)
        let spec = pow(max(0, nz * 0.9 + l * 0.1), 18) * 0.06
        var c = base * (0.52 + 0.58 * diff)
        // Warm light bleeding into the shadow side.
        c += RGB(0.05, 0.012, 0.0) * (1 - diff)
        let tex = 0.94 + 0.08 * fbm(x, y, 24, seed &+ 21) + 0.03 * vnoise(x * 140, y * 140, seed &+ 22)
        return c * tex + RGB(repeating: spec)
    }
}
