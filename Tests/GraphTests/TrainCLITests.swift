import Foundation
import Models
import TensorCore
import Testing

/// `tedi train generator` and `tedi eval generator` through the real executable, on a tiny
/// config: the files a run writes, a resumed run equal byte for byte to an uninterrupted one,
/// and clear refusals.
@Suite(.enabled(if: tediBinary != nil, "the tedi executable was not built beside the tests"))
struct TrainCLITests {
    static let tiny = ["--size", "16", "--channel-divisor", "128", "--style-dim", "16", "--n-mlp", "2", "--batch", "4"]

    @Test func tinyTrainingWritesItsFilesAndResumesByteIdentically() throws {
        let dir = try TempDir("train-cli")
        let straight = try tedi(["train", "generator", "--out", "a", "--steps", "5"] + Self.tiny, in: dir.url)
        #expect(straight.code == 0, "\(straight.stderr)")
        #expect(straight.stdout.contains("stopped at step 5"), "\(straight.stdout)")
        for f in ["checkpoint.safetensors", "generator.safetensors", "log.csv", "loss.png", "samples.png", "mixing.png"] {
            #expect(FileManager.default.fileExists(atPath: dir.path("a/" + f)), "a/\(f) missing")
        }
        let log = try String(contentsOfFile: dir.path("a/log.csv"), encoding: .utf8).split(separator: "\n")
        #expect(log.first == "step,seconds,d_loss,g_loss,r1,real_score,fake_score,attr_kl,d_geometry,d_classes,g_classes" && log.count == 6, "\(log)")

        let first = try tedi(["train", "generator", "--out", "b", "--steps", "2"] + Self.tiny, in: dir.url)
        #expect(first.code == 0, "\(first.stderr)")
        let again = try tedi(["train", "generator", "--out", "b", "--steps", "2"] + Self.tiny, in: dir.url)
        #expect(again.code == 2 && again.stderr.contains("exists; add --resume"), "\(again.stderr)")
        let changed = try tedi(["train", "generator", "--out", "b", "--resume", "--steps", "5", "--size", "32"], in: dir.url)
        #expect(changed.code == 2 && changed.stderr.contains("takes the architecture and options from the checkpoint"), "\(changed.stderr)")
        let rest = try tedi(["train", "generator", "--out", "b", "--resume", "--steps", "5"], in: dir.url)
        #expect(rest.code == 0, "\(rest.stderr)")
        let ga = FileManager.default.contents(atPath: dir.path("a/generator.safetensors"))
        let gb = FileManager.default.contents(atPath: dir.path("b/generator.safetensors"))
        #expect(ga != nil && ga == gb, "the resumed run's EMA generator differs from the uninterrupted run's")

        // The attribute network reads 64 px: a 16 px run cannot use the balance term.
        let bal = try tedi(["train", "generator", "--out", "c", "--steps", "1", "--attr-balance", "1",
                            "--attributes", Self.repo.appendingPathComponent("Models/attributes.safetensors").path] + Self.tiny, in: dir.url)
        #expect(bal.code != 0 && bal.stderr.contains("64 px"), "\(bal.stderr)")
        // Nor can eval read its 16 px samples.
        let eval = try tedi(["eval", "generator", "--model", "a/generator.safetensors", "--count", "8",
                             "--attributes", Self.repo.appendingPathComponent("Models/attributes.safetensors").path], in: dir.url)
        #expect(eval.code == 1 && eval.stderr.contains("makes 16 px images"), "\(eval.stderr)")
    }

