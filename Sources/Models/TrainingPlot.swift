import Foundation
import Imaging

/// Draws training curves into an RGB image: one panel per series group, log-scaled y when
/// asked, light grid lines with numeric labels (a built-in 3×5 pixel font), raw points in a pale
/// colour and a moving average on top; under each panel "STEP" and the series names in their colours.
public enum TrainingPlot {
    /// One curve: points (x, y) and an RGB colour.
    public struct Series {
        public var name: String
        public var points: [(Double, Double)]
        public var color: (UInt8, UInt8, UInt8)
        public init(name: String, points: [(Double, Double)], color: (UInt8, UInt8, UInt8)) {
            self.name = name; self.points = points; self.color = color
        }
    }

    /// One panel of the figure.
    public struct Panel {
        public var series: [Series]
        public var logY: Bool
        public init(series: [Series], logY: Bool) { self.series = series; self.logY = logY }
    }

    /// Renders panels stacked vertically, each `width`×`panelHeight` pixels.
    public static func render(_ panels: [Panel], width: Int = 640, panelHeight: Int = 240) throws -> Image {
        let w = max(width, 160), ph = max(panelHeight, 80)
        var canvas = Canvas(width: w, height: ph * max(panels.count, 1))
        for (i, p) in panels.enumerated() { draw(p, into: &canvas, top: i * ph, height: ph) }
        return try Image(width: canvas.width, height: canvas.height, channels: 3, pixels: canvas.pixels)
    }

    struct Canvas {
        let width: Int, height: Int
        var pixels: [UInt8]
        init(width: Int, height: Int) {
            self.width = width; self.height = height
            pixels = [UInt8](repeating: 255, count: width * height * 3)
        }
        mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            let i = (y * width + x) * 3
            pixels[i] = c.0; pixels[i + 1] = c.1; pixels[i + 2] = c.2
        }
        mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8)) {
            let n = max(Swift.abs(x1 - x0), Swift.abs(y1 - y0), 1)
            for k in 0...n {
                set(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n, c)
            }
        }
        /// Text in the 3×5 font, scaled ×`s`, top-left at (x, y).
        mutating func text(_ str: String, _ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8), scale s: Int = 2) {
            var cx = x
            for ch in str {
                if let rows = TrainingPlot.glyphs[ch] ?? TrainingPlot.glyphs[Character(ch.uppercased())] {
                    for (ry, bits) in rows.enumerated() {
                        for rx in 0..<3 where bits & (4 >> rx) != 0 {
                            for dy in 0..<s { for dx in 0..<s { set(cx + rx * s + dx, y + ry * s + dy, c) } }
                        }
                    }
                }
                cx += 4 * s
            }
        }
    }

    /// 3×5 glyphs, one 3-bit row each (bit 2 is the left column).
    static let glyphs: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7],
        "4": [5, 5, 7, 1, 1], "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1],
        "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7], ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0],
        "e": [0, 7, 7, 4, 7], "k": [4, 5, 6, 5, 5], " ": [0, 0, 0, 0, 0],
        "A": [2, 5, 7, 5, 5], "B": [6, 5, 6, 5, 6], "C": [7, 4, 4, 4, 7], "D": [6, 5, 5, 5, 6], "E": [7, 4, 6, 4, 7],
        "F": [7, 4, 6, 4, 4], "G": [7, 4, 5, 5, 7], "H": [5, 5, 7, 5, 5], "I": [7, 2, 2, 2, 7], "J": [1, 1, 1, 5, 7],
        "K": [5, 5, 6, 5, 5], "L": [4, 4, 4, 4, 7], "M": [5, 7, 7, 5, 5], "N": [6, 5, 5, 5, 5], "O": [7, 5, 5, 5, 7],
        "P": [7, 5, 7, 4, 4], "Q": [7, 5, 5, 7, 1], "R": [6, 5, 6, 5, 5], "S": [7, 4, 7, 1, 7], "T": [7, 2, 2, 2, 2],
        "U": [5, 5, 5, 5, 7], "V": [5, 5, 5, 5, 2], "W": [5, 5, 7, 7, 5], "X": [5, 5, 2, 5, 5], "Y": [5, 5, 2, 2, 2],
        "Z": [7, 1, 2, 4, 7], "(": [1, 2, 2, 2, 1], ")": [4, 2, 2, 2, 4], "/": [1, 1, 2, 4, 4], "_": [0, 0, 0, 0, 7],
        ":": [0, 2, 0, 2, 0], "%": [5, 1, 2, 4, 5],
    ]

    /// A tick label. `step` (the distance between neighbouring ticks) sets the decimals, so close
    /// ticks such as 1.064 and 1.081 do not both read 1.1.
    static func label(_ v: Double, step: Double? = nil) -> String {
        if v == 0 { return "0" }
        let a = Swift.abs(v)
        if a >= 1e4 || a < 1e-3 { return String(format: "%.0e", v).replacingOccurrences(of: "+", with: "") }
        if let step, step > 0, step.isFinite {
            let decimals = Swift.min(Swift.max(-Int(floor(log10(step))), 0), 4)
            let s = String(format: "%.\(decimals)f", v)
            return a < 1 ? s.replacingOccurrences(of: "0.", with: ".") : s
        }
        if a >= 100 { return String(format: "%.0f", v) }
        if a >= 1 { return String(format: "%.2g", v) }
        return String(format: "%.3f", v).replacingOccurrences(of: "0.", with: ".")
    }

    static func draw(_ p: Panel, into cv: inout Canvas, top: Int, height: Int) {
        let left = 56, right = cv.width - 12, y0 = top + 10, y1 = top + height - 24
        let all = p.series.flatMap(\.points).filter { $0.0.isFinite && $0.1.isFinite && (!p.logY || $0.1 > 0) }
        let axis: (UInt8, UInt8, UInt8) = (60, 60, 60), grid: (UInt8, UInt8, UInt8) = (225, 225, 225)
        cv.line(left, y0, left, y1, axis); cv.line(left, y1, right, y1, axis)
        guard let xmin = all.map(\.0).min(), let xmax = all.map(\.0).max(),
              var ymin = all.map(\.1).min(), var ymax = all.map(\.1).max() else { return }
        func ty(_ v: Double) -> Double { p.logY ? log10(v) : v }
        if p.logY { ymin = pow(10, floor(log10(ymin))); ymax = pow(10, ceil(log10(ymax))) }
        if ymax <= ymin { ymax = ymin + (p.logY ? ymin * 9 : 1) }
        let (a, b) = (ty(ymin), ty(ymax))
        let xr = max(xmax - xmin, 1)
        func px(_ x: Double) -> Int { left + Int(Double(right - left) * (x - xmin) / xr) }
        func py(_ y: Double) -> Int { y1 - Int(Double(y1 - y0) * (ty(y) - a) / (b - a)) }
        // Horizontal grid: decades on a log axis, 4 even steps otherwise.
        var ticks: [Double] = []
        if p.logY { var t = ymin; while t <= ymax * 1.0001 { ticks.append(t); t *= 10 } }
        else { ticks = (0...4).map { ymin + (ymax - ymin) * Double($0) / 4 } }
        for t in ticks {
            let y = py(t)
            cv.line(left + 1, y, right, y, grid)
            cv.text(label(t, step: p.logY ? nil : (ymax - ymin) / 4), 2, max(top, y - 5), axis)
        }
        cv.text(label(xmin), left, y1 + 6, axis)
        let xl = label(xmax)
        cv.text(xl, right - xl.count * 8, y1 + 6, axis)
        // Under the axis, centred: the x label, then each series' name in its colour.
        let legend = [("STEP", axis)] + p.series.map { ($0.name.uppercased(), $0.color) }
        let legendWidth = legend.map { $0.0.count * 8 }.reduce(0, +) + (legend.count - 1) * 16
        var lx = (left + right - legendWidth) / 2
        for (name, color) in legend {
            cv.text(name, lx, y1 + 6, color)
            lx += name.count * 8 + 16
        }
        for s in p.series {
            let pts = s.points.filter { $0.0.isFinite && $0.1.isFinite && (!p.logY || $0.1 > 0) }
            let pale = (UInt8(255 - (255 - Int(s.color.0)) / 4), UInt8(255 - (255 - Int(s.color.1)) / 4), UInt8(255 - (255 - Int(s.color.2)) / 4))
            for (x, y) in pts { cv.set(px(x), py(y), pale) }
            // Moving average over ~1/50 of the run, in the transformed space.
            let k = max(1, pts.count / 50)
            var prev: (Int, Int)?
            var acc = 0.0
            for (i, (x, y)) in pts.enumerated() {
                acc += ty(y)
                if i >= k { acc -= ty(pts[i - k].1) }
                let m = acc / Double(min(i + 1, k))
                let v = p.logY ? pow(10, m) : m
                let cur = (px(x), py(v))
                if let prev { cv.line(prev.0, prev.1, cur.0, cur.1, s.color) }
                prev = cur
            }
        }
    }
}

