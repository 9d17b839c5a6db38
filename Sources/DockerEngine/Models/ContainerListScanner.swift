/// Decodes `GET /containers/json` with a scanner made for it instead of `JSONDecoder`.
///
/// Why: the list is the largest answer the watchdog reads (about 1.4 KB per container, 14 MB at
/// 10,000 containers) and it reads eight fields of each entry. `JSONDecoder` builds every value
/// of every entry first and took about 70% of a re-synchronising round (see BENCHMARKS.md). This
/// scanner skips what it does not need without building it, and with a ``ContainerListCache``
/// it does not even decode an entry whose bytes are identical to an entry of the previous list:
/// it hashes the entry while skipping over it and reuses the earlier result.
///
/// It is a strict JSON reader for the parts it reads and a structural one for the parts it
/// skips (brackets must match, strings must end, at most ``maxDepth`` levels): a malformed answer
/// is a ``ModelDecodingError`` naming the entry and field, never a crash. It accepts what
/// `JSONDecoder` accepts for these fields (null for an absent optional field, integers written
/// as `1e3`), which a differential test checks on the fixtures and the synthetic host.
public enum ContainerListScanner {
    /// Deeper nesting than this is refused (Docker's list nests four levels).
    public static let maxDepth = 256

    /// Decodes `bytes`, reusing entries of `cache` whose bytes did not change, and refills
    /// `cache` with this list's entries.
    ///
    /// `repeatsPreviousBytes` says the caller found `bytes` equal, byte for byte, to the answer
    /// decoded last with this cache (`DockerClient.listContainers(reusing:)` compares them as
    /// they arrive): that list is returned again without a scan (a quiet host answers the same
    /// list round after round).
    ///
    /// `equalPrefixLength` is how many bytes at the start of `bytes` the caller found equal to
    /// that answer (the comparison stops at the first difference): entries that end inside it
    /// are taken over without being read. Pass 0 unless the bytes were compared.
    public static func decode(
        _ bytes: [UInt8], cache: inout ContainerListCache, repeatsPreviousBytes: Bool = false, equalPrefixLength: Int = 0
    ) throws(ModelDecodingError) -> [ContainerSummary] {
        if repeatsPreviousBytes { return cache.repeatPrevious() }
        cache.dropReceiveBuffer()  // whatever it held is no longer the last answer decoded
        return try bytes.withUnsafeBufferPointer { (buffer) throws(ModelDecodingError) in
            var reader = Reader(bytes: buffer)
            return try reader.list(cache: &cache, equalPrefix: min(equalPrefixLength, buffer.count))
        }
    }
}

/// The entries of the previous list, by a hash of their bytes, for ``ContainerListScanner``.
///
/// A value type so each caller keeps its own (the containers collector keeps one); an empty
/// cache decodes everything.
public struct ContainerListCache: Sendable {
    struct Key: Hashable {
        var hash: UInt64
        var length: Int
    }
    /// The previous list's entries in order, and where each entry ended in its answer (the
    /// offset after its `}`): entries that end inside a prefix the transport found equal to that
    /// answer are that answer's entries, and are not looked at again.
    var keys: [Key] = []
    var summaries: [ContainerSummary] = []
    var ends: [Int] = []
    /// Entries reused by the last decode, for tests and the benchmark's profile.
    public private(set) var reusedLastTime = 0
    /// What the last decode changed against the one before, for ``ContainerListDelta`` readers.
    public private(set) var lastDelta = ContainerListDelta(previous: nil, current: 0, unchanged: [], dropped: [], repeatsPrevious: false)

    /// The last answer's storage, handed back to the transport for the next one (see
    /// `CurlSession.perform(_:receivingInto:)`): the list is the one large answer of every round.
    private var receiveBuffer: [UInt8] = []

    /// The label keys decoded entries keep (nil: every label). The list carries every label of
    /// every container (compose sets about ten, hashes and paths among them: 2.6 MiB of strings
    /// and dictionaries at 1,000 containers, half the watchdog's heap) while the watchdog reads
    /// a few; the others are checked like any string and skipped. Kept keys are this set's own
    /// strings, so 1,000 entries share one copy of each.
    public let labelKeys: Set<String>?