    /// A resumed run finds the attribute network it trained with (its path is in the checkpoint),
    /// whatever the working directory; the same network from another path is accepted.
    @Test func resumeFindsTheRecordedAttributeNetwork() throws {
        let dir = try TempDir("train-cli-balance")
        let net = Self.repo.appendingPathComponent("Models/attributes.safetensors").path
        let tiny64 = ["--size", "64", "--channel-divisor", "128", "--style-dim", "16", "--n-mlp", "2", "--batch", "4"]
        let first = try tedi(["train", "generator", "--out", "d", "--steps", "1", "--attr-balance", "1", "--attributes", net] + tiny64, in: dir.url)
        #expect(first.code == 0, "\(first.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("Models/attributes.safetensors")))
        let rest = try tedi(["train", "generator", "--out", "d", "--resume", "--steps", "2"], in: dir.url)
        #expect(rest.code == 0 && rest.stdout.contains("stopped at step 2"), "\(rest.stdout)\n\(rest.stderr)")
        let log = try String(contentsOfFile: dir.path("d/log.csv"), encoding: .utf8).split(separator: "\n")
        #expect(log.count == 3 && log.dropFirst().allSatisfy { $0.split(separator: ",").count == 11 && $0.split(separator: ",")[7] != "nan" }, "attr_kl missing: \(log)")
        // The same bytes under another path: the digest matches, so no switch is reported.
        try FileManager.default.createDirectory(atPath: dir.path("net"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: net, toPath: dir.path("net/a.safetensors"))
        let moved = try tedi(["train", "generator", "--out", "d", "--resume", "--steps", "3", "--attributes", "net/a.safetensors"], in: dir.url)
        #expect(moved.code == 0, "the same network from another path must be accepted: \(moved.stderr)")
    }

    /// Balanced real sampling is switched on, kept and off at resumes; each measurement prints a line.
    @Test func realBalanceSwitchesOnResume() throws {
        let dir = try TempDir("train-cli-realbalance")
        let net = Self.repo.appendingPathComponent("Models/attributes.safetensors").path
        let tiny64 = ["--size", "64", "--channel-divisor", "128", "--style-dim", "16", "--n-mlp", "2", "--batch", "4"]
        let bad = try tedi(["train", "generator", "--out", "e", "--steps", "1", "--real-balance", "-1", "--attributes", net] + tiny64, in: dir.url)
        #expect(bad.code == 2 && bad.stderr.contains("--real-balance expects a rate"), "\(bad.stderr)")
        let lone = try tedi(["train", "generator", "--out", "e", "--steps", "1", "--real-balance-every", "5"] + tiny64, in: dir.url)
        #expect(lone.code == 2 && lone.stderr.contains("only read with --real-balance"), "\(lone.stderr)")
        let first = try tedi(["train", "generator", "--out", "e", "--steps", "1"] + tiny64, in: dir.url)
        #expect(first.code == 0, "\(first.stderr)")
        let on = try tedi(["train", "generator", "--out", "e", "--resume", "--steps", "3", "--real-balance", "0.5",
                           "--real-balance-every", "1", "--attributes", net], in: dir.url)
        #expect(on.code == 0 && on.stdout.contains("balanced real sampling rate 0.0 → 0.5, every 1 steps, cap ×4.0 → ×4.0, from step 1"), "\(on.stdout)\n\(on.stderr)")
        #expect(on.stdout.contains("step 1 real balance:") && on.stdout.contains("step 2 real balance:") && on.stdout.contains("values under 50% of data; lowest generated/data: "), "\(on.stdout)")
        let kept = try tedi(["train", "generator", "--out", "e", "--resume", "--steps", "4"], in: dir.url)
        #expect(kept.code == 0 && kept.stdout.contains("step 3 real balance:") && !kept.stdout.contains("→"), "\(kept.stdout)\n\(kept.stderr)")
        let badCap = try tedi(["train", "generator", "--out", "e", "--resume", "--steps", "5", "--real-balance-cap", "0.5"], in: dir.url)
        #expect(badCap.code == 2 && badCap.stderr.contains("--real-balance-cap expects a factor in [1, 64]"), "\(badCap.stderr)")
        let cap = try tedi(["train", "generator", "--out", "e", "--resume", "--steps", "5", "--real-balance-cap", "16"], in: dir.url)
        #expect(cap.code == 0 && cap.stdout.contains("cap ×4.0 → ×16.0, from step 4") && cap.stdout.contains("step 4 real balance:"), "\(cap.stdout)\n\(cap.stderr)")
        let header = try Data(contentsOf: URL(fileURLWithPath: dir.path("e/checkpoint.safetensors"))).prefix(1 << 16)
        #expect(String(decoding: header, as: UTF8.self).contains("\"gan.real_balance_cap\":\"16.0\""), "the checkpoint records the cap")
        let off = try tedi(["train", "generator", "--out", "e", "--resume", "--steps", "6", "--real-balance", "0"], in: dir.url)
        #expect(off.code == 0 && off.stdout.contains("balanced real sampling off from step 5") && !off.stdout.contains("real balance:"),
                "\(off.stdout)\n\(off.stderr)")
    }

