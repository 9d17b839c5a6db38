import Foundation
import Testing
import WatchdogTestSupport
@testable import Watchdog
@testable import Sampling
@testable import Collectors
@testable import Containers
@testable import Remediation
@testable import Web
@testable import HostProbes
@testable import Locking
@testable import ResponseBodies

#if canImport(Glibc)
    import Glibc
#endif

/// `docker_root_filesystem_readonly` follows the superblock, not the watchdog's own mount view
/// (a read-only bind mount under `ProtectSystem=strict` or `-v /:/host:ro` once made it 1 on a
/// writable Docker root).
@Suite("Read-only filesystem from mountinfo")
struct MountInfoTests {
    /// Shaped like a Docker host's mountinfo seen from a container with `-v /:/host:ro` and from a
    /// systemd unit with `ProtectSystem=strict`.
    let sample = """
        22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
        27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
        30 27 254:16 / /var/lib/docker rw,relatime shared:20 - xfs /dev/vdb rw,attr2,inode64
        31 27 254:0 / /host ro,relatime master:1 - ext4 /dev/vda1 rw,errors=remount-ro
        32 31 254:16 / /host/var/lib/docker ro,relatime master:20 - xfs /dev/vdb rw,attr2,inode64
        40 27 254:32 / /srv/broken ro,relatime shared:30 - ext4 /dev/vdc ro,errors=remount-ro
        41 27 254:48 / /mnt/with\\040space ro,relatime - ext4 /dev/vdd rw
        42 27 254:64 / /mnt/with ro,relatime - ext4 /dev/vde ro
        43 27 0:40 / /var/lib/docker/overlay2/abc/merged rw,relatime - overlay overlay ro,lowerdir=/a,upperdir=/b
        """

    func readOnly(_ path: String) -> Bool? { MountInfo.superblockReadOnly(mountinfo: sample, path: path) }

    @Test func readOnlyBindOfAWritableSuperblockIsWritable() {
        #expect(readOnly("/host/var/lib/docker") == false)  // ro mount, rw superblock
        #expect(readOnly("/host/etc") == false)
        // What the probe decides once statvfs has said "read-only".
        #expect(StatfsProbe.filesystemReadOnly(resolvedPath: "/host/var/lib/docker", mountinfo: sample) == false)
    }

    @Test func readOnlySuperblockIsReadOnly() {
        #expect(readOnly("/srv/broken") == true)
        #expect(readOnly("/srv/broken/docker/volumes") == true)
        #expect(StatfsProbe.filesystemReadOnly(resolvedPath: "/srv/broken/docker", mountinfo: sample) == true)
        // A rw mount of a ro superblock (mount flags alone would say writable).
        #expect(readOnly("/var/lib/docker/overlay2/abc/merged/etc") == true)
    }

    @Test func longestMountPointPrefixWins() {
        #expect(readOnly("/var/lib/docker") == false)
        #expect(readOnly("/var/lib/docker/overlay2/abc/merged") == true)
        #expect(readOnly("/var/lib/docker/overlay2/abc") == false)
        // Whole components only: /srv/brokenness is on /, not on /srv/broken.
        #expect(readOnly("/srv/brokenness") == false)
        #expect(MountInfo.mount(containing: "/var/lib/dockerd", in: MountInfo.parse(sample)!)?.mountPoint == "/")
        #expect(MountInfo.mount(containing: "/", in: MountInfo.parse(sample)!)?.mountPoint == "/")
    }

    @Test func stackedMountsTheLastListedIsVisible() {
        let stacked = """
            27 1 254:0 / / rw,relatime - ext4 /dev/vda1 rw
            50 27 254:0 / /data ro,relatime - ext4 /dev/vdx ro
            51 50 0:60 / /data ro,relatime - tmpfs tmpfs rw,size=1024k
            """
        #expect(MountInfo.superblockReadOnly(mountinfo: stacked, path: "/data/x") == false)
    }

    @Test func escapedMountPoints() {
        #expect(MountInfo.unescape(#"/mnt/with\040space"#) == "/mnt/with space")
        #expect(MountInfo.unescape(#"/a\011tab\012nl\134bs"#) == "/a\ttab\nnl\\bs")
        #expect(MountInfo.unescape(#"/not\09escape\"#) == #"/not\09escape\"#)
        #expect(readOnly("/mnt/with space/docker") == false)  // \040 decoded: the rw superblock
        #expect(readOnly("/mnt/with/docker") == true)  // not confused with "/mnt/with space"
    }