extension TrainingPlot {
    /// loss.png of a trainer that logs a loss and a share (log columns 2 and 3): the loss on a log
    /// scale above the share; nothing when the log is empty.
    static func writeLossAndShare(_ log: TrainingLog, loss: String, share: String, to path: String) throws {
        guard !log.rows.isEmpty else { return }
        try PNG.write(try render([
            .init(series: [.init(name: loss, points: log.rows.map { ($0[0], $0[2]) }, color: (200, 40, 40))], logY: true),
            .init(series: [.init(name: share, points: log.rows.map { ($0[0], $0[3]) }, color: (30, 90, 200))], logY: false),
        ]), to: path)
    }
}

extension TrainingStepReport {
    /// The report of a step that measured a loss and a share: "loss 0.1234  <share> 56.7%", failing on a non-finite loss.
    static func lossAndShare(_ loss: Float, _ share: Float, shareName: String, step: Int) -> TrainingStepReport {
        TrainingStepReport(values: [Double(loss), Double(share)],
                           progress: String(format: "loss %.4f  %@ %.1f%%", loss, shareName, share * 100),
                           failure: loss.isFinite ? nil : "the loss became \(loss) at step \(step); lower --lr and start again")
    }
}

/// What a trainer's files record of the run: its options, the steps taken and the seconds spent.
func trainingProvenance(_ options: [String: String], step: Int, seconds: Double) -> [String: String] {
    var p = options
    p["train.steps"] = String(step)
    p["train.seconds"] = String(format: "%.0f", seconds)
    return p
}