    /// SIGTERM (`kill`, `scancel`, a Slurm time limit) stops a run like Ctrl-C: it finishes the
    /// step, writes the checkpoint and exits 143; the checkpoint resumes.
    @Test func sigtermCheckpointsAndResumes() throws {
        let dir = try TempDir("train-cli-term")
        let bin = tediBinary!.path
        let args = (["train", "generator", "--out", "t", "--minutes", "5"] + Self.tiny).map { "'\($0)'" }.joined(separator: " ")
        // Signal once the log has two steps (the handler is installed before the first step).
        let script = """
            '\(bin)' \(args) > out.txt 2> err.txt & pid=$!
            i=0; while [ $i -lt 600 ] && [ "$(wc -l < t/log.csv 2>/dev/null || echo 0)" -lt 3 ]; do sleep 0.1; i=$((i+1)); done
            kill -TERM $pid; wait $pid; echo "code $?"
            """
        let r = try runTool("/bin/sh", ["-c", script], in: dir.url)
        let out = (try? String(contentsOfFile: dir.path("out.txt"), encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: dir.path("err.txt"), encoding: .utf8)) ?? ""
        #expect(r.stdout.contains("code 143"), "\(r.stdout) \(r.stderr) \(err)")
        #expect(out.contains("interrupted at step"), "\(out)\n\(err)")
        let steps = try String(contentsOfFile: dir.path("t/log.csv"), encoding: .utf8).split(separator: "\n").count - 1
        let rest = try tedi(["train", "generator", "--out", "t", "--resume", "--steps", String(steps + 1)], in: dir.url)
        #expect(rest.code == 0 && rest.stdout.contains("stopped at step \(steps + 1)"), "\(rest.stdout)\n\(rest.stderr)")
    }

    /// A new tiny run with option `bad` is refused with `message` (exit 2); then one of `steps` steps starts in `out`.
    func refuseThenStart(in dir: TempDir, out: String, steps: Int, bad: [String], message: String) throws {
        let refused = try tedi(["train", "generator", "--out", out, "--steps", "1"] + bad + Self.tiny, in: dir.url)
        #expect(refused.code == 2 && refused.stderr.contains(message), "\(refused.stderr)")
        let first = try tedi(["train", "generator", "--out", out, "--steps", String(steps)] + Self.tiny, in: dir.url)
        #expect(first.code == 0, "\(first.stderr)")
    }

