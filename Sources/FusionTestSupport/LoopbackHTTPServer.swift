import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 (an ephemeral port) for download tests: it serves
/// the files of one folder (`GET /name` → 200 with `Content-Length`, 404 otherwise) and
/// can be told to misbehave: serve other bytes for a path, answer with another status,
/// send only part of the body, or close the connection without answering.
///
/// Plain POSIX sockets on a background thread; every connection has receive and send
/// timeouts and `Connection: close`, and the accept loop polls, so `stop()` (also called
/// on deinit) ends it within a fraction of a second and a test run never hangs on it.
public final class LoopbackHTTPServer: @unchecked Sendable {
    /// The port the server listens on (127.0.0.1).
    public let port: UInt16
    /// The folder whose files are served, if any.
    public let directory: URL?

    private let lock = NSLock()
    private let listener: Listener
    private var bodies: [String: Data] = [:]
    private var _statusOverride: Int?
    private var _truncateBodyTo: Int?
    private var _closeWithoutResponse = false
    private var _requests: [String] = []

    /// `http://127.0.0.1:PORT/`.
    public var baseURL: String { "http://127.0.0.1:\(port)/" }

    /// The address of `name` on this server.
    public func url(_ name: String) -> String { baseURL + name }

    /// Starts serving `directory` (nil: only the bodies set with `setBody`).
    public init(directory: String? = nil) throws {
        self.directory = directory.map { URL(fileURLWithPath: $0, isDirectory: true) }
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Self.posixError("socket") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { let e = Self.posixError("bind"); close(fd); throw e }
        guard listen(fd, 16) == 0 else { let e = Self.posixError("listen"); close(fd); throw e }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { let e = Self.posixError("getsockname"); close(fd); throw e }
        port = UInt16(bigEndian: address.sin_port)
        let listener = Listener(fd: fd)
        self.listener = listener
        // The loop holds the listener, not the server, so dropping the server stops it.
        let thread = Thread { [weak self] in
            listener.acceptLoop { client in
                guard let server = self else { return false }
                let handler = Thread {
                    server.handle(client)
                    close(client)
                }
                handler.start()
                return true
            }
        }
        thread.name = "LoopbackHTTPServer:\(port)"
        thread.start()
    }

    deinit { stop() }

    /// Stops accepting connections and closes the listening socket; returns once the
    /// accept loop has ended (a fraction of a second). Connections already accepted finish
    /// on their own threads (each bounded by its socket timeouts). Safe to call again.
    public func stop() { listener.stop() }

    // MARK: Knobs

    /// Serves `body` for `path` ("/name" or "name") instead of the folder's file; nil removes
    /// the override.
    public func setBody(_ body: Data?, forPath path: String) {
        let key = path.hasPrefix("/") ? path : "/" + path
        locked { bodies[key] = body }
    }

    /// Answers every request with this status (and a short text body) when set.
    public var statusOverride: Int? {
        get { locked { _statusOverride } }
        set { locked { _statusOverride = newValue } }
    }

    /// Sends the full `Content-Length` but only this many body bytes, then closes.
    public var truncateBodyTo: Int? {
        get { locked { _truncateBodyTo } }
        set { locked { _truncateBodyTo = newValue } }
    }

    /// Reads the request, then closes the connection without any response.
    public var closeWithoutResponse: Bool {
        get { locked { _closeWithoutResponse } }
        set { locked { _closeWithoutResponse = newValue } }
    }

    /// The paths requested so far, in order.
    public var requests: [String] { locked { _requests } }

    /// How many requests arrived so far.
    public var requestCount: Int { locked { _requests.count } }

