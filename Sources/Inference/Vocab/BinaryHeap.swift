// A binary heap used as the work queue of both merge loops (llama.cpp uses std::priority_queue).

protocol HeapOrdered {
    /// True when `a` must leave the queue before `b`.
    static func precedes(_ a: Self, _ b: Self) -> Bool
}

struct BinaryHeap<Element: HeapOrdered> {
    private(set) var items: [Element] = []

    var isEmpty: Bool { items.isEmpty }

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ e: Element) {
        items.append(e)
        items.withUnsafeMutableBufferPointer { h in
            var i = h.count - 1
            while i > 0 {
                let parent = (i - 1) >> 1
                if !Element.precedes(e, h[parent]) { break }
                h[i] = h[parent]
                i = parent
            }
            h[i] = e
        }
    }

    mutating func pop() -> Element? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        return items.withUnsafeMutableBufferPointer { h in
            let top = h[0]
            let n = h.count
            var i = 0
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                var best = l
                if l + 1 < n && Element.precedes(h[l + 1], h[l]) { best = l + 1 }
                if !Element.precedes(h[best], last) { break }
                h[i] = h[best]
                i = best
            }
            h[i] = last
            return top
        }
    }
}