    /// D's geometry head: on for a new run or at a resume, logged as d_geometry, and refused outside its range.
    @Test func dGeometryHeadLogsAndSwitchesOnResume() throws {
        let dir = try TempDir("train-cli-geometry")
        try refuseThenStart(in: dir, out: "g", steps: 2, bad: ["--d-geometry", "-2"], message: "--d-geometry expects a weight in [0, 100]")
        let on = try tedi(["train", "generator", "--out", "g", "--resume", "--steps", "4", "--d-geometry", "1"], in: dir.url)
        #expect(on.code == 0 && on.stdout.contains("D geometry head 0.0 → 1.0 from step 2"), "\(on.stdout)\n\(on.stderr)")
        let rows = try String(contentsOfFile: dir.path("g/log.csv"), encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",") }
        #expect(rows[0][8] == "d_geometry" && rows.count == 5, "\(rows)")
        #expect(rows[1][8] == "nan" && rows[2][8] == "nan" && Double(rows[3][8])!.isFinite && Double(rows[4][8])! > 0, "\(rows)")
        let kept = try tedi(["train", "generator", "--out", "g", "--resume", "--steps", "5"], in: dir.url)
        #expect(kept.code == 0 && !kept.stdout.contains("geometry head"), "\(kept.stdout)")
        let last = try String(contentsOfFile: dir.path("g/log.csv"), encoding: .utf8).split(separator: "\n").last!.split(separator: ",")
        #expect(Double(last[8])!.isFinite, "the weight stays on at a resume: \(last)")
        let attr = try tedi(["train", "attributes", "--out", "a", "--steps", "1", "--d-geometry", "1"], in: dir.url)
        #expect(attr.code == 2 && attr.stderr.contains("for `tedi train generator`"), "\(attr.stderr)")
    }

    /// `--condition` turns a run conditioned at a resume (once, and says so); the generator it
    /// writes says so in its metadata; a style_dim below the 22 attribute draws is refused.
    @Test func conditionTurnsOnAtResume() throws {
        let dir = try TempDir("train-cli-condition")
        let small = try tedi(["train", "generator", "--out", "s", "--steps", "1", "--condition"] + Self.tiny, in: dir.url)
        #expect(small.code != 0 && small.stderr.contains("style_dim must be at least 22"), "\(small.stderr)")
        let wide = ["--size", "16", "--channel-divisor", "128", "--style-dim", "32", "--n-mlp", "2", "--batch", "4"]
        let first = try tedi(["train", "generator", "--out", "c", "--steps", "2"] + wide, in: dir.url)
        #expect(first.code == 0, "\(first.stderr)")
        let on = try tedi(["train", "generator", "--out", "c", "--resume", "--steps", "4", "--condition"], in: dir.url)
        #expect(on.code == 0 && on.stdout.contains("conditioning on SynthFaces attributes from step 2"), "\(on.stdout)\n\(on.stderr)")
        let header = try String(decoding: Data(contentsOf: dir.url.appendingPathComponent("c/generator.safetensors")).prefix(4096), as: UTF8.self)
        #expect(header.contains("\"conditioning\":\"synthfaces\"") && header.contains("\"cond.weight\""), "\(header.prefix(300))")
        let again = try tedi(["train", "generator", "--out", "c", "--resume", "--steps", "5", "--condition"], in: dir.url)
        #expect(again.code == 0 && !again.stdout.contains("conditioning on"), "\(again.stdout)")
        let plain = try tedi(["train", "generator", "--out", "p", "--steps", "1", "--condition-classifier", "1"] + wide, in: dir.url)
        #expect(plain.code == 2 && plain.stderr.contains("needs a conditioned run: add --condition"), "\(plain.stderr)")
        let cls = try tedi(["train", "generator", "--out", "c", "--resume", "--steps", "6", "--condition-classifier", "0.5"], in: dir.url)
        #expect(cls.code == 0 && cls.stdout.contains("D attribute classifier 0.0 → 0.5 from step 5"), "\(cls.stdout)\n\(cls.stderr)")
        let last = try String(contentsOfFile: dir.path("c/log.csv"), encoding: .utf8).split(separator: "\n").last!.split(separator: ",")
        #expect(last.count == 11 && Double(last[9])!.isFinite && Double(last[10])!.isFinite, "\(last)")
        let attr = try tedi(["train", "attributes", "--out", "a", "--steps", "1", "--condition"], in: dir.url)
        #expect(attr.code == 2 && attr.stderr.contains("for `tedi train generator`"), "\(attr.stderr)")
    }

    /// A resumed run may change the EMA's half-life (and says so, and the checkpoint records it); a
    /// non-positive one and the other architecture options stay refused at a resume.
    @Test func emaHalfLifeChangesOnResume() throws {
        let dir = try TempDir("train-cli-ema")
        let first = try tedi(["train", "generator", "--out", "e", "--steps", "1"] + Self.tiny, in: dir.url)
        #expect(first.code == 0, "\(first.stderr)")
        let changed = try tedi(["train", "generator", "--out", "e", "--resume", "--steps", "2", "--ema-kimg", "2.5"], in: dir.url)
        #expect(changed.code == 0 && changed.stdout.contains("EMA half-life 10.0 → 2.5 kimg from step 1"), "\(changed.stdout)\n\(changed.stderr)")
        let header = try String(decoding: Data(contentsOf: dir.url.appendingPathComponent("e/checkpoint.safetensors")).prefix(200_000), as: UTF8.self)
        #expect(header.contains("\"gan.ema_half_life\":\"2500.0\""), "the checkpoint records the new half-life")
        let same = try tedi(["train", "generator", "--out", "e", "--resume", "--steps", "3", "--ema-kimg", "2.5"], in: dir.url)
        #expect(same.code == 0 && !same.stdout.contains("EMA half-life"), "\(same.stdout)")
        let kept = try tedi(["train", "generator", "--out", "e", "--resume", "--steps", "4"], in: dir.url)
        let after = try String(decoding: Data(contentsOf: dir.url.appendingPathComponent("e/checkpoint.safetensors")).prefix(200_000), as: UTF8.self)
        #expect(kept.code == 0 && !kept.stdout.contains("EMA half-life") && after.contains("\"gan.ema_half_life\":\"2500.0\""),
                "a resume without --ema-kimg keeps the half-life: \(kept.stdout)")
        let done = try tedi(["train", "generator", "--out", "e", "--resume", "--steps", "4", "--ema-kimg", "5"], in: dir.url)
        #expect(done.code == 0 && done.stdout.contains("already at step 4") && !done.stdout.contains("EMA half-life"),
                "a run with nothing to train announces no change: \(done.stdout)")
        let huge = try tedi(["train", "generator", "--out", "n", "--steps", "1", "--ema-kimg", "1e300"] + Self.tiny, in: dir.url)
        #expect(huge.code == 2 && huge.stderr.contains("--ema-kimg expects a positive number"), "\(huge.stderr)")
        let zero = try tedi(["train", "generator", "--out", "e", "--resume", "--steps", "5", "--ema-kimg", "0"], in: dir.url)
        #expect(zero.code == 2 && zero.stderr.contains("--ema-kimg expects a positive number") && !zero.stdout.contains("EMA half-life"), "\(zero.stdout) \(zero.stderr)")
        let mixing = try tedi(["train", "generator", "--out", "e", "--resume", "--steps", "5", "--mixing", "0.5"], in: dir.url)
        #expect(mixing.code == 2 && mixing.stderr.contains("give only --out") && mixing.stderr.contains("--ema-kimg"), "\(mixing.stderr)")
    }

    /// New runs use frozen R1 activation patterns; a resumed run may switch, and says so.
    @Test func r1PatternsDefaultAndSwitchOnResume() throws {
        let dir = try TempDir("train-cli-r1")
        try refuseThenStart(in: dir, out: "r", steps: 1, bad: ["--r1-patterns", "exact"], message: "'frozen' or 'own'")
        let same = try tedi(["train", "generator", "--out", "r", "--resume", "--steps", "2", "--r1-patterns", "frozen"], in: dir.url)
        #expect(same.code == 0 && !same.stdout.contains("R1 activation patterns"), "\(same.stdout)\n\(same.stderr)")
        let own = try tedi(["train", "generator", "--out", "r", "--resume", "--steps", "3", "--r1-patterns", "own"], in: dir.url)
        #expect(own.code == 0 && own.stdout.contains("R1 activation patterns: frozen → own from step 2"), "\(own.stdout)\n\(own.stderr)")
        let back = try tedi(["train", "generator", "--out", "r", "--resume", "--steps", "4", "--r1-patterns", "frozen"], in: dir.url)
        #expect(back.code == 0 && back.stdout.contains("own → frozen from step 3"), "the switch is recorded: \(back.stdout)")
        let attr = try tedi(["train", "attributes", "--out", "a", "--steps", "1", "--r1-patterns", "own"], in: dir.url)
        #expect(attr.code == 2 && attr.stderr.contains("for `tedi train generator`"), "\(attr.stderr)")
    }

    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// `tedi train encoder` through the real executable on tiny models: the files a run writes, a