    // MARK: Serving

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    fileprivate func handle(_ fd: Int32) {
        guard let request = Self.readRequestHead(fd) else { return }
        let line = request.split(separator: "\r\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let parts = line.split(separator: " ")
        let method = parts.count > 0 ? String(parts[0]) : ""
        var path = parts.count > 1 ? String(parts[1]) : "/"
        if let q = path.firstIndex(of: "?") { path = String(path[..<q]) }
        path = path.removingPercentEncoding ?? path

        let (override, status, truncate, closeEarly) = locked { () -> (Data?, Int?, Int?, Bool) in
            _requests.append(path)
            return (bodies[path], _statusOverride, _truncateBodyTo, _closeWithoutResponse)
        }
        if closeEarly { return }

        var code = 200
        var body = Data()
        if method != "GET" && method != "HEAD" {
            code = 405
            body = Data("method not allowed\n".utf8)
        } else if let status {
            code = status
            body = Data("status \(status) on request\n".utf8)
        } else if let override {
            body = override
        } else if let data = fileData(path) {
            body = data
        } else {
            code = 404
            body = Data("not found: \(path)\n".utf8)
        }
        let head = "HTTP/1.1 \(code) \(Self.reason(code))\r\nContent-Length: \(body.count)\r\n"
            + "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
        guard Self.sendAll(fd, Data(head.utf8)) else { return }
        if method == "HEAD" { return }
        let sent = truncate.map { body.prefix(max(0, min($0, body.count))) } ?? body[...]
        _ = Self.sendAll(fd, Data(sent))
    }

    /// The bytes of `path`'s file in the served folder; nil for anything outside it.
    private func fileData(_ path: String) -> Data? {
        guard let directory else { return nil }
        let name = String(path.drop(while: { $0 == "/" }))
        guard !name.isEmpty, !name.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else { return nil }
        let file = directory.appendingPathComponent(name)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory), !isDirectory.boolValue else { return nil }
        return try? Data(contentsOf: file)
    }

    /// Reads up to the blank line that ends the request head (64 KiB at most).
    private static func readRequestHead(_ fd: Int32) -> String? {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        let end = Data("\r\n\r\n".utf8)
        while data.count < 65536 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { return data.isEmpty ? nil : String(decoding: data, as: UTF8.self) }
            data.append(contentsOf: buffer[0..<n])
            if data.range(of: end) != nil { break }
        }
        return String(decoding: data, as: UTF8.self)
    }

    private static func sendAll(_ fd: Int32, _ data: Data) -> Bool {
        #if canImport(Glibc)
        let flags = Int32(MSG_NOSIGNAL)
        #else
        let flags: Int32 = 0
        #endif
        return data.withUnsafeBytes { raw -> Bool in
            guard var p = raw.baseAddress else { return true }
            var left = raw.count
            while left > 0 {
                let n = send(fd, p, left, flags)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { return false }
                p += n
                left -= n
            }
            return true
        }
    }

    fileprivate static func setTimeouts(_ fd: Int32, seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        #if canImport(Darwin)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &yes, socklen_t(MemoryLayout<Int32>.size))
        #endif
    }

    private static func reason(_ code: Int) -> String {
        switch code {
        case 200: return "OK"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }

    private static func posixError(_ call: String) -> NSError {
        let code = errno
        return NSError(domain: NSPOSIXErrorDomain, code: Int(code),
                       userInfo: [NSLocalizedDescriptionKey: "LoopbackHTTPServer: \(call) failed: \(String(cString: strerror(code)))"])
    }
}

/// The listening socket and its accept loop, apart from the server so that the loop's
/// thread does not keep the server alive.
private final class Listener: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var stopped = false
    private var loopThread: Thread?
    private let loopEnded = DispatchSemaphore(value: 0)

    init(fd: Int32) { self.fd = fd }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    /// Accepts connections until `stop()`, handing each to `serve` (which returns false
    /// when nobody is left to serve them).
    func acceptLoop(_ serve: (Int32) -> Bool) {
        lock.lock()
        loopThread = Thread.current
        lock.unlock()
        defer {
            close(fd)
            loopEnded.signal()
        }
        while !isStopped {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 100) <= 0 { continue }
            let client = accept(fd, nil, nil)
            if client < 0 { continue }
            if isStopped { close(client); break }
            LoopbackHTTPServer.setTimeouts(client, seconds: 5)
            if !serve(client) { close(client); break }
        }
    }

    func stop() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        // The server may be released on the loop's own thread: then the loop ends by itself.
        let onLoopThread = loopThread === Thread.current
        lock.unlock()
        if !wasStopped, !onLoopThread { _ = loopEnded.wait(timeout: .now() + 5) }
    }
}
