import Dispatch
import Foundation
import SynthFaces

/// Renders the next batch on a background thread while the current step computes.
final class Prefetcher: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: (key: [Int], item: DispatchWorkItem, result: Result<[FaceSample], Error>?)?

    /// Starts rendering the samples `key` (global indices).
    func start(_ key: [Int], _ render: @escaping ([Int]) throws -> [FaceSample]) {
        var item: DispatchWorkItem!
        item = DispatchWorkItem { [weak self] in
            let r = Result { try render(key) }
            guard let self else { return }
            self.lock.lock(); self.pending?.result = r; self.lock.unlock()
        }
        lock.lock(); pending = (key, item, nil); lock.unlock()
        DispatchQueue.global().async(execute: item)
    }

    /// The samples `key`: the pending render's when it is for the same samples, else rendered now.
    func take(_ key: [Int], _ render: ([Int]) throws -> [FaceSample]) throws -> [FaceSample] {
        lock.lock(); let p = pending; lock.unlock()
        if let p, p.key == key {
            p.item.wait()
            lock.lock(); let r = pending?.result; pending = nil; lock.unlock()
            if let r { return try r.get() }
        }
        return try render(key)
    }
}