/// resumed run equal to an uninterrupted one, refusals.
@Suite(.enabled(if: tediBinary != nil, "the tedi executable was not built beside the tests"))
struct TrainEncoderCLITests {
    @Test func tinyEncoderRunWritesItsFilesAndResumesIdentically() throws {
        let dir = try TempDir("train-encoder-cli")
        let g = try StyleGAN2Generator.random(config: EncoderNodesTests.gConfig, seed: 3)
        try g.save(to: dir.path("g.safetensors"))
        try AttributeNet(config: .tiny, seed: 4).save(to: dir.path("a.safetensors"))
        let common = ["--generator", "g.safetensors", "--attributes", "a.safetensors", "--batch", "4"]
        let straight = try tedi(["train", "encoder", "--out", "s", "--steps", "4"] + common, in: dir.url)
        #expect(straight.code == 0 && straight.stdout.contains("stopped at step 4"), "\(straight.stdout)\n\(straight.stderr)")
        for f in ["checkpoint.safetensors", "encoder.safetensors", "log.csv", "loss.png", "reconstructions.png"] {
            #expect(FileManager.default.fileExists(atPath: dir.path("s/" + f)), "s/\(f) missing")
        }
        let log = try String(contentsOfFile: dir.path("s/log.csv"), encoding: .utf8).split(separator: "\n")
        #expect(log.first == "step,seconds,loss,pixel,feature,latent,w_norm,layout" && log.count == 5, "\(log)")
        let first = try tedi(["train", "encoder", "--out", "r", "--steps", "2", "--lr-decay", "4"] + common, in: dir.url)
        #expect(first.code == 0, "\(first.stderr)")
        let changed = try tedi(["train", "encoder", "--out", "r", "--resume", "--steps", "4", "--batch", "8"], in: dir.url)
        #expect(changed.code == 2 && changed.stderr.contains("takes the architecture and options from the checkpoint"), "\(changed.stderr)")
        let rest = try tedi(["train", "encoder", "--out", "r", "--resume", "--steps", "4"], in: dir.url)
        #expect(rest.code == 0, "\(rest.stderr)")
        let a = try LatentEncoder.load(dir.path("s/encoder.safetensors")), b = try LatentEncoder.load(dir.path("r/encoder.safetensors"))
        #expect(a.params == b.params, "the resumed run's encoder differs from the uninterrupted run's")

        // A sketch encoder: pairs, the image encoder as teacher, the parser's layout term.
        try LatentEncoder(config: .tiny, latentAverage: g.meanLatent(count: 64, seed: 0), seed: 5).save(to: dir.path("t.safetensors"))
        try FaceParser(config: .tiny, seed: 6).save(to: dir.path("p.safetensors"))
        let sketch = try tedi(["train", "encoder", "--out", "sk", "--steps", "2", "--modality", "sketch", "--teacher", "t.safetensors",
                               "--parser", "p.safetensors"] + common, in: dir.url)
        #expect(sketch.code == 0, "\(sketch.stderr)")
        let sketchLog = try String(contentsOfFile: dir.path("sk/log.csv"), encoding: .utf8).split(separator: "\n")
        #expect(sketchLog.count == 3 && !sketchLog[2].hasSuffix(",nan"), "the layout term is logged: \(sketchLog)")
        #expect(try LatentEncoder.load(dir.path("sk/encoder.safetensors")).config.modality == "sketch")
        // Fine-tuning from that encoder records its hash; as a label encoder's start it is refused (another modality).
        let tuned = try tedi(["train", "encoder", "--out", "skf", "--steps", "1", "--modality", "sketch", "--teacher", "t.safetensors",
                              "--parser", "p.safetensors", "--from", "sk/encoder.safetensors"] + common, in: dir.url)
        #expect(tuned.code == 0, "\(tuned.stderr)")
        let tunedFrom = try TrainingCheckpoint.read(dir.path("skf/checkpoint.safetensors")).metadata["enc.from_sha256"]
        let encoderHash = try SHA256.hexDigest(ofFile: dir.path("sk/encoder.safetensors"))
        #expect(tunedFrom == encoderHash)
        let crossed = try tedi(["train", "encoder", "--out", "k", "--steps", "1", "--modality", "label", "--teacher", "t.safetensors",
                                "--parser", "p.safetensors", "--from", "sk/encoder.safetensors"] + common, in: dir.url)
        #expect(crossed.code == 2 && crossed.stderr.contains("another modality"), "\(crossed.stderr)")
        let noParser = try tedi(["train", "encoder", "--out", "k", "--steps", "1", "--modality", "label", "--teacher", "t.safetensors"] + common, in: dir.url)
        // Without --parser the shipped one is used (found from any folder); it reads 64 px, not the tiny 16.
        #expect(noParser.code == 2 && noParser.stderr.contains("the face parser reads 64 px into 19 classes; need 16 px"), "\(noParser.stderr)")
        let paint = try tedi(["train", "encoder", "--out", "k", "--steps", "1", "--modality", "paint"] + common, in: dir.url)
        #expect(paint.code == 2 && paint.stderr.contains("--modality is image, sketch or label"), "\(paint.stderr)")
        let foreign = try tedi(["train", "encoder", "--out", "k", "--steps", "1", "--d-geometry", "1"] + common, in: dir.url)
        #expect(foreign.code == 2 && foreign.stderr.contains("--d-geometry is for `tedi train generator`"), "\(foreign.stderr)")
        let weights = try tedi(["train", "encoder", "--out", "k", "--steps", "1", "--pixel", "0", "--feature", "0", "--latent", "0"] + common, in: dir.url)
        #expect(weights.code == 2 && weights.stderr.contains("nothing to learn"), "\(weights.stderr)")
        let missing = try tedi(["train", "encoder", "--out", "k", "--steps", "1", "--generator", "nope.safetensors"], in: dir.url)
        #expect(missing.code == 2 && missing.stderr.contains("nope.safetensors does not exist"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("k")), "refused runs leave no folder behind")
    }
}

