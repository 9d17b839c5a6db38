/// "Did you mean" for unknown flags, keys and environment variables. Only obvious typos get a
/// suggestion: a wrong guess is worse than none because people tend to copy it.
enum Suggest {
    /// The closest candidate, if it is close enough to be an obvious typo, or the unique candidate
    /// whose trailing segments equal `input` (`listen-address` → `web.listen-address`).
    static func closest(to input: String, among candidates: [String]) -> String? {
        let needle = Array(input.lowercased())
        var best: (String, Int)?
        for candidate in candidates {
            let d = distance(needle, Array(candidate.lowercased()))
            if d < (best?.1 ?? Int.max) { best = (candidate, d) }
        }
        // Two edits always, more for long names (one per five characters, at most four).
        let allowed = max(2, min(4, needle.count / 5))
        if let (candidate, d) = best, d > 0, d <= allowed { return candidate }
        let suffixMatches = candidates.filter { $0.lowercased().hasSuffix("." + input.lowercased()) || $0.lowercased().hasSuffix("_" + input.lowercased()) }
        return suffixMatches.count == 1 ? suffixMatches[0] : nil
    }

    /// Damerau–Levenshtein (optimal string alignment): a swapped pair of letters is one edit.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