    /// Whether the last answer's bytes are kept for the next list to be compared with and
    /// received into. Worth its memory (1.4 MiB at 1,000 containers) when lists come every few
    /// seconds: a repeated list then costs a `memcmp` and no fresh pages. When the next list is
    /// minutes away, the bytes are dropped and the next list is received fresh and recognised
    /// entry by entry by hash instead (the same result, about a millisecond more at 1,000).
    public let keepsAnswerBytes: Bool

    public init(labelKeys: Set<String>? = nil, keepsAnswerBytes: Bool = true) {
        self.labelKeys = labelKeys
        self.keepsAnswerBytes = keepsAnswerBytes
    }

    public var count: Int { keys.count }

    /// The previous list again: every entry unchanged, in the same order.
    mutating func repeatPrevious() -> [ContainerSummary] {
        record(count: keys.count, unchanged: [Bool](repeating: true, count: keys.count), dropped: [], reused: keys.count, edited: false)
        return summaries
    }

    /// Whether `receiveBuffer` holds exactly the answer this cache decoded last.
    private var receiveBufferIsLastDecoded = false

    /// Hands the buffer out, with whether it holds the last answer decoded (only then may a new
    /// answer equal to it be taken for that list again).
    mutating func takeReceiveBuffer() -> (bytes: [UInt8], isLastDecoded: Bool) {
        var buffer: [UInt8] = []
        swap(&buffer, &receiveBuffer)
        defer { receiveBufferIsLastDecoded = false }
        return (buffer, receiveBufferIsLastDecoded)
    }

    /// Keeps `body`, the answer just decoded with this cache.
    mutating func keepReceiveBuffer(_ body: [UInt8]) {
        guard keepsAnswerBytes else { return dropReceiveBuffer() }
        receiveBuffer = body
        receiveBufferIsLastDecoded = true
    }

    mutating func dropReceiveBuffer() {
        if !receiveBuffer.isEmpty { receiveBuffer = [] }
        receiveBufferIsLastDecoded = false
    }

    /// Image names, image IDs, status texts and label sets that many containers share ("Up 3 days
    /// (healthy)", the compose project and service of one stack), so a thousand entries hold one
    /// copy of each instead of a thousand (about a quarter of a megabyte at 1,000 containers).
    /// Bounded: emptied past `limit` distinct values, which only costs sharing.
    struct Interned: Sendable {
        static let limit = 4096
        private var strings: Set<String> = []
        private var labelSets: Set<[String: String]> = []

        mutating func string(_ value: String) -> String {
            // Up to 15 UTF-8 bytes a String is stored inline: nothing to share.
            guard value.utf8.count > 15 else { return value }
            if let found = strings.firstIndex(of: value) { return strings[found] }
            if strings.count >= Self.limit { strings.removeAll() }
            strings.insert(value)
            return value
        }

        mutating func labels(_ value: [String: String]) -> [String: String] {
            guard !value.isEmpty else { return value }
            if let found = labelSets.firstIndex(of: value) { return labelSets[found] }
            if labelSets.count >= Self.limit { labelSets.removeAll() }
            labelSets.insert(value)
            return value
        }
    }
    var interned = Interned()

    /// Replaces the previous entries `from..<to` with new ones: one edit of a list.
    struct Edit {
        var from: Int
        var to: Int
        var keys: [Key] = []
        var summaries: [ContainerSummary] = []
    }

