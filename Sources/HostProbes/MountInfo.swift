import FoundationEssentials
#if canImport(Glibc)
    import Glibc
#endif

/// Whether a path's filesystem is read-only, judged from `/proc/self/mountinfo`.
///
/// statvfs's `ST_RDONLY` is the flag of the *mount* the path is reached through, not of the
/// filesystem. Under systemd's `ProtectSystem=strict`, or in a container given the host's root as
/// `-v /:/host:ro`, the watchdog sees Docker's root through a read-only bind mount of a filesystem
/// that is writable for Docker, so the mount flag alone raised a false "read-only filesystem"
/// alert. What matters is the superblock: the kernel remounts a filesystem read-only there after
/// I/O errors, and then Docker cannot write either. mountinfo lists both option sets per mount:
///
///     36 35 98:0 /mnt1 /mnt/parent ro,noatime master:1 - ext3 /dev/root rw,errors=continue
///     (1)(2)(3)  (4)   (5)         (6)        (7)     (8) (9)  (10)      (11)
///
/// (6) is the per-mount options, (11) the superblock options after the `-` separator; (7) is a
/// variable number of optional fields. Plain Swift over the file's text, so tests can feed samples.
public enum MountInfo {
    /// One line of mountinfo, as far as the read-only question needs it.
    public struct Entry: Sendable, Equatable {
        /// Where it is mounted, with mountinfo's octal escapes (`\040` for a space) decoded.
        public var mountPoint: String
        public var mountOptions: [String]
        public var superOptions: [String]
    }

    /// Parses mountinfo text; nil when any non-empty line does not have the expected shape, so a
    /// format this code does not understand falls back to statvfs instead of guessing.
    public static func parse(_ text: String) -> [Entry]? {
        var entries: [Entry] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            // At least the six fixed fields, then the separator, fstype, source, super options.
            guard fields.count >= 10, let separator = fields[6...].firstIndex(of: "-"),
                fields.count > separator + 3
            else { return nil }
            entries.append(
                Entry(
                    mountPoint: unescape(fields[4]),
                    mountOptions: fields[5].split(separator: ",").map(String.init),
                    superOptions: fields[separator + 3].split(separator: ",").map(String.init)))
        }
        return entries.isEmpty ? nil : entries
    }

    /// The mount through which `path` (already resolved: absolute, no symlinks, no `..`) is
    /// reached: the longest mount point that is `path` or a directory above it. Of mounts stacked
    /// on the same point the last listed is the visible one.
    public static func mount(containing path: String, in entries: [Entry]) -> Entry? {
        var best: Entry?
        for entry in entries where contains(entry.mountPoint, path) {
            if let current = best, current.mountPoint.utf8.count > entry.mountPoint.utf8.count { continue }
            best = entry
        }
        return best
    }

    /// Whether the superblock of the filesystem holding `path` is read-only, or nil when the text
    /// cannot be parsed, no mount contains the path, or the superblock options say neither.
    public static func superblockReadOnly(mountinfo text: String, path: String) -> Bool? {
        guard let entries = parse(text), let entry = mount(containing: path, in: entries) else { return nil }
        if entry.superOptions.contains("ro") { return true }
        if entry.superOptions.contains("rw") { return false }
        return nil
    }

    /// True if `mountPoint` is `path` or one of its ancestors (whole components only: `/var/lib`
    /// does not contain `/var/library`).
    static func contains(_ mountPoint: String, _ path: String) -> Bool {
        if mountPoint == "/" { return path.hasPrefix("/") }
        guard path.hasPrefix(mountPoint) else { return false }
        let rest = path.utf8.dropFirst(mountPoint.utf8.count)
        return rest.isEmpty || rest.first == UInt8(ascii: "/")
    }

    /// Decodes the kernel's `\ooo` octal escapes (it escapes space, tab, newline and backslash).
    static func unescape(_ field: Substring) -> String {
        let bytes = Array(field.utf8)
        guard bytes.contains(UInt8(ascii: "\\")) else { return String(field) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count, let value = octal(bytes[(i + 1)..<(i + 4)]) {
                out.append(value)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func octal(_ digits: ArraySlice<UInt8>) -> UInt8? {
        guard digits.count == 3 else { return nil }
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + Int(digit - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }

    /// Reads `/proc/self/mountinfo` (a procfs file: never blocks on a dead network mount).
    ///
    /// Read until end of file: procfs reports size 0 and hands out a page at a time, and
    /// Read to the end with `read` until it returns 0: `String(contentsOfFile:)` stops after the first page, which on a Docker host with many
    /// overlay mounts drops the later ones (and then a parent mount would answer for them).
    public static func readSystem() -> String? {
        let fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            text += chunk[..<count]
        }
        return String(decoding: text, as: UTF8.self)
    }
}
