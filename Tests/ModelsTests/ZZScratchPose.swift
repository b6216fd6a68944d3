import Foundation
import SynthFaces
import Testing
@testable import Models
import TensorCore

struct ZZScratchPose {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SCRATCH"] != nil)) func poseReadings() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let net = try AttributeNet.load(root + "/Models/attributes.safetensors")
        let n = 400
        var samples: [FaceSample] = []
        for i in 0..<n { samples += try SynthFaces.samples(seed: 0, indices: (try SynthFaces.Split.test.index(i))..<(try SynthFaces.Split.test.index(i) + 1), size: 64) }
        let x = try SynthFaces.imageTensor(samples)
        func blur(_ t: Tensor, passes: Int) -> Tensor {
            var s = t.scalars
            let S = 64, planes = s.count / (S * S)
            for _ in 0..<passes {
                var o = s
                for p in 0..<planes { for y in 0..<S { for xx in 0..<S {
                    let l = s[p*S*S + y*S + max(xx-1,0)], c = s[p*S*S + y*S + xx], r = s[p*S*S + y*S + min(xx+1,S-1)]
                    o[p*S*S + y*S + xx] = (l + 2*c + r) / 4 } } }
                s = o
                for p in 0..<planes { for y in 0..<S { for xx in 0..<S {
                    let u = o[p*S*S + max(y-1,0)*S + xx], c = o[p*S*S + y*S + xx], d = o[p*S*S + min(y+1,S-1)*S + xx]
                    s[p*S*S + y*S + xx] = (u + 2*c + d) / 4 } } }
            }
            return try! Tensor(shape: t.shape, scalars: s)
        }
        func stats(_ name: String, _ imgs: Tensor) throws {
            var yaw: [Float] = [], tilt: [Float] = []
            for b in stride(from: 0, to: imgs.shape[0], by: 100) {
                let m = min(100, imgs.shape[0] - b)
                let chunk = try Tensor(shape: [m, 3, 64, 64], scalars: Array(imgs.scalars[(b*3*64*64)..<((b+m)*3*64*64)]))
                for p in try net.predict(chunk) { yaw.append(p.values[1]); tilt.append(p.values[2]) }
            }
            func sd(_ v: [Float]) -> Float { let m = v.reduce(0,+)/Float(v.count); return (v.map{($0-m)*($0-m)}.reduce(0,+)/Float(v.count)).squareRoot() }
            print("SCRATCH \(name): yaw sd \(sd(yaw)) tilt sd \(sd(tilt)) names \(AttributeHeads.continuous.map { $0.name })")
        }
        func feats(_ imgs: Tensor) throws -> Tensor {
            var out: [Float] = [], d = 0
            for b in stride(from: 0, to: imgs.shape[0], by: 100) {
                let m = min(100, imgs.shape[0] - b)
                let chunk = try Tensor(shape: [m, 3, 64, 64], scalars: Array(imgs.scalars[(b*3*64*64)..<((b+m)*3*64*64)]))
                let f = try net.features(chunk); d = f.shape[1]; out += f.scalars
            }
            return try Tensor(shape: [imgs.shape[0], d], scalars: out)
        }
        var ref: [FaceSample] = []
        for i in 0..<n { ref += try SynthFaces.samples(seed: 0, indices: (try SynthFaces.Split.val.index(i))..<(try SynthFaces.Split.val.index(i) + 1), size: 64) }
        let fr = try feats(SynthFaces.imageTensor(ref)), fx = try feats(x)
        func report(_ name: String, _ f: Tensor) throws {
            let (ma, _) = GANMetrics.meanCov(fr), (mb, _) = GANMetrics.meanCov(f)
            let mean = zip(ma, mb).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            let pr = try GANMetrics.precisionRecall(real: fr, fake: f)
            print("SCRATCH FID \(name): \(try GANMetrics.fid(fr, f)) mean term \(mean) P \(pr.precision) R \(pr.recall)")
        }
        try report("renders", fx)
        try report("blur1", feats(blur(x, passes: 1)))
        try report("blur2", feats(blur(x, passes: 2)))
        try stats("renders", x)
        try stats("blur1", blur(x, passes: 1))
        try stats("blur3", blur(x, passes: 3))
        let truth = samples.map { $0.attributes.yaw }
        let m = truth.reduce(0,+)/Float(n)
        print("SCRATCH label yaw sd \((truth.map{($0-m)*($0-m)}.reduce(0,+)/Float(n)).squareRoot())")
        for path in [root + "/Models/synthfaces64.safetensors"] + (ProcessInfo.processInfo.environment["SCRATCH_G"].map { [$0] } ?? []) {
            let g = try StyleGAN2Generator.load(path: path)
            var imgs: [Float] = []
            for b in 0..<4 {
                let z = try Tensor.randomNormal([100, g.styleDim], seed: 99, stream: UInt64(b))
                imgs += try g.generate(z: z, noise: .random(seed: 7 &+ UInt64(b))).scalars
            }
            let gi = try Tensor(shape: [n, 3, 64, 64], scalars: imgs)
            try stats("G " + path, gi)
            try report("G " + path, feats(gi))
        }
    }
}