    /// Applies `edits` (in list order, not overlapping) to the previous list, in place: the
    /// arrays are edited where they changed instead of being copied entry by entry (a copy
    /// retains every entry, and with a thousand of them scattered over the heap that was a
    /// third of the decode). `entryEnds` are the new list's entry ends from `firstNew` on.
    mutating func apply(_ edits: [Edit], entryEnds: [Int], firstNew: Int, unchanged: [Bool], reused: Int) {
        var dropped: [ContainerSummary] = []
        for edit in edits where edit.from < edit.to { dropped.append(contentsOf: summaries[edit.from..<edit.to]) }
        if edits.count <= 16 {
            for edit in edits.reversed() {
                keys.replaceSubrange(edit.from..<edit.to, with: edit.keys)
                summaries.replaceSubrange(edit.from..<edit.to, with: edit.summaries)
            }
        } else {
            // Many scattered edits: one pass that copies is cheaper than many that move the tail.
            var newKeys: [Key] = [], newSummaries: [ContainerSummary] = []
            newKeys.reserveCapacity(unchanged.count)
            newSummaries.reserveCapacity(unchanged.count)
            var at = 0
            for edit in edits {
                newKeys.append(contentsOf: keys[at..<edit.from])
                newSummaries.append(contentsOf: summaries[at..<edit.from])
                newKeys.append(contentsOf: edit.keys)
                newSummaries.append(contentsOf: edit.summaries)
                at = edit.to
            }
            newKeys.append(contentsOf: keys[at...])
            newSummaries.append(contentsOf: summaries[at...])
            keys = newKeys
            summaries = newSummaries
        }
        if ends.count > firstNew { ends.removeSubrange(firstNew...) }
        ends.append(contentsOf: entryEnds)
        record(count: unchanged.count, unchanged: unchanged, dropped: dropped, reused: reused, edited: !edits.isEmpty)
    }

    private mutating func record(count: Int, unchanged: [Bool], dropped: [ContainerSummary], reused: Int, edited: Bool) {
        reusedLastTime = reused
        let current = UInt64.random(in: 1...UInt64.max)
        lastDelta = ContainerListDelta(
            previous: lastDelta.current == 0 ? nil : lastDelta.current, current: current, unchanged: unchanged,
            dropped: dropped, repeatsPrevious: !edited && lastDelta.current != 0)
    }
}

/// Which entries of a decoded list are byte for byte the entry of the list decoded before it
/// (with the same cache) that they were taken from, so a consumer that applied that earlier list
/// can skip them (the container tracker does: a resync of 1,000 unchanged containers then costs
/// almost nothing), and which entries of that earlier list are not in this one as they were.
public struct ContainerListDelta: Sendable, Equatable {
    /// The identity of the list decoded before this one with the same cache (nil for the first).
    public var previous: UInt64?
    /// This list's identity (random, never 0).
    public var current: UInt64
    /// Per entry of this list: true when it is an entry of the previous list, byte for byte,
    /// taken over from it. False means decoded afresh: changed, new, or moved further than the
    /// scanner follows (a false is always safe, a true always exact).
    public var unchanged: [Bool]
    /// The previous list's entries that were not taken over: removed, changed, or moved. With
    /// the entries taken over, they are the whole previous list.
    public var dropped: [ContainerSummary]
    /// True when this list is the previous one again, entry for entry in the same order (what
    /// a quiet host answers round after round).
    public var repeatsPrevious: Bool

    public init(previous: UInt64?, current: UInt64, unchanged: [Bool], dropped: [ContainerSummary], repeatsPrevious: Bool) {
        self.previous = previous
        self.current = current
        self.unchanged = unchanged
        self.dropped = dropped
        self.repeatsPrevious = repeatsPrevious
    }
}

let quote: UInt8 = 0x22, backslash: UInt8 = 0x5C, colon: UInt8 = 0x3A, comma: UInt8 = 0x2C
let openBrace: UInt8 = 0x7B, closeBrace: UInt8 = 0x7D, openBracket: UInt8 = 0x5B, closeBracket: UInt8 = 0x5D

/// The JSON reading shared by the purpose-built scanners (the container list and inspect): strict
/// for the values read, structural for the values skipped, errors naming the field.
struct Reader {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0
    /// What is being read, for errors (`GET /containers/json`).
    let what: String
    /// Whether paths start with the list entry (`[3].Labels`) or not (an inspect's `State.Status`).
    let indexed: Bool
    /// The entry being read and its field, for error paths like `[3].Labels`.
    var entry = 0
    var field = ""
    /// The closing brackets `skipValue` waits for; kept here so skipping allocates nothing.
    var stack: [UInt8] = []
    /// The label keys list entries keep (``ContainerListCache/labelKeys``); nil keeps all.
    var labelKeys: Set<String>?
    /// Values many entries repeat, kept once (``ContainerListCache/Interned``); the cache's own,
    /// moved in for the decode.
    var interned = ContainerListCache.Interned()

    init(bytes: UnsafeBufferPointer<UInt8>, what: String = "GET /containers/json", indexed: Bool = true) {
        self.bytes = bytes
        self.what = what
        self.indexed = indexed
    }

