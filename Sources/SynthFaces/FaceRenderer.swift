import Foundation
import TensorCore

/// Paints a `FaceRig` into a `Canvas` in painter's order: background, hair behind, neck, clothes,
/// necklace, ears, earrings, face (skin shading, wrinkles, stubble), beard, nose, eyes, brows,
/// mouth, mustache, front hair, glasses, hat. Every shape writes image and label together.
enum FaceRenderer {
    static func render(_ g: FaceRig, into cv: inout Canvas) {
        let cv0 = HeadFrame(cosT: cos(g.tilt), sinT: sin(g.tilt), pivotX: g.cx, pivotY: g.cy + g.ry)
        cv.frame = cv0
        let a = g.a
        let L = g.light
        let full: (Float, Float, Float, Float) = (-1, -1, 1, 1)

        // Silhouette for the background's drop shadow (canvas coordinates).
        func silhouette(_ x: Float, _ y: Float) -> Float {
            let (hx, hy) = cv0.toHead(x, y)
            var d = min(g.faceSDF(hx, hy), g.hairFrontSDF(hx, hy))
            d = min(d, g.hairBackSDF(hx, hy))
            d = min(d, ellipseSDF(x, y, g.cx, 1.35, 1.25, 1.35 - g.clothTop))
            d = min(d, max(abs(x - g.cx) - g.neckW, g.neckTop - y))
            return d
        }

        // Background: vertical gradient, soft blotches, vignette, drop shadow away from the light.
        let sx = -L.x * 0.09, sy = -L.y * 0.06
        cv.fill(0, full, head: false, sdf: { _, _ in -1 }) { x, y, _ in
            let t = (y + 1) * 0.5
            var c = mix(g.bg, g.bg2, t * 0.8 + 0.2 * x * L.x)
            c *= 0.9 + 0.2 * fbm(x, y, 2.2, g.seed &+ 1)
            let vig = 1 - 0.18 * (x * x + y * y) * 0.5
            let sh = 1 - 0.28 * smoothstep(0.18, -0.02, silhouette(x - sx, y - sy))
            return Paint(c: c * vig * sh)
        }

        // Hair hanging behind the head (long styles).
        if g.hairEnd > 0 {
            cv.fill(13, (g.cx - 1, g.cy - g.ry - 0.2, g.cx + 1, g.hairEnd + 0.1), head: true,
                    sdf: { x, y in g.hairBackSDF(x, y) }) { x, y, _ in g.hairPaint(x, y, true) }
        }

        // Neck: a cylinder, darkened under the jaw.
        let neckW = g.neckW
        cv.fill(17, (g.cx - neckW - 0.1, g.neckTop, g.cx + neckW + 0.1, 1.05), head: false,
                sdf: { x, y in max(abs(x - g.cx) - (neckW + 0.07 * smoothstep(0.5, 1.0, y)), g.neckTop - y) }) { x, y, _ in
            let nx = (x - g.cx) / (neckW * 1.15)
            var c = g.shadeSkin(g.skin * 0.93, nx, 0.2, x, y)
            let (hx, hy) = cv0.toHead(x, y - 0.03)
            let dj = g.faceSDF(hx, hy)
            c *= 1 - 0.45 * exp(-max(0, dj) / 0.07)
            return Paint(c: c)
        }

        // Clothes: a broad ellipse for the shoulders with a round or V neckline cut out.
        let clothRY = 1.35 - g.clothTop
        func neckline(_ x: Float, _ y: Float) -> Float {
            if g.vNeck {
                let depth = g.clothTop + g.necklineDepth * 1.6
                return max(abs(x - g.cx) * 1.4 - (depth - y) * 0.55, g.clothTop - 0.2 - y)
            }
            return ellipseSDF(x, y, g.cx, g.clothTop, g.necklineW, g.necklineDepth)
        }
        cv.fill(18, (-1, g.clothTop - 0.05, 1, 1), head: false,
                sdf: { x, y in max(ellipseSDF(x, y, g.cx, 1.35, 1.25, clothRY), -neckline(x, y)) }) { x, y, d in
            let nx = (x - g.cx) / 1.25, ny = (y - 1.35) / clothRY
            let nz = max(0.05, 1 - nx * nx - ny * ny).squareRoot()
            let diff = max(0, nx * L.x + ny * L.y + nz * L.z)
            let folds = fbm(x * 3, y * 0.8, 2.5, g.seed &+ 31)
            let weave = vnoise(x * 160, y * 160, g.seed &+ 32)
            var c = g.cloth * (0.5 + 0.55 * diff) * (0.8 + 0.35 * folds) * (0.96 + 0.06 * weave)
            c += RGB(repeating: 0.04)
            // Collar band along the neckline and a seam shadow just outside it.
            let dn = neckline(x, y)
            if dn < 0.03 { c *= 0.8 + 0.2 * smoothstep(0, 0.03, dn) }
            return Paint(c: c)
        }

        if a.necklace {
            let ny0 = g.clothTop - 0.035
            let span = neckW + 0.02
            cv.fill(16, (g.cx - span - 0.03, ny0 - 0.03, g.cx + span + 0.03, ny0 + 0.09), head: false, sdf: { x, y in
                let dx = x - g.cx
                let chain = max(abs(y - (ny0 + 1.1 * dx * dx)) - 0.0075, abs(dx) - span)
                let pendant = ellipseSDF(x, y, g.cx, ny0 + 0.03, 0.018, 0.024)
                return min(chain, pendant)
            }) { x, y, _ in
                let sp = vnoise(x * 120, y * 120, g.seed &+ 41)
                let up = y < ny0 + 0.015 ? 1.2 : 0.95
                return Paint(c: g.metal * Float(up) * (0.75 + 0.4 * sp), a: 1, ink: 0)
            }
        }

        // Ears (l_ear on the image's left).
        for side in [-1, 1] as [Float] {
            let ex = g.cx + side * (g.faceRX(g.earY) + 0.02) - g.yawS * 0.6
            let ey = g.earY
            cv.fill(side < 0 ? 8 : 9, (ex - 0.1, ey - 0.15, ex + 0.1, ey + 0.15), head: true,
                    sdf: { x, y in ellipseSDF(x, y, ex, ey, g.earRX, g.earRY) }) { x, y, _ in
                var c = g.shadeSkin(g.skin * 0.95, side * 0.6 + (x - ex) / g.earRX * 0.3, (y - ey) / g.earRY * 0.6, x, y)
                let inner = ellipseSDF(x, y, ex - side * 0.008, ey - 0.01, g.earRX * 0.55, g.earRY * 0.62)
                c *= 1 - 0.3 * smoothstep(0.01, -0.01, inner)
                let rim = max(0, 1 - abs(inner) / 0.006)
                return Paint(c: c, a: 1, ink: 0.4 * rim)
            }
            if a.earrings {
                let rx = ex + side * 0.005, ry = ey + g.earRY * 0.95
                cv.fill(15, (rx - 0.06, ry - 0.04, rx + 0.06, ry + 0.1), head: true, sdf: { x, y in
                    g.hoops ? abs(ellipseSDF(x, y, rx, ry + 0.035, 0.032, 0.035)) - 0.007
                            : ellipseSDF(x, y, rx, ry + 0.012, 0.017, 0.017)
                }) { x, y, _ in
                    let hl = max(0, 1 - ((x - rx + 0.008) * (x - rx + 0.008) + (y - ry) * (y - ry)) / 0.0004)
                    return Paint(c: g.metal * (0.75 + 0.3 * vnoise(x * 90, y * 90, g.seed)) + RGB(repeating: 0.25 * hl))
                }
            }
        }

        // Face: skin with lighting, blush, eye sockets, hair shadow, age lines, stubble.
        let (elx, ely) = g.eyeL, (erx, ery) = g.eyeR
        cv.fill(1, (g.cx - g.rx - 0.02, g.cy - g.ry - 0.02, g.cx + g.rx + 0.02, g.cy + g.ry + 0.02), head: true,
                sdf: { x, y in g.faceSDF(x, y) }) { x, y, d in
            let nx = (x - g.cx - g.yawS * 0.5) / g.faceRX(y) * 0.92, ny = (y - g.cy) / g.ry * 0.85
            var base = g.skin
            // Blush on the cheeks.
            let cheek = exp(-(pow(abs(x - g.cx - g.yawS) - g.eyeDX, 2) + pow(y - (g.eyeY + 0.15), 2)) / 0.006)
            base = mix(base, RGB(0.85, 0.35, 0.35), g.blush * cheek)
            var c = g.shadeSkin(base, nx, ny, x, y)
            // Eye sockets and the soft shade under the brows.
            let sock = exp(-(pow(x - elx, 2) + 2.5 * pow(y - ely + 0.02, 2)) / 0.008)
                     + exp(-(pow(x - erx, 2) + 2.5 * pow(y - ery + 0.02, 2)) / 0.008)
            c *= 1 - 0.16 * min(1, sock)
            // Shadow cast by the front hair onto the forehead.
            let dh = g.hairFrontSDF(x - L.x * 0.02, y + 0.03)
            c *= 1 - 0.32 * smoothstep(0.05, -0.01, dh)
            // Darker rim toward the outline.
            c *= 0.84 + 0.16 * smoothstep(0, -0.06, d)
            var ink: Float = 0
            if a.wrinkles {
                var w: Float = 0
                for k in 0..<3 {
                    let fy = g.browY - 0.07 - Float(k) * 0.03 + 0.04 * pow((x - g.cx) / 0.2, 2)
                    if abs(x - g.cx) < 0.16 { w = max(w, max(0, 1 - abs(y - fy) / 0.006) * (1 - abs(x - g.cx) / 0.16)) }
                }
                // Nasolabial folds from the nose wings toward the mouth corners.
                for side in [-1, 1] as [Float] {
                    let ax = g.noseX + side * g.noseW * 1.1, ay = g.noseTip - 0.01
                    let bx = g.mouthX + side * g.mouthW * 1.15, by = g.mouthY + 0.03
                    let dd = capsuleSDF(x, y, ax, ay, bx, by, 0)
                    w = max(w, max(0, 1 - dd / 0.006) * 0.9)
                }
                c *= 1 - 0.22 * w
                ink = 0.45 * w
            }
            if a.facialHair == .stubble {
                let (ml, _, _) = g.mouthLine(x)
                let zone = smoothstep(g.noseTip - 0.02, g.noseTip + 0.06, y) * smoothstep(-0.01, -0.05, d)
                    * (1 - exp(-(pow((x - g.mouthX) / (g.mouthW * 1.05), 2) + pow((y - ml) / 0.045, 2)) * 3) * 0.3)
                let speck = vnoise(x * 170, y * 170, g.seed &+ 51)
                c = mix(c, c * 0.62 + g.hair * 0.08, zone * (0.55 + 0.45 * speck))
            }
            return Paint(c: c, a: 1, ink: ink)
        }

        // Full beard: hair over the jaw and chin (image only; CelebAMask-HQ labels beards as skin).
        if a.facialHair == .beard {
            cv.fill(-1, (g.cx - g.rx, g.eyeY, g.cx + g.rx, g.cy + g.ry + 0.02), head: true, sdf: { x, y in
                let fuzz = 0.012 * (vnoise(x * 70, y * 70, g.seed &+ 61) - 0.5)
                let top = g.noseTip + 0.02 - 0.1 * pow(abs(x - g.cx) / g.rx, 2) * 1.6
                let (ml, _, _) = g.mouthLine(x)
                let mouthHole = ellipseSDF(x, y, g.mouthX, ml + 0.005, g.mouthW * 1.05, 0.045)
                return max(max(g.faceSDF(x, y) + 0.004, top - y), -mouthHole) + fuzz
            }) { x, y, d in
                var p = g.hairPaint(x, y, false)
                p.c *= 0.85 + 0.15 * vnoise(x * 120, y * 40, g.seed &+ 62)
                p.a = 0.92
                p.ink = max(0, 1 - abs(d) / 0.008) * 0.5 + p.ink * 0.5
                return p
            }
        }

        // Nose: bridge and tip with side shading, nostrils and a shadow under the tip.
        let nTop = g.noseTop, nTip = g.noseTip, nW = g.noseW
        func noseCX(_ y: Float) -> Float {
            let t = clamp01((y - nTop) / (nTip - nTop))
            return g.cx + g.yawS * (0.6 + 0.9 * t)
        }
        cv.fill(2, (g.noseX - 0.15, nTop - 0.02, g.noseX + 0.15, nTip + 0.06), head: true, sdf: { x, y in
            let t = clamp01((y - nTop) / (nTip - nTop))
            let w = 0.028 + (nW * 0.75 - 0.028) * t * t
            let bridge = max(abs(x - noseCX(y)) - w, max(nTop - y, y - (nTip - 0.01)))
            let tip = ellipseSDF(x, y, g.noseX, nTip - 0.012, nW, 0.04)
            return min(bridge, tip)
        }) { x, y, d in
            let ncx = noseCX(y)
            let nx = (x - g.cx) / g.rx * 0.9 + (x - ncx) / nW * 0.45, ny = (y - g.cy) / g.ry * 0.85
            var c = g.shadeSkin(g.skin, nx, ny, x, y)
            let sock = exp(-(pow(x - elx, 2) + 2.5 * pow(y - ely + 0.02, 2)) / 0.008)
                     + exp(-(pow(x - erx, 2) + 2.5 * pow(y - ery + 0.02, 2)) / 0.008)
            c *= 1 - 0.16 * min(1, sock)
            let dh = g.hairFrontSDF(x - L.x * 0.02, y + 0.03)
            c *= 1 - 0.32 * smoothstep(0.05, -0.01, dh)
            var ink: Float = 0
            for side in [-1, 1] as [Float] {
                let dn = ellipseSDF(x, y, g.noseX + side * nW * 0.45, nTip + 0.008, nW * 0.26, 0.011)
                let k = smoothstep(0.004, -0.004, dn)
                c *= 1 - 0.55 * k
                ink = max(ink, 0.75 * k)
            }
            // Tip highlight and soft shadow along the bottom edge.
            let hl = exp(-(pow(x - g.noseX + L.x * 0.02, 2) + pow(y - nTip + 0.035, 2)) / 0.0006)
            c += RGB(repeating: 0.07 * hl)
            if y > nTip - 0.02 { c *= 1 - 0.18 * smoothstep(-0.02, 0, d) }
            return Paint(c: c, a: 1, ink: ink)
        }

        // Eyes: sclera, iris with radial texture, pupil, catch light, lash line.
        for (cls, (ex, ey), s) in [(4, g.eyeL, g.scaleL), (5, g.eyeR, g.scaleR)] {
            let w = g.eyeW * s
            let ix = ex + g.yawS * 0.35, iy = ey + 0.006
            let ir = min(g.eyeH * 1.05, w * 0.48)
            cv.fill(cls, (ex - w - 0.02, ey - g.eyeH - 0.02, ex + w + 0.02, ey + g.eyeH + 0.02), head: true,
                    sdf: { x, y in g.eyeSDF(x, y, ex, ey, s) }) { x, y, d in
                let t = (x - ex) / w
                var c = RGB(0.93, 0.91, 0.88) * (1 - 0.25 * t * t)
                let di = ((x - ix) * (x - ix) + (y - iy) * (y - iy)).squareRoot()
                var ink: Float = 0
                if di < ir + g.eyeH * 0.1 {
                    let ang = atan2(y - iy, x - ix)
                    let streak = vnoise(ang * 9, di * 40, g.seed &+ 71)
                    let rr = di / ir
                    var ic = g.iris * (0.7 + 0.5 * streak) * (1.1 - 0.4 * rr)
                    if rr > 0.85 { ic *= 0.6 }
                    if rr < 0.45 { ic = RGB(0.03, 0.03, 0.035) }
                    c = mix(c, ic, clamp01((ir - di) / (ir * 0.12) + 0.5))
                    ink = 0.5 * max(0, 1 - abs(di - ir) / 0.006) + (rr < 0.45 ? 0.6 : 0)
                }
                // Catch light toward the light source.
                let hx = ix + L.x * ir * 0.45, hy = iy + L.y * ir * 0.45 - ir * 0.1
                let hd = ((x - hx) * (x - hx) + (y - hy) * (y - hy)).squareRoot()
                c = mix(c, RGB(1, 1, 1), smoothstep(ir * 0.22, ir * 0.1, hd))
                // Upper lid shadow and lash line.
                let upper = y < ey
                if upper { c *= 0.78 + 0.22 * smoothstep(-0.001, -g.eyeH * 0.6, d) }
                let lash = upper ? smoothstep(-0.012, -0.003, d) : 0
                c = mix(c, RGB(0.06, 0.04, 0.04), lash * 0.9)
                return Paint(c: c, a: 1, ink: max(ink, lash * 0.9))
            }
        }

        // Eyebrows: arched strokes tapering outward, with hair texture.
        for (cls, side) in [(6, Float(-1)), (7, Float(1))] {
            let bcx = g.cx + side * (g.eyeDX + 0.012) + g.yawS
            let by = g.browY
            cv.fill(cls, (bcx - g.browLen - 0.03, by - 0.08, bcx + g.browLen + 0.03, by + 0.05), head: true, sdf: { x, y in
                let t = (x - bcx) / g.browLen
                let outer = clamp01(side * t * 0.5 + 0.5)
                let cyv = by - g.browArch * (1 - t * t) + 0.012 * outer
                let th = g.browThick * (1.15 - 0.6 * outer)
                return max(abs(y - cyv) - th, abs(x - bcx) - g.browLen)
            }) { x, y, _ in
                let hairs = vnoise(x * 150, y * 30, g.seed &+ 81)
                return Paint(c: g.browC * (0.75 + 0.5 * hairs), a: 0.95, ink: 0.55)
            }
        }

        // Mouth: interior (and teeth when grinning), then upper and lower lip.
        if g.open > 0 {
            cv.fill(10, (g.mouthX - g.mouthW - 0.02, g.mouthY - 0.08, g.mouthX + g.mouthW + 0.02, g.mouthY + 0.08), head: true, sdf: { x, y in
                let (ml, ho, t) = g.mouthLine(x)
                return max(max(abs(y - ml) - ho, (abs(t) - 1) * g.mouthW), -0.0)
            }) { x, y, _ in
                let (ml, ho, _) = g.mouthLine(x)
                var c = RGB(0.32, 0.08, 0.09)
                if a.expression == .grinning && y < ml - ho + ho * 1.1 {
                    let gap = max(0, 1 - abs(sin((x - g.mouthX) / 0.028 * .pi)) * 6)
                    c = RGB(0.93, 0.9, 0.84) * (0.85 - 0.25 * gap)
                }
                return Paint(c: c * (0.85 + 0.15 * smoothstep(ml + ho, ml - ho, y)), a: 1, ink: 0)
            }
        }
        let bowSeed = Float(g.seed & 3) * 0.1
        cv.fill(11, (g.mouthX - g.mouthW - 0.02, g.mouthY - 0.09, g.mouthX + g.mouthW + 0.02, g.mouthY + 0.02), head: true, sdf: { x, y in
            let (ml, ho, t) = g.mouthLine(x)
            let tt = min(1, t * t)
            let bow = 1 - (0.3 + bowSeed) * exp(-t * t * 40)
            let top = ml - ho - g.upperLip * (1 - tt) * bow - 0.002
            return max(max(top - y, y - (ml - ho)), (abs(t) - 1) * g.mouthW)
        }) { x, y, _ in
            let shade = g.shadeSkin(g.lip, (x - g.mouthX) / g.rx, 0.55, x, y)
            return Paint(c: shade * 0.88, a: 1, ink: 0)
        }
        cv.fill(12, (g.mouthX - g.mouthW - 0.02, g.mouthY - 0.06, g.mouthX + g.mouthW + 0.02, g.mouthY + 0.08), head: true, sdf: { x, y in
            let (ml, ho, t) = g.mouthLine(x)
            let tt = min(1, t * t)
            let bot = ml + ho + g.lowerLip * pow(1 - tt, 0.8)
            return max(max((ml + ho) - y, y - bot), (abs(t) - 1) * g.mouthW)
        }) { x, y, _ in
            let (ml, ho, _) = g.mouthLine(x)
            var c = g.shadeSkin(g.lip, (x - g.mouthX) / g.rx, 0.3, x, y)
            let hl = exp(-(pow((x - g.mouthX) / (g.mouthW * 0.4), 2) + pow((y - ml - ho - g.lowerLip * 0.4) / 0.01, 2)))
            c += RGB(repeating: 0.1 * hl)
            return Paint(c: c, a: 1, ink: 0)
        }
        // Lip parting line (sketch and image), drawn as a thin stroke.
        cv.fill(-1, (g.mouthX - g.mouthW - 0.02, g.mouthY - 0.06, g.mouthX + g.mouthW + 0.02, g.mouthY + 0.06), head: true, sdf: { x, y in
            let (ml, ho, t) = g.mouthLine(x)
            return max(abs(y - ml) - max(ho, 0.003), (abs(t) - 1.02) * g.mouthW)
        }) { _, _, _ in Paint(c: RGB(0.25, 0.1, 0.1), a: g.open > 0 ? 0 : 0.7, ink: 0.7) }

        if a.facialHair == .mustache || a.facialHair == .beard {
            cv.fill(-1, (g.mouthX - g.mouthW - 0.05, g.noseTip - 0.02, g.mouthX + g.mouthW + 0.05, g.mouthY + 0.01), head: true, sdf: { x, y in
                let (ml, ho, t) = g.mouthLine(x)
                let tt = min(1, t * t)
                let lipTop = ml - ho - g.upperLip * (1 - tt)
                let fuzz = 0.01 * (vnoise(x * 80, y * 80, g.seed &+ 91) - 0.5)
                return max(max(y - (lipTop + 0.008 + 0.01 * tt), (lipTop - 0.04 + 0.01 * tt) - y), (abs(t) - 1.12) * g.mouthW) + fuzz
            }) { x, y, _ in
                var p = g.hairPaint(x, y, false)
                p.c *= 0.8 + 0.2 * vnoise(x * 140, y * 30, g.seed &+ 92)
                p.ink = 0.35
                return p
            }
        }

        // Front hair: cap over the crown, fringe or side curtains; bald heads keep a side fringe.
        cv.fill(13, (g.cx - g.rx - 0.2, g.cy - g.ry - 0.2, g.cx + g.rx + 0.2, g.cy + g.ry), head: true,
                sdf: { x, y in g.hairFrontSDF(x, y) + 0.006 * (vnoise(x * 60, y * 60, g.seed &+ 3) - 0.5) }) { x, y, _ in
            g.hairPaint(x, y, false)
        }

        if a.eyeglasses {
            let gh = max(g.eyeH * 2.1, 0.075), gy = g.eyeY + 0.008
            for (ex, _) in [g.eyeL, g.eyeR] {
                let gw = g.eyeW * 1.32
                cv.fill(-1, (ex - gw - 0.02, gy - gh - 0.02, ex + gw + 0.02, gy + gh + 0.02), head: true,
                        sdf: { x, y in roundBoxSDF(x, y, ex, gy, gw, gh, g.roundGlasses ? gh : 0.03) }) { x, y, _ in
                    let streak = max(0, 1 - abs((x - ex) + (y - gy) * 0.8 + 0.02) / 0.01)
                    return Paint(c: RGB(0.85, 0.92, 1.0), a: 0.12 + 0.25 * streak, ink: 0)
                }
            }
            let th: Float = 0.011
            let (lx, _) = g.eyeL, (rx2, _) = g.eyeR
            let gw = g.eyeW * 1.32
            cv.fill(3, (g.cx - g.rx - 0.05, gy - gh - 0.04, g.cx + g.rx + 0.05, gy + gh + 0.04), head: true, sdf: { x, y in
                let r = g.roundGlasses ? gh : 0.03
                let ringL = abs(roundBoxSDF(x, y, lx, gy, gw, gh, r)) - th
                let ringR = abs(roundBoxSDF(x, y, rx2, gy, gw, gh, r)) - th
                let bridge = capsuleSDF(x, y, lx + gw, gy - gh * 0.35, rx2 - gw, gy - gh * 0.35, th * 0.8)
                let armL = capsuleSDF(x, y, lx - gw, gy - gh * 0.5, g.cx - g.faceRX(gy) + 0.005, gy - gh * 0.6, th * 0.7)
                let armR = capsuleSDF(x, y, rx2 + gw, gy - gh * 0.5, g.cx + g.faceRX(gy) - 0.005, gy - gh * 0.6, th * 0.7)
                return min(min(ringL, ringR), min(bridge, min(armL, armR)))
            }) { x, y, _ in
                let hl = 0.2 * vnoise(x * 50, y * 50, g.seed &+ 101)
                return Paint(c: g.frameC * (0.9 + hl) + RGB(repeating: hl * 0.3), a: 1, ink: 0.9)
            }
        }

        if a.hat {
            let band = g.cy - g.ry * 0.42
            cv.fill(14, (g.cx - g.rx - 0.35, g.cy - g.ry - 0.4, g.cx + g.rx + 0.35, band + 0.08), head: true, sdf: { x, y in
                let crown = max(ellipseSDF(x, y, g.cx, band, g.rx + g.hairVol + 0.03, g.ry * 0.78 + g.hairVol), y - band)
                if !g.hatBrim { return max(crown, y - band - 0.03) }
                let brim = ellipseSDF(x, y, g.cx, band + 0.01, g.rx * 1.55, 0.045)
                return min(crown, brim)
            }) { x, y, _ in
                let nx = (x - g.cx) / (g.rx * 1.2), ny = (y - band) / (g.ry * 0.8)
                let nz = max(0.1, 1 - nx * nx - ny * ny).squareRoot()
                let diff = max(0, nx * L.x + ny * L.y + nz * L.z)
                var c = g.hatC * (0.5 + 0.6 * diff) * (0.9 + 0.15 * fbm(x, y, 30, g.seed &+ 111))
                let stripe = abs(y - (band - 0.05)) < 0.025 && ellipseSDF(x, y, g.cx, band + 0.01, g.rx * 1.55, 0.045) > 0
                if stripe { c *= 0.55 }
                return Paint(c: c, a: 1, ink: stripe ? 0.4 : 0)
            }
        }
    }
}
