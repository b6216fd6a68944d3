import Foundation
import Models
import TensorCore

/// `tedi bench gemm|conv` — GFLOPS of raw sgemm and of the conv kernels on StyleGAN2 shapes.
enum BenchCommand: Command {
    static let name = "bench"
    static let summary = "measure kernels (GFLOPS) and models"
    static let usage = """
        usage: tedi bench gemm [--threads N] [--shapes all|small] [--runs R]
               tedi bench conv [--threads N] [--shapes all|small] [--runs R]
               tedi bench generator [--size S] [--channel-multiplier M] [--batch B] [--threads N] [--runs R] [--backward]
               tedi bench optimize [--batch 1] [--steps 20] [--threads N]
               tedi bench train [--size 64] [--channel-divisor 4] [--channel-multiplier 1] [--style-dim 256] [--n-mlp 4]
                                [--batch 16] [--steps 16] [--threads N]

          gemm   raw sgemm GFLOPS on the GEMMs StyleGAN2's 3x3 convs produce: the whole layer
                 (M=Cout, K=Cin*9, N=H*W, N capped at \(KernelBenchmark.maxGemmColumns)) and one im2col tile
          conv   GFLOPS of conv2d and modulatedConv2d (batch 1) and their ratio to sgemm on the
                 equivalent GEMM (Winograd's fewer multiplies show above 1), and conv2d's time
                 forced to im2col + sgemm; the four timed in turn within each round
          --threads N   tedi's threads (OpenBLAS runs single-threaded inside them; default: TEDI_THREADS or all cores)
          --shapes      all (8 to 1024 px) or small (8 to 64 px); default all
          --runs R      timed runs per figure, the median is printed (default 5)
          generator     StyleGAN2 z -> image with random weights (style_dim 512, n_mlp 8, noise const;
                        defaults: size 256, cm 1, batch 1); --backward adds the gradient of sum(image)
                        with respect to w+; prints median and min ms and peak RSS (VmHWM).
                        tools/bench_generator.sh runs it beside tools/bench_torch.py.
          optimize      milliseconds per step of the optimize node's loop at the shipped generator's config
                        (random weights; pixel MSE + 0.5 × perceptual, Adam on w+), and of the image encoder's
                        forward; tools/bench_optimize_torch.py is the PyTorch counterpart of the step.
          train         seconds per `tedi train generator` step (D step, lazy R1 every 16 steps, G step,
                        EMA; batch 16 of SynthFaces renders) at a training config: --size 64
                        --channel-divisor 4 --channel-multiplier 1 --style-dim 256 --n-mlp 4 --batch 16;
                        times --steps 16 steps after 2 warm-up steps (one R1 step among them).
                        tools/bench_train_torch.py is the PyTorch counterpart (same config and step; it
                        reuses one random real batch where tedi renders SynthFaces on a background
                        thread, about 1% of a step at 64 px).
        """

    static func run(_ args: [String]) throws -> Int32 {
        if args.first == "generator" { return try benchGenerator(Array(args.dropFirst())) }
        if args.first == "optimize" { return try benchOptimize(Array(args.dropFirst())) }
        if args.first == "train" { return try benchTrain(Array(args.dropFirst())) }
        var a = Arguments(args)
        let threads = try a.int("threads", default: Threads.count)
        let runs = try a.int("runs", default: 5)
        let shapeSet = try a.option("shapes") ?? "all"
        let rest = a.positionals()
        try a.finish()
        guard rest.count == 1, let what = rest.first, what == "gemm" || what == "conv" else {
            throw UsageError("expected one of: gemm, conv")
        }
        guard (1...256).contains(threads) else { throw UsageError("--threads must be in 1...256, got \(threads)") }
        guard (1...100).contains(runs) else { throw UsageError("--runs must be in 1...100, got \(runs)") }
        let shapes: [ConvBenchShape]
        switch shapeSet {
        case "all": shapes = KernelBenchmark.styleGAN2Shapes
        case "small": shapes = KernelBenchmark.styleGAN2Shapes.filter { $0.size <= 64 }
        default: throw UsageError("--shapes must be all or small, got '\(shapeSet)'")
        }
        Threads.count = threads
        print("threads \(threads), \(Threads.blasDescription), median of \(runs) runs")
        if what == "gemm" { benchGemm(shapes, runs: runs) } else { try benchConv(shapes, runs: runs) }
        return 0
    }