    func fail(_ reason: String, field: String? = nil) -> ModelDecodingError {
        let name = field ?? self.field
        let path = indexed ? (name.isEmpty ? "[\(entry)]" : "[\(entry)].\(name)") : name
        return ModelDecodingError(what: what, path: path, reason: reason)
    }

    func failTop(_ reason: String) -> ModelDecodingError {
        ModelDecodingError(what: what, path: "", reason: reason)
    }

    /// Consumes `{` (or reports what is there instead, as `expected`); then call
    /// ``nextMember(_:)`` until it returns nil.
    mutating func beginObject(expected: String) throws(ModelDecodingError) {
        guard peek() == openBrace else { throw fail("expected \(expected), found \(kind())") }
        i += 1
    }

    /// Consumes `[` (or reports what is there instead, as `expected`); then call
    /// ``nextElement(_:)`` until it returns false.
    mutating func beginArray(expected: String) throws(ModelDecodingError) {
        guard peek() == openBracket else { throw fail("expected \(expected), found \(kind())") }
        i += 1
    }

    /// True with `i` at the next element; false (and the `]` consumed) at the end. `first` is
    /// true until the first element has been reached.
    mutating func nextElement(_ first: inout Bool) throws(ModelDecodingError) -> Bool {
        skipSpace()
        if first {
            first = false
            guard peek() == closeBracket else { return true }
            i += 1
            return false
        }
        guard let c = peek() else { throw fail("malformed: the array does not end") }
        i += 1
        if c == closeBracket { return false }
        guard c == comma else { throw fail("malformed: expected , or ]") }
        skipSpace()
        return true
    }

    /// The next member's name, with `i` at its value; nil (and the `}` consumed) at the end.
    /// `first` is true until the first member has been read.
    mutating func nextMember(_ first: inout Bool) throws(ModelDecodingError) -> String? {
        skipSpace()
        if peek() == closeBrace {
            i += 1
            return nil
        }
        if !first {
            guard peek() == comma else { throw fail(i < bytes.count ? "malformed: expected , or }" : "malformed: the object does not end") }
            i += 1
            skipSpace()
        }
        first = false
        guard peek() == quote else { throw fail("malformed: expected a member name") }
        let name = try string()
        skipSpace()
        guard peek() == colon else { throw fail("malformed: expected :") }
        i += 1
        skipSpace()
        return name
    }

    mutating func optionalBool() throws(ModelDecodingError) -> Bool? {
        if null() { return nil }
        if literal("true") { return true }
        if literal("false") { return false }
        throw fail("expected Bool, found \(kind())")
    }

    mutating func optionalInt() throws(ModelDecodingError) -> Int? {
        guard let v = try optionalInt64() else { return nil }
        guard let n = Int(exactly: v) else { throw fail("expected Int: \(v) does not fit") }
        return n
    }

    @inline(__always) mutating func skipSpace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    @inline(__always) func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

    /// How many entries past the expected one a taken-over entry is looked for before the table
    /// of all previous entries is made (a few containers removed in a row are the common case).
    static let lookahead = 4

