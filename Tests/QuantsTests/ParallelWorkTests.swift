import Quants
import Synchronization
import Testing

/// `parallelWork`: every item once, and a worker index never in two calls at the same time
/// (the kernels give each worker its own scratch).
@Suite("parallelWork: items taken one at a time")
struct ParallelWorkTests {
    struct Book {
        var seen: [Int]
        var busy = [Bool](repeating: false, count: 64)
        var overlaps = 0
        var maxWorker = -1
    }

    final class Record: Sendable {
        let book: Mutex<Book>
        init(items: Int) { book = Mutex(Book(seen: [Int](repeating: 0, count: items))) }
    }

    @Test("each item runs exactly once; workers are exclusive and below min(items, threads)",
          arguments: [(0, 2), (1, 2), (2, 2), (3, 2), (37, 2), (200, 4), (5, 1), (7, 16)])
    func items(_ items: Int, _ threads: Int) {
        let workers = Swift.max(1, Swift.min(items, threads))
        let r = Record(items: items)
        parallelWork(items: items, threads: threads) { w, i in
            r.book.withLock { b in
                if b.busy[w] { b.overlaps += 1 }
                b.busy[w] = true
                b.seen[i] += 1
                b.maxWorker = Swift.max(b.maxWorker, w)
            }
            // Uneven items, so that the workers interleave.
            var x = 0.0
            for k in 0..<((i % 5) * 2000) { x += Double(k).squareRoot() }
            r.book.withLock { b in
                if x < 0 { b.overlaps += 1000 }
                b.busy[w] = false
            }
        }
        let b = r.book.withLock { $0 }
        #expect(b.seen == [Int](repeating: 1, count: items))
        #expect(b.overlaps == 0)
        #expect(b.maxWorker < workers)
    }
}