    static func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : String(repeating: " ", count: n - s.count) + s
    }

    static func fmt(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }

    static func benchGemm(_ shapes: [ConvBenchShape], runs: Int) {
        print(pad("layer", 18) + pad("M", 6) + pad("K", 6) + pad("N", 8) + pad("GFLOPS", 9)
              + pad("tile N", 8) + pad("GFLOPS", 9))
        for s in shapes {
            let (m, k, n) = s.gemm
            let nFull = min(n, KernelBenchmark.maxGemmColumns)
            let tile = KernelBenchmark.tileColumns(s)
            let full = KernelBenchmark.sgemmGFLOPS(m: m, k: k, n: nFull, runs: runs)
            let tiled = KernelBenchmark.sgemmGFLOPS(m: m, k: k, n: tile, runs: runs)
            print(pad(s.label, 18) + pad("\(m)", 6) + pad("\(k)", 6) + pad("\(nFull)", 8) + pad(fmt(full), 9)
                  + pad("\(tile)", 8) + pad(fmt(tiled), 9))
        }
    }

    static func benchConv(_ shapes: [ConvBenchShape], runs: Int) throws {
        // GF: the direct conv's 2·Cout·Cin·9·H·W multiply-adds over the time taken, so Winograd's
        // fewer multiplies show as a ratio above 1.
        print(pad("layer", 18) + pad("sgemm GF", 10) + pad("conv2d GF", 11) + pad("ratio", 7)
              + pad("modconv GF", 12) + pad("ratio", 7) + pad("conv2d ms", 11) + pad("im2col ms", 11))
        var worst = Double.infinity
        for s in shapes {
            let (gemmSeconds, conv, mod, direct) = try KernelBenchmark.convSeconds(s, runs: runs)
            let (gemm, cg, mg) = (s.flops / gemmSeconds / 1e9, s.flops / conv / 1e9, s.flops / mod / 1e9)
            worst = min(worst, cg / gemm, mg / gemm)
            print(pad(s.label, 18) + pad(fmt(gemm), 10) + pad(fmt(cg), 11) + pad(fmt(cg / gemm, 2), 7)
                  + pad(fmt(mg), 12) + pad(fmt(mg / gemm, 2), 7) + pad(fmt(conv * 1000), 11) + pad(fmt(direct * 1000), 11))
        }
        print("lowest ratio \(fmt(worst, 2)) (target >= 0.70)")
        print("\n" + pad("blur [1,3,3,1]", 22) + pad("planes ms", 11) + pad("rows ms", 9) + pad("speed-up", 9))
        for size in [8, 16, 32, 64] {
            let (byPlanes, byRows) = try KernelBenchmark.blurSeconds(size: size, planes: 1024, runs: runs)
            print(pad("\(size)² × 1024 planes", 22) + pad(fmt(byPlanes * 1000, 2), 11) + pad(fmt(byRows * 1000, 2), 9) + pad(fmt(byRows / byPlanes, 2), 9))
        }
    }
}