    @Test func optionalFieldsVaryInNumber() {
        let text = """
            27 1 254:0 / / rw - ext4 /dev/vda1 ro
            28 27 254:1 / /a ro shared:1 master:2 propagate_from:3 unbindable - ext4 /dev/vdb rw,data=ordered
            """
        #expect(MountInfo.superblockReadOnly(mountinfo: text, path: "/a/b") == false)
        #expect(MountInfo.superblockReadOnly(mountinfo: text, path: "/b") == true)
    }

    @Test func unreadableOrOddMountinfoFallsBackToStatvfs() {
        // Nothing parseable: the statvfs read-only answer stands (the probe only asks when statvfs said ro).
        #expect(MountInfo.parse("") == nil)
        #expect(MountInfo.parse("garbage line\n") == nil)
        #expect(MountInfo.parse("27 1 254:0 / / rw shared:1 ext4 /dev/vda1 rw\n") == nil)  // no separator
        #expect(StatfsProbe.filesystemReadOnly(resolvedPath: "/var/lib/docker", mountinfo: nil) == true)
        #expect(StatfsProbe.filesystemReadOnly(resolvedPath: "/var/lib/docker", mountinfo: "garbage\n") == true)
        // No mount contains a relative path; super options naming neither ro nor rw decide nothing.
        #expect(StatfsProbe.filesystemReadOnly(resolvedPath: "relative", mountinfo: sample) == true)
        #expect(MountInfo.superblockReadOnly(mountinfo: "27 1 254:0 / / ro - ext4 /dev/vda1 errors=continue", path: "/x") == nil)
    }
}

/// The real kernel: a read-only bind mount of a writable filesystem (what `ProtectSystem=strict`
/// makes), and a filesystem whose superblock is read-only. Root only; every mount is undone.
@Suite("Read-only filesystem on real mounts", .serialized, .enabled(if: getuid() == 0, "needs root to bind-mount"))
struct MountInfoRealMountTests {
    /// What statvfs alone says (nil if it fails).
    func mountFlagReadOnly(_ path: String) -> Bool? {
        var buffer = statvfs()
        guard statvfs(path, &buffer) == 0 else { return nil }
        return (buffer.f_flag & UInt(ST_RDONLY)) != 0
    }

    /// What the probe decides (nil if it fails).
    func probeReadOnly(_ path: String) -> Bool? {
        guard case .success(let fs) = StatfsProbe().stats(path: path, timeout: .seconds(5)) else { return nil }
        return fs.readOnly
    }

    /// A scratch directory (with a space in its name, so mountinfo escapes it) and a mount on it
    /// undone at the end; a refused first mount (no CAP_SYS_ADMIN) cancels the test.
    func withMount(_ arguments: (String) -> [String], _ body: (String) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wd ro-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mounted = try runCommand("/bin/mount", arguments(dir))
        if mounted.status != 0 { try Test.cancel("cannot mount here: \(mounted.error)") }
        defer {
            // Stacked mounts (bind, then remount): unmount until the directory is plain again.
            for _ in 0..<3 { if (try? runCommand("/bin/umount", [dir]))?.status != 0 { break } }
        }
        try body(dir)
    }

    @Test func readOnlyBindMountOfAWritableFilesystemIsWritable() throws {
        try withMount({ ["--bind", $0, $0] }) { dir in
            let remount = try runCommand("/bin/mount", ["-o", "remount,bind,ro", dir])
            try #require(remount.status == 0, "remount: \(remount.error)")
            // mountinfo is read whole (procfs hands it out a page at a time; the new mount is last).
            #expect(MountInfo.readSystem().flatMap(MountInfo.parse)?.last { $0.mountPoint == dir } != nil)
            #expect(mountFlagReadOnly(dir) == true)  // the mount flag says read-only...
            #expect(FileManager.default.createFile(atPath: dir + "/x", contents: nil) == false)
            #expect(probeReadOnly(dir) == false)  // ...the filesystem is writable
            #expect(probeReadOnly(dir + "/.") == false)
            // Through a symlink the mount point is still found.
            let link = FileManager.default.temporaryDirectory.appendingPathComponent("wd-ro-link-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: dir)
            defer { try? FileManager.default.removeItem(atPath: link) }
            #expect(mountFlagReadOnly(link) == true)
            #expect(probeReadOnly(link) == false)
        }
    }

    @Test func readOnlySuperblockIsReadOnly() throws {
        try withMount({ ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", $0] }) { dir in
            #expect(mountFlagReadOnly(dir) == true)
            #expect(probeReadOnly(dir) == true)
        }
    }
}
