// Evidence for the one class of ThreadSanitizer reports scripts/checks/sanitizers.sh does not treat
// as fatal by default: on Linux (Swift 6.3), `Synchronization.Mutex` locks with atomics and futex
// calls inside the uninstrumented standard library, so TSan sees no happens-before edge and reports
// accesses made inside `withLock` from two threads as a "Swift access race". Two threads, one
// Mutex, every access under the lock:
//
//   swiftc -sanitize=thread mutex-tsan-repro.swift -o /tmp/repro && /tmp/repro
//   → WARNING: ThreadSanitizer: Swift access race … (several), although the program is race-free.
//
// The same program with NSLock (a pthread mutex, which TSan intercepts) reports nothing. Code whose
// state is touched from C threads (libmicrohttpd, libcurl callbacks) should prefer NSLock so that
// TSan actually checks it (MicroHTTPServer/RequestDeadlines.swift does).
import Foundation
import Synchronization

final class Box: Sendable { let m = Mutex<[Int: Int]>([:]) }
let b = Box()
let g = DispatchGroup()
for t in 0..<2 {
    g.enter()
    Thread.detachNewThread {
        for i in 0..<20000 { b.m.withLock { $0[i % 7, default: 0] += t } }
        g.leave()
    }
}
g.wait()
print(b.m.withLock { $0.count })