    mutating func list(cache: inout ContainerListCache, equalPrefix: Int) throws(ModelDecodingError) -> [ContainerSummary] {
        skipSpace()
        guard peek() == openBracket else {
            throw failTop(i < bytes.count ? "malformed: expected an array" : "malformed: empty answer")
        }
        i += 1
        labelKeys = cache.labelKeys
        swap(&interned, &cache.interned)
        defer { swap(&interned, &cache.interned) }
        let previousCount = cache.keys.count
        // Entries that end inside the prefix the transport found equal to the last answer are
        // that answer's entries, at the same offsets: they are taken over without being read.
        var firstNew = 0
        if equalPrefix > 0, cache.ends.count == previousCount {
            var low = 0, high = previousCount
            while low < high {
                let mid = (low + high) / 2
                if cache.ends[mid] <= equalPrefix { low = mid + 1 } else { high = mid }
            }
            firstNew = low
        }
        // The new list is the previous one with edits: runs of previous entries taken over in
        // order, and between them previous entries dropped and new ones decoded. `expected` is
        // the previous entry the next one most likely repeats (most lists repeat the previous
        // one with a few entries changed, inserted or removed): it is checked by hash alone,
        // several times faster than walking its structure.
        var expected = firstNew
        var edits: [ContainerListCache.Edit] = []
        var pending = ContainerListCache.Edit(from: firstNew, to: firstNew)
        var unchanged = [Bool](repeating: true, count: firstNew)
        unchanged.reserveCapacity(previousCount + 1)
        var entryEnds: [Int] = []
        var reused = firstNew
        /// Where each previous entry is, by key; made only when more than a few entries are
        /// neither the expected one nor a few past it (new, moved, or many removed in a row).
        var positions: [ContainerListCache.Key: Int]?
        var walks = 0
        entry = firstNew
        var more: Bool
        if firstNew > 0 {
            i = cache.ends[firstNew - 1]
            more = try separator()
        } else {
            skipSpace()
            more = peek() != closeBracket
            if !more { i += 1 }
        }
        while more {
            skipSpace()
            guard peek() == openBrace else { throw fail("expected an object", field: "") }
            let start = i
            field = ""
            var taken: Int?
            var candidate = expected
            while candidate < previousCount && candidate <= expected + Self.lookahead {
                let guess = cache.keys[candidate]
                let end = start + guess.length
                if end <= bytes.count, bytes[end - 1] == closeBrace, hash(start, end) == guess.hash {
                    i = end
                    taken = candidate
                    break
                }
                candidate += 1
            }
            var key: ContainerListCache.Key?
            var moved: Int?
            if taken == nil {
                try skipValue()
                let found = ContainerListCache.Key(hash: hash(start, i), length: i - start)
                key = found
                if previousCount > 0 {
                    // The first few are looked for by a walk over the keys (a few microseconds);
                    // a list with more new entries than that gets the table.
                    var at: Int?
                    if positions == nil && walks < 8 {
                        walks += 1
                        at = cache.keys.firstIndex(of: found)
                    } else {
                        if positions == nil {
                            var table: [ContainerListCache.Key: Int] = [:]
                            table.reserveCapacity(previousCount)
                            for (n, k) in cache.keys.enumerated() where table[k] == nil { table[k] = n }
                            positions = table
                        }
                        at = positions?[found]
                    }
                    if let at {
                        // Further on: the entries in between were removed if the entry after this
                        // one follows it there too; otherwise this one moved (it is taken as a
                        // new entry here, without decoding it, and dropped where it was).
                        if at >= expected && repeatsNext(of: at, after: i, cache: cache) { taken = at } else { moved = at }
                    }
                }
            }
            if let taken {
                if pending.from < taken || !pending.summaries.isEmpty {
                    pending.to = taken
                    edits.append(pending)
                }
                pending = ContainerListCache.Edit(from: taken + 1, to: taken + 1)
                expected = taken + 1
                reused += 1
                unchanged.append(true)
            } else if let moved {
                pending.keys.append(key!)
                pending.summaries.append(cache.summaries[moved])
                unchanged.append(false)
            } else {
                let end = i
                i = start
                let summary = try object()
                i = end
                // A changed entry replaces the previous entry of its container; an entry of
                // another container is new, and the expected one may still follow.
                if expected < previousCount, cache.summaries[expected].id == summary.id { expected += 1 }
                pending.keys.append(key!)
                pending.summaries.append(summary)
                unchanged.append(false)
            }
            entryEnds.append(i)
            entry += 1
            more = try separator()
        }
        skipSpace()
        guard i == bytes.count else { throw failTop("malformed: data after the array") }
        if pending.from < previousCount || !pending.summaries.isEmpty {
            pending.to = previousCount
            edits.append(pending)
        }
        cache.apply(edits, entryEnds: entryEnds, firstNew: firstNew, unchanged: unchanged, reused: reused)
        return cache.summaries
    }

