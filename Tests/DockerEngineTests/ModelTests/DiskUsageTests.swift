import DockerEngine
import Foundation
import Testing

/// Expected numbers are worked out by hand from the fixture values (written out as arithmetic),
/// never by calling the code under test.
@Suite("GET /system/df")
struct DiskUsageTests {
    // MARK: legacy shape, real captures from dockerd 20.10 (API 1.41)

    /// Captured from Debian's dockerd 20.10 with 5 images (one dangling), 5 containers (running,
    /// paused, created ×2, exited), 6 volumes (two whose size walk failed: -1) and 14 BuildKit
    /// records. `/usr/bin/docker system df` (20.10) and docker 28.2 both printed:
    ///
    ///     Images          5   3   22.95MB   10.37MB (45%)
    ///     Containers      5   2   40.96kB   0B (0%)
    ///     Local Volumes   6   4   438.3kB   131.1kB (29%)
    ///     Build Cache     14  0   3.146MB   3.146MB
    @Test func realDaemon2010MatchesTheCLIs() throws {
        let data = try fixture("system_df_dockerd-20.10_busy")
        let old = try SystemDiskUsage.decode(data, rules: .cli20_10)
        #expect(old.shape == .legacy)
        #expect(old.layersSize == 22_953_884)
        // Images: in use are dwapp:2 (1 container), dwapp:1 (1), dwbase:1 (3).
        // CLI 20.10: LayersSize − Σ(VirtualSize − SharedSize) of images with containers.
        let used2010: Int64 = (8_273_800 - 1_982_333) + (8_273_797 - 1_982_333) + (1_982_333 - 1_982_333)
        #expect(
            old.images
                == DiskUsageCategory(
                    totalCount: 5, activeCount: 3, sizeBytes: 22_953_884,
                    reclaimableBytes: 22_953_884 - used2010))
        #expect(old.images?.reclaimableBytes == 10_370_953)  // "10.37MB"
        #expect(old.containers == DiskUsageCategory(totalCount: 5, activeCount: 2, sizeBytes: 40_960, reclaimableBytes: 0))
        // Volumes: sizes 2, -1, -1, 307200, 131072, 0; only dwunused (131072) has RefCount 0 and a known size.
        #expect(
            old.volumes
                == DiskUsageCategory(
                    totalCount: 6, activeCount: 4, sizeBytes: 2 + 307_200 + 131_072 + 0,
                    reclaimableBytes: 131_072))
        // Build cache: the non-shared records are three source.local (189, 0, 6) and one exec.cachemount.
        let privateCache: Int64 = 189 + 0 + 6 + 3_145_728
        #expect(
            old.buildCache
                == DiskUsageCategory(
                    totalCount: 14, activeCount: 0, sizeBytes: privateCache,
                    reclaimableBytes: privateCache))

        // Current CLI: reclaimable images are the unused ones' own layers:
        // dwlegacy:1 and the dangling image.
        let new = try SystemDiskUsage.decode(data)
        #expect(
            new.images
                == DiskUsageCategory(
                    totalCount: 5, activeCount: 3, sizeBytes: 22_953_884,
                    reclaimableBytes: (4_079_485 - 1_982_333) + (8_273_801 - 1_982_333)))
        #expect(new.containers == old.containers)
        #expect(new.volumes == old.volumes)
        #expect(new.buildCache == old.buildCache)
    }

    @Test func realDaemon2010Items() throws {
        let du = try SystemDiskUsage.decode(try fixture("system_df_dockerd-20.10_busy"))
        #expect(du.imageItems.count == 5)
        #expect(du.imageItems.first { $0.repoTags == ["dwbase:1"] }?.containers == 3)
        #expect(du.imageItems[0].virtualSize == 8_273_800)
        #expect(du.containerItems.map(\.state).sorted() == ["created", "created", "exited", "paused", "running"])
        #expect(du.containerItems.first { $0.names == ["/web"] }?.sizeRw == 40_960)
        #expect(du.containerItems.first { $0.names == ["/paused-one"] }?.sizeRw == 0)  // omitted when 0
        #expect(du.volumeItems.first { $0.name == "dwgone" }?.usageData == .init(size: -1, refCount: 0))
        #expect(close(du.volumeItems.first { $0.name == "dwdata" }?.createdAt, utc(2026, 11, 22, 1, 57, 14)))
        // 20.10 sends a single Parent (empty for roots).
        let records = du.buildCacheRecords
        #expect(records.count == 14)
        let cacheMount = try #require(records.first { $0.type == "exec.cachemount" })
        #expect(cacheMount.id == "jtyd9m83t9h1hsr9pdnm73jbg")
        #expect(cacheMount.size == 3_145_728)
        #expect(cacheMount.usageCount == 4)
        #expect(cacheMount.parents == [])
        #expect(!cacheMount.inUse && !cacheMount.shared)
        #expect(close(cacheMount.createdAt, utc(2026, 11, 22, 1, 57, 8, nanos: 758_429_461)))
        let child = try #require(records.first { $0.id == "k72x1s61zdskws2t11ejirykp" })
        #expect(child.parents == ["mdmrjmdnz2u5ua851tsnpw395"])
        #expect(child.description.hasPrefix("mount / from exec /bin/sh -c dd"))
        #expect(Set(records.map(\.type)) == ["regular", "source.local", "exec.cachemount"])
    }

    @Test func realEmptyDaemon2010() throws {
        // {"LayersSize":0,"Images":[],"Containers":[],"Volumes":[],"BuildCache":null,"BuilderSize":0}
        let du = try SystemDiskUsage.decode(try fixture("system_df_dockerd-20.10_empty"))
        #expect(du.shape == .legacy)
        for kind in DiskUsageKind.allCases {
            #expect(du.category(kind) == .zero, "\(kind)")
        }
        #expect(du.buildCacheRecords.isEmpty)
    }

    // MARK: legacy shape, synthetic

    @Test func api147LegacyBothRuleSets() throws {
        let data = try fixture("system_df_api-1.47_legacy")
        let new = try SystemDiskUsage.decode(data, rules: .current)
        let old = try SystemDiskUsage.decode(data, rules: .cli20_10)
        // Images: web:1.4 in use (7 MB, 2 MB shared); web:1.3 unused (9 MB, 2 MB shared); dangling 3 MB.
        #expect(
            new.images
                == DiskUsageCategory(
                    totalCount: 3, activeCount: 1, sizeBytes: 17_000_000,
                    reclaimableBytes: (9_000_000 - 2_000_000) + (3_000_000 - 0)))
        #expect(
            old.images
                == DiskUsageCategory(
                    totalCount: 3, activeCount: 1, sizeBytes: 17_000_000,
                    reclaimableBytes: 17_000_000 - (7_000_000 - 2_000_000)))
        // Containers: running 100, exited 200, removing 300.
        let containers = DiskUsageCategory(totalCount: 3, activeCount: 1, sizeBytes: 100 + 200 + 300, reclaimableBytes: 200 + 300)
        #expect(new.containers == containers)
        #expect(old.containers == containers)
        #expect(new.volumes == .zero)
        // Build cache: shared records (r4, r5) are left out of SIZE; in use are r2 (private) and r5 (shared).
        let size: Int64 = 62_914_560 + 1_048_576 + 8_192 + 0 + 2_000_000
        let cache = DiskUsageCategory(totalCount: 7, activeCount: 2, sizeBytes: size, reclaimableBytes: size - 1_048_576)
        #expect(new.buildCache == cache)
        #expect(old.buildCache == cache)
    }

    @Test func buildCacheRecordsOfSeveralTypes() throws {
        let records = try SystemDiskUsage.decode(try fixture("system_df_api-1.47_legacy")).buildCacheRecords
        #expect(
            records.map(\.type) == [
                "regular", "regular", "source.local", "exec.cachemount", "internal", "frontend",
                "source.git.checkout",
            ])
        // moby's JSON tag is `" Parents"` (leading space): it must still be read.
        #expect(records[0].parents == ["r0base000000000000000000000"])
        #expect(records[1].parents == ["r1regular00000000000000001"])
        #expect(records[2].parents == [])
        #expect(records[1].inUse && !records[1].shared)
        #expect(records[3].shared && records[3].size == 104_857_600 && records[3].usageCount == 3)
        #expect(close(records[0].createdAt, utc(2026, 11, 21, 8, 0, 0, nanos: 123_456_789)))
        #expect(close(records[0].lastUsedAt, utc(2026, 11, 22, 1, 2, 3, nanos: 987_654_321)))
        #expect(records[6].lastUsedAt == nil)  // null
        #expect(records[6].description == "git snapshot for https://github.com/example/repo.git#main")
    }

    @Test func unknownSizes() throws {
        let data = try fixture("system_df_api-1.41_unknown-sizes")
        let new = try SystemDiskUsage.decode(data)
        let old = try SystemDiskUsage.decode(data, rules: .cli20_10)
        // Images: d4 has Containers -1 (unknown) and SharedSize -1; e5 is unused but SharedSize -1;
        // f6 is in use with Size -1.
        #expect(new.images == DiskUsageCategory(totalCount: 3, activeCount: 1, sizeBytes: 30_000, reclaimableBytes: 0))
        // CLI 20.10 counts d4 (Containers != 0) as used but skips it (unknown sizes), f6 likewise.
        #expect(old.images == DiskUsageCategory(totalCount: 3, activeCount: 1, sizeBytes: 30_000, reclaimableBytes: 30_000 - 0))
        #expect(new.containers == .zero)
        // Volumes: nfs-used (-1, ref 1), walk-failed (-1, ref 0), plain (4096, ref 0), no-usage (null).
        let volumes = DiskUsageCategory(totalCount: 4, activeCount: 1, sizeBytes: 4_096, reclaimableBytes: 4_096)
        #expect(new.volumes == volumes)
        #expect(old.volumes == volumes)
        #expect(new.buildCache == .zero)  // "BuildCache": null on a 20.10 daemon without records
        #expect(new.volumeItems.first { $0.name == "no-usage" }?.usageData == nil)
        #expect(close(new.volumeItems.first { $0.name == "plain" }?.createdAt, utc(2026, 11, 20, 9, 0, 0)))
        #expect(close(new.volumeItems.first { $0.name == "walk-failed" }?.createdAt, utc(2026, 11, 20, 10, 0, 0, offsetMinutes: 60)))
    }

    @Test func typeFilterOnApi147() throws {
        let data = try fixture("system_df_api-1.47_type-volume")
        // Volumes: shop_db 50 MiB in use, shop_tmp 1 KiB unused.
        let volumes = DiskUsageCategory(totalCount: 2, activeCount: 1, sizeBytes: 52_428_800 + 1_024, reclaimableBytes: 1_024)
        let filtered = try SystemDiskUsage.decode(data, rules: .current, requested: [.volume])
        #expect(filtered.volumes == volumes)
        #expect(filtered.images == nil && filtered.containers == nil && filtered.buildCache == nil)
        // Without knowing what was asked, null parts read as present and empty.
        let unfiltered = try SystemDiskUsage.decode(data)
        #expect(unfiltered.volumes == volumes)
        #expect(unfiltered.images == DiskUsageCategory(totalCount: 0, activeCount: 0, sizeBytes: 0, reclaimableBytes: 0))
    }

    @Test func absentPartsAreNil() throws {
        let du = try SystemDiskUsage.decode(Data(#"{"Volumes": []}"#.utf8))
        #expect(du.shape == .legacy)
        #expect(du.volumes == .zero)
        #expect(du.images == nil && du.containers == nil && du.buildCache == nil)
        let nothing = try SystemDiskUsage.decode(Data("{}".utf8))
        #expect(DiskUsageKind.allCases.allSatisfy { nothing.category($0) == nil })
    }

    // MARK: per-type shape (API 1.52+)

    @Test func api152BothShapesPrefersTheDaemonsNumbers() throws {
        let du = try SystemDiskUsage.decode(try fixture("system_df_api-1.52_both-shapes"))
        #expect(du.shape == .perTypeUsage)
        #expect(du.images == DiskUsageCategory(totalCount: 2, activeCount: 1, sizeBytes: 10_000_000, reclaimableBytes: 3_000_000))
        #expect(du.containers == DiskUsageCategory(totalCount: 2, activeCount: 1, sizeBytes: 8_192, reclaimableBytes: 4_096))
        #expect(du.volumes == DiskUsageCategory(totalCount: 1, activeCount: 1, sizeBytes: 1_024, reclaimableBytes: 0))
        // The daemon counts the shared record (5000) in TotalSize; the legacy arithmetic would say 1000.
        #expect(du.buildCache == DiskUsageCategory(totalCount: 2, activeCount: 0, sizeBytes: 5_000 + 1_000, reclaimableBytes: 1_000))
        // Items come from the legacy arrays (non-verbose answers have no Items).
        #expect(du.buildCacheRecords.map(\.id) == ["s1shared000000000000000001", "s2private00000000000000002"])
        #expect(du.buildCacheRecords[1].parents == ["s1shared000000000000000001"])
        #expect(du.imageItems.count == 2 && du.containerItems.count == 2 && du.volumeItems.count == 1)
        #expect(du.layersSize == 10_000_000)
    }

    @Test func api152Verbose() throws {
        let du = try SystemDiskUsage.decode(try fixture("system_df_api-1.52_verbose"))
        #expect(du.shape == .perTypeUsage)
        #expect(du.images == DiskUsageCategory(totalCount: 2, activeCount: 1, sizeBytes: 10_000_000, reclaimableBytes: 3_000_000))
        #expect(du.buildCache == DiskUsageCategory(totalCount: 2, activeCount: 0, sizeBytes: 6_000, reclaimableBytes: 1_000))
        #expect(du.buildCacheRecords.count == 2)
        #expect(du.imageItems.map(\.repoTags) == [["shop/web:2.0"], ["shop/web:1.9"]])
        #expect(du.imageItems[0].virtualSize == nil)
        #expect(du.containerItems.map(\.isActive) == [true, false])
        #expect(du.layersSize == nil)
    }

    @Test func api152EmptyDaemonOmitsZeroes() throws {
        let du = try SystemDiskUsage.decode(try fixture("system_df_api-1.52_empty"))
        #expect(du.shape == .perTypeUsage)
        for kind in DiskUsageKind.allCases {
            #expect(du.category(kind) == .zero, "\(kind)")
        }
    }

    @Test func api152TypeImageOnly() throws {
        let du = try SystemDiskUsage.decode(try fixture("system_df_api-1.52_type-image"))
        #expect(du.shape == .perTypeUsage)
        #expect(du.images?.totalCount == 2)
        #expect(du.containers == nil && du.volumes == nil && du.buildCache == nil)
    }

    // MARK: errors

    @Test(arguments: [
        (#"{"LayersSize": "lots", "Images": {}}"#, "LayersSize"),
        (#"{"Images": {}}"#, "Images"),
        (#"{"Images": [{"Id": "a", "Size": 1}, {"Id": "b", "Size": "big"}]}"#, "Images[1].Size"),
        (#"{"Volumes": [{"Name": "v", "UsageData": {"Size": 1.5, "RefCount": 0}}]}"#, "Volumes[0].UsageData.Size"),
        (#"{"LayersSize": 1e30}"#, "LayersSize"),
        (#"{"BuildCache": [{"ID": "x", "UsageCount": 2.5}]}"#, "BuildCache[0].UsageCount"),
        (#"{"BuildCache": [{"Type": "regular", "Size": 1}]}"#, "BuildCache[0].ID"),
        (#"{"BuildCache": [{"ID": "x", "CreatedAt": 12}]}"#, "BuildCache[0].CreatedAt"),
        (#"{"ImageUsage": {"TotalCount": "2"}}"#, "ImageUsage.TotalCount"),
        (#"{"BuildCacheUsage": {"Items": [{"ID": "x", " Parents": "p"}]}}"#, "BuildCacheUsage.Items[0]. Parents"),
        (#"{"Containers": [null]}"#, "Containers[0]"),
        (#"[]"#, ""),
        (#"{"Images": [1, 2"#, ""),
        ("", ""),
    ])
    func malformedAnswersThrowWithThePath(body: String, path: String) {
        do {
            _ = try SystemDiskUsage.decode(Data(body.utf8))
            Issue.record("decoded \(body)")
        } catch {
            #expect(error.path == path, "\(error)")
            #expect(error.what == "GET /system/df")
            #expect("\(error)".contains(path.isEmpty ? "top level" : path))
        }
    }
}