extension BenchCommand {
    /// `tedi bench generator`: wall time of a StyleGAN2 forward (and backward) pass and peak RSS.
    static func benchGenerator(_ args: [String]) throws -> Int32 {
        var a = Arguments(args)
        let size = try a.int("size", default: 256), cm = try a.int("channel-multiplier", default: 1)
        let batch = try a.int("batch", default: 1), runs = try a.int("runs", default: 5)
        let threads = try a.int("threads", default: Threads.count)
        let backward = a.flag("backward")
        try a.finish()
        guard (1...64).contains(batch) else { throw UsageError("--batch must be in 1...64, got \(batch)") }
        guard (1...256).contains(threads) else { throw UsageError("--threads must be in 1...256, got \(threads)") }
        guard (1...100).contains(runs) else { throw UsageError("--runs must be in 1...100, got \(runs)") }
        Threads.count = threads
        let config = try StyleGAN2Config(size: size, styleDim: 512, nMLP: 8, channelMultiplier: cm)
        let g = try StyleGAN2Generator.random(config: config, seed: 1)
        let z = try Tensor.randomNormal([batch, 512], seed: 2)
        var times: [Double] = []
        for i in 0...runs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            if backward {
                let tape = Tape()
                let wplus = tape.watch(try g.broadcastLatent(g.mapping(z)))
                let out = try g.synthesis(wplus, noise: .const)
                _ = try tape.gradients(of: out, wrt: [wplus])
            } else {
                _ = try g.generate(z: z, noise: .const)
            }
            if i > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6) }   // run 0 warms up
        }
        times.sort()
        let rss = peakRSSMiB()
        print("tedi generator size \(size) cm \(cm) batch \(batch) threads \(threads) (\(Threads.blasDescription)) \(backward ? "forward+backward" : "forward"): "
              + "median \(fmt(times[times.count / 2])) ms, min \(fmt(times[0])) ms, peak RSS \(fmt(rss)) MiB (\(runs) runs)")
        print("RESULT median_ms=\(fmt(times[times.count / 2], 2)) min_ms=\(fmt(times[0], 2)) peak_rss_mib=\(fmt(rss))")
        return 0
    }

    /// `tedi bench train`: seconds per GAN training step at a `tedi train generator` config.
    static func benchTrain(_ args: [String]) throws -> Int32 {
        var a = Arguments(args)
        let size = try a.int("size", default: 64), cd = try a.int("channel-divisor", default: 4)
        let cm = try a.int("channel-multiplier", default: 1), sd = try a.int("style-dim", default: 256)
        let nMLP = try a.int("n-mlp", default: 4), batch = try a.int("batch", default: 16)
        let steps = try a.int("steps", default: 16), threads = try a.int("threads", default: Threads.count)
        try a.finish()
        guard (1...1000).contains(steps) else { throw UsageError("--steps must be in 1...1000, got \(steps)") }
        guard (1...256).contains(threads) else { throw UsageError("--threads must be in 1...256, got \(threads)") }
        Threads.count = threads
        let gc = try StyleGAN2Config(size: size, styleDim: sd, nMLP: nMLP, channelMultiplier: cm, channelDivisor: cd)
        let trainer = try GANTrainer(generator: gc, discriminator: .init(matching: gc), options: .init(batch: batch))
        var times: [Double] = []
        for i in 0..<(steps + 2) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try trainer.trainStep()
            if i >= 2 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
        }
        let mean = times.reduce(0, +) / Double(times.count)
        let sorted = times.sorted()
        let chans = (2...size.trailingZeroBitCount).map { String(gc.channels(atResolution: 1 << $0)) }.joined(separator: "/")
        let rss = peakRSSMiB()
        print("tedi train step size \(size) channels \(chans) style_dim \(sd) n_mlp \(nMLP) batch \(batch) threads \(threads) (\(Threads.blasDescription)): "
              + "mean \(fmt(mean, 3)) s/step over \(steps) steps (R1 every 16 included), median \(fmt(sorted[sorted.count / 2], 3)) s, "
              + "min \(fmt(sorted[0], 3)) s, peak RSS \(fmt(rss)) MiB")
        print("RESULT mean_s=\(fmt(mean, 4)) median_s=\(fmt(sorted[sorted.count / 2], 4)) min_s=\(fmt(sorted[0], 4)) peak_rss_mib=\(fmt(rss))")
        return 0
    }

    /// `tedi bench optimize`: seconds per step of the optimize node's loop at the shipped
    /// generator's config (random weights): pixel MSE + 0.5 × perceptual, Adam lr 0.01 on w+.
    static func benchOptimize(_ args: [String]) throws -> Int32 {
        var a = Arguments(args)
        let batch = try a.int("batch", default: 1), steps = try a.int("steps", default: 20)
        let threads = try a.int("threads", default: Threads.count)
        try a.finish()
        guard (1...256).contains(batch), (1...1000).contains(steps), (1...256).contains(threads) else {
            throw UsageError("--batch must be in 1...256, --steps in 1...1000, --threads in 1...256")
        }
        Threads.count = threads
        let gc = try StyleGAN2Config(size: 64, styleDim: 256, nMLP: 4, channelMultiplier: 2, channelDivisor: 8)
        let g = try StyleGAN2Generator.random(config: gc, seed: 1)
        let net = try AttributeNet(config: .init(), seed: 2)
        let w0 = try g.broadcastLatent(g.mapping(Tensor.randomNormal([batch, 256], seed: 3)))
        let target = try g.synthesis(g.broadcastLatent(g.mapping(Tensor.randomNormal([batch, 256], seed: 4))), noise: .const)
        let opt = try LatentOptimizer(options: .init(steps: steps + 2, learningRate: 0.01, pixel: 1, feature: 0.5),
                                      generator: g, initial: w0, target: target, attributes: net)
        var state = opt.start()
        var times: [Double] = []
        for i in 0..<(steps + 2) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try opt.step(&state)
            if i >= 2 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6) }
        }
        times.sort()
        // The encoder's forward at the same batch (what encode.image costs per call).
        let encoder = try LatentEncoder(config: .init(), latentAverage: g.meanLatent(count: 64, seed: 0), seed: 5)
        var encTimes: [Double] = []
        for i in 0..<(steps + 2) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try encoder(target)
            if i >= 2 { encTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6) }
        }
        encTimes.sort()
        print("tedi encoder forward batch \(batch): median \(fmt(encTimes[encTimes.count / 2])) ms")
        let med = times[times.count / 2], rss = peakRSSMiB()
        print("tedi optimize step batch \(batch) threads \(threads) (\(Threads.blasDescription)): median \(fmt(med)) ms, min \(fmt(times[0])) ms, peak RSS \(fmt(rss)) MiB")
        print("RESULT median_ms=\(fmt(med, 2)) min_ms=\(fmt(times[0], 2)) peak_rss_mib=\(fmt(rss))")
        return 0
    }

    /// Peak resident set size (VmHWM of /proc/self/status) in MiB, or 0 where unavailable.
    static func peakRSSMiB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
            return kb / 1024
        }
        return 0
    }
}