    /// Whether the entry after the one ending at `end` is previous entry `at + 1`, byte for
    /// byte (or both lists end there): a look at what follows, `i` unchanged.
    private func repeatsNext(of at: Int, after end: Int, cache: ContainerListCache) -> Bool {
        var p = end
        func space() { while p < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[p]) { p += 1 } }
        space()
        guard p < bytes.count else { return false }
        if bytes[p] == closeBracket { return at + 1 == cache.keys.count }
        guard bytes[p] == comma, at + 1 < cache.keys.count else { return false }
        p += 1
        space()
        let next = cache.keys[at + 1]
        let stop = p + next.length
        return stop <= bytes.count && bytes[p] == openBrace && bytes[stop - 1] == closeBrace && hash(p, stop) == next.hash
    }

    /// After an entry: true at `,` (another entry follows), false at `]` (consumed).
    private mutating func separator() throws(ModelDecodingError) -> Bool {
        skipSpace()
        guard let c = peek() else { throw failTop("malformed: the array does not end") }
        i += 1
        if c == closeBracket { return false }
        guard c == comma else { throw failTop("malformed: expected , or ] after entry \(entry - 1)") }
        return true
    }

    /// A 64-bit hash of `bytes[from..<to]`, 32 bytes at a time in four independent lanes so it
    /// runs at close to memory speed (not cryptographic: it only has to tell an entry from its
    /// previous version, and a length check backs it).
    func hash(_ from: Int, _ to: Int) -> UInt64 {
        let k1: UInt64 = 0xFF51_AFD7_ED55_8CCD, k2: UInt64 = 0xC4CE_B9FE_1A85_EC53
        var a: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: to - from)
        var b: UInt64 = 0x6A09_E667_F3BC_C908, c: UInt64 = 0xBB67_AE85_84CA_A73B, d: UInt64 = 0x3C6E_F372_FE94_F82B
        var p = from
        let raw = UnsafeRawBufferPointer(bytes)
        while p + 32 <= to {
            a = (a ^ raw.loadUnaligned(fromByteOffset: p, as: UInt64.self)) &* k1
            b = (b ^ raw.loadUnaligned(fromByteOffset: p + 8, as: UInt64.self)) &* k1
            c = (c ^ raw.loadUnaligned(fromByteOffset: p + 16, as: UInt64.self)) &* k1
            d = (d ^ raw.loadUnaligned(fromByteOffset: p + 24, as: UInt64.self)) &* k1
            a ^= a >> 32
            b ^= b >> 32
            c ^= c >> 32
            d ^= d >> 32
            p += 32
        }
        while p + 8 <= to {
            a = (a ^ raw.loadUnaligned(fromByteOffset: p, as: UInt64.self)) &* k1
            a ^= a >> 32
            p += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while p < to {
            tail |= UInt64(bytes[p]) << shift
            shift += 8
            p += 1
        }
        var h = a ^ ((b << 17) | (b >> 47)) ^ ((c << 31) | (c >> 33)) ^ ((d << 47) | (d >> 17))
        h = (h ^ tail) &* k2
        h ^= h >> 29
        h = h &* k1
        h ^= h >> 32
        return h
    }

    /// One entry: the fields the watchdog reads, the rest skipped.
    mutating func object() throws(ModelDecodingError) -> ContainerSummary {
        i += 1  // {
        var id: String?
        var names: [String]?, image: String?, imageID: String?, labels: [String: String]?
        var state: String?, status: String?, created: Int64?
        skipSpace()
        if peek() == closeBrace {
            i += 1
        } else {
            while true {
                skipSpace()
                field = ""
                guard peek() == quote else { throw fail("malformed: expected a member name") }
                let name = try string()
                field = name
                skipSpace()
                guard peek() == colon else { throw fail("malformed: expected :") }
                i += 1
                skipSpace()
                switch name {
                case "Id": id = try optionalString()
                case "Names": names = try optionalStringArray()
                case "Image": image = try optionalString()
                case "ImageID": imageID = try optionalString()
                case "Labels": labels = try optionalStringMap(keeping: labelKeys)
                case "State": state = try optionalString()
                case "Status": status = try optionalString()
                case "Created": created = try optionalInt64()
                default: try skipValue()
                }
                skipSpace()
                guard let c = peek() else { throw fail("malformed: the object does not end") }
                i += 1
                if c == closeBrace { break }
                guard c == comma else { throw fail("malformed: expected , or }") }
            }
        }
        guard let id else { throw fail("required field missing", field: "Id") }
        return ContainerSummary(
            id: id, names: names ?? [], image: interned.string(image ?? ""), imageID: interned.string(imageID ?? ""),
            labels: interned.labels(labels ?? [:]), state: state ?? "", status: interned.string(status ?? ""), created: created)
    }

    // MARK: Values

    /// True (and consumed) when the next value is `null`.
    mutating func null() -> Bool { literal("null") }

    /// Consumes `word` (ASCII) if it comes next.
    mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { return false }
        let p = word.utf8Start
        for k in 0..<n where bytes[i + k] != p[k] { return false }
        i += n
        return true
    }

    func kind() -> String {
        guard let c = peek() else { return "the end of the answer" }
        switch c {
        case quote: return "a string"
        case openBrace: return "an object"
        case openBracket: return "an array"
        case 0x74, 0x66: return "a boolean"
        case 0x6E: return "null"
        default: return "a number"
        }
    }

    mutating func optionalString() throws(ModelDecodingError) -> String? {
        if null() { return nil }
        guard peek() == quote else { throw fail("expected String, found \(kind())") }
        return try string()
    }

    mutating func optionalStringArray() throws(ModelDecodingError) -> [String]? {
        if null() { return nil }
        try beginArray(expected: "Array<String>")
        var out: [String] = []
        let base = field
        var first = true
        while try nextElement(&first) {
            field = "\(base)[\(out.count)]"
            guard peek() == quote else { throw fail("expected String, found \(kind())") }
            out.append(try string())
        }
        field = base
        return out
    }

    /// A JSON object of strings; with `keys`, only the members whose name is in it (stored under
    /// the set's own string), the other values checked like ``string()`` checks but not built.
    mutating func optionalStringMap(keeping keys: Set<String>? = nil) throws(ModelDecodingError) -> [String: String]? {
        if null() { return nil }
        guard peek() == openBrace else { throw fail("expected Dictionary<String, String>, found \(kind())") }
        i += 1
        var out: [String: String] = [:]
        skipSpace()
        if peek() == closeBrace { i += 1; return out }
        let base = field
        while true {
            skipSpace()
            guard peek() == quote else { throw fail("malformed: expected a member name") }
            let key = try string()
            field = "\(base).\(key)"
            skipSpace()
            guard peek() == colon else { throw fail("malformed: expected :") }
            i += 1
            skipSpace()
            guard peek() == quote else { throw fail("expected String, found \(kind())") }
            if let keys {
                if let kept = keys.firstIndex(of: key) {
                    out[keys[kept]] = try string()
                } else {
                    try skipString()
                }
            } else {
                out[key] = try string()
            }
            skipSpace()
            guard let c = peek() else { throw fail("malformed: the object does not end") }
            i += 1
            if c == closeBrace { break }
            guard c == comma else { throw fail("malformed: expected , or }") }
        }
        field = base
        return out
    }

    /// An integer; like `JSONDecoder`, `1e3` and `5.0` are accepted, `1.5` and out-of-range
    /// values are not.
    mutating func optionalInt64() throws(ModelDecodingError) -> Int64? {
        if null() { return nil }
        guard let c = peek(), c == 0x2D || (c >= 0x30 && c <= 0x39) else { throw fail("expected Int64, found \(kind())") }
        let start = i
        try skipNumber()
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        if let v = Int64(text) { return v }
        if let d = Double(text), d.rounded() == d, d >= -9.2e18, d <= 9.2e18 { return Int64(d) }
        throw fail("expected Int64: \(text) does not fit")
    }

    /// Moves `i` to the next byte that may end or escape a string (a quote, a backslash or a
    /// control character), eight bytes at a time: strings are most of the list's bytes (64-digit
    /// IDs, labels, commands), and a byte-by-byte loop over them was the scanner's main cost.
    @inline(__always) mutating func skipPlainStringBytes() {
        let raw = UnsafeRawBufferPointer(bytes)
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while i + 8 <= bytes.count {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let q = w ^ (ones &* UInt64(quote)), b = w ^ (ones &* UInt64(backslash))
            // A byte of `x` is flagged when it is zero (for q and b) or below 0x20 (for w); only
            // the lowest flag is exact, which is the one used.
            let flags = ((q &- ones) & ~q | (b &- ones) & ~b | (w &- ones &* 0x20) & ~w) & highs
            if flags != 0 {
                i += flags.trailingZeroBitCount >> 3
                return
            }
            i += 8
        }
    }

    /// A JSON string at `i` (which is a quote), unescaped.
    mutating func string() throws(ModelDecodingError) -> String {
        i += 1
        let start = i
        skipPlainStringBytes()
        while i < bytes.count {
            let c = bytes[i]
            if c == quote {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if c == backslash { break }
            if c < 0x20 { throw fail("malformed: control character in a string") }
            i += 1
        }
        // Slow path: escapes.
        var out = Array(UnsafeBufferPointer(rebasing: bytes[start..<i]))
        while i < bytes.count {
            let c = bytes[i]
            if c == quote {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c < 0x20 { throw fail("malformed: control character in a string") }
            guard c == backslash else { out.append(c); i += 1; continue }
            guard i + 1 < bytes.count else { break }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case quote, backslash, 0x2F: out.append(e)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar), i + 6 <= bytes.count, bytes[i] == backslash, bytes[i + 1] == 0x75 {
                    i += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        appendScalar(0xFFFD, to: &out)
                        scalar = low
                    }
                }
                appendScalar(scalar, to: &out)
            default:
                throw fail("malformed: invalid escape in a string")
            }
        }
        throw fail("malformed: unterminated string")
    }

    /// Moves past the JSON string at `i` (a quote) with the checks of ``string()`` and the same
    /// errors, building nothing.
    mutating func skipString() throws(ModelDecodingError) {
        i += 1
        while true {
            skipPlainStringBytes()
            guard i < bytes.count else { throw fail("malformed: unterminated string") }
            let c = bytes[i]
            if c == quote {
                i += 1
                return
            }
            if c < 0x20 { throw fail("malformed: control character in a string") }
            guard c == backslash else { i += 1; continue }
            guard i + 1 < bytes.count else { throw fail("malformed: unterminated string") }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case quote, backslash, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: break
            case 0x75: _ = try hex4()
            default: throw fail("malformed: invalid escape in a string")
            }
        }
    }

    mutating func hex4() throws(ModelDecodingError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("malformed: short \\u escape") }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = bytes[i + k]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("malformed: bad \\u escape")
            }
            v = v << 4 | d
        }
        i += 4
        return v
    }

    func appendScalar(_ value: UInt32, to out: inout [UInt8]) {
        let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"  // lone surrogates become U+FFFD
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    mutating func skipNumber() throws(ModelDecodingError) {
        let start = i
        while i < bytes.count {
            switch bytes[i] {
            case 0x30...0x39, 0x2D, 0x2B, 0x2E, 0x45, 0x65: i += 1
            default:
                if i == start { throw fail("malformed: unexpected byte") }
                return
            }
        }
        if i == start { throw fail("malformed: unexpected end") }
    }

    /// Skips one value of any kind, checking that brackets match and strings end.
    mutating func skipValue() throws(ModelDecodingError) {
        stack.removeAll(keepingCapacity: true)
        repeat {
            skipSpace()
            guard let c = peek() else { throw fail("malformed: unexpected end of the answer") }
            switch c {
            case quote:
                i += 1
                while true {
                    skipPlainStringBytes()
                    guard i < bytes.count else { throw fail("malformed: unterminated string") }
                    let s = bytes[i]
                    if s == quote { i += 1; break }
                    i += s == backslash ? 2 : 1
                }
            case openBrace, openBracket:
                guard stack.count < ContainerListScanner.maxDepth else { throw fail("malformed: nested too deeply") }
                stack.append(c == openBrace ? closeBrace : closeBracket)
                i += 1
                continue
            case closeBrace, closeBracket:
                guard stack.last == c else { throw fail("malformed: unexpected \(c == closeBrace ? "}" : "]")") }
                stack.removeLast()
                i += 1
            case 0x74, 0x66, 0x6E:  // true, false, null
                guard literal(c == 0x74 ? "true" : c == 0x66 ? "false" : "null") else { throw fail("malformed: unexpected byte") }
            case comma, colon:
                guard !stack.isEmpty else { throw fail("malformed: unexpected \(c == comma ? "," : ":")") }
                i += 1
                continue
            default:
                try skipNumber()
            }
        } while !stack.isEmpty
    }
}