/// `tedi train parser` through the executable: its files, a bit-identical resume, refusals.
@Suite struct TrainParserCLITests {
    @Test(.enabled(if: tediBinary != nil)) func tinyParserRunWritesItsFilesAndResumesIdentically() throws {
        let dir = try TempDir("train-parser-cli")
        let common = ["--size", "16", "--channels", "4,8,8", "--batch", "4"]
        let straight = try tedi(["train", "parser", "--out", "s", "--steps", "4"] + common, in: dir.url)
        #expect(straight.code == 0 && straight.stdout.contains("stopped at step 4"), "\(straight.stdout)\n\(straight.stderr)")
        for f in ["checkpoint.safetensors", "parser.safetensors", "log.csv", "loss.png", "parse.png"] {
            #expect(FileManager.default.fileExists(atPath: dir.path("s/" + f)), "s/\(f) missing")
        }
        let first = try tedi(["train", "parser", "--out", "r", "--steps", "2", "--lr-decay", "4"] + common, in: dir.url)
        #expect(first.code == 0, "\(first.stderr)")
        let rest = try tedi(["train", "parser", "--out", "r", "--resume", "--steps", "4", "--export", "p16.safetensors"], in: dir.url)
        #expect(rest.code == 0, "\(rest.stderr)")
        let a = try FaceParser.load(dir.path("s/parser.safetensors")), b = try FaceParser.load(dir.path("r/parser.safetensors"))
        #expect(a.params == b.params, "the resumed run's parser differs from the uninterrupted run's")
        #expect(try FaceParser.load(dir.path("p16.safetensors")).config == a.config)
        let changed = try tedi(["train", "parser", "--out", "r", "--resume", "--steps", "6", "--channels", "8,8,8"], in: dir.url)
        #expect(changed.code == 2 && changed.stderr.contains("takes the architecture and options from the checkpoint"), "\(changed.stderr)")
        // Fine-tuning from a parser file with the Dice term: the file's architecture, its hash recorded.
        let tuned = try tedi(["train", "parser", "--out", "f", "--steps", "1", "--from", "s/parser.safetensors", "--dice", "1", "--batch", "4"], in: dir.url)
        #expect(tuned.code == 0, "\(tuned.stderr)")
        let tunedCheckpoint = try TrainingCheckpoint.read(dir.path("f/checkpoint.safetensors"))
        let parserHash = try SHA256.hexDigest(ofFile: dir.path("s/parser.safetensors")), tunedConfig = try FaceParser.load(dir.path("f/parser.safetensors")).config
        #expect(tunedCheckpoint.metadata["parse.from_sha256"] == parserHash)
        #expect(tunedCheckpoint.metadata["parse.dice"] == "1.0" && tunedConfig == a.config)
        let reshaped = try tedi(["train", "parser", "--out", "k", "--steps", "1", "--from", "s/parser.safetensors", "--channels", "8,8,8"], in: dir.url)
        #expect(reshaped.code == 2 && reshaped.stderr.contains("--from keeps the architecture"), "\(reshaped.stderr)")
        let odd = try tedi(["train", "parser", "--out", "k", "--steps", "1", "--size", "16", "--channels", "4,8,8,8,8,8"], in: dir.url)
        #expect(odd.code == 2 && odd.stderr.contains("divisible"), "\(odd.stderr)")
        let foreign = try tedi(["train", "parser", "--out", "k", "--steps", "1", "--teacher", "x"], in: dir.url)
        #expect(foreign.code == 2 && foreign.stderr.contains("--teacher is for `tedi train encoder`"), "\(foreign.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("k")), "refused runs leave no folder behind")
    }
}
