import Foundation

/// A blocking FIFO of at most `capacity` items between pipeline stages: producers wait when
/// it is full, so memory stays bounded whatever the dataset's size. `close()` ends it:
/// `pop()` then drains what is left and returns nil.
public final class BoundedQueue<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Element] = []
    private var head = 0
    private var closed = false
    public let capacity: Int

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Waits for room; false when the queue was closed (the item is dropped).
    @discardableResult
    public func push(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count - head >= capacity && !closed { condition.wait() }
        if closed { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// The next item, waiting for one; nil once the queue is closed and empty.
    public func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while items.count == head && !closed { condition.wait() }
        return take()
    }

    /// The next item if one is there now; nil otherwise (never waits).
    public func popIfReady() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        return take()
    }

    /// Removes the head item (the lock held).
    private func take() -> Element? {
        guard items.count > head else { return nil }
        let item = items[head]
        head += 1
        if head > 64 && head * 2 > items.count { items.removeFirst(head); head = 0 }
        condition.broadcast()
        return item
    }

    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
